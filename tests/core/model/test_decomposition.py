"""X_C and X_N in image units: they add up to the reconstruction, and a perfect X_C is the input."""
import numpy as np

from ddrcore.model.decomposition import residual_map, to_image_units, why_ranked
from ddrcore.model.preprocess import Preprocessor
from ddrcore.progress import run_to_end
from synthetic import blob_patch, ring_patch


def test_a_perfect_class_part_gives_back_the_input(rng):
    raw = np.stack([ring_patch(rng), blob_patch(rng)]).astype(np.float32)[:, None]
    pre = Preprocessor.fit(raw)
    x_c, x_n = to_image_units(raw, pre(raw), np.zeros_like(raw), pre)
    assert np.allclose(x_c, raw, rtol=1e-4, atol=1e-2)
    assert np.all(x_n == 0)


def test_parts_add_up_to_the_reconstruction_in_image_units(tiny_model, rng):
    from ddrcore.model.scoring import score_patches

    raw = np.stack([ring_patch(rng) for _ in range(3)]).astype(np.float32)[:, None]
    s = run_to_end(score_patches(tiny_model, raw, decompose=True))
    x_c, x_n = to_image_units(raw, s.x_c, s.x_n, tiny_model.preprocessor)
    whole, _ = to_image_units(raw, s.x_c + s.x_n, np.zeros_like(s.x_n), tiny_model.preprocessor)
    assert np.allclose(x_c + x_n, whole, rtol=1e-4, atol=1e-2)


def test_residual_map_finds_an_added_spot_in_either_form(rng):
    base = ring_patch(rng).astype(np.float32)[None, None]
    spot = base.copy()
    spot[0, 0, 8, 22] += 5000
    for kind in ("x_n", "input_minus_x_c"):
        heat = residual_map(spot, base, spot - base, kind, sigma=1.0)
        assert np.unravel_index(heat[0].argmax(), heat[0].shape) == (8, 22)


def test_why_ranked_names_the_score_and_the_rule():
    line = why_ranked("recon", 3.0, [1.0, 2.0, 4.0, 5.0], rule="z-scores on validation")
    assert line.startswith("Ranked by AS_r") and "z-scores on validation" in line and "50 %" in line
