#!/usr/bin/env python3
"""Generate the bundled ddrid demo data set.

The demo data are synthetic widefield fluorescence images of endosomes:

* the *normal* class is ring-like endosomes (a bright, slightly elliptical
  annulus around a dark lumen);
* *anomalies* are non-ring patterns: filled blobs, clusters of puncta,
  tubules/rods and crescents/broken rings (the hard case, kept a minority).

Every image goes through the same imaging model:

1. the object is drawn on a 4x supersampled grid and binned to pixels,
2. blurred with a Gaussian PSF (sigma 1.0-1.6 px) and scaled to a random peak
   of 80-1500 photons (log-uniform),
3. added to a smooth background (flat level + gentle linear gradient + faint
   out-of-focus haze),
4. photon (Poisson) noise, camera gain (0.5-2.0 ADU/e-), Gaussian read noise
   (1.0-2.5 e- rms) and a camera offset (100-500 ADU) are applied,
5. the result is rounded and stored as uint16.

Output layout (under ``--out``, default: the ``demo`` folder beside this file)::

    train/normal/ring_0000.tif ...        normal training patches (32x32)
    test/normal/ring_0000.tif ...         normal test patches (32x32)
    test/anomaly/<kind>_0000.tif ...      anomalous test patches (32x32)
    stacks/mixed_stack.tif                multi-page stack, pages alternate
                                          normal (even) / anomalous (odd)
    stacks/field_128x128.tif              one larger field of view with
                                          rings and a few anomalies

Usage::

    python resources/make_demo_data.py            # regenerate resources/demo
    python resources/make_demo_data.py --out /tmp/demo --n-train 1000

Only numpy and tifffile are needed. With the same seed, numpy and tifffile
versions the output is byte-for-byte identical.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

DEFAULT_SEED = 20201128
PATCH = 32
# Objects are drawn on a finer grid and binned, so that thin rings and edges
# are anti-aliased the way a real pixel integrates light over its area.
SUPERSAMPLE = 4
# Small random offset of the object centre, so the detector cannot rely on
# exact centring (real patches come from an imperfect spot detector).
CENTRE_JITTER = 2.0

ANOMALY_KINDS = ("blob", "puncta", "tubule", "crescent")
# Crescents are the hard case (they are nearly rings), so keep them a minority.
ANOMALY_MIX = {"blob": 0.30, "puncta": 0.30, "tubule": 0.25, "crescent": 0.15}

FIELD_SIZE = 128
FIELD_CELL = 32
FIELD_RINGS = 10


# --------------------------------------------------------------------------
# Small numerical helpers
# --------------------------------------------------------------------------


def subpixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (y, x) of the supersampled grid, in pixel units.

    Pixel (i, j) has its centre at (i, j); each pixel holds SUPERSAMPLE**2
    sample points spread evenly over its area.
    """
    c = (np.arange(size * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5
    return np.meshgrid(c, c, indexing="ij")


def bin_supersampled(img: np.ndarray) -> np.ndarray:
    """Average SUPERSAMPLE x SUPERSAMPLE blocks back to pixel resolution."""
    n = img.shape[0] // SUPERSAMPLE
    return img.reshape(n, SUPERSAMPLE, n, SUPERSAMPLE).mean(axis=(1, 3))


def gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(math.ceil(4.0 * sigma)))  # 4 sigma keeps >99.99 % of the mass
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with zero padding (objects sit on black)."""
    k = gaussian_kernel(sigma)
    r = len(k) // 2
    h, w = img.shape
    padded = np.pad(img, r, mode="constant")
    # The kernel is symmetric, so this correlation equals a convolution.
    rows = sum(k[i] * padded[i : i + h, :] for i in range(len(k)))
    return sum(k[i] * rows[:, i : i + w] for i in range(len(k)))


def rotate(dy: np.ndarray, dx: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in a frame rotated by ``angle`` (u along the major axis)."""
    c, s = math.cos(angle), math.sin(angle)
    return dx * c + dy * s, -dx * s + dy * c


def wrap_angle(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2.0 * np.pi) - np.pi


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    # Brightness spans more than a decade; log-uniform gives as many dim
    # (hard, low-SNR) patches as bright ones.
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def ellipse_geometry(rng, yy, xx, cy, cx, radius):
    """Polar coordinates relative to a random slightly elliptical outline.

    Returns (theta, signed distance to the outline in px). The ellipse has
    semi-axes radius*(1 +/- e) with e <= 0.15 and a random orientation.
    """
    ecc = rng.uniform(0.0, 0.15)
    a, b = radius * (1.0 + ecc), radius * (1.0 - ecc)
    u, v = rotate(yy - cy, xx - cx, rng.uniform(0.0, np.pi))
    theta = np.arctan2(v, u)
    # Radius of the ellipse along each pixel's direction; distance to the
    # outline is then measured along that ray (good for e this small).
    r_outline = 1.0 / np.sqrt((np.cos(theta) / a) ** 2 + (np.sin(theta) / b) ** 2)
    return theta, np.hypot(u, v) - r_outline


# --------------------------------------------------------------------------
# Object shapes (unit-ish intensity on the supersampled grid)
# --------------------------------------------------------------------------


def draw_ring(rng, yy, xx, cy, cx):
    """Normal endosome: a bright, closed annulus around a dark lumen."""
    radius = rng.uniform(4.0, 9.0)
    thickness = rng.uniform(1.5, 3.0)
    theta, dist = ellipse_geometry(rng, yy, xx, cy, cx, radius)
    band = (np.abs(dist) <= thickness / 2.0).astype(np.float64)
    if rng.random() < 0.5:
        # Uneven membrane labelling: a smooth modulation that never drops
        # below ~1/3 of the maximum, so the ring stays closed (unlike a crescent).
        m1, m2 = rng.uniform(0.0, 0.35), rng.uniform(0.0, 0.15)
        p1, p2 = rng.uniform(0.0, 2.0 * np.pi, 2)
        band *= 1.0 + m1 * np.cos(theta - p1) + m2 * np.cos(2.0 * theta - p2)
    return band


def draw_blob(rng, yy, xx, cy, cx):
    """Filled vesicle without a lumen."""
    # Up to the size of a mid-sized ring, so size alone does not give it away.
    radius = rng.uniform(3.0, 7.0)
    ecc = rng.uniform(0.0, 0.25)
    a, b = radius * (1.0 + ecc), radius * (1.0 - ecc)
    u, v = rotate(yy - cy, xx - cx, rng.uniform(0.0, np.pi))
    rho2 = (u / a) ** 2 + (v / b) ** 2
    # Projection of a uniformly filled sphere: brightest in the middle.
    return np.sqrt(np.clip(1.0 - rho2, 0.0, None))


def draw_puncta(rng, yy, xx, cy, cx):
    """Cluster of 2-5 small, diffraction-limited spots."""
    n = int(rng.integers(2, 6))
    spread = rng.uniform(4.0, 8.0)
    points: list[tuple[float, float]] = []
    for _ in range(200):  # rejection sampling; 200 tries is ample for n <= 5
        r = spread * math.sqrt(rng.random())
        a = rng.uniform(0.0, 2.0 * np.pi)
        p = (cy + r * math.sin(a), cx + r * math.cos(a))
        # Keep the spots resolvable (>= 3.5 px, about one PSF FWHM, apart),
        # otherwise they merge into a blob or rod after the PSF.
        if all(math.hypot(p[0] - q[0], p[1] - q[1]) >= 3.5 for q in points):
            points.append(p)
        if len(points) == n:
            break
    img = np.zeros_like(yy)
    for py, px in points:
        s = rng.uniform(0.5, 0.9)  # intrinsic size, below the PSF width
        img += rng.uniform(0.5, 1.0) * np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / (2.0 * s * s))
    return img


def draw_tubule(rng, yy, xx, cy, cx):
    """Elongated tubule/rod, straight or gently curved."""
    length = rng.uniform(10.0, 22.0)
    width = rng.uniform(1.5, 2.8)
    angle = rng.uniform(0.0, np.pi)
    bend = rng.uniform(-0.25, 0.25) * length
    d = np.array([math.sin(angle), math.cos(angle)])  # (dy, dx) along the rod
    nrm = np.array([d[1], -d[0]])
    c = np.array([cy, cx]) - 0.5 * bend * nrm  # centre the arc, not the chord
    p0, p1, p2 = c - 0.5 * length * d, c + bend * nrm, c + 0.5 * length * d
    t = np.linspace(0.0, 1.0, 96)[:, None]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2  # quadratic Bezier
    # Distance to the densely sampled centre line (sampling step < 0.3 px).
    dy = yy.ravel()[None, :] - curve[:, 0:1]
    dx = xx.ravel()[None, :] - curve[:, 1:2]
    dist = np.sqrt((dy * dy + dx * dx).min(axis=0)).reshape(yy.shape)
    return (dist <= width / 2.0).astype(np.float64)


def draw_crescent(rng, yy, xx, cy, cx):
    """Open ring: a tapered crescent (C shape) or a ring broken into two arcs."""
    radius = rng.uniform(4.0, 9.0)
    thickness = rng.uniform(1.5, 3.0)
    theta, dist = ellipse_geometry(rng, yy, xx, cy, cx, radius)
    mid = rng.uniform(-np.pi, np.pi)
    if rng.random() < 0.7:
        # Crescent: one arc spanning 140-260 deg, thinning towards its tips.
        half_span = np.deg2rad(rng.uniform(140.0, 260.0)) / 2.0
        frac = np.abs(wrap_angle(theta - mid)) / half_span  # 0 mid-arc, 1 at tips
        local_t = thickness * (1.0 - rng.uniform(0.3, 0.6) * np.clip(frac, 0, 1) ** 2)
        mask = (frac <= 1.0) & (np.abs(dist) <= local_t / 2.0)
    else:
        # Broken ring: two opposite arcs of 80-130 deg with clear gaps between.
        half_span = np.deg2rad(rng.uniform(80.0, 130.0)) / 2.0
        d1 = np.abs(wrap_angle(theta - mid))
        d2 = np.abs(wrap_angle(theta - mid - np.pi))
        mask = (np.minimum(d1, d2) <= half_span) & (np.abs(dist) <= thickness / 2.0)
    return mask.astype(np.float64)


SHAPES = {
    "ring": draw_ring,
    "blob": draw_blob,
    "puncta": draw_puncta,
    "tubule": draw_tubule,
    "crescent": draw_crescent,
}


def render_object(kind: str, rng, size: int, psf_sigma: float,
                  jitter: float) -> tuple[np.ndarray, tuple[float, float]]:
    """Blurred object in a size x size tile, centred (+/- jitter), peak = 1.

    Returns the tile and the object centre (y, x) in tile pixel coordinates.
    """
    yy, xx = subpixel_grid(size)
    cy, cx = (size - 1) / 2.0 + rng.uniform(-jitter, jitter, 2)
    img = gaussian_blur(bin_supersampled(SHAPES[kind](rng, yy, xx, cy, cx)), psf_sigma)
    # Peak-normalise so brightness is drawn independently of shape: the
    # detector has to learn shape, not "blobs are brighter than rings".
    return img / img.max(), (float(cy), float(cx))


# --------------------------------------------------------------------------
# Imaging model
# --------------------------------------------------------------------------


@dataclass
class Camera:
    gain: float  # ADU per photo-electron
    offset: int  # ADU added by the camera electronics (keeps noise >= 0)
    read_noise: float  # electrons rms


def sample_camera(rng) -> Camera:
    # Typical scientific CMOS values. Gain and offset vary between cameras and
    # acquisitions, so the detector must not key on the absolute grey level.
    return Camera(
        gain=rng.uniform(0.5, 2.0),
        offset=int(rng.integers(100, 501)),
        read_noise=rng.uniform(1.0, 2.5),
    )


def sample_psf_sigma(rng) -> float:
    # ~1.0-1.6 px is a diffraction-limited spot for a high-NA objective
    # sampled near Nyquist.
    return rng.uniform(1.0, 1.6)


def background(rng, size: int, object_peak: float, n_haze: int) -> np.ndarray:
    """Smooth non-uniform background in photons."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    level = rng.uniform(15.0, 120.0)  # autofluorescence + stray light
    # Gentle linear gradient (uneven illumination): at most +/-28 % of the
    # level, reached only in the corners.
    slope = rng.uniform(0.0, 0.4) * level
    a = rng.uniform(0.0, 2.0 * np.pi)
    ramp = ((yy - size / 2) * math.sin(a) + (xx - size / 2) * math.cos(a)) / size
    bg = level + slope * ramp
    # Out-of-focus haze: light from objects above/below the focal plane is
    # a broad, faint Gaussian that may be centred outside the image.
    for _ in range(n_haze):
        amp = rng.uniform(0.03, 0.15) * object_peak
        sig = rng.uniform(0.2, 0.45) * size
        hy, hx = rng.uniform(-0.25 * size, 1.25 * size, 2)
        bg += amp * np.exp(-((yy - hy) ** 2 + (xx - hx) ** 2) / (2.0 * sig * sig))
    return bg


def expose(rng, photons: np.ndarray, cam: Camera) -> np.ndarray:
    """Photon (Poisson) noise, gain, read noise and offset -> uint16 ADU."""
    electrons = rng.poisson(photons).astype(np.float64)
    adu = cam.gain * electrons + rng.normal(0.0, cam.read_noise * cam.gain, photons.shape)
    adu = np.rint(adu + cam.offset)
    # With offset >= 100 ADU and read noise <= 5 ADU rms the clip is a pure
    # safety net: values never get near 0 or 65535.
    return np.clip(adu, 0, 65535).astype(np.uint16)


def sample_peak(rng, lo: float = 80.0, hi: float = 1500.0) -> float:
    return log_uniform(rng, lo, hi)  # photons at the object's brightest pixel


def make_patch(kind: str, rng) -> np.ndarray:
    """One 32x32 uint16 patch of the given kind through the imaging model."""
    psf = sample_psf_sigma(rng)
    obj, _ = render_object(kind, rng, PATCH, psf, CENTRE_JITTER)
    peak = sample_peak(rng)
    photons = background(rng, PATCH, peak, n_haze=1) + peak * obj
    return expose(rng, photons, sample_camera(rng))


def make_field(rng) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """128x128 field of view: rings and a few anomalies on a jittered grid.

    Objects sit one per 32x32 cell (two cells left empty) with a +/-3 px
    jitter, so a 32 px tiling puts each object (nearly) in its own tile.
    Returns the image and a list of (kind, centre_y, centre_x).
    """
    cells = FIELD_SIZE // FIELD_CELL
    n_cells = cells * cells
    kinds = ["ring"] * FIELD_RINGS + list(ANOMALY_KINDS)
    kinds += [None] * (n_cells - len(kinds))
    order = rng.permutation(n_cells)
    layout = [kinds[i] for i in order]

    # One frame = one camera and one objective for every object.
    cam = sample_camera(rng)
    psf = sample_psf_sigma(rng)
    tile = 48  # larger than a cell so blurred tails of big rings are not cut
    margin = (tile - FIELD_CELL) // 2
    canvas = np.zeros((FIELD_SIZE + 2 * margin,) * 2)
    truth = []
    peaks = []
    for idx, kind in enumerate(layout):
        if kind is None:
            continue
        r, c = divmod(idx, cells)
        obj, (oy, ox) = render_object(kind, rng, tile, psf, jitter=3.0)
        # Brighter floor than single patches: in a tiling demo every object
        # should be visible by eye so the anomaly map can be checked against it.
        peak = sample_peak(rng, lo=300.0)
        peaks.append(peak)
        y0, x0 = r * FIELD_CELL, c * FIELD_CELL  # tile origin in canvas coords
        canvas[y0 : y0 + tile, x0 : x0 + tile] += peak * obj
        truth.append((kind, y0 + oy - margin, x0 + ox - margin))
    objects = canvas[margin:-margin, margin:-margin]
    bg = background(rng, FIELD_SIZE, float(np.median(peaks)), n_haze=3)
    return expose(rng, bg + objects, cam), truth


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def split_counts(n: int, mix: dict[str, float]) -> dict[str, int]:
    """Split n over the kinds in proportion to mix (largest remainder)."""
    raw = {k: n * f / sum(mix.values()) for k, f in mix.items()}
    counts = {k: int(math.floor(v)) for k, v in raw.items()}
    rest = n - sum(counts.values())
    for k in sorted(raw, key=lambda k: counts[k] - raw[k])[:rest]:
        counts[k] += 1
    return counts


def write_tiff(path: Path, array: np.ndarray) -> None:
    tifffile.imwrite(path, array, photometric="minisblack")


def clear_old(folder: Path, prefixes: tuple[str, ...]) -> None:
    """Remove files this script wrote before (only its own name patterns),
    so lowering a count does not leave stale patches behind."""
    for prefix in prefixes:
        for old in folder.glob(f"{prefix}_[0-9][0-9][0-9][0-9].tif"):
            old.unlink()


def generate(out: Path, seed: int, n_train: int, n_test_normal: int,
             n_test_anomaly: int, stack_pages: int) -> list[Path]:
    # Independent child streams per output group: changing one count does
    # not change the images of the other groups.
    ss_train, ss_test_n, ss_test_a, ss_stack, ss_field = np.random.SeedSequence(seed).spawn(5)
    written: list[Path] = []

    groups = [
        (out / "train" / "normal", ss_train, {"ring": n_train}),
        (out / "test" / "normal", ss_test_n, {"ring": n_test_normal}),
        (out / "test" / "anomaly", ss_test_a, split_counts(n_test_anomaly, ANOMALY_MIX)),
    ]
    for folder, ss, counts in groups:
        folder.mkdir(parents=True, exist_ok=True)
        clear_old(folder, tuple(counts))
        rng = np.random.default_rng(ss)
        for kind, count in counts.items():
            for i in range(count):
                path = folder / f"{kind}_{i:04d}.tif"
                write_tiff(path, make_patch(kind, rng))
                written.append(path)

    stacks = out / "stacks"
    stacks.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(ss_stack)
    # Even pages (0, 2, ...) normal rings; odd pages cycle through the kinds.
    page_kinds = ["ring" if p % 2 == 0 else ANOMALY_KINDS[(p // 2) % len(ANOMALY_KINDS)]
                  for p in range(stack_pages)]
    stack = np.stack([make_patch(k, rng) for k in page_kinds])
    path = stacks / "mixed_stack.tif"
    write_tiff(path, stack)
    written.append(path)
    print("mixed_stack.tif pages (0-based):", ", ".join(f"{p}:{k}" for p, k in enumerate(page_kinds)))

    field, truth = make_field(np.random.default_rng(ss_field))
    path = stacks / "field_128x128.tif"
    write_tiff(path, field)
    written.append(path)
    print("field_128x128.tif objects (cell row, col: kind at centre y, x):")
    for kind, y, x in sorted(truth, key=lambda t: (int(t[1] // FIELD_CELL), int(t[2] // FIELD_CELL))):
        print(f"  {int(y // FIELD_CELL)}, {int(x // FIELD_CELL)}: {kind:8s} at {y:5.1f}, {x:5.1f}")
    return written


def main(argv: list[str] | None = None) -> None:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=here / "demo", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    p.add_argument("--n-train", type=int, default=300, help="normal training patches (default: %(default)s)")
    p.add_argument("--n-test-normal", type=int, default=100, help="normal test patches (default: %(default)s)")
    p.add_argument("--n-test-anomaly", type=int, default=100, help="anomalous test patches (default: %(default)s)")
    p.add_argument("--stack-pages", type=int, default=16, help="pages in mixed_stack.tif (default: %(default)s)")
    args = p.parse_args(argv)

    written = generate(args.out, args.seed, args.n_train, args.n_test_normal,
                       args.n_test_anomaly, args.stack_pages)
    total = sum(f.stat().st_size for f in written)
    print(f"wrote {len(written)} files, {total / 1e6:.2f} MB, to {args.out}")


if __name__ == "__main__":
    main()
