"""AS_c: the explain profile's default score, AS_l unless a local residual stands out more.

A microscopist's anomalies come in two kinds.  Some objects look different
as a whole (another cell type, another shape): the latent score AS_l sees
them.  Others look normal except for one local defect (a bright inclusion,
a spot): the residual peak AS_e sees them, and AS_l often does not.  On
natural images the residual is a poor detector (textured normal images have
large residuals too), so AS_e must not dilute AS_l where it has nothing to
say.

AS_c puts both scores on one scale, the validation normals' (each score's
log, standardised by their mean and standard deviation), and takes

    AS_c = max(z(AS_l), z(AS_e) - RESIDUAL_MARGIN)

so a patch is ranked by AS_l unless its residual peak is more unusual than
its latent code by more than RESIDUAL_MARGIN standard deviations.  Logs,
because both scores are squared distances with long right tails.  The
figures behind the rule and the margin are in
benchmarks/experiments/detection.md.  Torch-free, so the GUI can recompute it.
"""
from __future__ import annotations

from typing import Mapping, Optional, Tuple

import numpy as np

#: How many standard deviations more unusual the residual peak must be than the latent code before
#: it decides the rank (chosen among 0-4 in benchmarks/experiments/detection.md).
RESIDUAL_MARGIN = 1.5
#: Floor on a score (squared distance) before its log: an exact zero must not give -inf.
_TINY = 1e-12

Calibration = Mapping[str, Tuple[float, float]]


def calibration(validation_scores: Mapping[str, np.ndarray]) -> Optional[dict]:
    """Mean and standard deviation of log AS_l and log AS_e over the validation normals.

    Parameters
    ----------
    validation_scores : mapping
        A model's ``validation_scores`` ({"latent": array, "residual": array, ...}).

    Returns
    -------
    dict or None
        ``{"latent": (mean, std), "residual": (mean, std)}``; None when either
        score is missing or empty (model files from before AS_e).

    Examples
    --------
    >>> cal = calibration({"latent": np.array([1.0, np.e ** 2]), "residual": np.array([1.0, 1.0])})
    >>> cal["latent"], cal["residual"][0]
    ((1.0, 1.0), 0.0)
    >>> calibration({"latent": np.array([1.0])}) is None
    True
    """
    out = {}
    for key in ("latent", "residual"):
        v = validation_scores.get(key)
        if v is None or len(v) == 0:
            return None
        logs = np.log(np.maximum(np.asarray(v, np.float64), _TINY))
        out[key] = (float(logs.mean()), max(float(logs.std()), _TINY))
    return out


def standardised(scores: np.ndarray, mean_std: Tuple[float, float]) -> np.ndarray:
    """``(log(scores) - mean) / std``: a score on the validation normals' scale."""
    mean, std = mean_std
    return (np.log(np.maximum(np.asarray(scores, np.float64), _TINY)) - mean) / std


def combined(latent: np.ndarray, residual: np.ndarray, cal: Calibration,
             margin: float = RESIDUAL_MARGIN) -> np.ndarray:
    """AS_c per patch: ``max(z(AS_l), z(AS_e) - margin)`` on the validation normals' scale.

    Examples
    --------
    >>> cal = {"latent": (0.0, 1.0), "residual": (0.0, 1.0)}
    >>> lat = np.exp(np.array([1.0, 1.0, 0.0]))      # z(AS_l) = 1, 1, 0
    >>> res = np.exp(np.array([0.0, 2.5, 5.0]))      # z(AS_e) = 0, 2.5, 5
    >>> combined(lat, res, cal).round(2).tolist()   # AS_l, AS_l, then the residual decides
    [1.0, 1.0, 3.5]
    """
    return np.maximum(standardised(latent, cal["latent"]), standardised(residual, cal["residual"]) - margin)


def residual_decides(latent: float, residual: float, cal: Calibration, margin: float = RESIDUAL_MARGIN) -> bool:
    """Whether the residual peak, not the latent code, sets this patch's AS_c (for the "why" line)."""
    z_l = float(standardised(np.array([latent]), cal["latent"])[0])
    z_e = float(standardised(np.array([residual]), cal["residual"])[0])
    return z_e - margin > z_l
