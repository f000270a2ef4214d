"""Ranked CSV export (atomic) and decomposition images.

Every row carries what is needed to reproduce the ranking: the score used,
the threshold, the model's seed and preprocessing constants, and the model
file's name — so a CSV separated from its model still says how it was made.

Spreadsheet safety (OWASP "CSV injection"): a text cell that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``
so that a spreadsheet shows it instead of running it as a formula (e.g. an
image named ``=HYPERLINK(...).tif``).  Numbers (``-3.5``, ``-1e-05``) are
written as they are.  Every CSV writer here goes through :func:`csv_safe_row`.
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Optional, Protocol, Sequence, Union

import numpy as np

from ..objects.measure import MEASUREMENTS
from .atomic import atomic_path, write_text_atomic
from .images import PatchSource
from .names import NAME_MAX, fit_name, shown
from .outputs import check_output


class RankedScores(Protocol):
    """What the ranked CSV reads of a patch's scores (:class:`ddrcore.model.scoring.Scores` has it).

    Named here rather than imported: file formats do not depend on the model
    (an import-linter contract), and ``ddrid objects`` writes CSVs without torch.
    """

    latent: Any
    recon: Any
    residual: Any
    combined: Any
    measure: Any          # AS_m, or None
    cell: Any             # AS_cell, or None
    score_type: str
    score_label: str      # the score's display name, e.g. "AS_l"
    threshold: float
    x: Any
    x_c: Any
    x_n: Any
    score: Any

    def flagged(self, threshold: Optional[float] = None) -> Any: ...

    def ranking(self) -> Any: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class ModelStamp:
    """What every ranked-CSV row says about the model that made it (so a row can be reproduced):
    the model file's name, its seed, its preprocessing constants and how its patches were cut.
    :meth:`ddrcore.model.ddrid.DDRIDModel.stamp` makes one."""

    name: str
    seed: int
    preprocess_min: float
    preprocess_max: float
    patching: Any          # a ddrcore.objects.Patching
    # {score type: validation normals' scores}, for the threshold's false-positive rate; None: unknown.
    validation_scores: Any = None

#: Where each patch is: its crop's top-left (y, x) and the object it is centred on, whether the object
#: reaches the image border, and its measurements (ddrcore.objects.measure; empty where its extent is unknown).
_MEASURED_COLUMNS = [m for m in MEASUREMENTS if m not in ("area", "intensity_mean")]
#: Lengths and areas in µm where the image file says its pixel size (ddrcore.io.metadata), empty where it does not.
MICRON_COLUMNS = ["pixel_size_um", "area_um2", "perimeter_um", "axis_major_length_um", "axis_minor_length_um"]
OBJECT_COLUMNS = (["path", "page", "y", "x", "object_id", "center_y", "center_x", "size", "area", "mean_intensity",
                   "touches_border"] + _MEASURED_COLUMNS + MICRON_COLUMNS)

#: How patches were cut, on every row (with the model's seed and preprocessing) so a row can be reproduced.
PATCHING_COLUMNS = ["objects", "object_size", "patch_size", "stride", "border", "neighbours"]

COLUMNS = (["rank"] + OBJECT_COLUMNS
           + ["score", "score_latent", "score_recon", "score_residual", "score_combined", "score_measure", "score_cell",
              "score_type", "threshold", "threshold_fpr", "is_anomaly", "model", "seed", "preprocess_min",
              "preprocess_max"]
           + PATCHING_COLUMNS + ["note", "role"])

#: What a patch was to the model (the ``role`` column): trained on, held out for validation (threshold and
#: quality check), marked normal after training, unmarked, or excluded.  Empty when unknown (``ddrid score``).
ROLES = ("train", "validation", "normal", "unmarked", "excluded")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def csv_safe(value):
    """One CSV cell, escaped against formula injection (numbers and non-text values unchanged).

    Examples
    --------
    >>> csv_safe("=HYPERLINK(1)"), csv_safe("-3.5"), csv_safe(-2), csv_safe("a.tif")
    ("'=HYPERLINK(1)", '-3.5', -2, 'a.tif')
    """
    if isinstance(value, str):
        # A file name that is not UTF-8 is written with its odd bytes as \xNN: one such name must not make
        # the whole CSV unwritable (it used to, after all the work was done).
        value = shown(value)
        if value.startswith(_FORMULA_START) and not _NUMBER.match(value):
            return "'" + value
    return value


def csv_safe_row(row: dict) -> dict:
    return {k: csv_safe(v) for k, v in row.items()}


def _num(value: float, fmt: str = ".6g") -> str:
    """A number for a CSV cell; empty where unknown (NaN)."""
    return "" if value is None or value != value else format(value, fmt)


def object_row(src: PatchSource) -> dict:
    """The :data:`OBJECT_COLUMNS` of one patch."""
    row = {"path": src.path, "page": src.page, "y": src.y, "x": src.x, "object_id": src.object_id,
           "center_y": _num(src.center_y, ".2f"), "center_x": _num(src.center_x, ".2f"), "size": src.size,
           "area": _num(src.area, ".0f"), "mean_intensity": _num(src.mean_intensity),
           "touches_border": int(src.touches_border)}
    measured = dict(zip(MEASUREMENTS, src.measurements)) if src.measurements else {}
    for name in _MEASURED_COLUMNS:
        row[name] = _num(measured.get(name, float("nan")))
    row.update(micron_row(src, measured))
    return row


def micron_row(src: PatchSource, measured: dict) -> dict:
    """The :data:`MICRON_COLUMNS` of one patch: pixel counts and lengths times the file's pixel size.

    A non-square pixel (y != x) scales areas by y*x, and lengths (and the ``pixel_size_um`` column) by the
    geometric mean of y and x: exact for areas, an approximation for lengths of elongated objects.
    """
    size = getattr(src, "pixel_size", None)
    if not size:
        return {name: "" for name in MICRON_COLUMNS}
    dy, dx = float(size[0]), float(size[1])
    length = (dy * dx) ** 0.5
    nan = float("nan")
    return {"pixel_size_um": _num(length),
            "area_um2": _num(src.area * dy * dx),
            "perimeter_um": _num(measured.get("perimeter", nan) * length),
            "axis_major_length_um": _num(measured.get("axis_major_length", nan) * length),
            "axis_minor_length_um": _num(measured.get("axis_minor_length", nan) * length)}


def patching_row(patching) -> dict:
    """The :data:`PATCHING_COLUMNS` for a :class:`~ddrcore.objects.Patching`."""
    grid = patching.source == "grid"
    return {"objects": patching.source, "object_size": _num(patching.object_size),
            "patch_size": patching.crop_side(), "stride": "" if patching.stride is None else patching.stride,
            "border": "" if grid else patching.border, "neighbours": "" if grid else patching.neighbours}


def own_cut(patching, src: PatchSource) -> dict:
    """The ``object_size`` and ``patch_size`` of a patch whose image was cut at its own object size (another
    magnification than the folder's; the crop side is twice it), else {} (the folder's, in every row).

    Its rows gave the folder's sizes, which do not reproduce its crop.

    Examples
    --------
    >>> from ddrcore.objects import Patching
    >>> p = Patching("auto", object_size=12.0, per_image=True)
    >>> own_cut(p, PatchSource("a.tif", 0, 0, 0, size=40)), own_cut(p, PatchSource("b.tif", 0, 0, 0, size=24))
    ({'object_size': '20', 'patch_size': 40}, {})
    """
    p = patching
    if (p is None or not getattr(p, "per_image", False) or p.patch_size is not None or p.is_grid
            or not src.size or src.size == p.crop_side()):
        return {}
    return {"object_size": _num(src.size / 2), "patch_size": int(src.size)}


def ranked_rows(scores: RankedScores, sources: Sequence[PatchSource], model: ModelStamp,
                threshold: Optional[float] = None, roles: Optional[Sequence[str]] = None) -> list[dict]:
    """One dict per patch, most anomalous first.

    ``roles`` (one of :data:`ROLES` per patch, aligned with ``sources``) fills
    the ``role`` column; without it the column is empty.
    """
    if len(scores) != len(sources):
        raise ValueError(f"{len(scores)} scores for {len(sources)} patches")
    if roles is not None and len(roles) != len(sources):
        raise ValueError(f"{len(roles)} roles for {len(sources)} patches")
    tau = scores.threshold if threshold is None else float(threshold)
    flagged = scores.flagged(tau)
    chosen = scores.score
    stamp = stamp_row(scores, model, tau)

    def opt(values, i):
        return "" if values is None or not np.isfinite(values[i]) else f"{values[i]:.6g}"

    rows = []
    for rank, i in enumerate(scores.ranking(), 1):
        rows.append({
            "rank": rank, **object_row(sources[i]),
            "score": f"{chosen[i]:.6g}", "score_latent": f"{scores.latent[i]:.6g}",
            "score_recon": f"{scores.recon[i]:.6g}",
            # AS_e: empty where the scores were made without it (e.g. a GUI table built before it existed).
            "score_residual": "" if scores.residual is None else f"{scores.residual[i]:.6g}",
            # AS_c: empty for model files without AS_e validation scores.
            "score_combined": opt(scores.combined, i),
            # AS_m and AS_cell: empty for patches without measurements and models without them.
            "score_measure": opt(getattr(scores, "measure", None), i), "score_cell": opt(getattr(scores, "cell", None), i),
            **stamp, **own_cut(model.patching, sources[i]), "is_anomaly": int(flagged[i]),
            "note": "", "role": "" if roles is None else roles[i],
        })
    return rows


def stamp_row(scores: RankedScores, model: ModelStamp, tau: float) -> dict:
    """The columns every row repeats: the score, threshold, model, seed, preprocessing and patching."""
    # The threshold's false-positive rate: the share of validation normals at or above it.
    val = (model.validation_scores or {}).get(scores.score_type)
    fpr = "" if val is None or len(val) == 0 else f"{float(np.mean(np.asarray(val) >= tau)):.4g}"
    return {"score_type": scores.score_label, "threshold": f"{tau:.6g}", "threshold_fpr": fpr,
            "model": model.name, "seed": model.seed, "preprocess_min": f"{model.preprocess_min:.8g}",
            "preprocess_max": f"{model.preprocess_max:.8g}", **patching_row(model.patching)}


def note_rows(notes: Sequence, stamp: Optional[dict] = None) -> list[dict]:
    """One unranked row per problem of the run (a file skipped, patches dropped): ``path``, ``note`` and ``stamp``.

    The CSV thus says by itself what a run left out, even when separated from
    the messages of the run that wrote it.  ``notes`` are :class:`BadFile`-like
    (``path``, ``reason``); ``stamp`` (:func:`stamp_row`) gives these rows the
    model, seed and settings columns that every row carries.
    """
    return [{**{c: "" for c in COLUMNS}, **(stamp or {}), "path": str(b.path), "note": b.reason} for b in notes]


def write_csv(path: Union[str, os.PathLike], scores: RankedScores, sources: Sequence[PatchSource], model: ModelStamp,
              threshold: Optional[float] = None, inputs: Sequence = (), force: bool = False,
              roles: Optional[Sequence[str]] = None, notes: Sequence = ()) -> Path:
    """Write the ranked CSV atomically; returns the path.

    ``model`` is the model's :class:`ModelStamp` (``model.stamp(file_name)``).

    ``roles`` fills the last column, ``role`` (see :func:`ranked_rows`);
    ``notes`` (the run's skipped files, as :class:`BadFile`) follow the ranked
    rows as unranked rows with a ``note`` (see :func:`note_rows`).

    The output is checked by :func:`ddrcore.io.outputs.check_output` against the
    patches' image files and ``inputs`` (e.g. the model file, the folders read).
    """
    check_output(path, "csv", [*inputs, *{s.path for s in sources}], force)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_safe_row(r) for r in ranked_rows(scores, sources, model, threshold, roles))
    tau = scores.threshold if threshold is None else float(threshold)
    writer.writerows(csv_safe_row(r) for r in note_rows(notes, stamp_row(scores, model, tau)))
    write_text_atomic(path, buf.getvalue())
    return Path(path)


def write_objects_csv(path: Union[str, os.PathLike], sources: Sequence[PatchSource], patching,
                      inputs: Sequence = (), force: bool = False) -> Path:
    """Write the objects found (one row per patch, in reading order) atomically; returns the path."""
    check_output(path, "csv", [*inputs, *{s.path for s in sources}], force)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=OBJECT_COLUMNS + PATCHING_COLUMNS, lineterminator="\n")
    writer.writeheader()
    settings = patching_row(patching)
    writer.writerows(csv_safe_row({**object_row(s), **settings, **own_cut(patching, s)}) for s in sources)
    write_text_atomic(path, buf.getvalue())
    return Path(path)


def write_decompositions(folder: Union[str, os.PathLike], scores: RankedScores, sources: Sequence[PatchSource],
                         limit: Optional[int] = None, inputs: Sequence = (), force: bool = False) -> int:
    """Write input | X_C | X_N of each patch as a 3-plane float32 TIFF, named by rank.

    Planes hold (preprocessed input, R_C(X), R_N(X)) for every channel, in the
    model's normalised units.  Returns the number of files written.  Every
    file is checked by the output rule before the first is written (a name in
    the folder may already be a link to an input or to the model in use, or
    someone's own file).
    """
    import tifffile

    if scores.x_c is None or scores.x_n is None or scores.x is None:
        raise ValueError("scores were computed without decompositions")
    folder = check_output(folder, "folder", inputs)
    order = scores.ranking()[: limit or None]
    every_input = [*inputs, *{s.path for s in sources}]
    targets = []
    for rank, i in enumerate(order, 1):
        src = sources[i]
        # The input's name, made writable (odd bytes as "_") and short enough that the name and its
        # temp file (".NAME.XXXXXXXX.tif.tmp") stay within 255 bytes, however long the input's name.
        stem = shown(Path(src.path).stem).replace("\\", "_")
        name = f"rank{rank:06d}_" + fit_name(stem, f"_p{src.page}_y{src.y}_x{src.x}.tif", NAME_MAX - 40)
        target = folder / name
        if target.exists() or target.is_symlink():     # a new name needs no more than the folder's check
            target = check_output(target, "tiff", every_input, force)
        targets.append((i, target))
    for i, target in targets:
        stack = np.stack([scores.x[i], scores.x_c[i], scores.x_n[i]]).astype(np.float32)  # (3, C, S, S)
        with atomic_path(target, suffix=".tif") as tmp:
            tifffile.imwrite(tmp, stack, photometric="minisblack", metadata={"axes": "QCYX",
                             "Labels": ["input", "X_C", "X_N"]})
    return len(order)
