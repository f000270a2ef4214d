"""Which default score for the explain profile?  Rules measured on saved scores (issue #9).

Every rule here needs no labelled anomaly: it uses the test patch's AS_l,
AS_r, AS_e and the same scores of the validation normals (which every model
file keeps).  Scores are squared distances; the z-rules standardise
log(score) with the validation normals' mean and std.

    python benchmarks/experiments/score_rules.py rings OUT_DIR [SEED]
        train on `ddrid bench rings`' data and budget (explain profile) and
        save the scores as OUT_DIR/class-rings-round1.npz
    python benchmarks/experiments/score_rules.py eval SCORES_DIR [SCORES_DIR ...]
        the AUC of every rule, per class and mean, for each folder of
        `ddrid bench accuracy` score files (class-*-round1.npz)
"""
import glob
import os
import sys

import numpy as np


def _z(test, val):
    lt, lv = np.log(np.maximum(test, 1e-12)), np.log(np.maximum(val, 1e-12))
    return (lt - lv.mean()) / max(float(lv.std()), 1e-12)


def rules(d):
    s = {k: d[f"ddrid_{k}"] for k in ("latent", "recon", "residual")}
    v = {k: d[f"ddrid_val_{k}"] for k in ("latent", "recon", "residual")}
    z = {k: _z(s[k], v[k]) for k in s}
    return {
        "AS_l": s["latent"], "AS_r": s["recon"], "AS_e": s["residual"],
        "z(l)+z(e)": z["latent"] + z["residual"],
        "max z(l),z(e)": np.maximum(z["latent"], z["residual"]),
        "z(l)+z(r)": z["latent"] + z["recon"],
        "z(l)+z(r)+z(e)": z["latent"] + z["recon"] + z["residual"],
    }


def evaluate(folder):
    from ddrcore.model.scoring import roc_auc

    table = {}
    for f in sorted(glob.glob(os.path.join(folder, "class-*-round1.npz"))):
        d = np.load(f)
        name = os.path.basename(f)[len("class-"):-len("-round1.npz")]
        table[name] = {k: roc_auc(v, d["labels"]) for k, v in rules(d).items()}
    names = list(next(iter(table.values())))
    print(f"\n{folder}\n{'class':>12} " + " ".join(f"{n:>15}" for n in names))
    for c, row in table.items():
        print(f"{c:>12} " + " ".join(f"{100 * row[n]:15.1f}" for n in names))
    print(f"{'mean':>12} " + " ".join(f"{100 * np.mean([r[n] for r in table.values()]):15.1f}" for n in names))
    print(f"{'lowest':>12} " + " ".join(f"{100 * min(r[n] for r in table.values()):15.1f}" for n in names))


def rings(out, seed=1):
    import torch

    from ddrcore.bench.rings import RingSettings, ring_patches
    from ddrcore.config import TrainConfig
    from ddrcore.model.scoring import score_patches
    from ddrcore.model.training import train
    from ddrcore.progress import run_to_end

    torch.set_num_threads(1)
    s = RingSettings(profile="explain", seed=int(seed), device="cpu")
    train_x, _ = ring_patches(s.n_train, s.seed)
    normal, _ = ring_patches(s.n_test, s.seed + 1000)
    spot, _ = ring_patches(s.n_test, s.seed + 2000, spot=True)
    cfg = TrainConfig(pretrain_epochs=s.pretrain_epochs, finetune_epochs=s.finetune_epochs,
                      batch_size=s.batch_size, seed=s.seed, device="cpu", profile="explain")
    model = run_to_end(train(train_x, cfg))
    sc = run_to_end(score_patches(model, np.concatenate([normal, spot])))
    os.makedirs(out, exist_ok=True)
    np.savez(os.path.join(out, "class-rings-round1.npz"), labels=np.r_[np.zeros(len(normal)), np.ones(len(spot))],
             ddrid_latent=sc.latent, ddrid_recon=sc.recon, ddrid_residual=sc.residual,
             **{f"ddrid_val_{k}": v for k, v in model.validation_scores.items()})


if __name__ == "__main__":
    if sys.argv[1] == "rings":
        rings(*sys.argv[2:])
    else:
        for folder in sys.argv[2:]:
            evaluate(folder)
