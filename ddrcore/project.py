"""Project files: what a user loaded, marked and trained, as readable JSON.

A project file (``*.ddridproj``) records

* the inputs (folders/files) that were loaded, the patch size and channel;
* the annotations, keyed by (path, page, y, x) and grouped by file:
  ``normal`` patches (the training set) and ``excluded`` patches;
* the model file, the chosen threshold and the training settings.

Paths are stored relative to the project file's folder (forward slashes), so
a project folder can be moved or shared together with its images; a path on
another drive (Windows) stays absolute.  Reading uses ``json`` only and checks
every field: loading never executes anything from the file.  Writing is
atomic (temporary file + rename).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

from .atomic import write_text_atomic
from .errors import DdridError
from .images import Channel, PatchSource

FORMAT = "ddrid-project"
VERSION = 1
SUFFIX = ".ddridproj"
MARKS = ("normal", "excluded")


class ProjectFileError(DdridError):
    """A project file is missing, not JSON, or not a ddrid project."""


@dataclass
class Project:
    """Everything a project file holds; paths here are absolute."""

    inputs: List[str] = field(default_factory=list)
    patch_size: int = 32
    channel: Channel = None
    marks: Dict[PatchSource, str] = field(default_factory=dict)  # source -> "normal" | "excluded"
    model_path: Optional[str] = None
    threshold: Optional[float] = None
    training: dict = field(default_factory=dict)  # GUI training settings (TrainConfig fields)


def _rel(path: str, base: Path) -> str:
    try:
        return Path(os.path.relpath(os.path.abspath(path), base)).as_posix()
    except ValueError:
        # Different drive on Windows: no relative path exists.
        return Path(os.path.abspath(path)).as_posix()


def _abs(stored: str, base: Path) -> str:
    p = Path(stored)
    return os.path.normpath(p if p.is_absolute() else base / p)


def to_json(project: Project, path: Union[str, os.PathLike]) -> str:
    """The project as JSON text, with paths relative to ``path``'s folder."""
    from . import __version__

    base = Path(os.path.abspath(path)).parent
    by_file: Dict[str, Dict[str, list]] = {}
    # Sorted so that the same annotations always give the same file (clean diffs).
    for src, mark in sorted(project.marks.items(), key=lambda kv: (kv[0].path, kv[0].page, kv[0].y, kv[0].x)):
        if mark not in MARKS:
            raise ValueError(f"unknown mark {mark!r} for {src}")
        entry = by_file.setdefault(src.path, {m: [] for m in MARKS})
        entry[mark].append([int(src.page), int(src.y), int(src.x)])
    annotations = [{"path": _rel(p, base), **{m: v for m, v in marks.items() if v}} for p, marks in by_file.items()]
    threshold = project.threshold
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "ddrid_version": __version__,
        "inputs": [_rel(p, base) for p in project.inputs],
        "patch_size": int(project.patch_size),
        "channel": project.channel,
        "model": _rel(project.model_path, base) if project.model_path else None,
        # JSON has no infinity; an unset or infinite threshold is stored as null.
        "threshold": float(threshold) if threshold is not None and math.isfinite(threshold) else None,
        "training": dict(project.training),
        "annotations": annotations,
    }
    return json.dumps(doc, indent=1) + "\n"


def save(project: Project, path: Union[str, os.PathLike]) -> Path:
    """Write the project file atomically; returns its path."""
    path = Path(path)
    write_text_atomic(path, to_json(project, path))
    return path


def _fail(path, what: str) -> ProjectFileError:
    return ProjectFileError(f"{path}: {what}")


def _int(value, what: str, path) -> int:
    # bool is an int subclass in Python; a 'true' page index is a broken file.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"{what} must be an integer, got {value!r}")
    return value


def _channel(value, path) -> Channel:
    if value is None or value == "all":
        return value
    return _int(value, "channel", path)


def load(path: Union[str, os.PathLike]) -> Project:
    """Read and check a project file; raises :class:`ProjectFileError` with one line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(path, "no such project file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot read the project file ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not a ddrid project (invalid JSON at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(path, "not a ddrid project file (missing format marker)")
    if doc.get("version") != VERSION:
        raise _fail(path, f"project format version {doc.get('version')!r} is not supported "
                          f"(this ddrid reads version {VERSION}); upgrade ddrid")
    base = Path(os.path.abspath(path)).parent
    inputs = doc.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(p, str) for p in inputs):
        raise _fail(path, "'inputs' must be a list of paths")
    patch_size = _int(doc.get("patch_size", 32), "patch_size", path)
    if patch_size < 4:
        raise _fail(path, f"patch_size must be at least 4, got {patch_size}")
    model = doc.get("model")
    if model is not None and not isinstance(model, str):
        raise _fail(path, "'model' must be a path or null")
    threshold = doc.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise _fail(path, "'threshold' must be a number or null")
    training = doc.get("training", {})
    if not isinstance(training, dict):
        raise _fail(path, "'training' must be an object")
    marks: Dict[PatchSource, str] = {}
    annotations = doc.get("annotations", [])
    if not isinstance(annotations, list):
        raise _fail(path, "'annotations' must be a list")
    for entry in annotations:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise _fail(path, "each annotation entry needs a 'path'")
        file = _abs(entry["path"], base)
        for mark in MARKS:
            coords = entry.get(mark, [])
            if not isinstance(coords, list):
                raise _fail(path, f"'{mark}' of {entry['path']} must be a list of [page, y, x]")
            for c in coords:
                if not isinstance(c, list) or len(c) != 3:
                    raise _fail(path, f"'{mark}' of {entry['path']}: expected [page, y, x], got {c!r}")
                page, y, x = (_int(v, "page/y/x", path) for v in c)
                marks[PatchSource(file, page, y, x)] = mark
    return Project(
        inputs=[_abs(p, base) for p in inputs],
        patch_size=patch_size,
        channel=_channel(doc.get("channel"), path),
        marks=marks,
        model_path=_abs(model, base) if model else None,
        threshold=float(threshold) if threshold is not None else None,
        training=training,
    )
