"""Whole jobs over folders: train on a folder, score a folder, the demo.

Each is a job (a generator that yields :class:`~ddrcore.progress.Progress` and
returns a typed result), so the CLI, the GUI and the tests drive the same
code.  Outputs are checked with :func:`ddrcore.io.outputs.check_output`
before any image is read or any epoch is trained: a refused output costs
seconds, not hours.  Nothing here prints; callers say what happened.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import DdridError, NoUsableImagesError
from .io.outputs import check_output
from .progress import Job

#: The short schedule that the GUI's training panel and the napari dock offer by default (minutes on a CPU).
DEMO_PRETRAIN_EPOCHS = 25
DEMO_FINETUNE_EPOCHS = 25
#: `ddrid demo`'s own schedule, shorter still: a first run under 150 s on 2 CPU cores.  Nearly all of the
#: demo's time is training (docs/benchmarks.md, "Demo"); at 12 + 12 epochs its AUC was 0.95 or more on
#: seeds 0, 1 and 2 (`python benchmarks/demo_time.py`).
DEMO_RUN_PRETRAIN_EPOCHS = 12
DEMO_RUN_FINETUNE_EPOCHS = 12
#: The demo writes the decompositions of its this many top-ranked test patches.
DEMO_DECOMPOSITIONS = 20


def bundled_demo_dir() -> Path:
    """The demo data folder, installed (ddrid_resources) or in a source checkout."""
    try:
        import ddrid_resources  # installed wheel / editable install

        return Path(ddrid_resources.DEMO)
    except ImportError:
        return Path(__file__).resolve().parent.parent / "resources" / "demo"


def labels_from_folders(sources, anomaly_names=("anomaly", "anomalous", "abnormal")) -> np.ndarray:
    """1 for patches whose path has a folder named like 'anomaly', else 0.

    Examples
    --------
    >>> from types import SimpleNamespace as S
    >>> labels_from_folders([S(path="t/anomaly/a.tif"), S(path="t/normal/b.tif")]).tolist()
    [1, 0]
    """
    names = set(anomaly_names)
    return np.array([int(any(part.lower() in names for part in Path(s.path).parts[:-1])) for s in sources])


def _inputs(*paths) -> list:
    """What a run reads, for the output rule: the paths given and the label folders their images pair with."""
    from .objects.labels import with_label_folders

    return with_label_folders(paths)


# -------------------------------------------------------------------- train --
@dataclass
class TrainResult:
    model: object                 # DDRIDModel
    path: Path                    # the model file written
    patches: object               # the PatchSet trained on
    bad: list                     # files skipped, each with its reason


def train_folder(normal_dir, output, config, patching, *, input_size: Optional[int] = None, labels=None, points=None,
                 force: bool = False) -> Job[TrainResult]:
    """Train on every image under ``normal_dir`` and write the model file ``output``.

    ``config`` is a validated :class:`~ddrcore.config.TrainConfig`; ``patching``
    says how patches are cut (an object size of None is estimated from the images);
    ``input_size`` None resizes patches to the default for their size.
    """
    from .io.images import load_patches
    from .base import select_device
    from .model import ranks as process_ranks
    from .model.modelfile import save
    from .model.training import check_memory, model_file_bytes, train

    inputs = _inputs(normal_dir, labels, points)
    channels = 3 if config.channel == "all" else 1
    # The output and the memory are checked before hours of work, not after.
    check_output(output, "model", inputs, force,
                 need_bytes=model_file_bytes(channels, config.input_size, config.latent_dim))
    check_memory(0, channels, config, select_device(config.device), batch_size=2)
    patches = yield from load_patches(normal_dir, channel=config.channel, patching=patching,
                                      input_size=input_size)
    config.set_patching(patches.patching)
    config.input_size = int(patches.images.shape[-1])
    model = yield from train(patches, config)
    # Under torchrun every rank holds the same model; rank 0 alone writes it.
    if process_ranks.current().is_main:
        save(model, output, inputs=[*inputs, *{s.path for s in patches.sources}], force=force)
    return TrainResult(model, Path(output), patches, list(patches.bad))


# -------------------------------------------------------------------- score --
@dataclass
class ScoreResult:
    patches: object               # PatchSet scored
    scores: object                # Scores, one per patch
    model: object                 # the DDRIDModel used
    bad: list = field(default_factory=list)
    threshold: Optional[float] = None   # the threshold the CSV was written at, when not the model's


def score_folder(model_path, test_dir, csv_path, *, decompositions=None, device: str = "auto",
                 threshold=None, score_type: str = "auto", patching=None,
                 labels=None, points=None, force: bool = False) -> Job[ScoreResult]:
    """Load a model, score every patch under ``test_dir``, write the ranked CSV.

    ``threshold``: None (the model's), a number, or ``"robust"``: from these
    scores themselves (:func:`ddrcore.model.thresholds.robust_threshold`).

    ``patching`` overrides how patches are cut (default: as the model's
    training patches were).  With ``decompositions``, input | X_C | X_N TIFFs
    are written there too, after the CSV.  ``ddrcore.cluster.score_on_cluster``
    is the same job with the files scored on a Dask cluster.
    """
    from .io.images import load_patches
    from .model.scoring import score_patches

    model, inputs = open_for_scoring(model_path, test_dir, csv_path, decompositions=decompositions, device=device,
                                     score_type=score_type, labels=labels, points=points, force=force)
    try:
        patches = yield from load_patches(test_dir, model.config.patch_size, model.input_size, model.config.channel,
                                          model.channels, patching=patching or model.config.patching())
    except NoUsableImagesError as exc:
        # Every file of another channel count: the run's one line must not suggest --channel either.
        if "--channel" not in exc.reason:
            raise
        head = exc.reason.split("; choose", 1)[0]
        reason = head + "; " + channel_hint(model) + (")" if head.count("(") > head.count(")") else "")
        raise NoUsableImagesError(path=exc.path, reason=reason) from None
    bad = with_channel_hint(patches.bad, model)
    check_fits(model, model_path, patches.patching)
    # Room for the outputs (disk) and the decompositions (memory) is checked before scoring, not after.
    check_room(csv_path, decompositions, len(patches), model.channels, model.input_size)
    # The CSV records how these patches were cut, which may differ from training (e.g. labels vs auto).
    model.config.set_patching(patches.patching)
    scores = yield from score_patches(model, patches, decompose=decompositions is not None)
    if threshold == "robust":
        from .model.thresholds import MIN_ROBUST, robust_threshold

        # Too few objects to read a spread from (one would be its own median, always flagged): the model's
        # threshold, said by the CLI (result.threshold None).
        enough = int(np.isfinite(scores.score).sum()) >= MIN_ROBUST
        threshold = robust_threshold(scores.score) if enough else None
    write_scored(csv_path, decompositions, scores, patches.sources, model, model_path, threshold, inputs, force,
                 notes=bad)
    return ScoreResult(patches, scores, model, bad, threshold)


#: Bytes of one ranked CSV row, generously (a long path and twenty numbers).
CSV_ROW_BYTES = 600
#: Bytes of one decomposition TIFF beyond its pixels (header, tags).
TIFF_OVERHEAD = 4096


def check_room(csv_path, decompositions, n_patches: int, channels: int, input_size: int) -> None:
    """Refuse, in one line and before the scoring, a run whose outputs will not fit.

    Disk: the CSV (``n_patches`` rows) and, with ``decompositions``, one
    float32 TIFF of 3 planes per patch, against the free space of their
    folders (summed where they share a file system).  Memory: decompositions
    keep input, X_C and X_N of every patch until they are written.
    """
    from .io.atomic import resolve_target
    from .io.outputs import check_free_space
    from .io.reading import available_memory

    csv_folder = resolve_target(Path(csv_path)).parent
    need = {csv_folder: CSV_ROW_BYTES * (n_patches + 1)}
    if decompositions is not None:
        per_patch = 3 * channels * input_size ** 2 * 4
        folder = resolve_target(Path(decompositions))
        try:
            same = os.stat(folder).st_dev == os.stat(csv_folder).st_dev
        except OSError:
            same = False
        if same:
            need[csv_folder] += n_patches * (per_patch + TIFF_OVERHEAD)
        else:
            need[folder] = n_patches * (per_patch + TIFF_OVERHEAD)
        kept = n_patches * per_patch
        avail = available_memory()
        if avail and kept > 0.8 * avail:
            raise DdridError(path=decompositions, reason=f"decompositions of {n_patches:,} patches need "
                             f"{kept / 2**30:.1f} GiB of memory, more than this process can get ({avail / 2**30:.1f} "
                             "GiB); leave out --decompositions, or score fewer images at a time")
    for folder, n in need.items():
        check_free_space(folder, n)


# The steps of scoring a folder that the local job above and the cluster job (ddrcore.cluster) share,
# so that both check, report and write alike.
def open_for_scoring(model_path, test_dir, csv_path, *, decompositions=None, device: str = "auto",
                     score_type: str = "auto", labels=None, points=None, force: bool = False):
    """Check the outputs (before any image is read) and load the model; returns (model, inputs)."""
    from .model.modelfile import load
    from .model.scoring import use_score

    inputs = _inputs(model_path, test_dir, labels, points)
    check_output(csv_path, "csv", inputs, force)
    if decompositions is not None:
        check_output(decompositions, "folder", inputs)
    return use_score(load(model_path, device), score_type), inputs


def channel_hint(model) -> str:
    """What to do about a file of another channel count than ``model``'s (score takes no --channel)."""
    # `score` takes its channel from the model: say that, not "--channel", which score does not take.
    trained_on = f"channel {model.config.channel}" if model.config.channel is not None else "grey images"
    return (f"the model was trained on {trained_on}"
            f" ({model.channels} channel(s)); score these with a model trained with --channel")


def with_channel_hint(bad: list, model) -> list:
    """The skipped files, with "choose --channel" turned into what fits ``model`` (score takes no --channel)."""
    from dataclasses import replace

    hint = channel_hint(model)
    return [replace(b, reason=b.reason.split("; choose", 1)[0] + "; " + hint) if "--channel" in b.reason else b
            for b in bad]


def check_fits(model, model_path, patching) -> None:
    """Refuse, with one line, patches cut otherwise than ``model``'s (``patching`` resolved)."""
    why = model.incompatibility(patching.crop_side(), model.config.channel)
    if why:
        # Name only what was given: "leave out --patch-size" puzzled a user who had given --objects alone.
        given = "--objects" if patching.source != model.config.objects else "--patch-size"
        raise DdridError(path=model_path, reason=f"{why}; leave out {given} to cut patches as the model's were")


def write_scored(csv_path, decompositions, scores, sources, model, model_path, threshold, inputs,
                 force: bool = False, notes=()) -> None:
    """Write the ranked CSV (atomically, with a note row per skipped file), then the decompositions if asked."""
    from .io.export import write_csv, write_decompositions

    final = np.asarray(scores.score, np.float64)
    if final.size and not np.isfinite(final).all():
        # The model file's checks should have caught it; a CSV of NaN ranks nothing and flags nothing.
        raise DdridError(path=model_path, reason=f"gives NaN or infinite scores for {int((~np.isfinite(final)).sum())} "
                         "patch(es): the model file is damaged or forged; train it again")
    write_csv(csv_path, scores, sources, model.stamp(Path(model_path).name), threshold, inputs, force, notes=notes)
    if decompositions is not None:
        try:
            write_decompositions(decompositions, scores, sources, inputs=inputs, force=force)
        except KeyboardInterrupt:
            # The CSV is whole by now; say so, and that the folder is only partly filled
            # (each TIFF in it is complete: they are written atomically one by one).
            raise KeyboardInterrupt(f"ddrid: interrupted while writing decompositions: {csv_path} is complete; "
                                    f"{decompositions} holds only some of the patches (each file in it is whole)") from None


# ------------------------------------------------------ objects for other tools --
def check_exchange_outputs(rois=None, labels_out=None, inputs=(), force: bool = False) -> None:
    """Check the ROI set and the label folder before any image is read (the output rule, one line each)."""
    if rois is not None:
        check_output(rois, "rois", inputs, force)
    if labels_out is not None:
        check_output(labels_out, "folder", inputs)


def flagged_objects(scores, sources, threshold: Optional[float] = None) -> list:
    """(source, rank, score) of each flagged patch, most anomalous first (rank as in the ranked CSV)."""
    tau = scores.threshold if threshold is None else float(threshold)
    flagged = scores.flagged(tau)
    return [(sources[i], rank, float(scores.score[i])) for rank, i in enumerate(scores.ranking(), 1) if flagged[i]]


def write_exchange(scores, sources, patching, channel=None, *, threshold: Optional[float] = None, rois=None,
                   labels_out=None, inputs=(), force: bool = False) -> dict:
    """The flagged objects as a Fiji ROI set (``rois``) and every scored object as label images (``labels_out``).

    Returns what was written: {"rois": count, "labels": [files], "skipped": [BadFile]} (images that could
    not be read again, gone or changed since they were scored).
    """
    from .io.exchange import write_label_images, write_rois

    done: dict = {"skipped": []}
    if rois is not None:
        done["rois"] = write_rois(rois, flagged_objects(scores, sources, threshold), patching, channel, inputs, force,
                                  skipped=done["skipped"])
    if labels_out is not None:
        done["labels"] = write_label_images(labels_out, sources, patching, channel, inputs, force,
                                            skipped=done["skipped"])
    return done


# --------------------------------------------------------------------- demo --
@dataclass
class DemoResult:
    model_path: Path
    csv_path: Path
    n_train: int
    n_test: int
    score_type: str
    threshold: float
    auc: float                    # of the score Algorithm 2 chose
    auc_latent: float
    auc_recon: float
    flagged_anomalies: float      # fraction of anomalous test patches over the threshold
    flagged_normals: float
    n_flagged: int
    seconds: float


def run_demo(out, data=None, *, pretrain_epochs: Optional[int] = None, finetune_epochs: Optional[int] = None,
             device: str = "auto", seed: int = 0, force: bool = False,
             profile: Optional[str] = None) -> Job[DemoResult]:
    """The whole pipeline on the demo data: train on ``train/normal``, score ``test``, AUC.

    The demo schedule (12 + 12 epochs) is much shorter than the paper's
    (150 + 100) so that it finishes in under 150 s on two CPU cores; `ddrid
    train` uses the paper's schedule by default.  ``test/normal`` and
    ``test/anomaly`` give the labels for the AUC.
    """
    from .config import TrainConfig
    from .io.export import write_csv, write_decompositions
    from .io.images import load_patches
    from .model.modelfile import save
    from .model.scoring import roc_auc, score_patches
    from .model.training import train

    data = Path(data) if data else bundled_demo_dir()
    # Every output is checked before training starts (never the demo data, never a foreign file).
    out = check_output(out, "folder", [data])
    check_output(out / "demo-model.ddrid", "model", [data], force)
    check_output(out / "demo-ranked.csv", "csv", [data], force)
    check_output(out / "decompositions", "folder", [data])
    t0 = time.perf_counter()
    cfg = TrainConfig(
        pretrain_epochs=DEMO_RUN_PRETRAIN_EPOCHS if pretrain_epochs is None else pretrain_epochs,
        finetune_epochs=DEMO_RUN_FINETUNE_EPOCHS if finetune_epochs is None else finetune_epochs,
        device=device, seed=seed,
    )
    if profile is not None:
        cfg.profile = profile
    normal = yield from load_patches(data / "train" / "normal", cfg.patch_size, cfg.input_size)
    model = yield from train(normal, cfg)
    model_path = save(model, out / "demo-model.ddrid", inputs=[data], force=force)
    test = yield from load_patches(data / "test", cfg.patch_size, cfg.input_size)
    scores = yield from score_patches(model, test)
    csv_path = write_csv(out / "demo-ranked.csv", scores, test.sources, model.stamp(model_path.name),
                         inputs=[data], force=force)
    # Decompositions of the DEMO_DECOMPOSITIONS top-ranked patches only, the ones written: R_N runs on
    # those alone, not on the whole test set (their scores are the ones just ranked, taken in rank order).
    top = scores.ranking()[:DEMO_DECOMPOSITIONS]
    shown = scores.take(top)
    parts = yield from score_patches(model, test.images[top], decompose=True)
    shown.x, shown.x_c, shown.x_n = parts.x, parts.x_c, parts.x_n
    write_decompositions(out / "decompositions", shown, [test.sources[i] for i in top], inputs=[data])
    labels = labels_from_folders(test.sources)
    flagged = scores.flagged()
    return DemoResult(
        model_path=Path(model_path), csv_path=Path(csv_path), n_train=len(normal), n_test=len(test),
        score_type=model.score_type, threshold=float(model.threshold),
        auc=roc_auc(scores.score, labels), auc_latent=roc_auc(scores.latent, labels),
        auc_recon=roc_auc(scores.recon, labels),
        flagged_anomalies=float(flagged[labels == 1].mean()), flagged_normals=float(flagged[labels == 0].mean()),
        n_flagged=int(flagged.sum()), seconds=time.perf_counter() - t0,
    )
