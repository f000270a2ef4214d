"""Would the object's mean residual (DDR-ID's AS_r read on the object only) rank real odd nuclei better?

AS_e is the peak of the smoothed squared residual (X - X_C)^2: the most
unusual spot.  A change spread over the whole nucleus (clumped chromatin,
a dim core) leaves a mild residual everywhere on it, which a noisy normal's
single sharp peak can match.  The paper's AS_r averages the residual over
the whole image; on a crop most of that is background or a masked
neighbour's fill.  This reads it on the object only:

- ``AS_o``: the mean of the smoothed squared residual over the object's
  pixels in the patch as the model saw it (the object found again in the
  patch, :func:`ddrcore.model.cellquality.object_mask`);

put on the validation normals' scale (log, mean and spread over their
eight turns and mirrors, as AS_e's is) and joined with the shipped parts:

- shipped: (z(AS_e) + z(AS_m)) / sqrt(2)
- sum3:    (z(AS_e) + z(AS_o) + z(AS_m)) / sqrt(3)
- max:     (max(z(AS_e), z(AS_o)) + z(AS_m)) / sqrt(2)

Runs ``ddrid bench real``'s pipeline for one field and seed (10+10 epochs)
and prints AUC overall and by kind for each.

    python benchmarks/experiments/object_residual_probe.py IMAGE MASK|- SEED
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def residuals_and_inputs(model, raw: np.ndarray):
    """(maps, inputs): smoothed squared residual maps and the model's input (channel mean), (N, S, S) each."""
    import torch

    from ddrcore.model.ddrid import to_tensor
    from ddrcore.model.scoring import residual_map

    maps, inputs = [], []
    with torch.no_grad():
        for i in range(0, len(raw), 256):
            xb = to_tensor(model.preprocessor(raw[i: i + 256]), model.device)
            shown = model.view(xb) if model.view is not None else model.nets.r_c(xb)
            maps.append(residual_map(xb, shown)[:, 0].numpy())
            inputs.append(xb.mean(1).numpy())
    return np.concatenate(maps), np.concatenate(inputs)


def object_means(maps: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    from ddrcore.model.cellquality import object_mask

    out = np.empty(len(maps))
    for i, (r, x) in enumerate(zip(maps, inputs)):
        m = object_mask(x)
        out[i] = float(r[m].mean()) if m is not None and m.any() else float(r.mean())
    return out


def captured_residuals(argv) -> dict:
    """``IMAGE MASK|- SEED``: ``ddrid bench real``'s run (:mod:`real_capture`) with the residual maps and
    model inputs of the validation objects (over their eight views) and of the test objects, z(AS_m) of the
    test objects, and ``z(test, val)``: a score on the validation objects' scale (log, mean, spread)."""
    from real_capture import capture_from_argv

    from ddrcore.model.cellscore import feature_matrix
    from ddrcore.model.combined import standardised
    from ddrcore.model.minibatch import dihedral_views

    seen = capture_from_argv(argv)
    model, test, normal = seen["model"], seen["test"], seen["normal"]
    val_idx = np.asarray(model.training["val_indices"], int)
    seen["val_maps"], seen["val_in"] = residuals_and_inputs(model, dihedral_views(normal.images[val_idx]))
    seen["test_maps"], seen["test_in"] = residuals_and_inputs(model, test.images)
    page = model.config.measure_intensity == "page"
    seen["z_m"] = standardised(model.measure.score(feature_matrix(test.sources, page)), model.measure.calibration)

    def z(test_v, val_v):
        logs = np.log(np.maximum(val_v, 1e-12))
        return standardised(np.maximum(test_v, 1e-12), (float(logs.mean()), float(logs.std())))

    seen["z"] = z
    return seen


def main() -> int:
    from ddrcore.model.scoring import roc_auc

    seen = captured_residuals(sys.argv[1:4])
    scores, on, y, image, seed, kinds, val_maps, val_in, test_maps, test_in, z_m, z = (
        seen[k] for k in ("scores", "on", "y", "image", "seed", "kinds", "val_maps", "val_in", "test_maps",
                          "test_in", "z_m", "z"))
    z_e = z(test_maps.reshape(len(test_maps), -1).max(1), val_maps.reshape(len(val_maps), -1).max(1))
    z_o = z(object_means(test_maps, test_in), object_means(val_maps, val_in))
    rules = {"shipped": (z_e + z_m) / np.sqrt(2), "AS_o alone": z_o, "sum3": (z_e + z_o + z_m) / np.sqrt(3),
             "max": (np.maximum(z_e, z_o) + z_m) / np.sqrt(2)}
    k_on = np.asarray(kinds)[on]
    print(f"{Path(image).stem} seed {seed}: {int(on.sum())} objects, AS_cell as shipped {roc_auc(scores.cell[on], y):.3f}",
          flush=True)
    for name, s in rules.items():
        print_rule(name, s[on], y, k_on)
    return 0


def print_rule(name: str, s_on: np.ndarray, y: np.ndarray, k_on: np.ndarray) -> None:
    """One line: a rule's AUC, anomalies among its top 20 and AUC by kind (over the objects on a nucleus)."""
    from ddrcore.model.scoring import roc_auc

    by_kind = []
    for kind in sorted(set(k_on) - {"normal"}):
        sel = (k_on == kind) | (k_on == "normal")
        by_kind.append(f"{kind[:5]} {roc_auc(s_on[sel], (k_on[sel] == kind).astype(int)):.3f}")
    top = np.argsort(-s_on)[:20]
    print(f"  {name:28s} AUC {roc_auc(s_on, y):.3f}, top 20 anomalies {int(y[top].sum())}; " + ", ".join(by_kind),
          flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
