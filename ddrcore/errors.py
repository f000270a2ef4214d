"""Error types whose message is meant for the user: one line, naming the file.

An error about one file carries ``path`` and ``reason`` separately, so that a
caller that lists problems per file (the GUI's problem list, the CLI's
"skipped" lines) shows the reason beside the file without cutting the message
apart.  ``str(error)`` is always the whole line: ``"<path>: <reason>"``.
"""
from __future__ import annotations

import os
from typing import Optional, Union


def some_of(names, first: int = 3) -> str:
    """The first few of ``names`` for a one-line message, and how many more.

    Examples
    --------
    >>> some_of(["a.tif", "b.tif"]), some_of(["a", "b", "c", "d", "e"])
    ('a.tif, b.tif', 'a, b, c and 2 more')
    """
    names = [str(n) for n in names]
    return ", ".join(names[:first]) + (f" and {len(names) - first} more" if len(names) > first else "")


class DdridError(Exception):
    """Base class: the message is shown as-is to the user (CLI, GUI).

    Examples
    --------
    >>> e = DdridError(path="a/b.tif", reason="not an image; remove it")
    >>> str(e), e.path, e.reason
    ('a/b.tif: not an image; remove it', 'a/b.tif', 'not an image; remove it')
    >>> DdridError("no GPU").path is None
    True
    """

    def __init__(self, message: Optional[str] = None, *, path: Union[str, os.PathLike, None] = None,
                 reason: Optional[str] = None) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason if reason is not None else (message or "")
        if message is None:
            message = f"{self.path}: {self.reason}" if self.path is not None else self.reason
        super().__init__(message)


def first_line(exc: BaseException, limit: int = 100) -> str:
    """The first line of an exception's message (at most ``limit`` characters), or its type's name.

    Library errors can span pages; a user reads one line.

    >>> first_line(ValueError("bad header\\nat byte 12")), first_line(KeyError())
    ('bad header', 'KeyError')
    """
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


class ImageReadError(DdridError):
    """One file could not be used; the rest of the work goes on."""


class NoUsableImagesError(DdridError):
    """A whole input (folder, file list) produced no usable patch."""


class ModelFileError(DdridError):
    """A model file is missing, corrupt, forged or of another format version."""


class TrainingError(DdridError):
    """Training cannot go on (e.g. a loss became NaN or infinite)."""
