"""Synthetic fields of view with known objects: for tests, benchmarks and the demo.

A field is a noisy 16-bit page with objects of one or more kinds placed at
random without overlap (touching allowed with ``touching=True``), plus the
instance label image that says where each object truly is.

Kinds (the shapes microscopists meet, and that a detector must keep whole):
``blob`` (an elliptical nucleus), ``ring`` (a nuclear-envelope-like ring),
``rod``, ``crescent``, ``puncta`` (a cluster of 4-7 small spots),
``spot_ring`` (a ring carrying one extra bright spot: an anomaly on a normal
ring), ``spot`` (one small isolated spot).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np

KINDS = ("blob", "ring", "rod", "crescent", "puncta", "spot_ring")


@dataclass
class Field:
    image: np.ndarray        # (Y, X) uint16
    labels: np.ndarray       # (Y, X) int32, object k has value k (1..N)
    kinds: list              # kind of object k at kinds[k - 1]
    centers: np.ndarray      # (N, 2) intended centres (y, x)


def _shape(kind: str, size: float, rng: np.random.Generator):
    """(mask, intensity) of one object on a square canvas of side ~1.6 * size."""
    half = int(np.ceil(0.8 * size)) + 2
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(float)
    t = rng.uniform(0, np.pi)
    ry, rx = yy * np.cos(t) - xx * np.sin(t), yy * np.sin(t) + xx * np.cos(t)
    r = size / 2
    val = np.zeros_like(yy)
    if kind == "blob":
        a, b = r * rng.uniform(1.0, 1.2), r * rng.uniform(0.75, 0.95)
        mask = (ry / a) ** 2 + (rx / b) ** 2 <= 1
        val[mask] = 1.0
    elif kind in ("ring", "spot_ring"):
        d = np.hypot(ry, rx)
        mask = (d <= r) & (d >= 0.6 * r)
        val[mask] = 1.0
        if kind == "spot_ring":
            ang = rng.uniform(0, 2 * np.pi)
            sy, sx = 0.8 * r * np.sin(ang), 0.8 * r * np.cos(ang)
            spot = np.hypot(yy - sy, xx - sx) <= max(1.5, 0.18 * size)
            val[spot] = 2.0
            mask = mask | spot
        mask = mask | (d < 0.6 * r)          # the object's area includes the hole
    elif kind == "rod":
        mask = (np.abs(ry) <= 0.75 * size) & (np.abs(rx) <= 0.22 * size)
        val[mask] = 1.0
    elif kind == "crescent":
        d1 = np.hypot(ry, rx)
        d2 = np.hypot(ry, rx - 0.45 * r)
        mask = (d1 <= r) & (d2 > 0.85 * r)
        val[mask] = 1.0
    elif kind == "puncta":
        mask = np.zeros_like(yy, bool)
        for _ in range(int(rng.integers(4, 8))):
            py, px = rng.uniform(-0.55 * r, 0.55 * r, 2)
            spot = np.hypot(yy - py, xx - px) <= max(1.2, 0.14 * size)
            val[spot] = 1.0
            mask |= spot
        # The cluster's extent: its spots' hull, roughly a disc.
        mask = mask | (np.hypot(ry, rx) <= 0.55 * r)
    elif kind == "spot":
        mask = np.hypot(ry, rx) <= max(1.5, 0.18 * size)
        val[mask] = 1.0
    else:
        raise ValueError(f"unknown object kind {kind!r}; use one of {', '.join(KINDS)} or 'spot'")
    return mask, val


def make_field(shape=(256, 256), kinds: Sequence[str] = ("blob",), n: int = 20, size: float = 20,
               seed: int = 0, noise: float = 0.03, background: float = 100, brightness: float = 2000,
               gradient: float = 0.0, touching: bool = False, weights: Optional[Dict[str, float]] = None) -> Field:
    """One synthetic field of ``n`` objects (fewer if they do not fit).

    ``kinds`` are drawn at random (``weights`` per kind, default equal);
    ``gradient`` adds an illumination ramp of that fraction of the
    brightness across the field; ``touching`` lets objects touch.

    Examples
    --------
    >>> f = make_field((128, 128), ("blob", "rod"), n=6, size=16, seed=1)
    >>> f.image.dtype, int(f.labels.max()) == len(f.kinds)
    (dtype('uint16'), True)
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    signal = np.zeros(shape, np.float64)
    labels = np.zeros(shape, np.int32)
    kinds_out, centers = [], []
    p = None
    if weights:
        p = np.array([weights.get(k, 0.0) for k in kinds], float)
        p = p / p.sum()
    gap = 0 if touching else 2
    for _ in range(n * 30):
        if len(kinds_out) >= n:
            break
        kind = str(rng.choice(list(kinds), p=p))
        s = size * rng.uniform(0.85, 1.15)
        mask, val = _shape(kind, s, rng)
        half = mask.shape[0] // 2
        cy = int(rng.integers(half, h - half))
        cx = int(rng.integers(half, w - half))
        sl = (slice(cy - half, cy + half + 1), slice(cx - half, cx + half + 1))
        region = labels[sl]
        grown = mask
        if gap:
            from scipy import ndimage as ndi
            grown = ndi.binary_dilation(mask, iterations=gap)
        if (region[grown] > 0).any():
            continue
        k = len(kinds_out) + 1
        region[mask] = k
        signal[sl] += val * rng.uniform(0.8, 1.2)
        kinds_out.append(kind)
        ys, xs = np.nonzero(mask)
        centers.append((cy - half + ys.mean(), cx - half + xs.mean()))
    from scipy import ndimage as ndi

    # Optics blur the objects a little, as on a real microscope.
    signal = ndi.gaussian_filter(signal, 0.8)
    ramp = 1 + gradient * np.linspace(0, 1, w)[None, :]
    img = background * ramp + brightness * signal
    img = img + rng.normal(0, noise * brightness, shape) + rng.poisson(np.maximum(img, 0) * 0.01) - np.maximum(img, 0) * 0.01
    img = np.clip(img, 0, 65535).astype(np.uint16)
    return Field(img, labels, kinds_out, np.array(centers, float).reshape(-1, 2))
