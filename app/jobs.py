"""The GUI's long jobs: ddrcore jobs plus the context the GUI needs back.

Each function is a generator (run by app.workers in a worker thread) that
delegates to ddrcore with ``yield from`` and returns a small result record,
so the main window knows, e.g., which inputs a finished load belongs to.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from ddrcore.config import TrainConfig
from ddrcore.errors import DdridError
from ddrcore.images import BadFile, PatchSet, find_images, load_patches
from ddrcore.progress import Progress
from ddrcore.scoring import Scores, score_patches
from ddrcore.training import train


@dataclass
class LoadResult:
    inputs: List[str]
    patches: Optional[PatchSet]
    problems: List[BadFile] = field(default_factory=list)
    mark_normal_under: List[str] = field(default_factory=list)


def load_inputs(paths: Sequence[str], patch_size: int, input_size: int, channel,
                mark_normal_under: Sequence[str] = ()):
    """Load folders/files; a missing or empty input is a problem entry, not a failure."""
    files, problems = [], []
    for p in paths:
        try:
            found = find_images(p)
        except DdridError as exc:
            problems.append(BadFile(p, str(exc).split(": ", 1)[-1]))
            continue
        if not found:
            problems.append(BadFile(p, "no .tif/.tiff/.png/.jpg files found here"))
        files.extend(found)
    yield Progress("load", step=0, steps=len(files), message=f"{len(files)} image file(s) found")
    patches = None
    if files:
        try:
            patches = yield from load_patches(files, patch_size, input_size, channel)
        except DdridError as exc:
            problems.append(BadFile(", ".join(paths), str(exc).split(": ", 1)[-1]))
    return LoadResult(list(paths), patches, problems, [os.path.abspath(p) for p in mark_normal_under])


@dataclass
class ScoreResult:
    indices: np.ndarray
    scores: Scores


def score_indices(model, images: np.ndarray, indices: np.ndarray, batch_size: int = 256):
    """Score ``images[indices]`` with ``model``."""
    # Indexing (a copy) happens here, in the worker thread, not on the GUI thread.
    subset = images if len(indices) == len(images) else images[indices]
    scores = yield from score_patches(model, subset, batch_size=batch_size)
    return ScoreResult(np.asarray(indices, np.int64), scores)


def train_model(images: np.ndarray, normal: np.ndarray, config: TrainConfig):
    """Train on ``images[normal]``."""
    return (yield from train(images[normal], config))
