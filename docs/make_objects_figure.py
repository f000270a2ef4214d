"""Draw docs/objects.png: grid tiles vs. object-centred patches on one field of view.

    python docs/make_objects_figure.py IMAGE [--object-size PX] [--out docs/objects.png]

Left: the field cut by the 32 px grid (tiles split nuclei, many are background).
Middle: ``--objects auto`` — each detected object outlined, its crop square dashed.
Right: the first object patches as the network sees them (before preprocessing).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    from ddrcore.io.images import load_patches, tile_origins

    from ddrcore.io.reading import read_planes
    from ddrcore.objects import Patching, page_objects
    from ddrcore.progress import run_to_end

    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--object-size", type=float)
    ap.add_argument("--out", default=str(Path(__file__).with_name("objects.png")))
    args = ap.parse_args(argv)

    page = read_planes(args.image)[0]
    grey = page.mean(axis=-1)
    lo, hi = np.percentile(grey, [0.5, 99.5])
    shown = np.clip((grey - lo) / (hi - lo), 0, 1)
    ps = run_to_end(load_patches(args.image, patching=Patching("auto", object_size=args.object_size)))
    objs = page_objects(page, ps.patching, args.image)
    fig = plt.figure(figsize=(15, 5.4), dpi=110)
    ax1, ax2 = fig.add_axes([0.01, 0.02, 0.32, 0.88]), fig.add_axes([0.34, 0.02, 0.32, 0.88])
    for ax in (ax1, ax2):
        ax.imshow(shown, cmap="gray")
        ax.set_axis_off()
    for y in tile_origins(grey.shape[0], 32):
        ax1.axhline(y - 0.5, color="#ffbf00", lw=0.6)
    for x in tile_origins(grey.shape[1], 32):
        ax1.axvline(x - 0.5, color="#ffbf00", lw=0.6)
    ax1.set_title("--objects grid: 32 px tiles cut the nuclei", fontsize=11)
    edge = np.ma.masked_where(~find_boundaries(objs.labels, mode="inner"), np.ones_like(grey))
    ax2.imshow(edge, cmap="autumn", alpha=1.0, interpolation="nearest")
    side = ps.patching.crop_side()
    for s in ps.sources[::7]:
        ax2.add_patch(plt.Rectangle((s.x - 0.5, s.y - 0.5), side, side, fill=False, ec="#00e5ff", lw=0.8, ls="--"))
    ax2.set_title(f"--objects auto: {len(ps)} objects, size {ps.patching.object_size:g} px "
                  f"(estimated), crops {side} px (every 7th dashed)", fontsize=10)
    n = min(16, len(ps))
    for k in range(n):
        ax = fig.add_axes([0.675 + (k % 4) * 0.08, 0.67 - (k // 4) * 0.215, 0.075, 0.2])
        img = ps.images[k, 0]
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi)
        ax.set_axis_off()
        ax.set_title(f"object {ps.sources[k].object_id}", fontsize=8, pad=2)
    fig.text(0.82, 0.93, "object patches (network input, 32 px)", ha="center", fontsize=11)
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
