"""Exports from the GUI's state: ranked CSV and PNG/PDF report (both via ddrcore).

Excluded and unscored patches are left out: they are not part of the ranking.
After training, so are the patches the model was trained or validated on,
unless the table's ``include_training`` is set; the CSV's ``role`` column
says what each row's patch was to the model, and the report states the filter.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ddrcore.io.export import write_csv
from ddrcore.model.ddrid import DDRIDModel
from ddrcore.model.score_type import ScoreType
from ddrcore.progress import Progress, run_to_end
from ddrcore.io.report import write_report

from ..document.table import EXCLUDED, NORMAL, PatchTable


def _ranked_subset(table: PatchTable):
    idx = np.flatnonzero(table.active_mask())
    return idx, table.scores_for(idx), [table.sources[i] for i in idx]


def check_target(path: str, kind: str, table: PatchTable, model_path: Optional[str], threshold) -> None:
    """Raise, in one line, before anything is written (a model copy beside a CSV included): when nothing is
    ranked, or when ``path`` may not be written as ``kind`` (:func:`ddrcore.io.outputs.check_output`, against
    everything the project reads)."""
    from ddrcore.io.outputs import check_output

    idx = np.flatnonzero(table.active_mask())
    if not len(idx) or threshold is None:
        raise ValueError(table.nothing_ranked() or "nothing is ranked yet: train a model or press Score")
    check_output(path, kind, [*_read_paths(table, model_path), *{table.sources[i].path for i in idx}])


def export_csv(path: str, table: PatchTable, model: DDRIDModel, model_path: Optional[str], threshold: float) -> Path:
    """The ranked CSV at ``threshold`` (the slider's), written by ddrcore.io.export.write_csv."""
    # The caller ran check_target before copying the model beside the CSV; write_csv checks the path again.
    idx, scores, sources = _ranked_subset(table)
    scores.threshold = threshold
    return write_csv(path, scores, sources, model.stamp(Path(model_path).name if model_path else ""),
                     threshold=threshold, roles=table.roles(idx), inputs=_read_paths(table, model_path))


def role_filter_text(table: PatchTable) -> str:
    """Which patches the results hold, in words (for the report)."""
    used = table.n_used()
    if not used:
        return "all scored patches (none was used in training)"
    if table.include_training:
        return f"all scored patches, including the {used} the model was trained or validated on"
    return f"patches not used in training ({used} training/validation patches left out)"


def export_report(path: str, table: PatchTable, model: DDRIDModel, model_path: Optional[str],
                  threshold: float) -> Path:
    """The one-page PNG/PDF report of ddrcore.io.report at ``threshold``, written here and now."""
    return run_to_end(report_job(path, table, model, model_path, threshold))


def report_job(path: str, table: PatchTable, model: DDRIDModel, model_path: Optional[str], threshold: float,
               model_label: Optional[str] = None):
    """The report as a job for the GUI's worker thread.

    What the report shows is taken from the table now (the caller's thread),
    so later marks or loads cannot change it; copying patches and drawing
    (about a second of matplotlib) happen when the generator runs.
    ``model_label``: how the report names the model, where its path would mislead.
    """
    # The output rule against all the project reads (the report itself checks only the images it shows):
    # a report.png in an input folder would be read as an image next time.
    check_target(path, "report", table, model_path, threshold)
    idx, scores, sources = _ranked_subset(table)
    c = model.config
    settings = {"model": model_label or model_path or "(unsaved)", "patch size": table.patch_size,
                "channel": table.channel if table.channel is not None else "auto",
                "epochs": f"{c.pretrain_epochs} pretrain + {c.finetune_epochs} finetune",
                "seed": c.seed, "model default threshold": f"{model.threshold:.6g}",
                "excluded patches (not shown)": int(np.count_nonzero(table.marks == EXCLUDED)),
                "patches shown": role_filter_text(table)}
    images, normal, label = table.images, table.marks[idx] == NORMAL, ScoreType.label_of(table.score_type)
    objects = table.is_objects      # objects are named by id and centre, not by their crop's corner

    def run():
        yield Progress("report", message=f"drawing the report of {len(idx)} patches")
        return write_report(path, scores.score, threshold, images[idx], sources, normal, settings, label,
                            objects=objects)

    return run()


def _objects(table: PatchTable, threshold: float):
    """The ranked patches' sources, the flagged ones (source, rank, score), and how they were cut."""
    from ddrcore.objects import Patching
    from ddrcore.pipeline import flagged_objects

    idx, scores, sources = _ranked_subset(table)
    scores.threshold = threshold
    patching = table.patching or Patching("grid", patch_size=table.patch_size)
    return sources, flagged_objects(scores, sources, threshold), patching


def _read_paths(table: PatchTable, model_path: Optional[str]) -> list:
    """What the project reads, for the output rule: the model, the inputs, a label folder chosen, and the
    label images and folders the images pair with (an image opened on its own pairs with its label image)."""
    from ddrcore.objects.labels import with_label_folders

    labels = table.patching.labels_dir if table.patching is not None else None
    return with_label_folders([p for p in (model_path, *table.inputs, labels) if p])


def rois_job(path: str, table: PatchTable, model: DDRIDModel, model_path: Optional[str], threshold: float):
    """The flagged objects as a Fiji ROI set (ddrcore.io.exchange.write_rois), as a job; returns (path, count,
    the images that could not be read again).

    The output is checked here and now (a refused path fails at once); objects are traced in the worker.
    """
    check_target(path, "rois", table, model_path, threshold)
    sources, flagged, patching = _objects(table, threshold)
    inputs = _read_paths(table, model_path)
    channel = table.channel

    def run():
        from ddrcore.io.exchange import write_rois

        yield Progress("export", message=f"tracing {len(flagged)} flagged objects")
        skipped: list = []
        return path, write_rois(path, flagged, patching, channel, inputs, skipped=skipped), skipped

    return run()


def labels_job(folder: str, table: PatchTable, model: DDRIDModel, model_path: Optional[str], threshold: float):
    """One label image per image (ddrcore.io.exchange.write_label_images), as a job; returns (folder, files,
    the images that could not be read again)."""
    from ddrcore.errors import DdridError
    from ddrcore.io.outputs import check_output

    sources, _flagged, patching = _objects(table, threshold)
    if patching.is_grid:
        raise DdridError("grid tiles are not objects (they overlap at the image's edge): re-cut the images as "
                         "objects (Annotate ▸ Re-cut Patches) to export label images")
    inputs = _read_paths(table, model_path)
    check_output(folder, "folder", inputs)
    channel = table.channel

    def run():
        from ddrcore.io.exchange import write_label_images

        yield Progress("export", message=f"painting {len(sources)} objects")
        skipped: list = []
        return folder, write_label_images(folder, sources, patching, channel, inputs, skipped=skipped), skipped

    return run()
