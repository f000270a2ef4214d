"""Where in the schedule does DDR-ID's one-class ranking fall? (issue #25, item 1)

Trains DDR-ID on one class (600 seeded training images, a seeded test subset
of MAX_TEST images, the quick protocol's split) and, after the centre Z_C and
after every finetuning epoch, prints on a copy of the networks (BatchNorm
re-estimated as the engine does before scoring):

- the test AUC of AS_l (needs labels: what we want to predict),
- what the run itself can see without labels: the validation normals' mean
  AS_l over the training subset's ("gap"; > 1 means validation normals sit
  farther out than the training ones), and the training subset's mean AS_l.

    python benchmarks/experiments/schedule_probe.py DATA CLASS PRETRAIN FINETUNE MAX_TEST ENCODER [SEED]

ENCODER: table1 or biasfree (TrainConfig.class_encoder), optionally with a weight of
L_LSC in the finetuning loss and sigma of its N(Z_C, sigma^2 I): e.g. biasfree+lsc=0 or
table1+sigma=0.01 (the engine's weight is 1, sigma 0.1).
"""
import copy
import sys

import numpy as np
import torch

import ddrcore.model.training as training
from ddrcore.bench.datasets import load_dataset, one_class_split
from ddrcore.config import TrainConfig
from ddrcore.model.batchnorm import recalibrate
from ddrcore.model.ddrid import to_tensor
from ddrcore.model.preprocess import Preprocessor
from ddrcore.model.scoring import roc_auc
from ddrcore.progress import run_to_end

CAPTURED = {}


def latent_distance(encoder, x: torch.Tensor, z_c: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return ((encoder(x) - z_c) ** 2).sum(1).numpy()


def weigh_lsc(weight: float) -> None:
    original = training.finetune_losses

    def losses(x, z, z_c, enc_logits, x_c, x_n, profile="paper"):
        out = original(x, z, z_c, enc_logits, x_c, x_n, profile)
        out["total"] = out["total"] + (weight - 1.0) * out["L_LSC"]
        return out

    training.finetune_losses = losses


def main(data, k, pretrain, finetune, max_test, encoder, seed=0):
    label = encoder
    encoder, *options = encoder.split("+")
    options = dict(o.split("=") for o in options)
    if "lsc" in options:
        weigh_lsc(float(options["lsc"]))
    ds = run_to_end(load_dataset(data))
    split = one_class_split(ds, int(k), max_train=600, max_test=int(max_test), seed=0)
    cfg = TrainConfig(pretrain_epochs=int(pretrain), finetune_epochs=int(finetune), batch_size=64, device="cpu",
                      seed=int(seed), class_encoder=encoder, latent_sigma=float(options.get("sigma", 0.1)))
    fit = Preprocessor.fit

    def capture_fit(raw):
        CAPTURED["pre"] = fit(raw)
        return CAPTURED["pre"]

    Preprocessor.fit = staticmethod(capture_fit)
    original = training._finetune
    # The engine's split, repeated: the same seed gives the same validation subset.
    rng = np.random.default_rng(int(seed))
    _train_idx, val_idx = training.split_indices(len(split.train_x), cfg.val_fraction, rng)

    def report(run, z_c, epoch):
        pre = CAPTURED["pre"]
        r_c = copy.deepcopy(run.nets.r_c)
        recalibrate([r_c], run.x_train, run.batch_size)
        r_c.eval()
        test = latent_distance(r_c.encoder, to_tensor(pre(split.test_x), "cpu"), z_c)
        val = latent_distance(r_c.encoder, to_tensor(pre(split.train_x[val_idx]), "cpu"), z_c)
        tr = latent_distance(r_c.encoder, run.x_train, z_c)
        print(f"{label} class={k} epoch {epoch:3d}: test AUC(AS_l) {roc_auc(test, split.test_labels):.3f}  "
              f"gap val/train {val.mean() / tr.mean():.2f}  train AS_l {tr.mean():.3g}", flush=True)

    def finetune_with_reports(run, z_c):
        report(run, z_c, 0)
        epoch = 0
        for p in original(run, z_c):
            if p.step == p.steps and p.epoch != epoch:
                epoch = p.epoch
                report(run, z_c, epoch)
                run.nets.train()
            yield p

    training._finetune = finetune_with_reports
    run_to_end(training.train(split.train_x, cfg))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(*sys.argv[1:])
