"""Would AS_e rank real odd nuclei better if the residual were read against where normals leave one?

AS_e is the peak of the lightly smoothed squared residual (X - X_C)^2.  On
nuclei the normal residual is not flat: the outline and the chromatin leave
more than the background, wherever the object is.  This runs ``ddrid bench
real``'s pipeline for one field and seed, builds the training normals' mean
residual map (over their eight turns and mirrors, so it has no direction),
and scores each test object by the peak of its residual map read against it:

- ``ratio``: r / (m + median(m)), r the object's map, m the normals' mean map;
- ``excess``: r - m.

Each is put on the validation normals' scale (log, mean and spread over
their eight views, as AS_e is) and joined with AS_m as AS_cell is.  Prints
the AUC of AS_e and AS_cell for the shipped residual and the two readings.

    python benchmarks/experiments/residual_norm_probe.py IMAGE MASK|- SEED
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def maps(model, raw: np.ndarray):
    """(N, S, S) smoothed squared residual of raw patches against the model's X_C."""
    import torch

    from ddrcore.model.ddrid import to_tensor
    from ddrcore.model.scoring import residual_map

    out = []
    with torch.no_grad():
        for i in range(0, len(raw), 256):
            xb = to_tensor(model.preprocessor(raw[i: i + 256]), model.device)
            shown = model.view(xb) if model.view is not None else model.nets.r_c(xb)
            out.append(residual_map(xb, shown)[:, 0].numpy())
    return np.concatenate(out)


def main() -> int:
    from real_capture import capture_from_argv

    from ddrcore.model.cellscore import feature_matrix
    from ddrcore.model.combined import standardised
    from ddrcore.model.minibatch import dihedral_views
    from ddrcore.model.scoring import roc_auc

    seen = capture_from_argv(sys.argv[1:4])
    model, scores, test, normal, on, y, image, seed = (
        seen[k] for k in ("model", "scores", "test", "normal", "on", "y", "image", "seed"))
    val_idx = np.asarray(model.training["val_indices"], int)
    train_idx = np.setdiff1d(np.arange(len(normal)), val_idx)
    m = maps(model, dihedral_views(normal.images[train_idx])).mean(0)
    val_maps = maps(model, dihedral_views(normal.images[val_idx]))
    test_maps = maps(model, test.images)
    page = model.config.measure_intensity == "page"
    z_m = standardised(model.measure.score(feature_matrix(test.sources, page)), model.measure.calibration)
    readings = {"shipped": lambda r: r, "ratio": lambda r: r / (m + np.median(m)), "excess": lambda r: r - m}
    line = []
    for name, read in readings.items():
        peak_val = read(val_maps).reshape(len(val_maps), -1).max(1)
        peak_test = read(test_maps).reshape(len(test_maps), -1).max(1)
        shift = max(0.0, -float(min(peak_val.min(), peak_test.min()))) + 1e-6   # "excess" can be negative
        logs = np.log(peak_val + shift)
        z_e = standardised(peak_test + shift, (float(logs.mean()), float(logs.std())))
        line.append(f"{name} AS_e {roc_auc(z_e[on], y):.3f} AS_cell {roc_auc(((z_e + z_m) / np.sqrt(2))[on], y):.3f}")
    print(f"{Path(image).stem} seed {seed}: " + "; ".join(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
