"""X_C from the pretrained R_C (TrainConfig.x_c_source "pretrained"): kept as pretraining left it, saved, checked."""
import numpy as np
import pytest
import torch

from ddrcore.config import TrainConfig
from ddrcore.errors import ModelFileError
from ddrcore.model import modelfile
from ddrcore.model.scoring import score_patches
from ddrcore.model.training import train
from ddrcore.progress import run_to_end
from synthetic import ring_patch


@pytest.fixture(scope="module")
def rings():
    rng = np.random.default_rng(0)
    return np.stack([ring_patch(rng) for _ in range(32)]).astype(np.float32)[:, None] * 1000 + 100


def _train(x, finetune, source):
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=finetune, batch_size=16, min_steps_per_epoch=0, device="cpu", seed=5,
                      x_c_source=source)
    return run_to_end(train(x, cfg))


@pytest.fixture(scope="module")
def full(rings):
    """Pretrained and finetuned: shared by the tests below (each training costs a second)."""
    return _train(rings, 2, "pretrained")


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_view_is_r_c_as_pretraining_left_it_and_gives_x_c_and_as_e(rings, full):
    short = _train(rings, 0, "pretrained")
    assert _same(short.view, full.view)                  # finetuning never touched it
    assert not _same(full.view, full.nets.r_c)           # while it changed R_C
    assert all(not p.requires_grad for p in full.view.parameters())
    s = run_to_end(score_patches(full, rings[:8], decompose=True))
    with torch.no_grad():
        shown = full.view(torch.from_numpy(full.preprocessor(rings[:8]).astype(np.float32))).numpy()
    np.testing.assert_allclose(s.x_c, shown, atol=1e-5)  # X_C is the view's output
    paper = TrainConfig(profile="paper")
    assert paper.x_c_from() == "finetuned" and TrainConfig().x_c_from() == "pretrained"   # the profile decides


def test_a_model_file_keeps_the_view_and_a_forged_one_is_refused(rings, full, tmp_path):
    model = full
    path = modelfile.save(model, tmp_path / "v.ddrid")
    loaded = modelfile.load(path, "cpu")
    assert loaded.config.x_c_from() == "pretrained" and _same(loaded.view, model.view)
    a = run_to_end(score_patches(model, rings[:6]))
    b = run_to_end(score_patches(loaded, rings[:6]))
    np.testing.assert_array_equal(a.residual, b.residual)

    payload = torch.load(path, weights_only=True)
    del payload["state"]["view"]                            # says "pretrained" but holds no view
    torch.save(payload, tmp_path / "no-view.ddrid")
    with pytest.raises(ModelFileError, match="state.view"):
        modelfile.load(tmp_path / "no-view.ddrid", "cpu")
    payload = torch.load(path, weights_only=True)
    payload["config"]["x_c_source"] = "finetuned"          # holds a view the configuration does not use
    torch.save(payload, tmp_path / "extra.ddrid")
    with pytest.raises(ModelFileError, match="holds parts"):
        modelfile.load(tmp_path / "extra.ddrid", "cpu")
    payload["config"]["x_c_source"] = "somewhere"
    torch.save(payload, tmp_path / "bad.ddrid")
    with pytest.raises(ModelFileError, match="x_c_source"):
        modelfile.load(tmp_path / "bad.ddrid", "cpu")


def test_files_from_before_the_setting_keep_x_c_from_the_finetuned_r_c(tiny_model, tmp_path):
    path = modelfile.save(tiny_model, tmp_path / "old.ddrid")
    payload = torch.load(path, weights_only=True)
    payload["config"].pop("x_c_source", None)
    payload["state"].pop("view", None)                      # as files from before the view were written
    torch.save(payload, tmp_path / "old2.ddrid")
    loaded = modelfile.load(tmp_path / "old2.ddrid", "cpu")
    assert loaded.config.x_c_from() == "finetuned" and loaded.view is None
    x = np.random.default_rng(1).normal(500, 50, (2, 1, 32, 32)).astype(np.float32)
    assert run_to_end(score_patches(loaded, x)).residual.shape == (2,)
