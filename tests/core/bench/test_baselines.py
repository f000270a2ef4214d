"""Deep SVDD / DCAE baselines: shapes, a few finite steps, the centre and radius rules."""
import math

import numpy as np
import pytest
import torch

from ddrcore.bench.baselines import (BaselineConfig, LeNetAutoencoder, LeNetEncoder, init_center,
                               radius_from_distances, score_baselines, train_baselines)
from ddrcore.progress import run_to_end


def test_lenet_shapes_and_no_bias():
    for ch, dim in ((1, 32), (3, 128)):
        ae = LeNetAutoencoder(ch)
        x = torch.rand(3, ch, 32, 32)
        assert ae.encoder(x).shape == (3, dim)
        assert ae(x).shape == x.shape
        assert all("bias" not in n for n, _ in ae.named_parameters())
        bns = [m for m in ae.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert bns and all(not m.affine and m.eps == 1e-4 for m in bns)


def test_center_eps_rule():
    enc = LeNetEncoder(1)
    with torch.no_grad():
        enc.fc.weight.zero_()  # every output 0 -> all coordinates pushed to +eps
    c = init_center(enc, torch.rand(5, 1, 32, 32))
    assert torch.allclose(c, torch.full((32,), 0.1))
    with torch.no_grad():
        enc.fc.weight.fill_(-1.0)
    c = init_center(enc, torch.rand(5, 1, 32, 32) + 1)
    assert (c.abs() >= 0.1).all()


def test_soft_radius_is_quantile_of_distances():
    dist = torch.arange(1, 101, dtype=torch.float32) ** 2  # distances 1..100
    assert math.isclose(radius_from_distances(dist, 0.05), float(np.quantile(np.arange(1, 101), 0.95)))


@pytest.mark.slow   # over 2 s: the default tier stays near 90 s on 2 cores
def test_few_steps_finite_and_scores(rng):
    raw = rng.integers(0, 255, (9, 1, 32, 32)).astype(np.float32)  # 9 with batch 4: last batch of 1 dropped
    cfg = BaselineConfig(pretrain_epochs=2, finetune_epochs=2, batch_size=4, warmup_epochs=1, radius_every=1,
                         device="cpu")
    records = []
    models = run_to_end(train_baselines(raw, cfg), records.append)
    assert {r.stage for r in records} == {"pretrain", "deepsvdd", "softsvdd"}
    assert all(math.isfinite(v) for r in records for v in r.losses.values())
    assert models.soft_radius > 0  # updated after the 1-epoch warm-up
    scores = score_baselines(models, rng.integers(0, 255, (5, 1, 32, 32)).astype(np.float32))
    assert set(scores) == {"dcae", "deepsvdd", "softsvdd"}
    assert all(v.shape == (5,) and np.isfinite(v).all() for v in scores.values())
    assert (scores["deepsvdd"] >= 0).all() and (scores["dcae"] >= 0).all()


@pytest.mark.slow   # over 2 s: the default tier stays near 90 s on 2 cores
def test_dcae_only_skips_svdd(rng):
    raw = rng.random((6, 3, 32, 32)).astype(np.float32)
    models = run_to_end(train_baselines(raw, BaselineConfig(pretrain_epochs=1, finetune_epochs=1, batch_size=3,
                                                            device="cpu"), methods=("dcae",)))
    assert models.deep_svdd is None and set(score_baselines(models, raw)) == {"dcae"}
