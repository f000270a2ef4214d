"""What the command line shows: a progress bar on stderr, plurals, one line per skipped file.

Shared by ``ddrid`` (cli.py) and ``ddrid bench``; the engine itself never prints.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

from .progress import Progress, run_to_end
from .io.names import printable


class ProgressPrinter:
    """A one-line progress bar on a terminal; sparse log lines otherwise."""

    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0
        self.stage = None

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        new_stage = p.stage != self.stage
        # On a terminal redraw at most 10x/s; in logs, one line every 10 s or per stage.
        if not new_stage and now - self.last < (0.1 if self.tty else 10.0) and p.overall < 1.0:
            return
        if new_stage and self.tty and self.stage is not None:
            self.stream.write("\n")
        self.stage, self.last = p.stage, now
        width = 28
        filled = int(width * min(max(p.overall, 0.0), 1.0))
        bar = "#" * filled + "-" * (width - filled)
        parts = [f"{p.stage:<9}", f"[{bar}] {100 * p.overall:5.1f}%"]
        if p.epochs:
            parts.append(f"epoch {p.epoch}/{p.epochs}")
        if p.losses:
            parts.append(" ".join(f"{k}={v:.4g}" for k, v in p.losses.items()))
        parts.append(f"{p.elapsed:6.0f}s")
        if p.eta is not None:
            parts.append(f"ETA {p.eta:.0f}s")
        if p.message:
            parts.append(printable(p.message))      # it names files: no line breaks or escapes from a name
        line = "  ".join(parts)
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(160))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.stage is not None and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
        self.stage = None


def run_job(job, args=None):
    """Drive ``job`` to its end with a progress bar (none with ``--quiet``); return its result."""
    printer = ProgressPrinter(quiet=getattr(args, "quiet", False))
    try:
        return run_to_end(job, printer)
    finally:
        printer.close()


def plural(n: int, word: str, many: Optional[str] = None) -> str:
    """``1 patch``, ``2 patches``, ``0 files``.

    >>> plural(1, "patch"), plural(2, "patch"), plural(0, "file")
    ('1 patch', '2 patches', '0 files')
    """
    if n == 1:
        return f"{n} {word}"
    return f"{n} {many or (word + 'es' if word.endswith(('ch', 'sh', 's', 'x')) else word + 's')}"


def missing_folder(path) -> Optional[Path]:
    """The outermost folder above ``path`` that does not exist yet (writing ``path`` will create it)."""
    if path is None:
        return None
    p = Path(path).absolute().parent
    top = None
    while not p.exists():
        top = p
        if p.parent == p:
            break
        p = p.parent
    return top


def say_created(folder: Optional[Path]) -> None:
    """Tell the user about a folder that writing an output created."""
    if folder is not None and folder.is_dir():
        print(f"created folder {folder}", file=sys.stderr)


def report_bad(bad) -> None:
    """One line on stderr per file that was skipped (or used in part), naming it and what to do."""
    for b in bad:
        what = "used in part:" if getattr(b, "partial", False) else "skipped"
        print(f"{what} {printable(str(b))}", file=sys.stderr)   # a name cannot forge a line or run an escape
