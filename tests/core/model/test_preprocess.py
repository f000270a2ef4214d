import numpy as np

from ddrcore.model.preprocess import Preprocessor, global_contrast_normalize


def test_gcn_l1_zero_mean_unit_mean_absolute_deviation(rng):
    x = rng.normal(500, 40, (5, 1, 8, 8)).astype(np.float32)
    g = global_contrast_normalize(x)
    np.testing.assert_allclose(g.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(np.abs(g).mean(axis=(1, 2, 3)), 1, rtol=1e-5)


def test_gcn_is_invariant_to_gain_and_offset(rng):
    x = rng.random((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(global_contrast_normalize(x), global_contrast_normalize(7 * x + 100), atol=1e-4)


def test_constant_patch_does_not_divide_by_zero():
    x = np.full((2, 1, 8, 8), 42.0, np.float32)
    g = global_contrast_normalize(x)
    assert np.isfinite(g).all() and (g == 0).all()
    pre = Preprocessor.fit(x)
    assert pre.maximum > pre.minimum
    assert np.isfinite(pre(x)).all()


def test_minmax_constants_come_from_training_patches_only(rng):
    train = rng.normal(0, 1, (10, 1, 8, 8)).astype(np.float32)
    pre = Preprocessor.fit(train)
    t = pre(train)
    assert t.min() == 0.0 and abs(t.max() - 1.0) < 1e-6
    other = rng.normal(0, 1, (10, 1, 8, 8)).astype(np.float32) ** 3
    o = pre(other)
    assert o.min() < 0 or o.max() > 1  # test values may leave [0, 1]
    assert Preprocessor.from_dict(pre.to_dict()) == pre
