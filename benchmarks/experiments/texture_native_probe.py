"""`ddrid bench real` with two texture measurements beside the eleven, taken at the image's own pixels.

``texture_features.py`` measured granularity and local contrast on the patch
as the model saw it.  A measurement a user exports must not depend on the
network's input size, so here both are taken on the page itself, inside the
object's own outline, at scales relative to the object's radius r:

- granularity: the share of the object's signal (above the local background,
  the median of the pixels around it that belong to no object) that stands
  above a grey opening with a disc of radius r / 4 (small bright grains,
  after CellProfiler's MeasureGranularity);
- texture contrast: the mean absolute Laplacian of the page smoothed by
  sigma = r / 16, times sigma squared (so that it reads the same at any
  magnification), over the mean signal.

Everything else runs as ``ddrid bench real`` does (the features baselines
get both columns too):

    python benchmarks/experiments/texture_native_probe.py bench real --image ... --seed S --json OUT.json
"""
import sys

import numpy as np

NEW = ("granularity", "texture_contrast")


def texture(grey, labels, ids):
    from scipy import ndimage as ndi

    grey = np.asarray(grey, np.float64)
    lab = np.asarray(labels)
    n = int(lab.max()) + 1
    slices = ndi.find_objects(lab)
    out = np.full((len(ids), 2), np.nan)
    for k, oid in enumerate(np.asarray(ids, np.int64)):
        if not (0 < oid < n) or slices[oid - 1] is None:
            continue
        sy, sx = slices[oid - 1]
        own_box = lab[sy, sx] == oid
        r = np.sqrt(own_box.sum() / np.pi)
        sigma = max(0.5, r / 16)
        grain = max(1, int(round(r / 4)))
        pad = int(np.ceil(max(grain, 4 * sigma))) + 2
        y0, y1 = max(0, sy.start - pad), min(lab.shape[0], sy.stop + pad)
        x0, x1 = max(0, sx.start - pad), min(lab.shape[1], sx.stop + pad)
        win, lw = grey[y0:y1, x0:x1], lab[y0:y1, x0:x1]
        own = lw == oid
        free = lw == 0
        background = float(np.median(win[free])) if free.sum() >= 8 else float(np.percentile(win, 10))
        signal = np.maximum(win[own] - background, 1e-6)
        yy, xx = np.mgrid[-grain:grain + 1, -grain:grain + 1]
        opened = ndi.grey_opening(win, footprint=yy ** 2 + xx ** 2 <= grain ** 2)
        granularity = float(np.clip(win - opened, 0, None)[own].sum() / signal.sum())
        lap = np.abs(ndi.gaussian_laplace(win, sigma)) * sigma ** 2
        out[k] = (granularity, float(lap[own].mean() / signal.mean()))
    return out


if __name__ == "__main__":
    from extra_columns import install, run

    install(NEW, texture)
    sys.exit(run(sys.argv[1:]))
