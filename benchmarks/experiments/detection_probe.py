"""Probe DDR-ID's one-class detection against Deep SVDD at the same epochs (issue #9).

Trains on one class of a benchmark data set (600 seeded training images, a
seeded test subset of MAX_TEST images, the same split for every method) and
prints one line per class: the AUC of AS_l, AS_r, AS_e, the score the
profile picks, and Deep SVDD trained for the same epochs.

Variants (how the finetuning step is changed; the engine is not touched):
  paper        Eq. 3-6 as shipped
  explain      the explain profile as shipped
  oc_encoder   explain, but the reconstruction terms (L_R, ||X_C - X||^2)
               reach R_C's decoder only: E_C learns from L_OC + L_LSC alone,
               as Deep SVDD's encoder does, and D_C learns to read its latent
  biasfree     explain with E_C bias-free (no biases, BatchNorm without affine
               parameters), Deep SVDD's rule against trivial solutions
  <variant>@lr=1e-3  the same at another learning rate

    python benchmarks/experiments/detection_probe.py DATA VARIANT CLASSES EPOCHS MAX_TEST [SEED [FINETUNE]]

CLASSES: e.g. 0-9 or 2,5,8.  EPOCHS: pretraining (and finetuning, unless
FINETUNE is given) epochs for every method (DDR-ID and Deep SVDD alike).
"""
import sys
import time

import numpy as np
import torch

import ddrcore.model.training as training
from ddrcore.bench.baselines import BaselineConfig, score_baselines, train_baselines
from ddrcore.bench.datasets import load_dataset, one_class_split
from ddrcore.config import TrainConfig
from ddrcore.model.scoring import roc_auc, score_patches
from ddrcore.progress import run_to_end


def decoder_only_reconstruction() -> None:
    """E_C gets no gradient from L_R or ||X_C - X||^2: D_C reads a detached latent."""
    original = training.finetune_losses

    def losses(x, z, z_c, enc_logits, x_c, x_n, profile="paper"):
        return original(x, z, z_c, enc_logits, x_c, x_n, profile)

    def step(nets, opt_r, opt_d, xb, z_c, latent_sigma, precision="fp32", profile="paper"):
        r_c, r_n, d_l = nets.r_c, nets.r_n, nets.d_l
        m = len(xb)
        z_fake = z_c + latent_sigma * torch.randn(m, z_c.numel(), device=xb.device)
        z = r_c.encoder(xb).float()
        logits = d_l(torch.cat([z_fake, z.detach()])).float()
        l_d = -(torch.nn.functional.logsigmoid(logits[:m]).mean()
                + torch.nn.functional.logsigmoid(-logits[m:]).mean())
        opt_d.zero_grad(set_to_none=True)
        l_d.backward()
        opt_d.step()
        logits = d_l(torch.cat([z_fake, z])).float()
        x_c, x_n = r_c.decoder(z.detach()).float(), r_n(xb).float()
        out = losses(xb, z, z_c, logits[m:], x_c, x_n, profile)
        opt_r.zero_grad(set_to_none=True)
        out.pop("total").backward()
        opt_r.step()
        return {**{k: v.item() for k, v in out.items()}, "D_L": l_d.item()}

    training.finetune_step = step


def classes(spec):
    if "-" in spec:
        a, b = spec.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(c) for c in spec.split(",")]


def main(data, variant, spec, epochs, max_test, seed=0, finetune=None):
    name, _, opt = variant.partition("@")
    lr = float(opt.split("=")[1]) if opt.startswith("lr=") else 1e-4
    profile = "paper" if name == "paper" else "explain"
    if name == "oc_encoder":
        decoder_only_reconstruction()
    if name == "biasfree":
        from oneclass_probe import make_encoder_bias_free

        make_encoder_bias_free()
    ds = run_to_end(load_dataset(data))
    epochs, seed = int(epochs), int(seed)
    finetune = epochs if finetune is None else int(finetune)
    rows = []
    for k in classes(spec):
        split = one_class_split(ds, k, max_train=600, max_test=int(max_test), seed=0)
        t0 = time.time()
        cfg = TrainConfig(pretrain_epochs=epochs, finetune_epochs=finetune, batch_size=64, device="cpu",
                          seed=seed, profile=profile, lr=lr)
        model = run_to_end(training.train(split.train_x, cfg))
        s = run_to_end(score_patches(model, split.test_x))
        y = split.test_labels
        t1 = time.time()
        bcfg = BaselineConfig(pretrain_epochs=epochs, finetune_epochs=finetune, batch_size=64, seed=seed,
                              device="cpu")
        svdd = score_baselines(run_to_end(train_baselines(split.train_x, bcfg, ["deepsvdd"])), split.test_x)
        row = [roc_auc(s.latent, y), roc_auc(s.recon, y), roc_auc(s.residual, y), roc_auc(s.score, y),
               roc_auc(svdd["deepsvdd"], y)]
        rows.append(row)
        print(f"{variant} class={k} ep={epochs}+{finetune} seed={seed}: AS_l {row[0]:.3f} AS_r {row[1]:.3f} "
              f"AS_e {row[2]:.3f} selected({model.score_type}) {row[3]:.3f} | deepsvdd {row[4]:.3f} "
              f"[{t1 - t0:.0f}s + {time.time() - t1:.0f}s]", flush=True)
    m = np.mean(rows, axis=0)
    print(f"{variant} MEAN ep={epochs}: AS_l {m[0]:.3f} AS_r {m[1]:.3f} AS_e {m[2]:.3f} selected {m[3]:.3f} "
          f"| deepsvdd {m[4]:.3f}; lowest selected {min(r[3] for r in rows):.3f}", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(*sys.argv[1:])
