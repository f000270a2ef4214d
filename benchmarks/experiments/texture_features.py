"""Would two texture measurements make AS_m, and so AS_cell, rank real odd nuclei better?

AS_m scores an object's eleven measurements (ddrcore/objects/measure.py).
Two texture measures a CellProfiler user also takes are tried beside them,
both measured on the patch as the model saw it, inside the object's outline
found again in the patch (ddrcore/model/cellquality.object_mask):

- granularity: the share of the object's signal above a grey opening with a
  disc of a quarter of its radius (small bright grains; after CellProfiler's
  MeasureGranularity);
- local contrast: the mean absolute Laplacian of the patch smoothed by 1 px,
  over the mean signal (after the contrast measures of MeasureTexture).

This runs ``ddrid bench real``'s pipeline for one field and seed and prints
the AUC of AS_m and of AS_cell (z(AS_e) + z(AS_m)) / sqrt(2), overall and by
kind, with and without them.  Not in ddrid: chosen
knowing that "textured" is one of the implanted kinds, and the gain is
small (docs/benchmarks.md, "Real fields").

    python benchmarks/experiments/texture_features.py IMAGE MASK|- SEED
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def texture(images: np.ndarray) -> np.ndarray:
    """(N, 2) granularity and local contrast of the object at the centre of each (N, C, S, S) patch."""
    from scipy import ndimage as ndi

    from ddrcore.model.cellquality import object_mask

    rows = []
    for patch in np.asarray(images, np.float64):
        grey = patch.mean(0)
        mask = object_mask(grey)
        if mask is None or mask.sum() < 6:
            rows.append((0.0, 0.0))
            continue
        edge = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        signal = np.maximum(grey[mask] - float(np.median(edge)), 1e-6)
        r = max(1, int(round(np.sqrt(mask.sum() / np.pi) / 4)))
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        opened = ndi.grey_opening(grey, footprint=yy ** 2 + xx ** 2 <= r ** 2)
        granularity = float(np.clip(grey - opened, 0, None)[mask].sum() / signal.sum())
        contrast = float(np.abs(ndi.laplace(ndi.gaussian_filter(grey, 1.0)))[mask].mean() / signal.mean())
        rows.append((granularity, contrast))
    return np.array(rows)


def main() -> int:
    from real_capture import capture_from_argv

    from ddrcore.model.cellscore import MeasureModel, feature_matrix
    from ddrcore.model.combined import calibration, standardised
    from ddrcore.model.scoring import roc_auc

    seen = capture_from_argv(sys.argv[1:4])
    model, scores, test, normal, on, y, image, seed, kinds = (
        seen[k] for k in ("model", "scores", "test", "normal", "on", "y", "image", "seed", "kinds"))
    cal = calibration(model.validation_scores)
    z_e = standardised(scores.residual, cal["residual"])
    line = []
    for name, (f_normal, f_test) in {
        "eleven measurements": (feature_matrix(normal.sources), feature_matrix(test.sources)),
        "eleven + texture": (np.c_[feature_matrix(normal.sources), texture(normal.images)],
                             np.c_[feature_matrix(test.sources), texture(test.images)]),
    }.items():
        m = MeasureModel.fit(f_normal)     # every normal, as ddrid keeps them
        z_m = standardised(m.score(f_test), m.calibration)
        cell = (z_e + z_m) / np.sqrt(2)    # AS_cell as ddrid ranks (cell rule residual+measure)
        if name == "eleven measurements":
            line.append(f"(AS_cell as shipped {roc_auc(scores.cell[on], y):.3f})")
        by_kind = []
        for kind in sorted(set(kinds[on][y == 1])):
            pick = (kinds == kind) | (kinds == "normal")
            by_kind.append(f"{kind[:5]} {roc_auc(cell[pick], (kinds[pick] == kind).astype(int)):.3f}")
        line.append(f"{name}: AS_m {roc_auc(z_m[on], y):.3f}, AS_cell {roc_auc(cell[on], y):.3f} "
                    f"[{' '.join(by_kind)}]")
    print(f"{Path(image).name} seed {seed}: " + "; ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
