import numpy as np
import pytest

from ddrcore.progress import run_to_end
from ddrcore.model.scoring import default_threshold, roc_auc, score_patches, select_score_type
from synthetic import blob_patch, ring_patch


def test_algorithm2_selects_lower_validation_mean():
    assert select_score_type(np.array([1.0, 2.0]), np.array([5.0, 6.0])) == "latent"
    assert select_score_type(np.array([9.0, 9.0]), np.array([5.0, 6.0])) == "recon"


def test_default_threshold_is_validation_quantile():
    v = np.arange(101, dtype=float)
    assert default_threshold(v, 0.95) == pytest.approx(95.0)
    assert default_threshold(np.array([]), 0.95) == float("inf")


def test_roc_auc():
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])) == 0.0
    assert roc_auc(np.array([1.0, 1.0]), np.array([0, 1])) == 0.5
    assert np.isnan(roc_auc(np.array([np.nan, 1.0]), np.array([0, 1])))


def test_roc_auc_is_the_share_of_ordered_pairs_with_ties_as_halves():
    rng = np.random.default_rng(4)
    for _ in range(50):
        n = int(rng.integers(2, 30))
        s = rng.integers(0, 4, n).astype(float)           # few values: many ties
        s[rng.random(n) < 0.1] = np.inf
        y = rng.integers(0, 2, n)
        if y.min() == y.max():
            continue
        pos, neg = s[y == 1], s[y == 0]
        pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
        assert roc_auc(s, y) == pytest.approx(pairs)


def test_scores_match_the_definitions(tiny_model, rng):
    import torch

    x = np.stack([ring_patch(rng) for _ in range(3)] + [blob_patch(rng) for _ in range(3)]).astype(np.float32)[:, None]
    s = run_to_end(score_patches(tiny_model, x, batch_size=4, decompose=True))
    assert s.latent.shape == (6,) and s.recon.shape == (6,)
    assert s.x_c.shape == x.shape and s.x_n.shape == x.shape
    with torch.no_grad():
        xt = torch.from_numpy(tiny_model.preprocessor(x))
        z = tiny_model.nets.r_c.encoder(xt)
        as_l = ((z - tiny_model.z_c) ** 2).sum(1).numpy()
        template = tiny_model.nets.r_c.decoder(tiny_model.z_c[None])
        as_r = ((tiny_model.nets.r_c(xt) - template) ** 2).flatten(1).sum(1).numpy()
        x_n = tiny_model.nets.r_n(xt).numpy()
    np.testing.assert_allclose(s.latent, as_l, rtol=1e-4)
    np.testing.assert_allclose(s.recon, as_r, rtol=1e-4)
    np.testing.assert_allclose(s.x_n, x_n, rtol=1e-4, atol=1e-5)
    order = s.ranking()
    assert (np.diff(s.score[order]) <= 0).all()
    assert (s.flagged(0.0) == (s.score >= 0)).all()


def test_wrong_shape_is_refused(tiny_model):
    with pytest.raises(ValueError, match="do not fit"):
        run_to_end(score_patches(tiny_model, np.zeros((2, 3, 32, 32), np.float32)))


def test_use_score_overrides_algorithm2_with_its_own_threshold(tiny_model):
    import copy

    from ddrcore.model.scoring import use_score

    m = copy.deepcopy(tiny_model)
    other = "recon" if m.score_type == "latent" else "latent"
    use_score(m, "auto")
    assert m.score_type == tiny_model.score_type and m.threshold == tiny_model.threshold
    use_score(m, other)
    assert m.score_type == other
    assert m.threshold == pytest.approx(default_threshold(m.validation_scores[other], m.config.threshold_quantile))
    with pytest.raises(ValueError):
        use_score(m, "median")
