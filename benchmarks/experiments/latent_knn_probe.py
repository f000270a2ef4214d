"""Would a nearest-neighbour score in an encoder's code space rank real odd nuclei better than AS_l?

AS_l is the distance of E_C's code to one centre Z_C.  On a real half-field
ddrid trains on 17-173 objects, and AS_l was the weakest view on every field
(docs/benchmarks.md, "Real fields").  A k-NN distance in a code space asks
instead how far an object is from the *nearest* normals, which needs no
assumption that the normals form one tight ball.  This runs ``ddrid bench
real``'s pipeline for one field and seed (real_capture.py), then computes,
for two encoders (E_C after finetuning, and R_C's encoder as pretraining
left it), the mean distance to the 5 nearest training normals that were not
held out for validation, with the training bank as it is and with its eight
turns and mirrors, and prints the AUC of each alone and joined to AS_cell as
a third standardised part (scales from the validation objects, as AS_cell's).

    python benchmarks/experiments/latent_knn_probe.py IMAGE MASK|- SEED
"""
from __future__ import annotations

import sys

import numpy as np


def codes(encoder, model, images: np.ndarray) -> np.ndarray:
    import torch

    from ddrcore.model.ddrid import to_tensor

    out = []
    with torch.no_grad():
        for i in range(0, len(images), 256):
            x = to_tensor(model.preprocessor(images[i:i + 256]), model.device)
            out.append(encoder(x).float().cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def knn(bank: np.ndarray, query: np.ndarray, k: int = 5, skip_self: bool = False) -> np.ndarray:
    d = np.sqrt(((query[:, None, :] - bank[None, :, :]) ** 2).sum(-1))
    d.sort(1)
    return d[:, int(skip_self):int(skip_self) + k].mean(1)


def z_of(scores: np.ndarray, val: np.ndarray) -> np.ndarray:
    lv = np.log(np.maximum(val, 1e-12))
    return (np.log(np.maximum(scores, 1e-12)) - lv.mean()) / max(lv.std(), 1e-12)


def main() -> int:
    from real_capture import capture_from_argv

    from ddrcore.model.combined import calibration, standardised
    from ddrcore.model.minibatch import dihedral_views
    from ddrcore.model.scoring import roc_auc

    seen = capture_from_argv(sys.argv[1:4])
    model, scores, test, normal = seen["model"], seen["scores"], seen["test"], seen["normal"]
    on, y = seen["on"], seen["y"]
    val_idx = np.asarray(model.training.get("val_indices", []), int)
    fit = np.setdiff1d(np.arange(len(normal.images)), val_idx)
    cal = calibration(model.validation_scores)
    z_e = standardised(scores.residual, cal["residual"])
    z_m = standardised(scores.measure, model.measure.calibration)
    base = (z_e + z_m) / np.sqrt(2)
    print(f"{sys.argv[1]} seed {seen['seed']}: {len(fit)} bank, {len(val_idx)} validation; "
          f"AS_cell {roc_auc(scores.cell[on], y):.3f}  AS_e {roc_auc(z_e[on], y):.3f}  "
          f"AS_m {roc_auc(z_m[on], y):.3f}  AS_l {roc_auc(scores.latent[on], y):.3f}")
    encoders = {"finetuned E_C": model.nets.r_c.encoder}
    if model.view is not None:
        encoders["pretrained R_C encoder"] = model.view.encoder
    for name, enc in encoders.items():
        for bank_name, bank_images in (("bank", normal.images[fit]), ("bank x8 turns", dihedral_views(normal.images[fit]))):
            bank = codes(enc, model, bank_images)
            s_test = knn(bank, codes(enc, model, test.images))
            s_val = knn(bank, codes(enc, model, normal.images[val_idx]))
            z_k = z_of(s_test, s_val)
            three = (z_e + z_m + z_k) / np.sqrt(3)
            print(f"  {name:24s} {bank_name:14s} k-NN alone {roc_auc(s_test[on], y):.3f}  "
                  f"with AS_e, AS_m {roc_auc(three[on], y):.3f}  (AS_cell {roc_auc(base[on], y):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
