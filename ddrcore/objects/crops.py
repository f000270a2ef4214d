"""Object-true crops: a patch shows its object, not its neighbours or the image edge.

A square crop around a nucleus in a crowded field holds parts of other
nuclei; one beside a saturated neighbour is dominated by it, and one at the
image edge used to be padded by repeating the edge pixels, which draws
stripes.  The network then ranks the *crop*: bright neighbours and stripes
look anomalous, the cell itself hardly matters (measured on the DSB field:
the top 21 were such crops).

So, where the object's extent is known (a label image, from detection or
given), every pixel of *another* object, grown by a small margin that takes
its glow, and every pixel outside the page is set to the crop's local
background: the median of the crop's pixels that belong to no object.  The
object's own pixels are never changed.  Without a label image (points), only
the pixels outside the page are filled, with the median of the crop.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def neighbour_margin(object_size: float) -> int:
    """Pixels by which other objects are grown before they are masked (their glow).

    Examples
    --------
    >>> neighbour_margin(25), neighbour_margin(85)
    (2, 7)
    """
    return max(1, int(round(float(object_size) / 12)))


#: Under the ``cells`` neighbour policy, a body beside an object whose diameter is under this share of the
#: object's stays in its crop: the scoring criterion of the micronucleus assay (a micronucleus is at
#: most a third of the main nucleus's diameter, Fenech 2007).  A micronucleus, a bleb or a fragment
#: belongs to the cell a microscopist judges; a whole neighbouring nucleus does not.
SATELLITE_DIAMETER = 1 / 3


def satellites(ids: np.ndarray, areas: np.ndarray, area: float) -> np.ndarray:
    """The ids among ``ids`` (with ``areas``) small enough to be part of an object of ``area`` pixels.

    Examples
    --------
    >>> satellites(np.array([1, 2, 3]), np.array([400.0, 30.0, 60.0]), 400.0).tolist()
    [2]
    """
    ids, areas = np.asarray(ids), np.asarray(areas, float)
    return ids[areas < SATELLITE_DIAMETER ** 2 * float(area)]


def object_crop(page: np.ndarray, cy: float, cx: float, side: int, labels: Optional[np.ndarray] = None,
                oid: int = 0, margin: int = 2, mask_others: bool = True,
                keep: Optional[np.ndarray] = None) -> Tuple[np.ndarray, int, int]:
    """A ``side`` x ``side`` crop of (Y, X, C) ``page`` centred on (cy, cx) that shows only object ``oid``.

    Parameters
    ----------
    page : ndarray
        (Y, X, C) page at native depth.
    cy, cx : float
        The object's centre in page pixels.
    side : int
        The crop's side in pixels.
    labels : ndarray, optional
        (Y, X) label image of the page; ``oid`` is this object's id in it.
    margin : int
        Other objects are grown by this many pixels before they are masked.
    mask_others : bool
        False keeps other objects' pixels (model files from before masking).
    keep : ndarray, optional
        Ids of other objects that stay in view even when others are masked
        (the object's :func:`satellites`).

    Returns
    -------
    crop : ndarray
        (side, side, C) float32.
    y, x : int
        The crop's top-left corner in page pixels (may be negative or run past the page).

    Examples
    --------
    >>> page = np.full((20, 20, 1), 10.0)
    >>> lab = np.zeros((20, 20), int)
    >>> lab[8:12, 8:12] = 1; page[8:12, 8:12] = 100     # the object
    >>> lab[8:12, 14:18] = 2; page[8:12, 14:18] = 900   # a bright neighbour
    >>> crop, y, x = object_crop(page, 10, 10, 12, lab, 1, margin=1)
    >>> float(crop.max()), float(crop[..., 0][5, 5]), (y, x)
    (100.0, 100.0, (4, 4))
    >>> crop, y, x = object_crop(page, 1, 1, 8)        # at the corner: no stripes, background fill
    >>> float(crop[0, 0, 0]), (y, x)
    (10.0, (-3, -3))
    """
    from scipy import ndimage as ndi

    y0 = int(np.floor(cy + 0.5)) - side // 2
    x0 = int(np.floor(cx + 0.5)) - side // 2
    h, w = page.shape[:2]
    ya, xa = max(0, y0), max(0, x0)
    yb, xb = min(h, y0 + side), min(w, x0 + side)
    if ya >= yb or xa >= xb:
        raise ValueError(f"centre ({cy:g}, {cx:g}) lies outside the {w} x {h} page")
    crop = np.empty((side, side, page.shape[2]), np.float32)
    inner = (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0))
    crop[inner] = page[ya:yb, xa:xb]
    inside = np.zeros((side, side), bool)
    inside[inner] = True
    fill = ~inside
    if labels is not None:
        lab = np.zeros((side, side), labels.dtype)
        lab[inner] = labels[ya:yb, xa:xb]
        free = inside & (lab == 0)
        if mask_others:
            others = (lab != 0) & (lab != oid)
            if keep is not None and len(keep):
                others &= ~np.isin(lab, keep)
            if others.any():
                grown = ndi.binary_dilation(others, iterations=max(0, int(margin))) if margin > 0 else others
                fill |= grown & (lab != oid)
                free &= ~grown
        # The background is what belongs to no object; a crop packed with objects falls back to its dimmest tenth.
        values = crop[free] if free.sum() >= 8 else None
    else:
        values = crop[inside]
    if fill.any():
        if values is None:
            pool = crop[inside & ~fill] if (inside & ~fill).any() else crop[inside]
            background = np.percentile(pool, 10, axis=0)
        else:
            background = np.median(values, axis=0)
        crop[fill] = background
    return crop, y0, x0
