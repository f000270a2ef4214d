"""Mini-batch plumbing shared by DDR-ID training and the benchmark baselines.

Small pure helpers: how the normal patches are split, how an epoch is cut
into batches, when a loss means training must stop.
"""
from __future__ import annotations

import math
from typing import Iterator, Mapping

import numpy as np

from ..errors import TrainingError

#: Fewest normal patches that training accepts: one validation patch and a
#: training batch of at least two (BatchNorm needs two samples), with margin.
MIN_PATCHES = 4


#: Objects held out for the threshold and the scores' scale when the set allows (a quarter at most).
MIN_VALIDATION = 20


def split_indices(n: int, val_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random training/validation split, each side sorted; at least one sample on each side.

    Examples
    --------
    >>> tr, va = split_indices(10, 0.1, np.random.default_rng(0))
    >>> len(tr), len(va), sorted(set(tr) | set(va)) == list(range(10))
    (8, 2, True)
    >>> [len(split_indices(n, 0.1, np.random.default_rng(0))[1]) for n in (60, 150, 1000)]
    [15, 20, 100]
    """
    perm = rng.permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    # A few hundred objects, as users have, would leave a handful for the threshold and the scores' scale:
    # hold out at least MIN_VALIDATION (never more than a quarter).
    n_val = min(n - 2, max(n_val, min(MIN_VALIDATION, n // 4)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def effective_batch_size(n_train: int, batch_size: int, min_steps: int) -> int:
    """The configured batch, shrunk so that an epoch has at least ``min_steps`` steps.

    Examples
    --------
    >>> effective_batch_size(1000, 256, 8), effective_batch_size(100, 256, 8), effective_batch_size(100, 256, 0)
    (125, 13, 100)
    """
    bs = min(batch_size, n_train)
    if min_steps > 0 and n_train // bs < min_steps:
        bs = max(2, math.ceil(n_train / min_steps))
    return min(bs, n_train)


def batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Indices of one shuffled epoch, ``batch_size`` at a time.

    A last batch of one sample is dropped: BatchNorm in train mode cannot
    normalise a single sample.

    Examples
    --------
    >>> [len(b) for b in batches(9, 4, np.random.default_rng(0))]
    [4, 4]
    """
    perm = rng.permutation(n)
    for i in range(0, n, batch_size):
        idx = perm[i : i + batch_size]
        if len(idx) >= 2:
            yield idx


def steps_per_epoch(n: int, batch_size: int) -> int:
    """How many batches :func:`batches` yields for ``n`` samples.

    >>> steps_per_epoch(9, 4), steps_per_epoch(10, 4)
    (2, 3)
    """
    return n // batch_size + (1 if n % batch_size >= 2 else 0)


def check_finite(losses: Mapping[str, float], stage: str, epoch: int) -> None:
    """Stop training, with one line saying what to do, when a loss is NaN or infinite.

    >>> check_finite({"L_R": 0.5}, "finetuning", 3)
    >>> check_finite({"L_R": float("nan")}, "finetuning", 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ddrcore.errors.TrainingError: training stopped: L_R became nan during finetuning epoch 3; no model was saved...
    """
    for name, value in losses.items():
        if not math.isfinite(value):
            raise TrainingError(
                f"training stopped: {name} became {value} during {stage} epoch {epoch}; "
                "no model was saved. Check the input images, or lower the learning rate"
            )


def dihedral(batch, rng: np.random.Generator):
    """Each sample of an (N, C, S, S) torch batch turned by a random multiple of 90 degrees and maybe mirrored.

    Objects under a microscope have no up or down: the eight turns and
    mirrors of a nucleus are all normal nuclei.  With 100-200 training
    objects, as users have, this gives the networks eight times as many
    views at no cost per step.
    """
    import torch

    codes = rng.integers(0, 8, len(batch))
    out = torch.empty_like(batch)
    for code in np.unique(codes):
        sel = torch.from_numpy(np.nonzero(codes == code)[0]).to(batch.device)
        part = torch.rot90(batch[sel], int(code) % 4, dims=(2, 3))
        out[sel] = torch.flip(part, dims=(3,)) if code >= 4 else part
    return out


def dihedral_views(x: np.ndarray) -> np.ndarray:
    """All eight turns and mirrors of (N, C, S, S) patches, view by view: (8 N, C, S, S).

    Examples
    --------
    >>> v = dihedral_views(np.arange(4.0).reshape(1, 1, 2, 2))
    >>> v.shape, len({tuple(p.ravel().tolist()) for p in v[:, 0]})
    ((8, 1, 2, 2), 8)
    """
    turns = [np.rot90(x, k, axes=(2, 3)) for k in range(4)]
    return np.ascontiguousarray(np.concatenate(turns + [t[..., ::-1] for t in turns]))
