"""`ddrid bench real`'s pipeline for one field and seed, keeping what it builds, for the probes beside it.

``run_capturing(image, mask, seed)`` runs :func:`ddrcore.bench.real.run_real`
(10+10 epochs, default settings, one torch thread) and returns its results
with the training patches (``normal``), the test patches (``test``), the
model, the test scores and the truth per test patch (``kinds``).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional


def run_capturing(image: str, mask: Optional[str], seed: int) -> dict:
    import torch

    import ddrcore.bench.real as real
    import ddrcore.model.scoring as scoring
    import ddrcore.model.training as training
    from ddrcore.console import run_to_end

    torch.set_num_threads(1)
    seen: dict = {}
    score_patches, train, truth_of = scoring.score_patches, training.train, real.truth_of

    # The last scoring run_real does is the test set's; training is called once; truth_of once.
    def keep_scores(model, patches, *a, **k):
        out = yield from score_patches(model, patches, *a, **k)
        seen.update(model=model, scores=out, test=patches)
        return out

    def keep_train(patches, cfg):
        seen["normal"] = patches
        return train(patches, cfg)

    def keep_truth(sources, truth):
        kinds, crowded = truth_of(sources, truth)
        seen["kinds"] = kinds
        return kinds, crowded

    scoring.score_patches, training.train, real.truth_of = keep_scores, keep_train, keep_truth
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seen["results"] = real.run_real(image, mask, Path(tmp), 10, 10, seed, None, 0.2, run_to_end)
    finally:
        scoring.score_patches, training.train, real.truth_of = score_patches, train, truth_of
    return seen


def capture_from_argv(argv) -> dict:
    """``IMAGE MASK|- SEED`` from a probe's command line: :func:`run_capturing`'s result, plus the truth as masks.

    Adds ``image`` (the path), ``seed``, ``normal_mask`` and ``odd_mask`` over
    the test detections (detections on no nucleus are neither), ``on`` (either)
    and ``y`` (1 for an anomaly, over ``on``), which every probe's AUC needs.
    """
    image, mask, seed = argv[0], (None if argv[1] == "-" else argv[1]), int(argv[2])
    seen = run_capturing(image, mask, seed)
    kinds = seen["kinds"]
    nor, odd = kinds == "normal", (kinds != "normal") & (kinds != "")
    seen.update(image=image, seed=seed, normal_mask=nor, odd_mask=odd, on=nor | odd, y=odd[nor | odd].astype(int))
    return seen


def residual_variants_line(path: str, d, variants, extra: str = "") -> str:
    """One line for a probe that recomputes AS_e: the shipped AS_cell's AUC, then per ``(name, z(AS_e))``
    the AUC of AS_e and of AS_cell = (z(AS_e) + z(AS_m)) / sqrt(2), and the anomalies in its top 20.

    ``d`` holds ``kinds``, ``shipped`` (AS_cell as shipped), ``measure`` (AS_m) and ``mcal`` (AS_m's scale).
    """
    import numpy as np

    from ddrcore.model.scoring import roc_auc

    kinds = d["kinds"]
    on = kinds != ""
    y = (kinds != "normal")[on].astype(int)
    z_m = (np.log(np.maximum(d["measure"], 1e-12)) - d["mcal"][0]) / d["mcal"][1]
    line = [path, f"shipped AS_cell {roc_auc(d['shipped'][on], y):.3f}"] + ([extra] if extra else [])
    for name, z_e in variants:
        cell = ((z_e + z_m) / np.sqrt(2))[on]
        line.append(f"{name}: AS_e {roc_auc(z_e[on], y):.3f}, AS_cell {roc_auc(cell, y):.3f}, "
                    f"top 20 {int(y[np.argsort(-cell)[:20]].sum())}")
    return " | ".join(line)


def save_arrays(out: str, inputs, **arrays) -> None:
    """Write a probe's arrays to ``out`` (.npz), atomically; never over one of ``inputs`` or a file of another kind."""
    from pathlib import Path

    import numpy as np

    from ddrcore.io.atomic import atomic_path

    target = Path(out)
    if target.suffix != ".npz":
        raise SystemExit(f"{out}: give a .npz path for the probe's arrays")
    if any(p and target.resolve() == Path(p).resolve() for p in inputs):
        raise SystemExit(f"{out} is one of the inputs; write the arrays elsewhere")
    with atomic_path(target, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
