"""A quality check after training that needs no labelled anomalies.

Users have normal patches only, so how well a model separates anomalies is
unknown after training.  This module makes *synthetic* anomalies from the
held-out validation normals (the training subset is never used) and measures
how well the model's chosen score ranks them above the untouched validation
patches (ROC AUC; 0.5 is chance, 1.0 is perfect separation):

- ``spot``: a bright Gaussian spot pasted at a random place;
- ``shuffle``: the pixels of a random square (half the patch side) shuffled;
- ``flip``: the top half of the patch flipped upside down.

A model that cannot even separate these (AUC near 0.5, or below) has not
learnt the normal class: typically it was trained too briefly, or on too
few normals.  The result is plain numbers, stored in the model file's
``validation`` dictionary and shown by the GUI and ``ddrid train``/``info``.

The check is display and advice only: it changes neither the model, its
score choice nor its threshold.  :func:`select_score_type_synthetic` says
which score these synthetic anomalies would choose; ``ddrid bench accuracy``
measures that rule beside the profiles' own (it lost on MNIST and CIFAR-10:
benchmarks/experiments/detection.md), and no profile uses it.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

#: Below this AUC of normals vs synthetic anomalies (all kinds together) the model is reported as barely
#: separating them.  Measured on the demo (300 normals, 30 validation): 1+1 epochs 0.38, 25+25 epochs 0.75;
#: on 30 synthetic rings: 1+1 epochs 0.10, 4+4 epochs 1.00.
WARN_AUC = 0.65
#: Synthetic variants made from each validation patch, per kind (more samples, steadier AUC).
VARIANTS = 4
KINDS = ("spot", "shuffle", "flip")
WARNING = "this model barely separates even synthetic anomalies: train longer or mark more normals"


def flip_half(patches: np.ndarray) -> np.ndarray:
    """Flip the top half of each patch upside down (patches (N, C, S, S)).

    Examples
    --------
    >>> import numpy as np
    >>> flip_half(np.arange(16).reshape(1, 1, 4, 4))[0, 0]
    array([[ 4,  5,  6,  7],
           [ 0,  1,  2,  3],
           [ 8,  9, 10, 11],
           [12, 13, 14, 15]])
    """
    out = np.array(patches, copy=True)
    h = out.shape[-2] // 2
    out[..., :h, :] = out[..., :h, :][..., ::-1, :]
    return out


def paste_spot(patches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add one bright Gaussian spot (sigma S/10, peak 1.5x the patch's 1-99 % range) at a random place."""
    out = np.array(patches, np.float32, copy=True)
    n, _c, s, t = out.shape
    yy, xx = np.mgrid[:s, :t]
    sigma = max(1.0, s / 10)
    for i in range(n):
        lo, hi = np.percentile(out[i], [1, 99])
        amp = 1.5 * max(float(hi - lo), 1e-6)
        cy, cx = rng.uniform(s * 0.2, s * 0.8), rng.uniform(t * 0.2, t * 0.8)
        out[i] += (amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))).astype(np.float32)
    return out


def local_shuffle(patches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle the pixels inside one random square of half the patch side (all channels alike)."""
    out = np.array(patches, copy=True)
    n, c, s, t = out.shape
    k = max(2, s // 2)
    for i in range(n):
        y, x = rng.integers(0, s - k + 1), rng.integers(0, t - k + 1)
        block = out[i, :, y:y + k, x:x + k].reshape(c, -1)
        out[i, :, y:y + k, x:x + k] = block[:, rng.permutation(k * k)].reshape(c, k, k)
    return out


def synthetic_anomalies(patches: np.ndarray, seed: int = 0, variants: int = VARIANTS) -> Dict[str, np.ndarray]:
    """Synthetic anomalies of each kind made from raw normal patches (N, C, S, S)."""
    rng = np.random.default_rng(seed)
    base = np.repeat(np.asarray(patches, np.float32), variants, axis=0)
    return {"spot": paste_spot(base, rng), "shuffle": local_shuffle(base, rng), "flip": flip_half(base)}


def verdict(auc: Optional[float], warn_below: float = WARN_AUC) -> str:
    """The advice for an AUC of normals vs synthetic anomalies ("" when the model separates them).

    Examples
    --------
    >>> verdict(0.95)
    ''
    >>> verdict(0.52)
    'this model barely separates even synthetic anomalies: train longer or mark more normals'
    >>> verdict(None)
    ''
    """
    if auc is None or auc != auc:
        return ""
    return WARNING if auc < warn_below else ""


def score_synthetic(model, val_patches: np.ndarray, seed: int = 0):
    """Every score of the validation normals and of each kind of synthetic anomaly made from them.

    Returns ``(normal, {kind: Scores})``, or None when there are no patches.  The score choice and
    the quality check both read this one pass, so the networks run over these patches once.
    """
    from ..progress import run_to_end
    from .scoring import score_patches

    val = np.asarray(val_patches, np.float32)
    if len(val) == 0:
        return None
    fakes = synthetic_anomalies(val, seed)
    return run_to_end(score_patches(model, val)), {k: run_to_end(score_patches(model, fakes[k])) for k in KINDS}


def check(model, val_patches: np.ndarray, seed: int = 0, scored=None) -> dict:
    """Score validation normals and synthetic anomalies made from them; returns plain numbers.

    Parameters
    ----------
    model : DDRIDModel
        A trained model (its chosen score is used).
    val_patches : ndarray
        Raw validation patches (N, C, S, S), never the training subset.
    seed : int
        Seed of the synthetic anomalies' random placement.
    scored : optional
        :func:`score_synthetic`'s result for these patches and seed, if already computed.

    Returns
    -------
    dict
        ``synthetic_auc`` (all kinds together), ``synthetic_auc_<kind>`` per
        kind, ``synthetic_auc_min`` (the weakest kind), ``synthetic_n``
        (validation patches used) and ``synthetic_warning`` (advice text,
        empty when fine; decided by ``synthetic_auc`` against :data:`WARN_AUC`).  AUCs are NaN-free floats or None
        when there are no validation patches.
    """
    from .scoring import roc_auc

    out: dict = {"synthetic_n": int(len(val_patches))}
    scored = scored if scored is not None else score_synthetic(model, val_patches, seed)
    if scored is None:
        out.update({"synthetic_auc": None, "synthetic_warning": ""})
        return out
    normal_scores, fake_scores = scored
    normal = normal_scores.of(model.score_type)
    all_scores = [normal]
    for kind in KINDS:
        s = fake_scores[kind].of(model.score_type)
        all_scores.append(s)
        labels = np.r_[np.zeros(len(normal)), np.ones(len(s))]
        out[f"synthetic_auc_{kind}"] = round(roc_auc(np.r_[normal, s], labels), 4)
    scores = np.concatenate(all_scores)
    labels = np.r_[np.zeros(len(normal)), np.ones(len(scores) - len(normal))]
    auc = roc_auc(scores, labels)
    out["synthetic_auc"] = round(auc, 4) if auc == auc else None
    worst = min(KINDS, key=lambda k: out[f"synthetic_auc_{k}"])
    out["synthetic_auc_min"] = out[f"synthetic_auc_{worst}"]
    out["synthetic_warning"] = verdict(out["synthetic_auc"])
    return out


def synthetic_auc_by_score(model, val_patches: np.ndarray, seed: int = 0, scored=None) -> Dict[str, Optional[float]]:
    """AUC of every score type for validation normals vs all synthetic anomalies made from them.

    Parameters
    ----------
    model : DDRIDModel
    val_patches : ndarray
        Raw validation patches (N, C, S, S), never the training subset.
    seed : int
        Seed of the synthetic anomalies' random placement.

    Returns
    -------
    dict
        ``{score type: AUC}`` for "latent", "recon" and "residual"; None when there are no patches.
    """
    from .scoring import roc_auc

    # Synthetic anomalies are pixels, not objects: they have no measurements, so AS_m and AS_cell are not scored here.
    image_scores = ("latent", "recon", "residual", "combined")
    scored = scored if scored is not None else score_synthetic(model, val_patches, seed)
    if scored is None:
        return {t: None for t in image_scores}
    normal, fakes = scored
    out = {}
    for t in image_scores:
        scores = np.concatenate([normal.of(t)] + [fakes[k].of(t) for k in KINDS])
        labels = np.r_[np.zeros(len(normal)), np.ones(len(scores) - len(normal))]
        auc = roc_auc(scores, labels)
        out[t] = round(float(auc), 4) if auc == auc else None
    return out


def select_score_type_synthetic(aucs: Dict[str, Optional[float]]) -> str:
    """The score type with the highest synthetic AUC (ties and missing values: AS_l first, then AS_r).

    Examples
    --------
    >>> select_score_type_synthetic({"latent": 0.7, "recon": 0.6, "residual": 0.9})
    'residual'
    >>> select_score_type_synthetic({"latent": None, "recon": None, "residual": None})
    'latent'
    """
    best, best_auc = "latent", -1.0
    for t in ("latent", "recon", "residual"):
        a = aucs.get(t)
        if isinstance(a, (int, float)) and a == a and a > best_auc:
            best, best_auc = t, float(a)
    return best


def describe(validation: dict) -> str:
    """One line about a model's quality check (from its ``validation`` dict); "" when it has none."""
    auc = validation.get("synthetic_auc") if isinstance(validation, dict) else None
    if not isinstance(auc, (int, float)):
        return ""
    kinds = ", ".join(f"{k} {validation[f'synthetic_auc_{k}']:.2f}" for k in KINDS
                      if isinstance(validation.get(f"synthetic_auc_{k}"), (int, float)))
    text = (f"quality check: AUC {auc:.2f} of {validation.get('synthetic_n', '?')} validation normals vs synthetic "
            f"anomalies ({kinds}; 0.5 = chance)")
    warn = validation.get("synthetic_warning") or ""
    cell = validation.get("cell_auc")
    if isinstance(cell, (int, float)):
        # Object models: the check that predicts the ranking of real odd cells (cellquality.py).
        kinds = ", ".join(f"{k[len('cell_auc_'):]} {v:.2f}" for k, v in validation.items()
                          if k.startswith("cell_auc_") and isinstance(v, (int, float)))
        text = (f"quality check: AUC {cell:.2f} of {validation.get('cell_n', '?')} validation objects vs odd cells "
                f"made from them ({kinds}; 0.5 = chance); pixel-level synthetic anomalies {auc:.2f}")
        warn = validation.get("cell_warning") or warn
    return f"{text}. Warning: {warn}" if warn else text
