"""Anomaly scores (paper Section 3.3, Algorithm 2) and the default threshold.

AS_l(X) = ||E_C(X) - Z_C||^2            (Eq. 7, latent space)
AS_r(X) = ||R_C(X) - D_C(Z_C)||^2       (Eq. 8, image space)
AS_e(X) = max over pixels of G * (X - R_C(X))^2   (ours: the peak of the squared residual
          that R_C leaves, smoothed by a Gaussian G of sigma 1 px and summed over channels;
          the same residual the decomposition shows as anomalous)
AS_c(X) = max(z(AS_l), z(AS_e) - 1.5)   (ours, the "explain" profile's score: both scores
          standardised on the validation normals; see combined.py)

Algorithm 2 keeps the score with the lower *mean* over the held-out normal
validation patches.  The two means live on different scales (AS_l sums over
latent dimensions, AS_r over pixels), so the choice mostly follows those
scales; we implement it as published and record both means and both scores
for every patch so the other choice is always available.

The "explain" profile ranks by AS_c; no labelled anomaly is needed.

Default threshold (users have no labelled anomalies): the
``threshold_quantile`` (default 0.95) quantile of the chosen score over the
validation normals, i.e. about 5 % of normal patches are expected above it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Optional

import numpy as np
import torch

from ..base import autocast
from ..io.images import PatchSet
from .ddrid import DDRIDModel, to_tensor
from . import combined as combined_score
from .score_type import SCORE_TYPES, ScoreType
from ..progress import Clock, Job, Progress


@dataclass
class Scores:
    """Per-patch scores, in input order."""

    latent: np.ndarray            # AS_l
    recon: np.ndarray             # AS_r
    score_type: str               # which one `score` holds
    threshold: float
    x: Optional[np.ndarray] = None      # preprocessed input (N, C, S, S), if asked
    x_c: Optional[np.ndarray] = None    # class-specific component R_C(X)
    x_n: Optional[np.ndarray] = None    # residual component R_N(X)
    residual: Optional[np.ndarray] = None  # AS_e (None where a caller built Scores without it)
    combined: Optional[np.ndarray] = None  # AS_c (None where the model has no AS_e validation scores)
    measure: Optional[np.ndarray] = None   # AS_m (objects with measurements, models that keep them)
    cell: Optional[np.ndarray] = None      # AS_cell: AS_e and AS_m together (cellscore.py; AS_l too in older models)

    def of(self, score_type: str) -> np.ndarray:
        """The scores of type ``score_type`` ("latent", "recon", "residual" or "combined")."""
        if score_type == "latent":
            return self.latent
        if score_type == "recon":
            return self.recon
        if score_type == "residual" and self.residual is not None:
            return self.residual
        if score_type == "combined" and self.combined is not None:
            return self.combined
        if score_type == "measure" and self.measure is not None:
            return self.measure
        if score_type == "cell" and self.cell is not None:
            return self.cell
        raise ValueError(f"no {score_type!r} scores here")

    @property
    def score(self) -> np.ndarray:
        return self.of(self.score_type)

    @property
    def score_label(self) -> str:
        """The chosen score's display name (AS_l, AS_r, AS_e, AS_c), as the ranked CSV writes it."""
        return ScoreType.label_of(self.score_type)

    def flagged(self, threshold: Optional[float] = None) -> np.ndarray:
        """Eq. 9: anomalous when AS >= tau."""
        tau = self.threshold if threshold is None else threshold
        return self.score >= tau

    def ranking(self) -> np.ndarray:
        """Indices, most anomalous first (stable for ties)."""
        return np.argsort(-self.score, kind="stable")

    def __len__(self) -> int:
        return len(self.latent)

    def take(self, index) -> "Scores":
        """The scores of the patches at ``index`` (every per-patch array indexed alike)."""
        index = np.asarray(index, np.int64)
        return replace(self, **{f.name: getattr(self, f.name)[index] for f in fields(self)
                                if isinstance(getattr(self, f.name), np.ndarray)})


def select_score_type(val_latent: np.ndarray, val_recon: np.ndarray) -> str:
    """Algorithm 2: AS_l if its validation mean is lower than AS_r's, else AS_r."""
    return (ScoreType.LATENT if float(np.mean(val_latent)) < float(np.mean(val_recon)) else ScoreType.RECON).value


def default_threshold(val_scores: np.ndarray, quantile: float = 0.95) -> float:
    """The ``quantile`` of the validation normals' scores (documented rule)."""
    if len(val_scores) == 0:
        return float("inf")
    return float(np.quantile(np.asarray(val_scores, np.float64), quantile))


def validation_scores_of(model: DDRIDModel, score_type: str) -> Optional[np.ndarray]:
    """The validation normals' scores of ``score_type``; AS_c is derived from AS_l and AS_e when the
    model file does not hold it.  None when the model cannot give them."""
    val = model.validation_scores.get(score_type)
    if val is None and score_type == "combined":
        cal = combined_score.calibration(model.validation_scores)
        if cal is not None:
            val = combined_score.combined(model.validation_scores["latent"], model.validation_scores["residual"], cal)
    return val


def use_score(model: DDRIDModel, score_type: str) -> DDRIDModel:
    """Make ``model`` rank by ``score_type`` ("auto" keeps the model's own choice).

    The threshold becomes the same validation quantile of the chosen score.
    Algorithm 2 picks by validation *means*, which mostly follows the two
    scores' scales; this lets a user who knows better override it.
    """
    if score_type in (None, "auto"):
        return model
    if score_type not in SCORE_TYPES:
        raise ValueError(f"score must be auto, {', '.join(SCORE_TYPES)}, got {score_type!r}")
    if score_type == model.score_type:
        return model
    val = validation_scores_of(model, score_type)
    if val is None or len(val) == 0:
        if score_type in ("measure", "cell") and model.config.patching().source in ("grid", "points"):
            # Tiles and points have no outline, so nothing to measure: retraining on them would not help.
            raise ValueError(f"the {score_type} score needs objects with an outline (--objects auto or labels); "
                             f"this model was trained on {model.config.patching().source} patches, which have none")
        raise ValueError(f"this model file holds no validation {score_type} scores (files from before it existed); "
                         "retrain it to choose this score")
    model.score_type = score_type
    model.threshold = default_threshold(np.asarray(val), model.config.threshold_quantile)
    model.validation = {**model.validation,
                        "threshold_rule": f"quantile {model.config.threshold_quantile} of validation "
                                          f"{score_type} scores (score chosen by the user)"}
    return model


@torch.no_grad()
def _score_batch(model: DDRIDModel, xb: torch.Tensor, template: torch.Tensor, keep: bool):
    enc = model.nets.r_c.encoder
    with autocast(xb.device.type, getattr(model.config, "precision", "fp32")):
        # Scores are summed in fp32 whatever the network precision (.float() is a no-op in fp32).
        z = enc(xb).float()
        x_c = model.nets.r_c.decoder(z).float()
        x_n = model.nets.r_n(xb).float() if keep else None
        # X_C from the pretrained R_C where the model keeps it (TrainConfig.x_c_source): AS_e and what the
        # Detail view shows; AS_r still compares the finetuned decoder's output with the template.
        shown = model.view(xb).float() if model.view is not None else x_c
    as_l = ((z - model.z_c) ** 2).sum(1)
    as_r = ((x_c - template) ** 2).flatten(1).sum(1)
    as_e = residual_peak(xb, shown)
    return as_l, as_r, as_e, shown, x_n


#: Smoothing of the residual before AS_e takes its peak (pixels): the "lightly smoothed" residual
#: of issue #9, so one noisy pixel does not decide the score.
RESIDUAL_SIGMA = 1.0


def gaussian_kernel(sigma: float = RESIDUAL_SIGMA) -> torch.Tensor:
    """A normalised 2-D Gaussian (1, 1, k, k), k = 2 * ceil(2 sigma) + 1."""
    half = max(1, int(np.ceil(2 * sigma)))
    t = torch.arange(-half, half + 1, dtype=torch.float32)
    g = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    k = g[:, None] * g[None, :]
    return (k / k.sum())[None, None]


def residual_map(x: torch.Tensor, x_c: torch.Tensor, sigma: float = RESIDUAL_SIGMA) -> torch.Tensor:
    """(N, 1, S, S): the squared residual (X - X_C)^2 summed over channels, Gaussian-smoothed.

    Zero padding at the border; a residual right at the edge is slightly damped, not lost.
    """
    import torch.nn.functional as F

    r = ((x.float() - x_c.float()) ** 2).sum(1, keepdim=True)
    k = gaussian_kernel(sigma).to(r.device)
    return F.conv2d(r, k, padding=k.shape[-1] // 2)


def residual_peak(x: torch.Tensor, x_c: torch.Tensor) -> torch.Tensor:
    """AS_e: the peak of :func:`residual_map` per patch (N,)."""
    return residual_map(x, x_c).flatten(1).amax(1)


@torch.no_grad()
def recon_template(model: DDRIDModel) -> torch.Tensor:
    """D_C(Z_C): the normal-class template in image space."""
    return model.nets.r_c.decoder(model.z_c[None])


def score_preprocessed(model: DDRIDModel, x: np.ndarray, batch_size: int = 256, decompose: bool = False,
                       transform=None) -> Job[Scores]:
    """Score patches (N, C, S, S); a job yielding "score" progress.

    ``x`` is already preprocessed unless ``transform`` is given, which is then
    applied batch by batch (so 100,000 raw patches never exist as one float64
    copy).
    """
    model.eval()
    template = recon_template(model)
    n = len(x)
    lat, rec, res, xs, xcs, xns = [], [], [], [], [], []
    clock = Clock()
    for i in range(0, max(n, 1), batch_size):
        if n == 0:
            break
        chunk = x[i : i + batch_size]
        if transform is not None:
            chunk = transform(chunk)
        if decompose:
            xs.append(np.asarray(chunk, np.float32))
        xb = to_tensor(chunk, model.device)
        as_l, as_r, as_e, x_c, x_n = _score_batch(model, xb, template, decompose)
        lat.append(as_l.float().cpu().numpy())
        rec.append(as_r.float().cpu().numpy())
        res.append(as_e.float().cpu().numpy())
        if decompose:
            xcs.append(x_c.float().cpu().numpy())
            xns.append(x_n.float().cpu().numpy())
        done = min(n, i + batch_size) / n
        yield Progress("score", step=min(n, i + batch_size), steps=n, overall=done,
                       elapsed=clock.elapsed(), eta=clock.eta(done))
    empty = np.zeros(0, np.float32)
    latent = np.concatenate(lat) if lat else empty
    residual = np.concatenate(res) if res else empty
    cal = combined_score.calibration(model.validation_scores)
    return Scores(
        latent=latent,
        recon=np.concatenate(rec) if rec else empty,
        residual=residual,
        combined=None if cal is None else combined_score.combined(latent, residual, cal).astype(np.float32),
        score_type=model.score_type,
        threshold=model.threshold,
        x=np.concatenate(xs) if decompose and xs else None,
        x_c=np.concatenate(xcs) if decompose and xcs else None,
        x_n=np.concatenate(xns) if decompose and xns else None,
    )


def score_patches(model: DDRIDModel, patches: PatchSet | np.ndarray, batch_size: int = 256,
                  decompose: bool = False) -> Job[Scores]:
    """Preprocess raw patches with the model's constants and score them (a job).

    Given a :class:`PatchSet` whose objects carry measurements, and a model
    that keeps its training objects' measurements, AS_m and AS_cell are added.
    """
    raw = patches.images if isinstance(patches, PatchSet) else patches
    if raw.ndim != 4 or raw.shape[1] != model.channels or raw.shape[-1] != model.input_size:
        raise ValueError(
            f"patches of shape {tuple(raw.shape[1:])} do not fit this model "
            f"({model.channels} channel(s), {model.input_size}x{model.input_size})"
        )
    scores = yield from score_preprocessed(model, raw, batch_size, decompose, transform=model.preprocessor)
    if isinstance(patches, PatchSet):
        add_cell_scores(model, scores, patches.sources)
    return scores


def add_cell_scores(model: DDRIDModel, scores: Scores, sources) -> Scores:
    """Fill ``scores.measure`` (AS_m) and ``scores.cell`` (AS_cell) where the model and the patches allow.

    A model ranking by AS_cell needs every patch's measurements: patches
    without them (points, grid tiles) are refused in one line rather than
    ranked on half a score.
    """
    from .cellscore import cell_score, feature_matrix, has_features

    cal = combined_score.calibration(model.validation_scores)
    if model.measure is None or cal is None or scores.residual is None or len(sources) == 0:
        return scores
    reference = model.measure.reference
    features = feature_matrix(sources, reference is not None, reference)
    if not has_features(features):
        if model.score_type in ("measure", "cell"):
            raise ValueError("this model ranks objects by their measurements too, but these patches have none "
                             "(points or grid tiles); cut them as the model's were, or choose --score combined")
        return scores
    scores.measure = model.measure.score(features).astype(np.float32)
    scores.cell = cell_score(scores.latent, scores.residual, scores.measure, cal,
                             model.measure.calibration, model.config.cell_rule).astype(np.float32)
    return scores


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their mean rank (scipy.stats.rankdata's "average", whose import
    costs a second at every start)."""
    _, where, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return (last - (counts - 1) / 2.0)[where.reshape(-1)]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC with anomalies (label 1) as positives; ties count one half.

    NaN where either class is empty or a score is NaN.

    Examples
    --------
    >>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.75
    >>> roc_auc(np.array([1.0, 1.0]), np.array([0, 1]))
    0.5
    """
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0 or np.isnan(scores).any():
        return float("nan")
    ranks = _average_ranks(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
