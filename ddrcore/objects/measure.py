"""Per-object measurements: what a CellProfiler or Fiji user measures first.

Every object cut from a label image (detected or given) gets the
scikit-image ``regionprops`` measurements below, in page pixels and the
image's native intensity units.  They go into every CSV row, and a few of
them, standardised on the training normals, enter the cell score
(:mod:`ddrcore.model.cellscore`): a condensed nucleus is anomalous *because*
it is small and bright, which a crop resized to the network's input hides.

``intensity_cv`` (standard deviation over mean inside the object) and
``center_ratio`` (mean intensity of the inner half of the object's radius
over the outer half, after CellProfiler's radial distribution) are the two
texture measures: chromatin clumping raises the first, a hollow or
ring-shaped nucleus lowers the second.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

#: The columns, in order (scikit-image regionprops names where one exists).
MEASUREMENTS = (
    "area", "perimeter", "eccentricity", "solidity", "axis_major_length", "axis_minor_length",
    "intensity_mean", "intensity_max", "intensity_integrated", "intensity_cv", "center_ratio",
)


#: An object with a pixel this close to the page's edge is cut by it: a segmentation often stops a pixel
#: short of the edge it runs into (seen on DSB 2018: slivers one pixel in ranked first).
BORDER_MARGIN = 2


def touches_border(labels: np.ndarray, ids, margin: int = BORDER_MARGIN) -> np.ndarray:
    """Whether each object of ``ids`` has a pixel within ``margin`` pixels of the page's edge.

    Examples
    --------
    >>> lab = np.zeros((8, 8), int); lab[1, 3] = 1; lab[3:5, 3:5] = 2
    >>> touches_border(lab, [1, 2]).tolist()
    [True, False]
    """
    m = max(1, int(margin))
    edge = np.concatenate([labels[:m].ravel(), labels[-m:].ravel(), labels[:, :m].ravel(), labels[:, -m:].ravel()])
    return np.isin(np.asarray(ids), edge[edge != 0])


def measure_objects(grey: np.ndarray, labels: np.ndarray, ids, texture_above: Optional[float] = None):
    """The :data:`MEASUREMENTS` of each object ``ids`` of a label image, as an (N, 11) float array.

    Parameters
    ----------
    grey : ndarray
        (Y, X) intensities at native depth (channels already averaged).
    labels : ndarray
        (Y, X) integer label image of the same shape.
    ids : sequence of int
        The objects to measure, in the order of the rows returned; an id
        missing from ``labels`` gives a row of NaN.
    texture_above : float, optional
        Given, the rows come with an (N, 2) array beside them: each object's
        intensity CV and centre-over-rim ratio taken above this level (the
        page's background, :func:`page_background`), as AS_m reads them.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :40]
    >>> lab = ((yy - 20) ** 2 + (xx - 20) ** 2 <= 64).astype(int)
    >>> img = np.where(lab > 0, 100.0, 5.0)
    >>> m = measure_objects(img, lab, [1, 7])
    >>> [float(v) for v in m[0, :2].round(0)], float(m[0, 6]), bool(np.isnan(m[1]).all())
    ([197.0, 52.0], 100.0, True)
    """
    from skimage.measure import regionprops

    ids = np.asarray(ids, np.int64)
    out = np.full((len(ids), len(MEASUREMENTS)), np.nan)
    texture = np.full((len(ids), 2), np.nan)
    if len(ids) == 0:
        return out if texture_above is None else (out, texture)
    from .labels import dense_labels

    grey = np.asarray(grey, np.float64)
    row_of = {int(i): k for k, i in enumerate(ids)}
    # Measured on the image renumbered 1..N: regionprops reserves room for every id up to the largest.
    dense, present = dense_labels(labels)
    # An object holding NaN or infinite pixels measures NaN (its patch is left out later), without numpy's
    # warnings on the terminal.
    # The texture ratios (intensity_cv, center_ratio) need a zero at "no signal".  A page whose background lies
    # below zero (background-subtracted, a float export) has none: every object there measured cv 0 and ratio 1.
    # Its ratios are taken above the background's median instead.  Only there: a page whose background is
    # positive is measured as before, whatever a few pixels do (one dead pixel at -1 must not change every
    # object's texture), and the offset meets 0 as the background does.
    free = np.isfinite(grey) & (labels == 0)
    offset = min(0.0, float(np.median(grey[free]))) if free.any() else 0.0
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        _measure_regions(regionprops(dense, intensity_image=grey), row_of, present, out, offset,
                         texture_above, texture)
    return out if texture_above is None else (out, texture)


def page_background(grey: np.ndarray, labels: np.ndarray, unknown: Optional[np.ndarray] = None) -> Optional[tuple]:
    """(median, noise) of a page's finite pixels outside every object, or None where there are none.

    ``unknown`` marks pixels that held no data (NaN filled in), which say nothing about the background.
    The noise is the pixels' robust spread (1.4826 times their median absolute deviation).

    >>> page_background(np.array([[1.0, 5.0], [3.0, 9.0]]), np.array([[0, 1], [0, 0]]))
    (3.0, 2.9652)
    """
    grey = np.asarray(grey, np.float64)
    free = np.isfinite(grey) & (np.asarray(labels) == 0)
    if unknown is not None:
        free &= ~unknown
    if not free.any():
        return None
    values = grey[free]
    median = float(np.median(values))
    return median, round(1.4826 * float(np.median(np.abs(values - median))), 6)


#: A page reads its objects' intensities against itself only with at least this many objects clearly
#: above its background (the typical one of fewer says little, and one object would be its own typical).
MIN_PAGE_OBJECTS = 5
#: "Clearly above": a mean this many noise SDs over the background's median (faint debris beside the
#: nuclei must not make the typical object, and with it the unit, nearly the background).
CLEAR_OF_BACKGROUND = 3.0
#: The least an object's signal above the background counts, as a share of the typical object's: an object
#: dimmer than that (a dim corner of a vignetted field) measures dim, not infinitely so.
DIMMEST = 0.05


def against_page(grey: np.ndarray, labels: np.ndarray, ids, unknown: Optional[np.ndarray] = None) -> tuple:
    """Each object's measurements and what AS_m reads its intensities against: ``(rows, page)``.

    ``rows`` are :func:`measure_objects`' rows, in native units.  ``page``
    holds, per object, (background, typical object, CV, centre-over-rim
    ratio): the page's background (:func:`page_background`), the median mean
    intensity of its objects clearly above that background (at least
    :data:`MIN_PAGE_OBJECTS` of them), and the object's two texture ratios
    taken above the background (an object under :data:`DIMMEST` of the
    typical signal: its CV over that floor, its ratio 1).  An empty tuple
    where the page says nothing (no background, too few clear objects); the
    model's own reference is read then (:class:`ddrcore.model.cellscore.MeasureModel`).

    Examples
    --------
    >>> lab = np.zeros((40, 40), int)
    >>> for k in range(6): lab[2 + 6 * k: 6 + 6 * k, 2:6] = k + 1
    >>> img = np.where(lab > 0, 110.0, 10.0) + np.random.default_rng(0).normal(0, 1, lab.shape)
    >>> rows, page = against_page(img + 90.0, lab, range(1, 7))          # a camera offset of 90
    >>> round(page[0][0]), round(page[0][1])
    (100, 200)
    >>> against_page(img, lab, [1, 2])[1][:1] == against_page(img[:8], lab[:8], [1])[1]   # one object: ()
    True
    """
    ids = list(ids)
    found = page_background(grey, labels, unknown)
    if found is None:
        return measure_objects(grey, labels, ids), [()] * len(ids)
    background, noise = found
    rows, texture = measure_objects(grey, labels, ids, texture_above=background)
    means = rows[:, 6][np.isfinite(rows[:, 6])]
    clear = means[means > background + CLEAR_OF_BACKGROUND * noise]
    if clear.size < MIN_PAGE_OBJECTS:
        return rows, [()] * len(ids)
    typical = float(np.median(clear))
    floor = DIMMEST * (typical - background)
    page = []
    for row, (cv, ratio) in zip(rows, texture):
        if not (np.isfinite(cv) and np.isfinite(ratio)):
            page.append(())
            continue
        above = row[6] - background
        if above < floor:
            # Its spread over a floor, not over almost nothing; its centre and rim alike are near nothing.
            spread = cv * above if above > 0 else float(row[9]) * (row[6] - min(0.0, background))
            cv, ratio = spread / floor, 1.0
        page.append((background, typical, float(cv), float(ratio)))
    return rows, page


def _measure_regions(regions, row_of: dict, present: np.ndarray, out: np.ndarray, offset: float = 0.0,
                     texture_above: Optional[float] = None, texture: Optional[np.ndarray] = None) -> np.ndarray:
    from scipy import ndimage as ndi

    for region in regions:
        k = row_of.get(int(present[region.label - 1]))
        if k is None:
            continue
        values = region.image_intensity[region.image]
        mean = float(values.mean())
        signal = values - offset               # for the ratios: above "no signal" (see measure_objects)
        above = float(signal.mean())
        # Distance to the object's edge, normalised per object: < 0.5 is the inner half of its radius.
        depth = ndi.distance_transform_edt(np.pad(region.image, 1))[1:-1, 1:-1][region.image]
        inner = depth >= 0.5 * depth.max()
        outer_mean = float(signal[~inner].mean()) if (~inner).any() else above
        out[k] = (region.area, region.perimeter, region.eccentricity, region.solidity,
                  region.axis_major_length, region.axis_minor_length, mean, float(values.max()),
                  float(values.sum()), float(values.std()) / above if above > 0 else 0.0,
                  float(signal[inner].mean()) / outer_mean if outer_mean > 0 else 1.0)
        if texture_above is not None:
            lifted = values - texture_above
            a, rim = float(lifted.mean()), float(lifted[~inner].mean()) if (~inner).any() else float(lifted.mean())
            texture[k] = (float(values.std()) / a if a > 0 else 0.0,
                          float(lifted[inner].mean()) / rim if rim > 0 else 1.0)
    return out
