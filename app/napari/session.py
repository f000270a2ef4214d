"""What the napari dock works on, without Qt or napari: one page, its objects, the model, the scores.

The dock (:mod:`.widget`) reads arrays out of napari's layers and hands them
here; everything below drives the same ddrcore jobs as the desktop app and
the command line (:func:`ddrcore.model.training.train`,
:func:`ddrcore.model.scoring.score_patches`, the model files of
:mod:`ddrcore.model.modelfile`) and turns their results into plain arrays and
tables that the dock puts back into layers.  Kept free of Qt and napari so it
is tested without a display.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Dict, Optional

import numpy as np

from ddrcore.config import TrainConfig
from ddrcore.io.images import PatchSet, patches_from_array
from ddrcore.objects import Objects, Patching, objects_in_array
from ddrcore.objects.measure import MEASUREMENTS, touches_border
from ddrcore.progress import Job, Progress

#: Where the objects come from, as the dock's combo names them.
DETECT = "detect"
#: The dock's shortest schedule: one pretraining and one finetuning epoch (a smoke run, not a model to trust).
MIN_EPOCHS = 1
#: The dock's default: the demo schedule (25 + 25 epochs), minutes on a laptop CPU for a few hundred objects.
DEFAULT_EPOCHS = 25
#: Progress reaches the GUI at most this often (training yields after every optimiser step).
PROGRESS_INTERVAL_S = 0.1


@dataclass
class Page:
    """One (Y, X) or (Y, X, C) image plane and what says where its objects are.

    ``labels``: a (Y, X) label image; ``points``: (N, 2) centres y, x; neither: detect.
    ``object_size``: the objects' diameter in pixels, None to measure or estimate it.
    """

    image: np.ndarray
    labels: Optional[np.ndarray] = None
    points: Optional[np.ndarray] = None
    object_size: Optional[float] = None
    name: str = "napari layer"

    @property
    def source(self) -> str:
        return "labels" if self.labels is not None else "points" if self.points is not None else "auto"

    def grey_or_channels(self) -> tuple[np.ndarray, object]:
        """The plane as ddrcore cuts it, and its channel setting: grey (None) or every channel ("all").

        An RGB plane whose channels are equal is grey (as ddrcore reads such files); alpha is dropped.
        """
        img = np.asarray(self.image)
        if img.ndim == 3:
            img = img[..., :3]
            if np.array_equal(np.broadcast_to(img[..., :1], img.shape), img):
                return img[..., 0], None
            return img, "all"
        return img, None


@dataclass
class Cut:
    """The patches of one page and the objects they were cut around."""

    page: Page
    objects: Objects
    patches: PatchSet
    channel: object

    @property
    def ids(self) -> np.ndarray:
        """The object id of every patch, in patch order."""
        return np.array([s.object_id for s in self.patches.sources], np.int64)

    def label_image(self) -> np.ndarray:
        """A (Y, X) label image of the objects: the given or detected one, or discs around points."""
        if self.objects.labels is not None:
            return np.asarray(self.objects.labels)
        return discs(self.page.image.shape[:2], self.objects.centers, self.objects.ids,
                     (self.patches.patching.object_size or self.patches.patching.crop_side() / 2) / 2)


def discs(shape, centers, ids, radius: float) -> np.ndarray:
    """A label image with a disc of ``radius`` around each centre (points have no extent of their own).

    Examples
    --------
    >>> lab = discs((9, 9), [[4, 4]], [3], 1.5)
    >>> int(lab[4, 4]), int(lab[0, 0]), int((lab == 3).sum())
    (3, 0, 9)
    """
    out = np.zeros(shape, np.int32)
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    for (cy, cx), oid in zip(np.asarray(centers, float).reshape(-1, 2), ids):
        out[((yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2) & (out == 0)] = int(oid)
    return out


def cut(page: Page, patching: Optional[Patching] = None, input_size: Optional[int] = None) -> Cut:
    """Cut object patches from ``page`` as ddrcore cuts them from a file (``patching``: e.g. a model's)."""
    image, channel = page.grey_or_channels()
    base = patching or Patching("auto")
    base = replace(base, source=page.source, labels_dir=None, points=None)
    if page.object_size:
        base = replace(base, object_size=float(page.object_size), patch_size=None, per_image=False)
    objects, resolved = objects_in_array(image, base, labels=page.labels, points=page.points)
    if len(objects) == 0:
        from ddrcore.errors import DdridError

        raise DdridError("no objects found in this image; draw labels or points, or set the object size")
    patches = patches_from_array(image, objects, resolved, input_size=input_size, name=page.name)
    return Cut(page, objects, patches, channel)


def config_for(cut_: Cut, epochs: int, seed: int = 0, device: str = "auto") -> TrainConfig:
    """The training settings for ``cut_``: the app's defaults, ``epochs`` of pretraining and as many of finetuning."""
    config = TrainConfig(pretrain_epochs=int(epochs), finetune_epochs=int(epochs), seed=seed, device=device)
    config.set_patching(cut_.patches.patching)
    config.input_size = int(cut_.patches.images.shape[-1])
    config.channel = cut_.channel
    return config


def normal_rows(cut_: Cut, normal_ids=None) -> np.ndarray:
    """Patch rows to train on: the objects whose ids are in ``normal_ids``, or every object (None)."""
    ids = cut_.ids
    if normal_ids is None:
        return np.arange(len(ids))
    return np.flatnonzero(np.isin(ids, np.asarray(list(normal_ids), np.int64)))


def use_cores_but_one() -> None:
    """Give torch every core but one in the calling (worker) thread, so napari stays responsive."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))


def throttled(job: Job, interval: float = PROGRESS_INTERVAL_S) -> Job:
    """Re-yield ``job``'s progress at most every ``interval`` seconds (and at each new stage); return its result."""
    last, stage = 0.0, None
    while True:
        try:
            rec = next(job)
        except StopIteration as stop:
            return stop.value
        now = time.monotonic()
        if rec.stage != stage or now - last >= interval:
            last, stage = now, rec.stage
            yield rec


@dataclass
class Outcome:
    """What a finished train or score job hands back to the dock."""

    cut: Cut
    model: object
    scores: object
    trained: bool = False
    normal_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def train_job(page: Page, epochs: int, normal_ids=None, seed: int = 0, device: str = "auto") -> Job[Outcome]:
    """Cut, train on the normal objects, and score every object (a job, run in napari's worker thread)."""
    from ddrcore.errors import DdridError
    from ddrcore.model.minibatch import MIN_PATCHES
    from ddrcore.model.scoring import score_patches
    from ddrcore.model.training import train

    use_cores_but_one()
    yield Progress("objects", message="cutting object patches")
    cut_ = cut(page)
    rows = normal_rows(cut_, normal_ids)
    if len(rows) < MIN_PATCHES:
        raise DdridError(f"training needs at least {MIN_PATCHES} normal objects away from the image edge; "
                         f"{len(rows)} are marked")
    config = config_for(cut_, epochs, seed, device)
    model = yield from throttled(train(cut_.patches.subset(rows), config))
    scores = yield from throttled(score_patches(model, cut_.patches))
    return Outcome(cut_, model, scores, trained=True, normal_ids=cut_.ids[rows])


def score_job(page: Page, model) -> Job[Outcome]:
    """Cut ``page`` as ``model``'s training patches were cut, and score every object (a job)."""
    from ddrcore.errors import DdridError
    from ddrcore.model.scoring import score_patches

    use_cores_but_one()
    yield Progress("objects", message="cutting object patches")
    patching = model.config.patching()
    # The model's object size decides the crop, not the dock's: a model only means something for patches
    # cut the way its training patches were (per-image models adapt to this image's magnification).
    cut_ = cut(replace(page, object_size=None), patching, input_size=model.input_size)
    side = model.config.patch_size if patching.per_image else cut_.patches.patching.crop_side()
    why = model.incompatibility(side, cut_.channel, int(cut_.patches.images.shape[1]))
    if why:
        raise DdridError(f"{why}; train a model on this image instead")
    scores = yield from throttled(score_patches(model, cut_.patches))
    return Outcome(cut_, model, scores)


# ------------------------------------------------------------- results --
def results_table(outcome: Outcome, threshold: float) -> Dict[str, np.ndarray]:
    """One row per object of the label image (scored or not): napari's ``features`` for the scores layer.

    ``index`` is the label id (napari maps rows to labels by it); ``score`` the
    model's chosen score, ``rank`` 1 for the most anomalous, ``is_anomaly``
    whether ``score >= threshold``, ``role`` what the object was to the model
    (trained on or scored only), then the measurements.  Objects not scored
    (left out at the image edge, or for NaN or infinite pixels) have NaN scores, rank 0 and a role that
    says which.
    """
    cut_ = outcome.cut
    ids = cut_.ids
    all_ids = np.unique(cut_.label_image())
    all_ids = all_ids[all_ids > 0].astype(np.int64)
    row = {int(i): k for k, i in enumerate(all_ids)}
    n = len(all_ids)
    score = np.full(n, np.nan)
    rank = np.zeros(n, np.int64)
    where = np.array([row[int(i)] for i in ids], np.int64)
    chosen = np.asarray(outcome.scores.score, np.float64)
    score[where] = chosen
    rank[where[np.argsort(-chosen, kind="stable")]] = np.arange(1, len(ids) + 1)
    scored = np.zeros(n, bool)
    scored[where] = True
    # Why an object was left out: the image edge (the border policy), else NaN or infinite pixels in its
    # patch (the one other reason a cut drops an object); never the edge for an object nowhere near it.
    # (with the border policy "include" or "flag" edge objects are cut, so none is left out for the edge)
    edge = (touches_border(cut_.label_image(), all_ids) if n and cut_.patches.patching.border == "exclude"
            else np.zeros(n, bool))
    role = np.where(edge, "not scored (image edge)", "not scored (NaN or infinite pixels)").astype(object)
    role[where] = "scored"
    if outcome.trained:
        role[[row[int(i)] for i in outcome.normal_ids if int(i) in row]] = "trained on (normal)"
    table = {"index": all_ids, "score": score, "rank": rank, "is_anomaly": scored & (score >= threshold),
             "role": role}
    measured = np.full((n, len(MEASUREMENTS)), np.nan)
    for k, src in zip(where, cut_.patches.sources):
        if len(src.measurements) == len(MEASUREMENTS):
            measured[k] = src.measurements
    for j, name in enumerate(MEASUREMENTS):
        table[name] = measured[:, j]
    centers = np.full((n, 2), np.nan)
    centers[where] = [[s.center_y, s.center_x] for s in cut_.patches.sources]
    table["center_y"], table["center_x"] = centers[:, 0], centers[:, 1]
    return table


def score_range(scores: np.ndarray) -> tuple[float, float]:
    """The range the colours span: robust to one extreme object (2nd to 98th percentile)."""
    s = np.asarray(scores, np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(s, [2, 98]))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def score_colors(table: Dict[str, np.ndarray], colormap: str = "viridis", alpha: float = 1.0) -> Dict[int, np.ndarray]:
    """RGBA per label id: the score on ``colormap`` over :func:`score_range`; unscored objects grey."""
    from matplotlib import colormaps

    lo, hi = score_range(table["score"])
    cmap = colormaps[colormap]
    out = {}
    for oid, s in zip(table["index"], table["score"]):
        if np.isfinite(s):
            rgba = np.array(cmap(float(np.clip((s - lo) / (hi - lo), 0, 1))), float)
            rgba[3] = alpha
        else:
            rgba = np.array([0.6, 0.6, 0.6, 0.5 * alpha])
        out[int(oid)] = rgba
    return out


def colorbar(colormap: str = "viridis", width: int = 256, height: int = 12) -> np.ndarray:
    """An (height, width, 3) uint8 strip of ``colormap``, low on the left."""
    from matplotlib import colormaps

    row = (np.asarray(colormaps[colormap](np.linspace(0, 1, width)))[:, :3] * 255).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(row[None], (height, width, 3)))


# ------------------------------------------------------- decomposition --
#: What the dock shows of a selected object, left to right.
PANELS = ("input", "X_C (normal part)", "X_N (residual)", "input − X_C")


def decomposition_panels(raw: np.ndarray, x_c: np.ndarray, x_n: np.ndarray, scale: int = 3) -> list:
    """input, X_C, X_N and input − X_C of one patch as four (H, W, 3) uint8 pictures.

    Each of ``raw``, ``x_c``, ``x_n`` is (C, S, S) in image units (channels are
    averaged).  input and X_C share one contrast (the input's 1st to 99.5th
    percentile), so X_C reads as "this object, made normal".  X_N and
    input − X_C are differences, blue where darker, red where brighter, white
    at zero, on one symmetric scale: half the input's contrast range is full
    colour, so a residual that is only noise stays pale instead of being
    stretched to look like a finding.  Which difference carries the anomaly
    depends on the model's profile (X_N under "paper", input − X_C under
    "explain"; docs/method.md).  Panels are enlarged ``scale`` times
    (nearest neighbour: no invented detail).

    Examples
    --------
    >>> raw = np.zeros((1, 4, 4)); raw[0, 1, 1] = 10
    >>> [p.shape for p in decomposition_panels(raw, raw, raw - raw, scale=2)]
    [(8, 8, 3), (8, 8, 3), (8, 8, 3), (8, 8, 3)]
    """
    grey = [np.asarray(a, np.float64).mean(axis=0) for a in (raw, x_c, x_n)]
    lo, hi = np.percentile(grey[0], [1, 99.5])
    hi = hi if hi > lo else lo + 1.0

    def shade(a):
        v = (np.clip((a - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
        return np.repeat(v[..., None], 3, axis=-1)

    white, red, blue = np.array([245, 245, 245.0]), np.array([210, 40, 40.0]), np.array([40, 90, 200.0])

    def diverging(d):
        t = np.clip(d / (0.5 * (hi - lo)), -1, 1)[..., None]
        return np.where(t >= 0, white + t * (red - white), white + (-t) * (blue - white)).astype(np.uint8)

    pictures = (shade(grey[0]), shade(grey[1]), diverging(grey[2]), diverging(grey[0] - grey[1]))
    return [np.ascontiguousarray(np.kron(p, np.ones((scale, scale, 1), np.uint8))) for p in pictures]


def plain_why(model, score: float, why: str) -> str:
    """The score in words for the dock: its value, how it compares with held-out normal objects, and
    what decided it (the last sentences of ddrcore's Detail line, which the desktop app shows whole).

    Examples
    --------
    >>> from types import SimpleNamespace as S
    >>> m = S(score_type="latent", validation_scores={"latent": [1.0, 2.0, 3.0, 4.0]})
    >>> print(plain_why(m, 3.5, "Ranked by AS_l. Here the latent code decided."))  # doctest: +NORMALIZE_WHITESPACE
    AS_l 3.5: far from the normal template in the latent space; higher than 75 % of held-out normal
    objects. Here the latent code decided
    """
    from ddrcore.model.score_type import ScoreType

    st = ScoreType(model.score_type)
    line = f"{st.label} {score:.3g}: {st.meaning}"
    val = model.validation_scores.get(model.score_type)
    if val is not None and len(val):
        share = float(np.mean(np.asarray(val) < score))
        line += ("; higher than every held-out normal object" if share == 1.0 else
                 f"; higher than {100 * share:.0f} % of held-out normal objects")
    tail = why.split(". Here ", 1)
    return line + (". Here " + tail[1].rstrip(".") if len(tail) == 2 else "")


def explain_object(outcome: Outcome, object_id: int):
    """The :class:`ddrcore.model.decomposition.Explanation` of one object (None if it was not scored)."""
    from ddrcore.model.decomposition import explain

    rows = np.flatnonzero(outcome.cut.ids == int(object_id))
    if rows.size == 0:
        return None
    k = int(rows[0])
    return explain(outcome.model, outcome.cut.patches.images[k], source=outcome.cut.patches.sources[k])
