"""AS_e with its peak taken away from the masked fill: does the fill's edge make normals look odd?

A masked neighbour leaves a flat fill in the crop, and where it meets the
object the residual of X_C can peak.  This runs one ``ddrid bench real``
field and seed (``real_capture.py``), then takes AS_e's peak only over
pixels at least G px from a flat pixel (one whose 3 x 3 neighbourhood does
not vary: the fill), for G = 0, 2, 4, on the test patches and on the
validation patches the model's scale comes from (with their eight turns and
mirrors where the model took them), and writes both with the shipped scores:

    python benchmarks/experiments/fill_peak_probe.py run IMAGE MASK|- SEED OUT.npz
    python benchmarks/experiments/fill_peak_probe.py eval OUT.npz...

``eval`` prints, per run, the AUC of AS_e and of AS_cell = (z(AS_e) +
z(AS_m)) / sqrt(2) with each G, and the anomalies in the top 20.
"""
from __future__ import annotations

import sys

import numpy as np

GAPS = (0, 2, 4)


def peaks_off_fill(model, images: np.ndarray) -> tuple:
    """({G: AS_e with the peak taken G px or more from a flat pixel}, AS_e as shipped, share of flat pixels)."""
    import torch
    from scipy import ndimage as ndi

    from ddrcore.console import run_to_end
    from ddrcore.model.scoring import residual_map, score_patches

    scores = run_to_end(score_patches(model, images, decompose=True))
    r = residual_map(torch.from_numpy(scores.x), torch.from_numpy(scores.x_c)).numpy()[:, 0]
    raw = images[:, 0]
    spread = ndi.maximum_filter(raw, size=(1, 3, 3)) - ndi.minimum_filter(raw, size=(1, 3, 3))
    flat = spread <= 1e-6 * max(1.0, float(np.abs(raw).max()))
    out = {}
    for g in GAPS:
        near = ndi.binary_dilation(flat, structure=np.ones((1, 2 * g + 1, 2 * g + 1))) if g else flat
        out[g] = np.where(near, 0, r).reshape(len(r), -1).max(1)
    return out, scores.residual, flat.mean((1, 2))


def run(argv) -> int:
    from real_capture import capture_from_argv, save_arrays

    from ddrcore.model.minibatch import dihedral_views

    seen = capture_from_argv(argv[:3])
    model, test, normal = seen["model"], seen["test"], seen["normal"]
    val = normal.images[np.asarray(model.training["val_indices"], int)]
    if len(model.validation_scores["residual"]) == 8 * len(val):
        val = dihedral_views(val)
    t, t_shipped, flat = peaks_off_fill(model, test.images)
    v, v_shipped, _ = peaks_off_fill(model, np.ascontiguousarray(val, np.float32))
    # The validation patches must be the model's own: its AS_e, recomputed, must be what it kept.
    assert np.allclose(v_shipped, model.validation_scores["residual"], rtol=1e-4), "validation patches differ"
    save_arrays(argv[3], argv[:2], kinds=np.asarray(seen["kinds"], str), shipped=seen["scores"].cell, residual=t_shipped,
             measure=seen["scores"].measure, mcal=np.asarray(model.measure.calibration), val_residual=v_shipped,
             flat=flat, **{f"t{g}": t[g] for g in t}, **{f"v{g}": v[g] for g in v})
    print(f"{argv[3]}: {len(test)} test patches")
    return 0


def evaluate(paths) -> int:
    from real_capture import residual_variants_line

    def z(test, val):
        lt, lv = np.log(np.maximum(test, 1e-12)), np.log(np.maximum(val, 1e-12))
        return (lt - lv.mean()) / lv.std()

    for path in paths:
        d = np.load(path)
        print(residual_variants_line(path, d, [(f"G={g}", z(d[f"t{g}"], d[f"v{g}"])) for g in GAPS],
                                     extra=f"flat {d['flat'].mean():.2f}"))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    mode, rest = sys.argv[1], sys.argv[2:]
    sys.exit(run(rest) if mode == "run" else evaluate(rest))
