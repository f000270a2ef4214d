"""Object centres given by the user, as a CSV.

Accepted columns: ``path,y,x`` (optionally ``page``), paths relative to the
CSV's folder or absolute; or napari's points layer export ``axis-0,axis-1``
(optionally with a leading ``index`` column and ``axis-0`` as the page when
there are three axes), which names no file and so applies to a single image.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from ..errors import DdridError, first_line
from ..io.bounded import Limit, open_regular

#: The default of :data:`POINTS_LIMIT`.
MAX_POINTS = 5_000_000


class PointsFileError(DdridError):
    """A points CSV is missing, unreadable or lacks its columns."""


# (file key or None for "the single image", page) -> [(y, x), ...]
Points = Dict[Tuple[Optional[str], int], List[Tuple[float, float]]]


def _key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


#: A points file names at most this many points (a screen of fields at a few hundred objects each).
POINTS_LIMIT = Limit("points per points file", "DDRID_MAX_POINTS", MAX_POINTS)
#: And is at most this large: 5 million rows of ~200 bytes (absolute paths).
POINTS_BYTES = Limit("points file size", "DDRID_MAX_POINTS_BYTES", 2 * 2**30)
#: The longest line read: a row is a path (at most a few thousand characters) and a few numbers.
MAX_LINE = 65536


def _lines(text, path: Path):
    """The lines of ``text``, each read with a bounded readline: one endless line cannot fill memory."""
    lineno = 0
    while True:
        line = text.readline(MAX_LINE + 1)
        if not line:
            return
        lineno += 1
        if len(line) > MAX_LINE:
            raise PointsFileError(path=path, reason=f"line {lineno} is longer than {MAX_LINE} characters; "
                                  "not a points CSV")
        yield line


def read_points(path: Union[str, os.PathLike]) -> Points:
    """Read a points CSV; raises :class:`PointsFileError` with one line naming the file.

    The file is streamed row by row and reading stops at the first row over
    :data:`POINTS_LIMIT`: a CSV of ten million rows costs the cap, not the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = f.write_text("index,axis-0,axis-1\\n0,10.5,20\\n1,30,40\\n")
    >>> read_points(f)[(None, 0)]
    [(10.5, 20.0), (30.0, 40.0)]
    """
    path = Path(path)
    fh = open_regular(path, "points file", POINTS_BYTES, PointsFileError)
    try:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        return _parse(csv.reader(_lines(text, path)), path)
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        why = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else first_line(exc)
        raise PointsFileError(path=path, reason=f"cannot read the points file ({why})") from None
    finally:
        fh.close()


def _parse(rows, path: Path) -> Points:
    header_row = next(rows, None)
    if header_row is None:
        raise PointsFileError(path=path, reason="the points file is empty; it needs columns path,y,x")
    header = [h.strip().lower() for h in header_row]
    col = {h: i for i, h in enumerate(header)}
    if {"y", "x"} <= col.keys():
        ycol, xcol, pcol = col["y"], col["x"], col.get("path")
        pagecol = col.get("page")
        if pcol is None:
            raise PointsFileError(path=path, reason="has y,x but no 'path' column; add the image file of each point")
    elif {"axis-0", "axis-1"} <= col.keys():
        pcol = None
        if "axis-2" in col:       # napari (page, y, x)
            pagecol, ycol, xcol = col["axis-0"], col["axis-1"], col["axis-2"]
        else:
            pagecol, ycol, xcol = None, col["axis-0"], col["axis-1"]
    else:
        raise PointsFileError(path=path, reason=f"missing columns; expected path,y,x (or napari's axis-0,axis-1), "
                              f"found {','.join(header)[:200] or 'none'}")
    base = path.parent
    cap = POINTS_LIMIT.value()
    out: Points = {}
    keys: Dict[str, str] = {}     # a path as written -> its key: one abspath per file, not per point
    n = 0
    for lineno, row in enumerate(rows, start=2):
        if not "".join(row).strip():
            continue
        try:
            y, x = float(row[ycol]), float(row[xcol])
            page_value = float(row[pagecol]) if pagecol is not None else 0.0
        except (IndexError, ValueError):
            raise PointsFileError(path=path, reason=f"line {lineno} has no number in its y/x columns") from None
        if not (math.isfinite(y) and math.isfinite(x) and math.isfinite(page_value)) or page_value < 0 \
                or page_value != int(page_value):
            raise PointsFileError(path=path, reason=f"line {lineno} has a non-finite coordinate or a page that is not "
                                  "a whole number >= 0")
        page = int(page_value)
        file = None
        if pcol is not None:
            try:
                name = row[pcol].strip()
            except IndexError:
                raise PointsFileError(path=path, reason=f"line {lineno} has no path") from None
            if not name:
                raise PointsFileError(path=path, reason=f"line {lineno} has an empty path")
            if "\x00" in name:
                raise PointsFileError(path=path, reason=f"line {lineno} has a NUL byte in its path")
            file = keys.get(name)
            if file is None:
                file = keys[name] = _key(name if os.path.isabs(name) else base / name)
        n += 1
        if n > cap:
            # Stop here: the rest of the file is never read.
            raise PointsFileError(path=path, reason=f"more than {cap:,} points ({POINTS_LIMIT.what}); split the "
                                  f"file, or {POINTS_LIMIT.hint}")
        out.setdefault((file, page), []).append((y, x))
    if not out:
        raise PointsFileError(path=path, reason="the points file lists no points")
    return out


def points_for(points: Points, image: Union[str, os.PathLike], page: int, single_image: bool
               ) -> List[Tuple[float, float]]:
    """The points of one page of one image; napari-style files (no paths) apply when ``single_image``."""
    hit = points.get((_key(str(image)), page))
    if hit is not None:
        return hit
    if single_image:
        return points.get((None, page), [])
    return []
