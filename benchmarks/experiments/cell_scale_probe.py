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
import tempfile
from pathlib import Path

import numpy as np


def main() -> int:
    import torch

    import ddrcore.bench.real as real
    import ddrcore.model.scoring as scoring
    import ddrcore.model.training as training
    from ddrcore.console import run_to_end
    from ddrcore.model.combined import calibration
    from ddrcore.model.scoring import roc_auc

    image, mask, seed = sys.argv[1], (None if sys.argv[2] == "-" else sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    seen = {}
    # Hooks that keep what run_real builds: the training patches, the model and the test scores, the truth.
    score_patches, train, truth_of = scoring.score_patches, training.train, real.truth_of

    def keep_scores(model, patches, *a, **k):
        out = yield from score_patches(model, patches, *a, **k)
        seen["model"], seen["scores"] = model, out
        return out

    def keep_train(patches, cfg):
        seen["normal"] = patches
        return train(patches, cfg)

    def keep_truth(sources, truth):
        kinds, crowded = truth_of(sources, truth)
        seen["kinds"] = kinds
        return kinds, crowded

    scoring.score_patches, training.train, real.truth_of = keep_scores, keep_train, keep_truth
    with tempfile.TemporaryDirectory() as tmp:
        result = real.run_real(image, mask, Path(tmp), 10, 10, seed, None, 0.2, run_to_end)
    model, scores, kinds, normal = seen["model"], seen["scores"], seen["kinds"], seen["normal"]
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
