import math

import numpy as np
import pytest

from ddrcore.config import TrainConfig
from ddrcore.errors import TrainingError
from ddrcore.io.images import load_patches
from ddrcore.progress import Progress, run_to_end
from ddrcore.model.minibatch import effective_batch_size, split_indices
from ddrcore.model.training import train
from synthetic import ring_patch


def _patches(rng, n=20):
    return np.stack([ring_patch(rng) for _ in range(n)]).astype(np.float32)[:, None]


@pytest.mark.slow   # in CI's slow tier: the default tier stays under 90 s on 2 cores
def test_few_steps_give_finite_losses_and_a_model(rng, tiny_config):
    records = []
    model = run_to_end(train(_patches(rng), tiny_config), records.append)
    assert all(isinstance(r, Progress) for r in records)
    stages = [r.stage for r in records]
    assert stages[0] == "prepare" and stages[-1] == "done"
    assert "pretrain" in stages and "finetune" in stages and "center" in stages
    fin = [r for r in records if r.stage == "finetune"]
    extra = {"L_XC", "L1_XN"} if tiny_config.profile == "explain" else set()
    assert set(fin[-1].losses) == {"L_R", "L_OC", "L_LSC", "D_L"} | extra
    for r in records:
        assert all(math.isfinite(v) for v in r.losses.values())
    assert records[-1].overall == pytest.approx(1.0)
    # The default profile ranks by AS_c; the paper profile's Algorithm 2 picks AS_l or AS_r.
    assert model.score_type in (("combined",) if tiny_config.profile == "explain" else ("latent", "recon"))
    assert math.isfinite(model.threshold)
    assert model.z_c.shape == (128,)
    assert model.training["n_train"] + model.training["n_val"] == 20
    assert model.validation["mean_latent"] >= 0 and model.validation["mean_recon"] >= 0


def test_same_seed_same_model(rng, tiny_config):
    x = _patches(rng, 12)
    a = run_to_end(train(x, tiny_config))
    b = run_to_end(train(x, tiny_config))
    assert np.allclose(a.z_c.numpy(), b.z_c.numpy())
    assert a.threshold == pytest.approx(b.threshold)


@pytest.mark.slow   # in CI's slow tier: the default tier stays near 90 s
def test_cancel_between_yields_leaves_nothing(normal_dir, tiny_config, tmp_path):
    from ddrcore.objects import Patching
    from ddrcore.pipeline import train_folder

    out = tmp_path / "models" / "m.ddrid"
    out.parent.mkdir()
    job = train_folder(normal_dir, out, tiny_config, Patching(), force=False)
    seen = []
    for rec in job:
        seen.append(rec)
        if rec.stage == "pretrain":
            job.close()  # what Cancel does
            break
    assert seen[-1].stage == "pretrain"
    assert list(out.parent.iterdir()) == []   # no model, no temporary file
    # The same job left to run writes the model there: the folder was the right one to watch.
    run_to_end(train_folder(normal_dir, out, tiny_config, Patching()))
    assert [f.name for f in out.parent.iterdir()] == ["m.ddrid"]


def test_nan_loss_stops_with_a_clear_message(rng, tiny_config):
    cfg = TrainConfig(**{**tiny_config.to_dict(), "lr": 1e30})
    with pytest.raises(TrainingError, match="became"):
        run_to_end(train(_patches(rng), cfg))


def test_too_few_patches(rng, tiny_config):
    with pytest.raises(TrainingError, match="at least"):
        run_to_end(train(_patches(rng, 2), tiny_config))


def test_split_and_effective_batch():
    tr, va = split_indices(165, 0.1, np.random.default_rng(0))
    # 10 % would be 16; at least 20 are held out for the threshold and the scores' scale.
    assert len(va) == 20 and len(tr) == 145 and not set(tr) & set(va)
    # The paper's endosome set at batch 256 would be one step per epoch: shrink the batch.
    assert effective_batch_size(149, 256, 8) == 19
    assert effective_batch_size(6000, 256, 8) == 256
    assert effective_batch_size(149, 256, 0) == 149


def test_train_from_folder(normal_dir, tiny_config):
    ps = run_to_end(load_patches(normal_dir))
    model = run_to_end(train(ps, tiny_config))
    assert model.channels == 1


@pytest.mark.parametrize("forced", ["latent", "recon"])
def test_threshold_is_quantile_of_the_chosen_score(rng, tiny_config, monkeypatch, forced):
    import ddrcore.model.training as training
    from ddrcore.model.scoring import default_threshold

    from dataclasses import replace

    monkeypatch.setattr(training, "select_score_type", lambda lat, rec: forced)
    tiny_config = replace(tiny_config, profile="paper")           # Algorithm 2 chooses only under "paper"
    model = run_to_end(train(_patches(rng, 12), tiny_config))
    assert model.score_type == forced
    expected = default_threshold(model.validation_scores[forced], tiny_config.threshold_quantile)
    assert model.threshold == pytest.approx(expected)
