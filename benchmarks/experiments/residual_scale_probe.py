"""Would AS_e taken at a broader smoothing see hollow nuclei and micronuclei better on real fields?

AS_e is the peak of the squared residual (input - X_C) smoothed by a
Gaussian of 1 px (ddrcore/model/scoring.py).  A hollow nucleus leaves a
broad, mild residual over its dark core, whose peak a noisy normal's sharp
one can match.  This runs ``ddrid bench real``'s pipeline for one field and
seed (real_capture.py), recomputes AS_e from the test and validation patches
at smoothings of 0.5, 1, 2 and 3 px, and prints the AUC (all, hollow,
micronucleus) of AS_e alone and of AS_cell = (z(AS_e) + z(AS_m)) / sqrt(2)
with each; AS_e's scale comes from the validation objects as ddrid's does.
``--signed`` smooths the residual itself before squaring it (a matched
filter for a blob: pixel noise averages out before it is squared, where
squaring first adds it up), instead of squaring first as ddrid does.

    python benchmarks/experiments/residual_scale_probe.py IMAGE MASK|- SEED [--signed]
"""
from __future__ import annotations

import sys

import numpy as np


def signed_map(x, shown, sigma: float):
    """(N, 1, S, S): the residual smoothed per channel first, then squared and summed over channels."""
    import torch.nn.functional as F

    from ddrcore.model.scoring import gaussian_kernel

    d = (x - shown).float()
    k = gaussian_kernel(sigma).to(d.device)
    m = F.conv2d(d.reshape(-1, 1, *d.shape[2:]), k, padding=k.shape[-1] // 2).reshape(d.shape)
    return (m ** 2).sum(1, keepdim=True)


def peaks(model, images: np.ndarray, sigma: float, signed: bool = False) -> np.ndarray:
    import torch

    from ddrcore.model.ddrid import to_tensor
    from ddrcore.model.scoring import residual_map

    out = []
    with torch.no_grad():
        for i in range(0, len(images), 256):
            x = to_tensor(model.preprocessor(images[i:i + 256]), model.device)
            shown = model.view(x) if model.view is not None else model.nets.r_c(x)
            m = signed_map(x, shown, sigma) if signed else residual_map(x, shown, sigma)
            out.append(m.flatten(1).amax(1).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def main() -> int:
    from real_capture import capture_from_argv

    from ddrcore.model.combined import standardised
    from ddrcore.model.minibatch import dihedral_views
    from ddrcore.model.scoring import roc_auc

    signed = "--signed" in sys.argv[4:]
    seen = capture_from_argv(sys.argv[1:4])
    model, scores, test, normal, kinds = (seen[k] for k in ("model", "scores", "test", "normal", "kinds"))
    on, y = seen["on"], seen["y"]
    val_idx = np.asarray(model.training.get("val_indices", []), int)
    val_images = dihedral_views(normal.images[val_idx])
    z_m = standardised(scores.measure, model.measure.calibration)
    nor = kinds == "normal"
    line = f"{sys.argv[1].rsplit('/', 1)[-1]} seed {seen['seed']}: AS_cell shipped {roc_auc(scores.cell[on], y):.3f}"
    for sigma in (0.5, 1.0, 2.0, 3.0):
        e, ev = peaks(model, test.images, sigma, signed), peaks(model, val_images, sigma, signed)
        lv = np.log(np.maximum(ev, 1e-12))
        z_e = (np.log(np.maximum(e, 1e-12)) - lv.mean()) / max(lv.std(), 1e-12)
        cell = (z_e + z_m) / np.sqrt(2)
        by = []
        for kind in ("hollow", "micronucleus"):
            sel = nor | (kinds == kind)
            yk = (kinds[sel] == kind).astype(int)
            by.append(f"{kind[:5]} {roc_auc(cell[sel], yk):.2f}" if yk.any() else "")
        line += (f" | sigma {sigma:g}: AS_e {roc_auc(e[on], y):.3f} AS_cell {roc_auc(cell[on], y):.3f} "
                 + " ".join(by))
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
