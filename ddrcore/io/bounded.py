"""Bounded reads: every file ddrid reads is checked on its open descriptor, and every cap is named.

* :func:`open_regular` opens a file without blocking (a FIFO with no writer
  would otherwise hang ``open`` for ever), then checks the *opened*
  descriptor with ``fstat``: a FIFO, a device (``/dev/zero``), a socket or a
  folder is refused in one line, and a file larger than its cap is refused
  before a byte is read.  The descriptor checked is the one read, so a file
  swapped for a FIFO between a check and a read cannot slip through.
* :class:`Limit` is one cap: a default, the environment variable (and, where
  there is one, the command-line option) that raises it, and the sentence that
  says so in the error.
* :func:`usable_memory` is what this process can still allocate: the machine's
  available memory, but also the address-space limit (``ulimit -v``) and the
  cgroup limit (containers, SLURM), which the machine-wide figure ignores.
"""
from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional, Type, Union

from ..errors import DdridError

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class Limit:
    """One cap on what a read may cost.

    ``value()`` is the default unless the environment variable ``env`` holds a
    positive integer; ``hint`` says, in an error line, how to raise it.
    """

    what: str                 # what is counted, for messages ("points per file")
    env: str                  # DDRID_MAX_...: raises the cap
    default: int
    option: str = ""          # a command-line option that raises it too, if any

    def value(self) -> int:
        raw = os.environ.get(self.env, "").strip().replace("_", "")
        if raw:
            try:
                n = int(float(raw)) if any(c in raw for c in ".eE") else int(raw)
            except ValueError:
                n = 0
            if n > 0:
                return n
        return self.default

    @property
    def hint(self) -> str:
        how = f"{self.option} or the environment variable {self.env}" if self.option else \
            f"the environment variable {self.env}"
        return f"raise it with {how}"


def _size(n: int) -> str:
    """Bytes in words: 512 B, 3.2 MB, 4.0 GiB."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    if n >= 10**6:
        return f"{n / 1e6:.1f} MB"
    return f"{n} B"


def describe_mode(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: PathLike, what: str = "file", limit: Optional[Limit] = None,
                 error: Type[DdridError] = DdridError, missing: Optional[str] = None) -> BinaryIO:
    """Open ``path`` for reading as a regular file no larger than ``limit`` (bytes); a binary file object.

    Raises ``error`` (path and one-line reason) for a missing, unreadable or
    special file, or one over the cap; ``missing`` is the reason given for a
    missing file.  Never blocks: FIFOs are opened non-blocking and refused.
    """
    missing = missing or f"no such {what}; check the path"
    path = Path(path)
    try:
        # stat first: opening some devices has effects of its own (a tape rewinds); they are refused unopened.
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(path=path, reason=missing) from None
    except OSError as exc:
        raise error(path=path, reason=f"cannot open the {what} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise error(path=path, reason=f"is {describe_mode(mode)}, not a file; give the {what} itself")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(path=path, reason=missing) from None
    except OSError as exc:
        raise error(path=path, reason=f"cannot open the {what} ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(path=path, reason=f"is {describe_mode(st.st_mode)}, not a file; give the {what} itself")
        if limit is not None and st.st_size > limit.value():
            raise error(path=path, reason=f"the {what} is {_size(st.st_size)}, over the limit of "
                        f"{_size(limit.value())} ({limit.what}); {limit.hint} if it is real")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        raw = io.FileIO(fd, "rb", closefd=True)
        # Named by its path, not its descriptor number: readers (tifffile) show and use the name.
        raw.name = os.fspath(path)
        return io.BufferedReader(raw)
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: PathLike, what: str, limit: Limit, error: Type[DdridError] = DdridError) -> bytes:
    """The whole of a regular file, at most ``limit`` bytes (a file that grows while read is refused too)."""
    cap = limit.value()
    with open_regular(path, what, limit, error) as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise error(path=path, reason=f"the {what} is over the limit of {_size(cap)} ({limit.what}); "
                    f"{limit.hint} if it is real")
    return data


# ------------------------------------------------------------------------------------------ memory --
def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def _address_space_left() -> Optional[int]:
    """Bytes of address space left under ``ulimit -v`` (RLIMIT_AS), or None when unlimited/unknown."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError, AttributeError):
        return None
    if soft in (resource.RLIM_INFINITY, -1) or soft <= 0:
        return None
    used = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)


def _cgroup_left() -> Optional[int]:
    """Bytes left under this process's cgroup v2 memory limit, or None when there is none."""
    try:
        with open("/proc/self/cgroup") as fh:
            rel = next((ln.strip().split(":", 2)[2] for ln in fh if ln.startswith("0::")), None)
        if rel is None:
            return None
        base = Path("/sys/fs/cgroup") / rel.lstrip("/")
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        current = int((base / "memory.current").read_text().strip())
        return max(0, int(limit) - current)
    except (OSError, ValueError, IndexError):
        return None


def usable_memory() -> int:
    """Bytes this process can still allocate (0 if unknown): the least of the machine's available memory,
    the address space left under ``ulimit -v`` and the room left in its cgroup."""
    avail = _meminfo_available()
    figures = [avail] if avail > 0 else []
    figures += [max(1, m) for m in (_address_space_left(), _cgroup_left()) if m is not None]
    return min(figures) if figures else 0


__all__ = ["Limit", "describe_mode", "open_regular", "read_bytes", "usable_memory"]
