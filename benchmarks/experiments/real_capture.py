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
