"""Probe one DDR-ID one-class run: where does a bad ranking come from?

Trains DDR-ID on one class of a benchmark data set (600 seeded training
images, a seeded 3000-image test subset) and prints the AUC of AS_l and AS_r.
Variants:
  base        the engine as shipped
  norecal     without BatchNorm re-estimation
  biasfree    the R_C encoder without bias terms or BatchNorm affine
              parameters (Deep SVDD's rule against trivial solutions)

    python benchmarks/experiments/oneclass_probe.py DATA VARIANT CLASS PRETRAIN FINETUNE [SEED]

Finetune 0 scores the pretrained autoencoder with Z_C alone.
"""
import sys
import time

from torch import nn

import ddrcore.model.networks as networks
from ddrcore.config import TrainConfig
from ddrcore.bench.datasets import load_dataset, one_class_split
from ddrcore.progress import run_to_end
from ddrcore.model.scoring import roc_auc, score_patches
from ddrcore.model.training import train


def make_encoder_bias_free() -> None:
    original = networks.Encoder.__init__

    def init(self, channels=1, latent_dim=128, input_size=32):
        original(self, channels, latent_dim, input_size)
        self.fc = nn.Linear(self.fc.in_features, latent_dim, bias=False)
        for m in self.features:
            if isinstance(m, nn.BatchNorm2d):
                m.affine, m.weight, m.bias = False, None, None
            elif isinstance(m, nn.Conv2d):
                m.bias = None

    networks.Encoder.__init__ = init


def main(data, variant, k, pretrain, finetune, seed=0):
    if variant == "biasfree":
        make_encoder_bias_free()
    ds = run_to_end(load_dataset(data))
    split = one_class_split(ds, int(k), max_train=600, max_test=3000, seed=0)
    cfg = TrainConfig(pretrain_epochs=int(pretrain), finetune_epochs=int(finetune), batch_size=64,
                      device="cpu", seed=int(seed), recalibrate_batchnorm=variant != "norecal")
    t0 = time.time()
    model = run_to_end(train(split.train_x, cfg))
    s = run_to_end(score_patches(model, split.test_x))
    print(f"{variant} class={k} {pretrain}+{finetune} seed={seed}: AS_l {roc_auc(s.latent, split.test_labels):.3f} "
          f"AS_r {roc_auc(s.recon, split.test_labels):.3f} chosen {model.score_type} {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main(*sys.argv[1:])
