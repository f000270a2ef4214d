"""Shared fixtures: tiny synthetic microscopy-like images written to tmp_path."""
from __future__ import annotations

import os

# The default tier runs on pytest-xdist workers (pyproject: -n auto).  Each worker is one process per
# core, so torch inside it takes one thread: two workers with two threads each on a 2-core machine
# spend their time switching (measured on 2 cores: 77 s against 68 s for the tier; 114 s in one process).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)

import numpy as np
import pytest
from synthetic import blob_patch, ring_patch


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def normal_dir(tmp_path, rng):
    """A folder of 24 ring patches (16-bit TIFF), one subfolder deep."""
    import tifffile

    d = tmp_path / "normal"
    (d / "sub").mkdir(parents=True)
    for i in range(24):
        where = d / "sub" if i % 3 == 0 else d
        tifffile.imwrite(where / f"ring_{i:02d}.tif", ring_patch(rng))
    return d


@pytest.fixture
def test_dir(tmp_path, rng):
    """A labelled test folder: normal/ rings and anomaly/ blobs."""
    import tifffile

    d = tmp_path / "test"
    (d / "normal").mkdir(parents=True)
    (d / "anomaly").mkdir(parents=True)
    for i in range(6):
        tifffile.imwrite(d / "normal" / f"ring_{i}.tif", ring_patch(rng))
        tifffile.imwrite(d / "anomaly" / f"blob_{i}.tif", blob_patch(rng))
    return d


@pytest.fixture
def tiny_config():
    from ddrcore.config import TrainConfig

    return TrainConfig(pretrain_epochs=1, finetune_epochs=1, batch_size=8, min_steps_per_epoch=0, device="cpu")


@pytest.fixture(scope="session")
def tiny_model():
    """One tiny trained model shared by the scoring/model-file/export tests."""
    from ddrcore.config import TrainConfig
    from ddrcore.progress import run_to_end
    from ddrcore.model.training import train

    r = np.random.default_rng(99)
    x = np.stack([ring_patch(r) for _ in range(16)]).astype(np.float32)[:, None]
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, batch_size=8, min_steps_per_epoch=0, device="cpu", seed=3)
    return run_to_end(train(x, cfg))


# Hypothesis profiles for the fuzz tests (tests/core/test_readers_fuzzed.py), registered here so that
# `--hypothesis-profile NAME` works from any starting folder:
#   ci (default): a few hundred examples in all, seconds;   long: thousands per test, for a hunt:
#   python -m pytest tests/core/test_readers_fuzzed.py --hypothesis-profile long
try:
    import os as _os

    from hypothesis import HealthCheck as _HC, settings as _hyp_settings

    _common = dict(deadline=None, suppress_health_check=[_HC.too_slow, _HC.function_scoped_fixture,
                                                         _HC.data_too_large])
    _hyp_settings.register_profile("ci", max_examples=40, derandomize=True, **_common)
    _hyp_settings.register_profile("long", max_examples=3000, **_common)
    _hyp_settings.load_profile(_os.environ.get("DDRID_HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # hypothesis is in the `test` extra; without it the fuzz tests are skipped
    pass
