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
from typing import Callable, Dict, List, Optional, Union

from .atomic import write_text_atomic
from .bounded import Limit
from ..errors import DdridError
from .images import PatchSource
from .reading import Channel

FORMAT = "ddrid-project"
VERSION = 1
SUFFIX = ".ddridproj"
MARKS = ("normal", "excluded")
#: What a patch was to the project's model: trained on, or held out for validation (issue 11: results
#: leave these out by default, so they must survive reopening the project).
ROLES = ("train", "validation")


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
    roles: Dict[PatchSource, str] = field(default_factory=dict)  # source -> "train" | "validation"


def _rel(path: str, base: Path) -> str:
    try:
        return Path(os.path.relpath(os.path.abspath(path), base)).as_posix()
    except ValueError:
        # Different drive on Windows: no relative path exists.
        return Path(os.path.abspath(path)).as_posix()


def _abs(stored: str, base: Path) -> str:
    p = Path(stored)
    return os.path.normpath(p if p.is_absolute() else base / p)


#: Paths inside the training settings' patch source (a labels folder, a points file).
PATCHING_PATHS = ("labels_dir", "points")


def _with_patching_paths(training: dict, convert) -> dict:
    """A copy of ``training`` whose patch-source paths went through ``convert`` (relative on save, absolute on
    load), as the project's other paths do: a moved or shared project folder keeps finding its labels."""
    out = dict(training)
    patching = out.get("patching")
    if isinstance(patching, dict):
        out["patching"] = {k: (convert(v) if k in PATCHING_PATHS and isinstance(v, str) and v else v)
                           for k, v in patching.items()}
    return out


def to_json(project: Project, path: Union[str, os.PathLike]) -> str:
    """The project as JSON text, with paths relative to ``path``'s folder."""
    from .. import __version__

    base = Path(os.path.abspath(path)).parent
    by_file: Dict[str, Dict[str, list]] = {}
    # Sorted so that the same annotations always give the same file (clean diffs).
    for src, mark in sorted(project.marks.items(), key=lambda kv: (kv[0].path, kv[0].page, kv[0].y, kv[0].x)):
        if mark not in MARKS:
            raise ValueError(f"unknown mark {mark!r} for {src}")
        entry = by_file.setdefault(src.path, {m: [] for m in MARKS})
        entry[mark].append([int(src.page), int(src.y), int(src.x)])
    for src, role in sorted(project.roles.items(), key=lambda kv: (kv[0].path, kv[0].page, kv[0].y, kv[0].x)):
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} for {src}")
        entry = by_file.setdefault(src.path, {m: [] for m in MARKS})
        entry.setdefault(role, []).append([int(src.page), int(src.y), int(src.x)])
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
        "training": _with_patching_paths(project.training, lambda p: _rel(p, base)),
        "annotations": annotations,
    }
    return json.dumps(doc, indent=1) + "\n"


def save(project: Project, path: Union[str, os.PathLike], force: bool = False) -> Path:
    """Write the project file atomically; returns its path.

    The path is checked by :func:`ddrcore.io.outputs.check_output`: never one of
    the project's inputs, its images or its model; never a non-project file
    unless ``force``.
    """
    path = check_path(project, path, force)
    write_text_atomic(path, to_json(project, path))
    return path


def check_path(project: Project, path: Union[str, os.PathLike], force: bool = False) -> Path:
    """Raise :class:`ddrcore.io.outputs.OutputError` where ``project`` may not be saved at ``path``
    (:func:`save`'s rule), before anything is written: the app checks it before it copies the model."""
    from .outputs import check_output

    path = Path(path)
    inputs = [*project.inputs, *{s.path for s in project.marks}]
    if project.model_path:
        inputs.append(project.model_path)
    check_output(path, "project", inputs, force)
    return path


def outside_paths(project: Project, path: Union[str, os.PathLike]) -> List[str]:
    """The project's paths (inputs, model, annotated files, labels folder, points file) outside its own
    folder: shown when it opens."""
    base = Path(os.path.abspath(path)).parent
    out = []
    patching = project.training.get("patching")
    read = [patching.get(k) for k in PATCHING_PATHS] if isinstance(patching, dict) else []
    for p in [*project.inputs, *([project.model_path] if project.model_path else []),
              *sorted({s.path for s in project.marks}), *(p for p in read if isinstance(p, str) and p)]:
        try:
            Path(os.path.abspath(p)).relative_to(base)
        except ValueError:
            if p not in out:
                out.append(p)
    return out


def _fail(path, what: str) -> ProjectFileError:
    return ProjectFileError(f"{path}: {what}")


def _int(value, what: str, path) -> int:
    # bool is an int subclass in Python; a 'true' page index is a broken file.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"{what} must be an integer, got {str(value)[:40]!r}")
    return value


def _channel(value, path) -> Channel:
    if value is None or value == "all":
        return value
    return _int(value, "channel", path)


class _BadNumber(ValueError):
    pass


def _no_constant(name: str):
    raise _BadNumber(f"{name} is not allowed (JSON numbers must be finite)")


def _bounded_int(text: str):
    """JSON integers are unbounded; one past 64 bits is no setting of ddrid's, and one of 400 digits made
    float() raise OverflowError out of the checks that follow.  Read as an infinity, which every field's
    own check refuses by name (a number must be finite, a count an integer)."""
    if len(text.lstrip("-")) > 19:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadNumber(f"number {text[:30]} is out of range")
    return value


def _depth(doc, limit: int) -> int:
    """Nesting depth of a parsed JSON document (iterative: never recurses)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def _path_str(value, what: str, path) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(path, f"{what} must be a non-empty path, got {str(value)[:60]!r}")
    if "\x00" in value:
        raise _fail(path, f"{what} contains a NUL byte")
    if len(value) > MAX_PATH_CHARS:
        raise _fail(path, f"{what} is longer than {MAX_PATH_CHARS} characters")
    try:
        os.fsencode(value)
    except UnicodeError:      # e.g. a lone surrogate (valid JSON, no file name): failed later, mid-open
        raise _fail(path, f"{what} {ascii(value)[:60]} cannot be a file name on this system") from None
    return value


#: Limits on what a project file may hold (a forged file is refused, never half-used).
MAX_DEPTH = 32
MAX_PROJECT_BYTES = 512 * 2**20
PROJECT_BYTES = Limit("project file size", "DDRID_MAX_PROJECT_BYTES", MAX_PROJECT_BYTES)
MAX_PATH_CHARS = 4096
MAX_COORD = 2**31 - 1


def load(path: Union[str, os.PathLike], check_training: Optional[Callable[[dict], None]] = None) -> Project:
    """Read and check a project file; raises :class:`ProjectFileError` with one line.

    A UTF-8 byte-order mark is accepted.  Every field is checked: NaN,
    infinite or out-of-range numbers, NUL bytes in paths, nesting deeper than
    :data:`MAX_DEPTH`, unknown keys in an annotation entry and a non-integer
    (e.g. boolean) version are refused.

    The ``training`` settings are a plain dict to this module (file formats do
    not depend on the model); ``check_training``, e.g.
    :meth:`ddrcore.config.TrainConfig.check_settings`, raises ValueError or
    TypeError for settings it refuses, and the project is then refused.
    """
    from ..base import MAX_CHANNELS, MAX_PATCH_SIZE

    from .bounded import read_bytes

    path = Path(path)
    # Checked on the open descriptor: a FIFO or /dev/zero given as a project is refused, not waited on
    # or read for ever; the size is capped before the read.
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0              # read_bytes names what is wrong with the path
    from .reading import available_memory

    avail = available_memory()
    # Parsed JSON takes about ten times its text (a dict and a str per value): refused before it is read.
    if avail and 10 * size > 0.8 * avail:
        raise _fail(path, f"refused: reading this {size / 2**20:.0f} MiB project needs about "
                          f"{10 * size / 2**30:.1f} GiB, more than this process can get ({avail / 2**30:.1f} GiB)")
    data = read_bytes(path, "project file", PROJECT_BYTES, ProjectFileError)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(path, "cannot read the project file (it is not UTF-8 text); not a ddrid project") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not a ddrid project (invalid JSON at line {exc.lineno}, column {exc.colno})") from None
    except _BadNumber as exc:
        raise _fail(path, f"not a valid ddrid project ({exc})") from None
    except (RecursionError, MemoryError):
        raise _fail(path, "not a ddrid project (nested too deeply or too large)") from None
    except ValueError as exc:   # e.g. an integer with too many digits
        raise _fail(path, f"not a ddrid project ({str(exc).splitlines()[0][:100]})") from None
    if _depth(doc, MAX_DEPTH) > MAX_DEPTH:
        raise _fail(path, f"not a ddrid project (nested deeper than {MAX_DEPTH} levels)")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(path, "not a ddrid project file (missing format marker)")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
        raise _fail(path, f"project format version {repr(version)[:20]} is not supported "
                          f"(this ddrid reads version {VERSION}); upgrade ddrid")
    base = Path(os.path.abspath(path)).parent
    inputs = doc.get("inputs", [])
    if not isinstance(inputs, list):
        raise _fail(path, "'inputs' must be a list of paths")
    inputs = [_path_str(p, "each input", path) for p in inputs]
    patch_size = _int(doc.get("patch_size", 32), "patch_size", path)
    if not 4 <= patch_size <= MAX_PATCH_SIZE:
        raise _fail(path, f"patch_size must be 4..{MAX_PATCH_SIZE}, got {patch_size}")
    channel = _channel(doc.get("channel"), path)
    if isinstance(channel, int) and not 0 <= channel < MAX_CHANNELS:
        raise _fail(path, f"channel must be 0..{MAX_CHANNELS - 1}, 'all' or null, got {channel}")
    model = doc.get("model")
    if model is not None:
        model = _path_str(model, "'model'", path)
    threshold = doc.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not math.isfinite(float(threshold))):
        raise _fail(path, "'threshold' must be a finite number or null")
    training = doc.get("training", {})
    if not isinstance(training, dict):
        raise _fail(path, "'training' must be an object")
    if check_training is not None:
        try:
            check_training(training)
        except (ValueError, TypeError, OverflowError) as exc:
            raise _fail(path, f"'training' settings are invalid ({str(exc).splitlines()[0][:120]})") from None
    patching = training.get("patching")
    if isinstance(patching, dict):
        for key in PATCHING_PATHS:
            if isinstance(patching.get(key), str) and patching[key]:     # "" or none: not set, as the app reads it
                _path_str(patching[key], f"'training.patching.{key}'", path)
        training = _with_patching_paths(training, lambda p: _abs(p, base))
    marks: Dict[PatchSource, str] = {}
    roles: Dict[PatchSource, str] = {}
    annotations = doc.get("annotations", [])
    if not isinstance(annotations, list):
        raise _fail(path, "'annotations' must be a list")
    for entry in annotations:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise _fail(path, "each annotation entry needs a 'path'")
        unknown = sorted(set(entry) - {"path", *MARKS, *ROLES})
        if unknown:
            raise _fail(path, f"unknown mark {unknown[0][:40]!r} in the annotations "
                              f"(known: {', '.join(MARKS)})")
        file = _abs(_path_str(entry["path"], "an annotation path", path), base)
        for mark in (*MARKS, *ROLES):
            coords = entry.get(mark, [])
            if not isinstance(coords, list):
                raise _fail(path, f"'{mark}' of {entry['path']} must be a list of [page, y, x]")
            for c in coords:
                if not isinstance(c, list) or len(c) != 3:
                    raise _fail(path, f"'{mark}' of {entry['path']}: expected [page, y, x], got {str(c)[:60]}")
                page, y, x = (_int(v, "page/y/x", path) for v in c)
                if not 0 <= page <= MAX_COORD:
                    raise _fail(path, f"'{mark}' of {entry['path']}: page must be >= 0, got {page}")
                if not (-MAX_COORD <= y <= MAX_COORD and -MAX_COORD <= x <= MAX_COORD):
                    raise _fail(path, f"'{mark}' of {entry['path']}: y/x out of range")
                (marks if mark in MARKS else roles)[PatchSource(file, page, y, x)] = mark
    return Project(
        inputs=[_abs(p, base) for p in inputs],
        patch_size=patch_size,
        channel=_channel(doc.get("channel"), path),
        marks=marks,
        model_path=_abs(model, base) if model else None,
        threshold=float(threshold) if threshold is not None else None,
        training=training,
        roles=roles,
    )
