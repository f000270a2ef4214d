"""Thresholds that need no model: from the scored objects themselves.  Torch-free, so the GUI can use them."""
from __future__ import annotations

import numpy as np

#: The robust z of :func:`robust_threshold`: one-sided 5 % of a normal distribution.
ROBUST_Z = 1.645
#: Fewer scored objects than this say little about a spread: the robust threshold is not taken from them
#: (one object would be its own median and always flagged).
MIN_ROBUST = 10
#: The rule in words, for tooltips and help.
ROBUST_RULE = (f"the median of the scores plus {ROBUST_Z:g} robust standard deviations (1.4826 x their median "
               "absolute deviation): about 5 % of normal objects above it as long as most scored objects are "
               "normal; another set of objects gives another value")


def robust_threshold(scores: np.ndarray, z: float = ROBUST_Z) -> float:
    """A threshold from the scored objects themselves: their median plus ``z`` robust standard deviations.

    A screen's robust z (per plate): the median and 1.4826 x the median
    absolute deviation stand for the normal objects as long as most scored
    objects are normal, whatever the few validation normals said.  At the
    default ``z`` about 5 % of normal objects score above it (measured with
    ``ddrid bench real``: 3-4 % on four fields, against 4-12 % for the
    validation quantile, which stands on a handful of held-out objects).

    Examples
    --------
    >>> round(robust_threshold(np.array([1.0, 2.0, 3.0, 4.0, 100.0])), 3)
    5.439
    >>> robust_threshold(np.array([]))
    inf
    """
    v = np.asarray(scores, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("inf")
    med = float(np.median(v))
    return med + float(z) * 1.4826 * float(np.median(np.abs(v - med)))
