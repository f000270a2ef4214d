"""How masked neighbours are filled: a flat local background against background with its own noise.

``object_crop`` sets other objects' pixels (and pixels off the page) to the
crop's local background, one flat value.  In a crowded crop that flat area
meets the real, noisy background along sharp edges the network may read as
odd.  The variant ``noise`` fills with the same median plus Gaussian noise of
the free pixels' robust spread (seeded by the object's position, so a crop
is the same every time it is cut).  The variant ``feather`` (2026-12-07)
keeps the flat fill but smooths it where it meets the object: where a
touching neighbour is masked, the object's side of the segmentation line
meets the fill in a sharp step no isolated nucleus has; the filled pixels
take the crop's Gaussian-smoothed values (sigma half the neighbour margin,
at least 1 px), so the object's edge falls off into the fill as into
background, and the object's own pixels stay as they are.  The variant
``inpaint`` fills every masked pixel from the crop's free pixels (on no
object, not filled) around it, by normalised convolution with a Gaussian of
a tenth of the crop's side (the flat fill where none is within reach): a
saturated neighbour's masked glow then continues the light around it instead
of leaving a dark hole with sharp edges in the middle of a bright area (seen
on U2OS, seed 1: four crowded normals in the top 20 are crops of one dim
nucleus beside a saturated one).

    python benchmarks/experiments/fill_probe.py VARIANT SEED IMAGE [MASK|-] [IMAGE MASK|- ...]

VARIANT: ``flat`` (as committed), ``noise``, ``feather`` or ``inpaint``.  Prints, per field, ddrid's
AUC, anomalies and border/crowded normals in the top 20.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np


def noise_fill(object_crop):
    def crop_with_noise(page, cy, cx, side, labels=None, oid=0, margin=2, mask_others=True, keep=None):
        crop, y0, x0 = object_crop(page, cy, cx, side, labels, oid, margin, mask_others, keep)
        # The filled pixels: those off the page, and those whose value differs from the page's.
        h, w = page.shape[:2]
        yy, xx = np.mgrid[y0:y0 + side, x0:x0 + side]
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        orig = np.zeros_like(crop)
        orig[inside] = page[yy[inside], xx[inside]]
        filled = ~inside | np.any(orig != crop, axis=-1)
        free = inside & ~filled
        if labels is not None:
            free &= labels[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)] == 0
        if filled.any() and free.sum() >= 8:
            vals = crop[free]
            sd = 1.4826 * np.median(np.abs(vals - np.median(vals, 0)), 0)
            rng = np.random.default_rng([int(round(cy)) % 65536, int(round(cx)) % 65536])
            crop[filled] = crop[filled] + rng.normal(0, 1, (int(filled.sum()), crop.shape[-1])) * sd
            crop[filled] = np.maximum(crop[filled], vals.min(0))
        return crop, y0, x0
    return crop_with_noise


def _filled(page, crop, y0, x0, side):
    """Pixels of ``crop`` that differ from the page there, or lie off it: the fill."""
    h, w = page.shape[:2]
    yy, xx = np.mgrid[y0:y0 + side, x0:x0 + side]
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    orig = np.zeros_like(crop)
    orig[inside] = page[yy[inside], xx[inside]]
    return ~inside | np.any(orig != crop, axis=-1)


def feather_fill(object_crop):
    def crop_feathered(page, cy, cx, side, labels=None, oid=0, margin=2, mask_others=True, keep=None):
        from scipy import ndimage as ndi

        crop, y0, x0 = object_crop(page, cy, cx, side, labels, oid, margin, mask_others, keep)
        filled = _filled(page, crop, y0, x0, side)
        if filled.any() and not filled.all():
            sigma = max(1.0, margin / 2)
            smooth = np.stack([ndi.gaussian_filter(crop[..., c], sigma, mode="nearest")
                               for c in range(crop.shape[-1])], -1)
            crop[filled] = smooth[filled]
        return crop, y0, x0
    return crop_feathered


def inpaint_fill(object_crop):
    def crop_inpainted(page, cy, cx, side, labels=None, oid=0, margin=2, mask_others=True, keep=None):
        from scipy import ndimage as ndi

        crop, y0, x0 = object_crop(page, cy, cx, side, labels, oid, margin, mask_others, keep)
        filled = _filled(page, crop, y0, x0, side)
        if not filled.any() or filled.all() or labels is None:
            return crop, y0, x0
        h, w = page.shape[:2]
        yy, xx = np.mgrid[y0:y0 + side, x0:x0 + side]
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        lab = np.where(inside, labels[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], -1)
        free = inside & ~filled & (lab == 0)
        if free.sum() < 8:
            return crop, y0, x0
        sigma = max(2.0, side / 10)
        weight = ndi.gaussian_filter(free.astype(np.float64), sigma, mode="constant")
        reach = weight > 1e-3
        for c in range(crop.shape[-1]):
            carried = ndi.gaussian_filter(np.where(free, crop[..., c], 0.0).astype(np.float64), sigma, mode="constant")
            est = np.where(reach, carried / np.maximum(weight, 1e-12), crop[..., c])
            crop[..., c][filled] = est[filled]
        return crop, y0, x0
    return crop_inpainted


def main(argv):
    variant, seed, rest = argv[0], int(argv[1]), argv[2:]
    import torch

    import ddrcore.objects.crops as crops
    from ddrcore.bench.real import run_real
    from ddrcore.console import run_to_end

    torch.set_num_threads(1)
    if variant == "noise":
        crops.object_crop = noise_fill(crops.object_crop)
    elif variant == "feather":
        crops.object_crop = feather_fill(crops.object_crop)
    elif variant == "inpaint":
        crops.object_crop = inpaint_fill(crops.object_crop)
    elif variant != "flat":
        raise SystemExit(f"unknown variant {variant!r}")
    for image, mask in zip(rest[::2], rest[1::2]):
        with tempfile.TemporaryDirectory() as tmp:
            res = run_real(image, None if mask == "-" else mask, Path(tmp), 10, 10, seed, None, 0.2, run_to_end)
        d = res["methods"]["ddrid"]
        print(f"{variant} seed {seed} {Path(image).name}: AUC {d['auc']:.3f} top20 {d['anomalies_in_top20']} "
              f"crowded {d['border_or_crowded_normals_in_top20']} by kind "
              + " ".join(f"{k[:5]} {v:.2f}" for k, v in d["auc_by_kind"].items()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
