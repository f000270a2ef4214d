"""Does the residual deserve more weight where R_C reproduces the normals almost entirely?  (issue #25)

AS_c = max(z(AS_l), z(AS_e) - 1.5) protects natural images, where the residual
holds normal detail R_C cannot reproduce, and in doing so misses a faint spot
on rings, which R_C reproduces almost exactly.  This probe measures, per
data set and without labels, how much of the validation normals' variance X_C
leaves unexplained (FVU = ||x - X_C||^2 / ||x - mean(x)||^2, median over the
validation normals) beside the AUC of the score rules, to see whether FVU
separates data where AS_e can be trusted from data where it cannot.

    python benchmarks/experiments/residual_trust_probe.py rings VARIATION SEED EPOCHS OUT.json
    python benchmarks/experiments/residual_trust_probe.py data DATA_DIR CLASS SEED EPOCHS OUT.json

EPOCHS is P+F or one number for both; rings use `ddrid bench rings`' sizes.
"""
import json
import sys
import time

import numpy as np


def _z(test, val):
    lt, lv = np.log(np.maximum(test, 1e-12)), np.log(np.maximum(val, 1e-12))
    return (lt - lv.mean()) / max(float(lv.std()), 1e-12)


def fvu(x, x_c):
    x = x.reshape(len(x), -1).astype(np.float64)
    x_c = x_c.reshape(len(x_c), -1).astype(np.float64)
    res = ((x - x_c) ** 2).sum(1)
    var = ((x - x.mean(1, keepdims=True)) ** 2).sum(1)
    return res / np.maximum(var, 1e-12)


def signed_peak(x, x_c, sigma):
    """Peak of the squared *smoothed* residual: a matched filter for a blob of about sigma."""
    import torch
    import torch.nn.functional as F
    from ddrcore.model.scoring import gaussian_kernel

    r = torch.from_numpy(np.asarray(x, np.float32) - np.asarray(x_c, np.float32))
    if r.ndim == 3:
        r = r[:, None]
    k = gaussian_kernel(sigma)
    out = []
    for i in range(0, len(r), 1024):
        s = F.conv2d(r[i:i + 1024].reshape(-1, 1, *r.shape[-2:]), k, padding=k.shape[-1] // 2)
        s = (s.reshape(len(r[i:i + 1024]), -1, *r.shape[-2:]) ** 2).sum(1)
        out.append(s.flatten(1).amax(1).numpy())
    return np.concatenate(out)


def main():
    from ddrcore.config import TrainConfig
    from ddrcore.model.minibatch import split_indices
    from ddrcore.model.scoring import roc_auc, score_patches
    from ddrcore.model.training import train
    from ddrcore.progress import run_to_end

    kind = sys.argv[1]
    if kind == "rings":
        from ddrcore.bench.rings import VARIATIONS, ring_patches, RingSettings
        variation, seed, epochs, out = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
        s = RingSettings()
        style = VARIATIONS[variation]
        train_x, _ = ring_patches(s.n_train, seed, style=style)
        normal, _ = ring_patches(s.n_test, seed + 1000, style=style)
        spot, _ = ring_patches(s.n_test, seed + 2000, spot=True, style=style)
        test_x = np.concatenate([normal, spot])
        y = np.r_[np.zeros(len(normal)), np.ones(len(spot))]
        batch, name = s.batch_size, f"rings-{variation}"
    else:
        from ddrcore.bench.datasets import load_dataset, one_class_split
        folder, k, seed, epochs, out = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
        ds = run_to_end(load_dataset(folder))
        split = one_class_split(ds, k, 600, "all", None, seed)
        train_x, test_x, y = split.train_x, split.test_x, split.test_labels
        batch, name = 128, f"{ds.name}-{ds.class_names[k]}"
    t0 = time.perf_counter()
    pre, fine = (int(e) for e in (epochs.split('+') if '+' in epochs else (epochs, epochs)))
    cfg = TrainConfig(pretrain_epochs=pre, finetune_epochs=fine, batch_size=batch, seed=seed)
    model = run_to_end(train(train_x, cfg))
    _, val_idx = split_indices(len(train_x), cfg.val_fraction, np.random.default_rng(seed))
    val = run_to_end(score_patches(model, train_x[val_idx], decompose=True))
    test = run_to_end(score_patches(model, test_x, decompose=True))
    zl = _z(test.latent, val.latent)
    rules = {"AS_l": test.latent, "AS_c": test.combined}
    saved = {"labels": y, "latent": test.latent, "val_latent": val.latent}
    for name_e, (t_e, v_e) in {"e": (test.residual, val.residual),
                               "e_signed1": (signed_peak(test.x, test.x_c, 1.0), signed_peak(val.x, val.x_c, 1.0)),
                               "e_signed1.5": (signed_peak(test.x, test.x_c, 1.5),
                                               signed_peak(val.x, val.x_c, 1.5))}.items():
        ze = _z(t_e, v_e)
        saved[name_e], saved["val_" + name_e] = t_e, v_e
        rules[f"AS_{name_e}"] = t_e
        rules.update({f"max(z_l, z_{name_e}-{m})": np.maximum(zl, ze - m) for m in (0, 0.5, 1.5)})
        rules[f"max(z_l-1.5, z_{name_e})"] = np.maximum(zl - 1.5, ze)
        rules[f"z_l+z_{name_e}"] = zl + ze
    np.savez_compressed(out.replace(".json", ".npz"), **saved)
    f_val = fvu(val.x, val.x_c)
    f_test_normal = fvu(test.x[y == 0], test.x_c[y == 0])
    r = {"data": name, "seed": seed, "epochs": epochs, "n_train": len(train_x),
         "fvu_val_median": float(np.median(f_val)), "fvu_val_q90": float(np.quantile(f_val, 0.9)),
         "fvu_test_normal_median": float(np.median(f_test_normal)),
         "auc": {k: round(roc_auc(v, y), 4) for k, v in rules.items()},
         "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(r))
    with open(out, "w") as f:
        json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
