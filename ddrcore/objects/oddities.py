"""Odd nuclei made from normal ones: for the quality check and ``ddrid bench real``.

Real fields rarely come with labelled anomalies.  These recipes change a
nucleus (its pixels, in place, using its mask) into one of five kinds a
microscopist looks for.  ``ddrid bench real`` implants them into a share of
the *interior* nuclei of real fields and leaves border nuclei untouched (so a
border crop high in the ranking is an artefact, never a find); the quality
check of object models (:mod:`ddrcore.model.cellquality`) makes them from the
validation normals:

``condensed``   the nucleus shrinks (to 45-70 % of its diameter) and brightens
                (x1.6-2.6), as in pyknosis; the vacated pixels become background.
``fragmented``  the nucleus breaks into 3-6 bright fragments (radius 7-11 % of its
                diameter) lying apart over its former footprint (karyorrhexis).
``hollow``      the centre dims (to 15-45 % at the middle) while the rim keeps
                its brightness.
``micronucleus`` a small bright body (15-30 % of the diameter) just outside
                the nucleus's edge, on free pixels (not on another nucleus)
                where the field leaves room.
``textured``    chromatin clumps: the nucleus is multiplied by a smoothed noise
                field (amplitude 0.35-0.7, grain a tenth of the diameter).

Where condensed and fragmented nuclei vacate pixels, the nucleus's glow beyond its mask (the
optics' blur) goes with it, and the vacated pixels get the local
background's level *and noise*: a flat fill inside a faint ring where the
outline was is an artefact no real pyknotic cell shows, and a model can
learn to find it instead of the cell (seen on a field from outside the
repository: the ring was plain in the top 20).

Each draw varies size, brightness and placement.  Functions are pure: the
field and its labels go in, a changed copy and the kinds come out.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

KINDS = ("condensed", "fragmented", "hollow", "micronucleus", "textured")


def _background(image: np.ndarray, labels: np.ndarray) -> float:
    bg = image[labels == 0]
    return float(np.median(bg)) if bg.size else float(np.percentile(image, 5))


def _window(labels: np.ndarray, oid: int, margin: int):
    ys, xs = np.nonzero(labels == oid)
    y0, y1 = max(0, ys.min() - margin), min(labels.shape[0], ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(labels.shape[1], xs.max() + margin + 1)
    return slice(y0, y1), slice(x0, x1)


def _carried_in(win: np.ndarray, known: np.ndarray, sigma: float, target: Optional[np.ndarray] = None,
                fallback: Optional[float] = None) -> np.ndarray:
    """``win`` smoothed from its ``known`` pixels only, reaching into the others (normalised convolution).

    The kernel widens until every ``target`` pixel (default: all) has known
    pixels within reach.  With no known pixel at all, every pixel is
    ``fallback`` (default: the window's median).

    Examples
    --------
    >>> win = np.full((9, 9), 5.0); known = np.ones((9, 9), bool); known[3:6, 3:6] = False
    >>> win[~known] = 100.0
    >>> round(float(_carried_in(win, known, 2.0)[4, 4]), 6)
    5.0
    """
    from scipy import ndimage as ndi

    if not known.any():
        return np.full(win.shape, float(np.median(win)) if fallback is None else float(fallback))
    # Widen the kernel until every target pixel has some known pixel within reach.
    target = np.ones(win.shape, bool) if target is None or not target.any() else target
    while True:
        weight = ndi.gaussian_filter(known.astype(float), sigma)
        if weight[target].min() > 1e-3 or sigma > max(win.shape):
            break
        sigma *= 2
    return ndi.gaussian_filter(np.where(known, win, 0.0), sigma) / np.maximum(weight, 1e-12)


def _noise(win: np.ndarray, known: np.ndarray, level: np.ndarray, fallback: float) -> float:
    """The robust spread of the ``known`` pixels about ``level`` (``fallback`` with too few of them)."""
    if known.sum() < 16:
        return fallback
    r = win[known] - level[known]
    return 1.4826 * float(np.median(np.abs(r - np.median(r))))


def implant(image: np.ndarray, labels: np.ndarray, oid: int, kind: str, rng: np.random.Generator,
            background: float) -> np.ndarray:
    """Change object ``oid`` of a (Y, X) float field into ``kind``, in place; returns the changed pixels' mask.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :40]
    >>> lab = ((yy - 20) ** 2 + (xx - 20) ** 2 <= 64).astype(int)
    >>> img = np.where(lab > 0, 100.0, 10.0)
    >>> changed = implant(img, lab, 1, "condensed", np.random.default_rng(0), 10.0)
    >>> bool(changed.any()), bool(img.max() > 150), bool((img > 50).sum() < (lab > 0).sum())
    (True, True, True)
    """
    from scipy import ndimage as ndi

    own = labels == oid
    area = int(own.sum())
    d = 2 * np.sqrt(area / np.pi)
    sy, sx = _window(labels, oid, int(d) + 2)
    win = image[sy, sx]
    mask = own[sy, sx]
    # The level around this nucleus (its neighbours' glow included), where the window has free pixels.
    free = labels[sy, sx] == 0
    noise = 0.02 * max(abs(background), 1)
    if free.sum() >= 16:
        background = float(np.median(win[free]))
        noise = _noise(win, free, np.full(win.shape, background), noise)
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    yy, xx = np.mgrid[: win.shape[0], : win.shape[1]].astype(float)
    before = win.copy()
    signal = np.where(mask, win - background, 0.0)

    def vacate():
        # The nucleus and its glow (free pixels within a sixth of its diameter) become background as it is
        # around them: its level carried in smoothly from the pixels around (normalised convolution), plus
        # noise of the spread those pixels show about that level.
        gone = mask | (ndi.binary_dilation(mask, iterations=max(2, int(round(d / 6)))) & free)
        # No background pixel left in the window (a label image that tiles the field): the level given.
        level = _carried_in(win, free & ~gone, max(2.0, d / 4), gone, background)
        win[gone] = level[gone] + rng.normal(0, _noise(win, free & ~gone, level, noise), int(gone.sum()))
    if kind == "condensed":
        f = rng.uniform(0.45, 0.7)
        # Sample the nucleus at coordinates scaled about its centre: a smaller copy of itself.
        src_y, src_x = cy + (yy - cy) / f, cx + (xx - cx) / f
        small = ndi.map_coordinates(signal, [src_y, src_x], order=1, cval=0.0)
        inside = ndi.map_coordinates(mask.astype(float), [src_y, src_x], order=1, cval=0.0) > 0.5
        gain = rng.uniform(1.6, 2.6)
        vacate()
        win[inside] = background + gain * small[inside]
    elif kind == "fragmented":
        level = np.percentile(signal[mask], 75) * rng.uniform(1.1, 1.8)
        vacate()
        n = int(rng.integers(3, 7))
        r = d * rng.uniform(0.07, 0.11)
        # Fragments lie apart, as in karyorrhexis, not in one clump: centres 3.5 radii apart keep the dip between
        # two of them below half their height.  Where a thin footprint cannot hold three that far apart, closer.
        order = rng.permutation(len(ys))
        for spacing in (3.5, 2.5, 1.5):
            pick: list = []
            for k in order:
                if all(np.hypot(ys[k] - ys[j], xs[k] - xs[j]) >= spacing * r for j in pick):
                    pick.append(k)
                    if len(pick) == n:
                        break
            if len(pick) >= min(n, 3):
                break
        for k in pick:
            oy, ox = ys[k], xs[k]
            blob = np.exp(-((yy - oy) ** 2 + (xx - ox) ** 2) / (2 * r ** 2))
            win += level * blob * (np.hypot(yy - oy, xx - ox) < 2.5 * r)
    elif kind == "hollow":
        depth = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        depth = depth / max(depth.max(), 1)
        floor = rng.uniform(0.15, 0.45)
        # 1 at the rim, `floor` at the middle, a smooth bowl between.
        factor = floor + (1 - floor) * np.clip(1 - depth / rng.uniform(0.6, 0.9), 0, 1) ** 0.7
        win[mask] = background + signal[mask] * factor[mask]
    elif kind == "micronucleus":
        r = d * rng.uniform(0.075, 0.15)
        gap = rng.uniform(1.0, 2.0) * r
        others = ~mask & ~free
        # A micronucleus lies in the cell's cytoplasm, beside its own nucleus, never on top of another:
        # of a few directions drawn, the first whose body falls on no other nucleus (else the least covered).
        best = None
        for angle in rng.uniform(0, 2 * np.pi, 12):
            # Walk out from the centre along `angle` to the edge, then `gap` further.
            edge = 0.0
            while True:
                py, px = cy + (edge + 1) * np.sin(angle), cx + (edge + 1) * np.cos(angle)
                iy, ix = int(round(py)), int(round(px))
                if not (0 <= iy < mask.shape[0] and 0 <= ix < mask.shape[1]) or not mask[iy, ix]:
                    break
                edge += 1
            my, mx = cy + (edge + gap) * np.sin(angle), cx + (edge + gap) * np.cos(angle)
            body = np.hypot(yy - my, xx - mx) < 2 * r
            covered = int((body & others).sum())
            if best is None or covered < best[0]:
                best = (covered, my, mx)
            if covered == 0:
                break
        _, my, mx = best
        level = np.percentile(signal[mask], 90) * rng.uniform(0.9, 1.4)
        # The body ends at 3 radii (its blur is then under 1 % of its peak): what it changes stays beside it.
        spot = np.hypot(yy - my, xx - mx) < 3 * r
        win += level * np.exp(-((yy - my) ** 2 + (xx - mx) ** 2) / (2 * (r * 0.8) ** 2)) * spot
    elif kind == "textured":
        grain = max(1.0, d / 10)
        noise = ndi.gaussian_filter(rng.normal(0, 1, win.shape), grain)
        noise /= max(noise[mask].std(), 1e-9)
        amp = rng.uniform(0.35, 0.7)
        win[mask] = background + signal[mask] * np.clip(1 + amp * noise[mask], 0.05, None)
    else:
        raise ValueError(f"unknown anomaly kind {kind!r}; use one of {', '.join(KINDS)}")
    changed = np.zeros(image.shape, bool)
    changed[sy, sx] = np.abs(win - before) > 1e-9
    return changed


def implant_field(image: np.ndarray, labels: np.ndarray, fraction: float, rng: np.random.Generator,
                  kinds: Sequence[str] = KINDS, exclude: Sequence[int] = ()
                  ) -> Tuple[np.ndarray, Dict[int, str], np.ndarray]:
    """Implant anomalies into ``fraction`` of the interior objects of one field.

    Returns the changed field (same dtype, clipped to its range), ``{object id: kind}``
    and a label image of each anomaly's footprint (its own mask grown to cover
    what the change touched), so that a detection on either counts as finding it.
    Objects touching the field's border, and those in ``exclude`` (odd
    already), are never changed.
    """
    from .measure import touches_border

    work = np.asarray(image, np.float64).copy()
    ids = np.unique(labels)
    ids = ids[(ids != 0) & ~np.isin(ids, np.asarray(exclude, np.int64))]
    interior = ids[~touches_border(labels, ids)]
    n = int(round(fraction * len(interior)))
    chosen = rng.choice(interior, size=n, replace=False) if n else np.zeros(0, int)
    bg = _background(work, labels)
    truth: Dict[int, str] = {}
    footprint = np.zeros(labels.shape, np.int64)
    for oid in chosen:
        kind = str(kinds[int(rng.integers(len(kinds)))])
        changed = implant(work, labels, int(oid), kind, rng, bg)
        truth[int(oid)] = kind
        # The footprint claims the object and what changed around it on free pixels, never another nucleus:
        # a neighbour under the blur's tail is still a normal nucleus (it was counted as the anomaly before).
        footprint[(labels == oid) | (changed & (labels == 0))] = oid
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        work = np.clip(np.round(work), info.min, info.max)
    return work.astype(image.dtype), truth, footprint
