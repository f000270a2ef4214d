"""How well AS_cell's three scales hold on real fields, and what other scales would give.

AS_cell adds z(AS_l), z(AS_e) and z(AS_m), each standardised by the
validation normals (a handful of objects on a real half-field).  This runs
``ddrid bench real``'s pipeline for one field and seed, then prints, per
component, the spread of its z over the *test* normals (1 where the scale
holds) and the ROC AUC of AS_cell with each component's scale taken from:
the validation objects (as ddrid does), the training objects, both, and the
scored objects themselves (median and MAD).  Only the scales change the
ranking, so locations are left as they are.

    python benchmarks/experiments/cell_scale_probe.py IMAGE MASK|- SEED

Recorded results: docs/benchmarks.md, "Real fields".
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main() -> int:
    from real_capture import run_capturing

    from ddrcore.console import run_to_end
    from ddrcore.model.combined import calibration
    from ddrcore.model.scoring import roc_auc, score_patches

    image, mask, seed = sys.argv[1], (None if sys.argv[2] == "-" else sys.argv[2]), int(sys.argv[3])
    seen = run_capturing(image, mask, seed)
    model, scores, kinds, normal, result = (seen[k] for k in ("model", "scores", "kinds", "normal", "results"))
    val_idx = np.asarray(model.training["val_indices"], int)
    train_idx = np.setdiff1d(np.arange(len(normal)), val_idx)
    trained = run_to_end(score_patches(model, normal.subset([int(i) for i in train_idx])))

    def log(x):
        return np.log(np.maximum(np.asarray(x, np.float64), 1e-12))

    cal = calibration(model.validation_scores)
    nor, odd = kinds == "normal", (kinds != "normal") & (kinds != "")
    on, y = nor | odd, odd[nor | odd].astype(int)
    comps = {c: log(scores.of(c)) for c in ("latent", "residual", "measure")}
    val_sd = {"latent": cal["latent"][1], "residual": cal["residual"][1], "measure": model.measure.calibration[1]}
    print(f"{Path(image).name} seed {seed}: {model.training['n_val']} validation objects, "
          f"AS_cell AUC {result['methods']['ddrid']['auc']:.3f}")
    for c, z in comps.items():
        zs = (z - z[nor].mean()) / val_sd[c]
        print(f"  {c:<8} scale {val_sd[c]:.3f}  spread of z over test normals {zs[nor].std():.2f}  "
              f"AUC alone {roc_auc(z[on], y):.3f}")

    def mad(x):
        return 1.4826 * float(np.median(np.abs(x - np.median(x))))

    net = {c: log(trained.of(c)) for c in ("latent", "residual")}
    val = {c: log(model.validation_scores[c]) for c in ("latent", "residual")}
    scales = {
        "validation (ddrid)": val_sd,
        "training": {**{c: net[c].std() for c in net}, "measure": val_sd["measure"]},
        "training + validation": {**{c: np.r_[net[c], val[c]].std() for c in net}, "measure": val_sd["measure"]},
        "scored objects (MAD)": {c: mad(z) for c, z in comps.items()},
    }
    for name, sd in scales.items():
        cell = sum(comps[c] / sd[c] for c in comps)
        print(f"  AS_cell with scales from {name:<22} AUC {roc_auc(cell[on], y):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
