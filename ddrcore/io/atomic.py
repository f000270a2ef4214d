"""Atomic file output: write to a temporary file beside the target, then rename.

A reader (or a crash) never sees a half-written file, and an existing file is
only replaced once the new one is complete.

* The temporary file is named ``.NAME.XXXXXXXX[SUFFIX].tmp`` in the target's
  folder.  It is removed on every way out short of SIGKILL: an exception,
  Ctrl+C (even between creating and using it), and — where the command line
  installed :func:`cleanup_on_signals` — SIGTERM/SIGHUP.
* A SIGKILL (or power loss) can still leave one behind; such ddrid temp files
  older than a day are removed the next time ddrid writes into that folder.
* A target that is a symbolic link: the link's target is written (replaced
  atomically) and the link stays a link.  Which outputs are allowed at all is
  :mod:`ddrcore.io.outputs`' business.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Iterator, Set, Union

# mkstemp creates files readable by the owner only (0600).  Outputs are meant
# for colleagues too, so finished files get the usual mode (0666 minus the
# umask).  The umask is read once, at import, while no other thread runs.
_UMASK = os.umask(0)
os.umask(_UMASK)

#: ddrid's temporary files: ".NAME." + 8 random characters + optional suffix + ".tmp".
TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}(\.[A-Za-z0-9]{1,8})?\.tmp$")
#: Temp files older than this (seconds) are leftovers of a killed ddrid.
STALE_AFTER = 24 * 3600.0

_live: Set[str] = set()            # temp files of this process not yet renamed or removed
_lock = threading.Lock()
_cleaned_dirs: Set[str] = set()    # folders already swept for stale temp files in this process


def resolve_target(target: Union[str, os.PathLike]) -> Path:
    """The file an output really writes: a symbolic link's target (absolute), else the path itself."""
    target = Path(target)
    if target.is_symlink():
        return Path(os.path.realpath(target))
    return target


def temp_name(target: Path, suffix: str = "") -> Path:
    from .names import NAME_MAX, fit_name

    # A target name near the 255-byte limit still gets a temp name that fits (shortened with a hash).
    tail = f".{secrets.token_hex(4)}{suffix}.tmp"
    return target.parent / ("." + fit_name(target.name, "", NAME_MAX - 1 - len(tail)) + tail)


def remove_stale_temps(folder: Union[str, os.PathLike], older_than: float = STALE_AFTER) -> int:
    """Remove ddrid temp files (``.NAME.*.tmp``) older than ``older_than`` seconds from ``folder``."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for e in entries:
        if not (e.name.startswith(".") and e.name.endswith(".tmp") and TEMP_RE.match(e.name)):
            continue
        try:
            if e.is_file(follow_symlinks=False) and now - e.stat(follow_symlinks=False).st_mtime > older_than:
                os.unlink(e.path)
                removed += 1
        except OSError:
            pass
    return removed


def _sweep_once(folder: Path) -> None:
    key = os.path.abspath(folder)
    if key in _cleaned_dirs:
        return
    _cleaned_dirs.add(key)
    remove_stale_temps(folder)


def remove_live_temps() -> None:
    """Remove every temp file this process still has open (signal handlers, atexit)."""
    with _lock:
        names = list(_live)
        _live.clear()
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(name)


@contextlib.contextmanager
def atomic_path(target: Union[str, os.PathLike], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto the target on success."""
    target = resolve_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_once(target.parent)
    tmp_path = None
    try:
        # Registered before it exists: an interrupt at any point still finds it to remove.
        while True:
            candidate = temp_name(target, suffix)
            with _lock:
                _live.add(str(candidate))
            tmp_path = candidate
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                with _lock:
                    _live.discard(str(candidate))
                tmp_path = None
        os.close(fd)
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
        with _lock:
            _live.discard(str(tmp_path))
        tmp_path = None
    finally:
        if tmp_path is not None:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
            with _lock:
                _live.discard(str(tmp_path))


def write_text_atomic(target: Union[str, os.PathLike], text: str, encoding: str = "utf-8") -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding=encoding, newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def cleanup_on_signals() -> None:
    """Make SIGTERM and SIGHUP unwind like Ctrl+C (temp files removed, exit status 128+signal).

    For the command line (main thread only); the GUI manages its own signals.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        remove_live_temps()
        raise SystemExit(128 + signum)

    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                signal.signal(sig, handler)
    import atexit

    atexit.register(remove_live_temps)


__all__ = ["atomic_path", "write_text_atomic", "cleanup_on_signals", "remove_stale_temps", "resolve_target",
           "TEMP_RE", "STALE_AFTER"]
