"""File names as they are, not as text wants them to be.

On POSIX a file name is bytes: ``caf\\xe9.tif`` (Latin-1, not UTF-8) is a
valid name, and Python hands it over as a ``str`` with a lone surrogate
(``os.fsdecode``'s surrogateescape).  Such a string cannot be written as
UTF-8: one odd name used to make the whole run fail when its CSV was written.
:func:`shown` gives the text to show and to write (undecodable bytes as
``\\xe9``); the path itself is still used to open the file.

A name is also at most 255 bytes: :func:`fit_name` shortens a name built
from an input's name (a decomposition TIFF, a temp file) with a hash, so
that a long input name still gives a valid, distinct output name.
"""
from __future__ import annotations

import hashlib
import os

#: The longest file name most file systems take (ext4, APFS, NTFS: 255 bytes/characters).
NAME_MAX = 255


def shown(text: str) -> str:
    """``text`` (a path, a name) with every byte that is not UTF-8 written as ``\\xNN``; other text unchanged.

    >>> shown("caf\\udce9.tif"), shown("ok.tif")
    ('caf\\\\xe9.tif', 'ok.tif')
    """
    if not isinstance(text, str):
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        # Escaped bytes (os.fsdecode's surrogateescape) back to bytes, then shown as \xNN.
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:     # surrogates that are not escaped bytes (e.g. from JSON "\ud800")
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def printable(text: str) -> str:
    r"""``text`` as :func:`shown` gives it, with control and format characters written as escapes.

    A file name may hold a line break, a terminal escape sequence or a
    right-to-left override: printed raw, one bad file's line becomes two
    (the second forged by the name), clears the screen or reads backwards.

    >>> printable("a\nskipped b.tif"), printable("c\x1b[2J.tif"), printable("d\u202egpj.tif")
    ('a\\nskipped b.tif', 'c\\x1b[2J.tif', 'd\\u202egpj.tif')
    """
    import unicodedata

    text = shown(text)
    if not isinstance(text, str) or all(ch.isprintable() or ch == " " for ch in text):
        return text
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):     # Zl, Zp: line and paragraph separators
            out.append(named.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"))
        else:
            out.append(ch)
    return "".join(out)


def _nbytes(name: str) -> int:
    try:
        return len(os.fsencode(name))
    except UnicodeEncodeError:
        return len(name.encode("utf-8", "surrogatepass"))


def fit_name(stem: str, suffix: str = "", limit: int = NAME_MAX) -> str:
    """``stem + suffix`` if it takes at most ``limit`` bytes; else the stem cut, plus ``~`` and a hash of it.

    The hash keeps two long names that share their beginning apart.

    >>> fit_name("a" * 300, ".tif", 40)
    'aaaaaaaaaaaaaaaaaaaaaaa~003ef1ba9ea9.tif'
    >>> fit_name("short", ".tif")
    'short.tif'
    """
    if _nbytes(stem + suffix) <= limit:
        return stem + suffix
    digest = hashlib.sha1(stem.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    room = limit - _nbytes(suffix) - len(digest) - 1
    cut = stem[: max(0, room)]          # a character is at least one byte
    while cut and _nbytes(cut) > room:
        cut = cut[:-1]
    return f"{cut}~{digest}{suffix}"


__all__ = ["NAME_MAX", "fit_name", "shown"]
