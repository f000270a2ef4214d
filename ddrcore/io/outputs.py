"""One rule for every file ddrid writes (CLI, GUI, project, report, decompositions).

:func:`check_output` is called *before* any long work starts, so a bad output
path fails in seconds with one line:

* an output is never one of the inputs: not an input file, not the model in
  use, and not an image inside an input folder (it would be read next time) —
  compared through symbolic links and hard links.  ``force`` does not change
  this;
* an output must be a regular file (or not exist yet): a folder, a device
  (``/dev/null``), a FIFO or a socket is refused;
* a symbolic link is followed: its target is checked and written (atomically
  replaced); the link itself stays;
* an output folder (``--decompositions``) is never inside an input folder:
  the images written there would be read as data by the next run;
* an existing file is replaced without ``force`` (``--force``) only when ddrid
  wrote it, recognised by its marker: a ddrid CSV's header line, a project's
  format field, a model's format marker, the creator ddrid stamps on its
  reports.  Any other file (a document, someone's own CSV, a one-line text
  named ``thesis.docx``) is only replaced with ``force``;
* the folder must be writable (a probe temp file is created and removed) and
  hold at least ``need_bytes`` free.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Iterable, Optional, Union

from .atomic import resolve_target, temp_name
from .bounded import describe_mode
from .names import NAME_MAX
from ..errors import DdridError

PathLike = Union[str, os.PathLike]

#: Kinds of output and what they are called in messages.
KINDS = {
    "csv": "CSV file",
    "model": "ddrid model file",
    "tiff": "TIFF image",
    "rois": "Fiji ROI set (.zip of .roi files)",
    "project": "project file",
    "report": "report (PNG/PDF)",
    "json": "JSON file",
    "text": "text file",
    "folder": "folder",
}

_IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
#: The longest path the system takes (Linux: 4096 bytes, terminating NUL included).
PATH_MAX = 4096


class OutputError(DdridError):
    """An output path that ddrid will not write (one line, naming the path)."""


def _head(path: Path, n: int = 8192) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 4
    return True


#: First-line prefixes of the CSVs ddrid writes: the ranked CSV (``rank,path,...``) and the objects CSV.
CSV_HEADERS = (b"rank,path,", b"path,page,y,x,")
#: What ddrid stamps on its reports (PNG "Software" text, PDF "Creator"), so that it recognises them.
REPORT_CREATOR = "ddrid report"
#: The most of an existing report read when looking for that stamp (reports are a few hundred KB).
_REPORT_SCAN = 64 * 2**20


def _report_marked(path: Path) -> bool:
    with open(path, "rb") as fh:
        data = fh.read(_REPORT_SCAN)
    return REPORT_CREATOR.encode() in data


def _ddrid_model(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            pkl = next((i for i in zf.infolist() if i.filename.endswith("/data.pkl") or i.filename == "data.pkl"), None)
            # data.pkl holds the payload's structure (the tensors are stored beside it): small, and it
            # carries the format marker as plain text.
            if pkl is None or pkl.file_size > 64 * 2**20:
                return False
            return b"ddrid-model" in zf.read(pkl)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError):
        return False


def looks_like(path: PathLike, kind: str) -> bool:
    """Whether the existing regular file ``path`` is one that ddrid wrote as ``kind`` (empty files always are).

    Only such a file is replaced without ``force``: ddrid recognises its own
    outputs by their marker, never by their look alone (any text is not "a CSV").
    """
    path = Path(path)
    head = _head(path)
    if not head:
        return True
    if kind == "csv":
        return head.lstrip(b"\xef\xbb\xbf").startswith(CSV_HEADERS)
    if kind == "text":
        # ddrid's text outputs (benchmark summaries) are Markdown with a title line.
        return _is_text(head) and head.startswith(b"#")
    if kind == "json":
        return _is_text(head) and head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
    if kind == "project":
        return _is_text(head) and re.search(rb'"format"\s*:\s*"ddrid-project"', head) is not None
    if kind == "tiff":
        return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
    if kind == "report":
        return (head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"%PDF")) and _report_marked(path)
    if kind == "rois":
        # A ROI Manager set is a zip of .roi files; any other zip (a model, an archive) is not replaced.
        if not head.startswith(b"PK\x03\x04"):
            return False
        try:
            with zipfile.ZipFile(path) as zf:
                return all(n.lower().endswith(".roi") for n in zf.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return False
    if kind == "model":
        return head.startswith(b"PK\x03\x04") and _ddrid_model(path)
    raise ValueError(f"unknown output kind {kind!r}")


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
        return True
    except ValueError:
        return False


def probe_writable(folder: PathLike, name: str = "ddrid") -> None:
    """Create and remove a temp file in ``folder`` (created if missing); OutputError when that fails."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = temp_name(folder / name, ".probe")
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(path=folder, reason=f"cannot write here ({exc.strerror or exc}); "
                          "choose another folder or check its permissions") from None


def check_free_space(folder: PathLike, need_bytes: int) -> None:
    if need_bytes <= 0:
        return
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent        # a folder still to be created: its space is its first existing parent's
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < need_bytes:
        raise OutputError(path=folder, reason=f"only {free / 1e6:.1f} MB free, about {need_bytes / 1e6:.1f} MB are needed; "
                          "free some space or choose another folder")


def distinct_outputs(**outputs: Optional[PathLike]) -> None:
    """Refuse, in one line, two outputs of one run that name the same file or folder (through links too).

    Examples
    --------
    >>> distinct_outputs(csv="a.csv", rois="b.zip", labels_out=None)
    >>> distinct_outputs(csv="out/x.zip", rois="out/../out/x.zip")
    Traceback (most recent call last):
    ...
    ddrcore.io.outputs.OutputError: out/../out/x.zip: is also given as the csv output; two outputs of one run cannot share a path
    """
    seen = {}
    for option, path in outputs.items():
        if path is None:
            continue
        try:
            where = resolve_target(Path(path))
        except OSError:         # a name the system refuses: check_output says so in words next
            where = Path(path)
        key = os.path.normcase(os.path.abspath(where))
        if key in seen:
            raise OutputError(path=path, reason=f"is also given as the {seen[key]} output; two outputs of one run "
                              "cannot share a path")
        seen[key] = option.replace("_", "-")


def check_output(path: PathLike, kind: str, inputs: Iterable[Optional[PathLike]] = (), force: bool = False,
                 need_bytes: int = 0) -> Path:
    """Check that ``path`` may be written as ``kind``; returns the path that will really be written.

    ``inputs``: files and folders being read (images, folders, the model in
    use).  Raises :class:`OutputError` with one line otherwise; see the module
    docstring for the rule.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    given = Path(path)
    if "\x00" in str(path):
        raise OutputError(path=repr(given), reason="a path cannot contain a NUL byte")
    # A name the file system cannot hold is refused in words, before anything looks at it (the temp file's
    # own name is shortened to fit; see atomic.temp_name).
    name_bytes = len(os.fsencode(given.name)) if given.name else 0
    if name_bytes > NAME_MAX:
        raise OutputError(path=given, reason=f"the file name is {name_bytes} bytes, over the {NAME_MAX} that file "
                          "systems allow; choose a shorter name")
    if len(os.fsencode(os.path.abspath(given))) >= PATH_MAX:
        raise OutputError(path=given, reason=f"the path is over the {PATH_MAX} bytes the system allows; choose a "
                          "shorter path")
    target = resolve_target(given)      # a link (even a dangling one): its target is written (created)
    shown = given if target == given else f"{given} (a link to {target})"
    for inp in inputs:
        if inp is None:
            continue
        inp = Path(inp)
        if not inp.exists():
            continue
        if inp.is_dir():
            if kind != "folder" and target.suffix.lower() in _IMAGE_SUFFIXES and _inside(target, inp):
                raise OutputError(path=shown, reason=f"is an image inside the input folder {inp}; ddrid never writes its "
                                  "inputs — choose another output path")
            if kind == "folder" and (_same(target, inp) if target.exists() else False):
                raise OutputError(path=shown, reason="is the input folder; ddrid never writes into its inputs — "
                                  "choose another folder")
            if kind == "folder" and _inside(target, inp):
                # Images written there would be read as data by the next run on that folder.
                raise OutputError(path=shown, reason=f"is inside the input folder {inp}; the images written there "
                                  "would be read as data next time — choose a folder outside it")
        elif target.exists() and _same(target, inp):
            raise OutputError(path=shown, reason="is one of the input files; ddrid never writes its inputs — "
                              "choose another output path")
    if target.exists() or target.is_symlink():
        try:
            mode = os.stat(target).st_mode
        except OSError as exc:
            raise OutputError(path=shown, reason=f"cannot check the existing file ({exc.strerror or exc})") from None
        if kind == "folder":
            if not stat.S_ISDIR(mode):
                raise OutputError(path=shown, reason="exists and is not a folder")
        else:
            if not stat.S_ISREG(mode):
                raise OutputError(path=shown, reason=f"is {describe_mode(mode)}, not a file; ddrid writes only regular files")
            try:
                same_kind = looks_like(target, kind)
            except OSError as exc:
                raise OutputError(path=shown, reason=f"cannot read the existing file ({exc.strerror or exc})") from None
            if not same_kind and not force:
                raise OutputError(path=shown, reason=f"exists and is not a {KINDS[kind]} written by ddrid; "
                                  "not replaced (use --force to replace it)")
    folder = target if kind == "folder" else target.parent
    probe_writable(folder, target.name if kind != "folder" else "ddrid")
    check_free_space(folder, need_bytes)
    return target
