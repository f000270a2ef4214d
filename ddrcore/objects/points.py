"""Object centres given by the user, as a CSV, in the forms other tools write.

Accepted (column names are matched without regard to case):

* ``path,y,x`` (optionally ``page``), and its common spellings: ``file``,
  ``filename`` or ``image`` for the path; ``cy,cx``, ``center_y,center_x``,
  ``centroid-0,centroid-1`` (scikit-image ``regionprops_table``) for the centre.
* napari's points layer export: ``axis-0,axis-1`` (optionally with a leading
  ``index`` column, and ``axis-0`` as the page when there are three axes).  It
  names no file and so applies to a single image.
* CellProfiler's object table (ExportToSpreadsheet): ``Location_Center_Y`` /
  ``Location_Center_X`` with the file in ``FileName_*`` (and ``PathName_*``)
  columns, or, with only ``ImageNumber``, in the ``*Image.csv`` beside it.
  ``Metadata_Frame``, where present, is the page.
* TrackMate's spot table (Export to CSV): ``POSITION_Y`` / ``POSITION_X`` in
  the image's calibrated units, ``FRAME`` the page.  TrackMate writes three
  more header rows (names, short names, units); the units row says whether
  positions are in pixels or, e.g., microns — then they are divided by the
  image's pixel size (read from the image file).  It names no file either.

Paths may be absolute or relative; a relative path is looked for relative to
the CSV's folder, and relative to each image's folder (the CSV may sit above
the images, listing ``a01.tif`` or ``plate1/a01.tif``).  An absolute path that
does not exist here (a CSV made on another computer) matches by file name,
and where several images share it, the one whose path shares most of its
trailing folders (:meth:`Points.know_images`).
"""
from __future__ import annotations

import csv
import io
import itertools
import math
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..errors import DdridError, first_line, some_of
from ..io.bounded import Limit, open_regular

#: The default of :data:`POINTS_LIMIT`.
MAX_POINTS = 5_000_000

# Column spellings, lower case, in order of preference.
_PATH = ("path", "file", "filename", "file_name", "image", "image_path", "imagefile")
# A named centre before a bare y,x: ddrid's own CSVs have both, and there y,x is the crop's corner
# (a table edited and given back as --points must put each object where it was).
_Y = ("center_y", "cy", "centroid_y", "centroid-0", "y")
_X = ("center_x", "cx", "centroid_x", "centroid-1", "x")
_PAGE = ("page", "frame", "plane")
# TrackMate's units row: these mean the positions are in pixels already.
_PIXEL_UNITS = ("", "pixel", "pixels", "px")


class PointsFileError(DdridError):
    """A points CSV is missing, unreadable or lacks its columns."""


class Points(Dict[Tuple[Optional[str], int], List[Tuple[float, float]]]):
    """(file as written in the CSV, or None for "the single image", page) -> [(y, x), ...].

    ``base`` is the CSV's folder, ``unit`` the positions' unit ("px", or a
    length such as "micron" for TrackMate's calibrated positions), ``form``
    the format recognised (for messages).
    """

    def __init__(self, base: Path, form: str, unit: str = "px"):
        super().__init__()
        self.base = Path(base)
        self.form = form
        self.unit = unit
        self._by_name: Dict[str, List[str]] = {}
        # A name from another computer -> the images it may be (see :meth:`know_images`); None: any of that name.
        self._foreign: Optional[Dict[str, set]] = None

    def add(self, file: Optional[str], page: int, y: float, x: float) -> None:
        key = (file, page)
        if key not in self:
            self[key] = []
            if file is not None:
                self._by_name.setdefault(_name_of(file), []).append(file)
        self[key].append((y, x))

    def know_images(self, images) -> None:
        """The images of the run: a path from another computer goes to those sharing most of its trailing folders.

        The same file name in several folders is the normal case (``a01.tif``
        in every plate): ``/elsewhere/exp/plate2/a01.tif`` is
        ``plate2/a01.tif`` here, not ``plate1/a01.tif``.

        Examples
        --------
        >>> p = Points(Path("/csv"), "path,y,x")
        >>> p.add("/elsewhere/exp/plate1/a01.tif", 0, 5.0, 5.0); p.add("/elsewhere/exp/plate2/a01.tif", 0, 9.0, 9.0)
        >>> p.know_images(["/data/plate1/a01.tif", "/data/plate2/a01.tif"])
        >>> p.files_for("/data/plate2/a01.tif")
        ['/elsewhere/exp/plate2/a01.tif']
        """
        by_name: Dict[str, List[str]] = {}
        for img in images:
            img = os.path.abspath(img)
            by_name.setdefault(_name_of(img), []).append(img)
        self._foreign = {}
        for names in self._by_name.values():
            for name in names:
                if not _is_foreign(name):
                    continue
                candidates = by_name.get(_name_of(name), [])
                shared = {img: _shared_tail(name, img) for img in candidates}
                best = max(shared.values(), default=0)
                self._foreign[name] = {img for img, n in shared.items() if n == best}

    def files_for(self, image: Union[str, os.PathLike]) -> List[str]:
        """The files named in the CSV that are ``image`` (see the module docstring), without repeats."""
        image = os.path.abspath(image)
        out = []
        for name in self._by_name.get(_name_of(image), ()):
            if name in out or not _matches(name, image, self.base):
                continue
            if self._foreign is not None and name in self._foreign and image not in self._foreign[name]:
                continue        # another image here shares more of this path's folders
            out.append(name)
        return out

    @property
    def names_files(self) -> bool:
        return any(f is not None for f, _page in self)


def _name_of(path: str) -> str:
    return os.path.normcase(path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])


def _parts(path: str) -> List[str]:
    return [os.path.normcase(p) for p in path.replace("\\", "/").split("/") if p not in ("", ".")]


def _is_absolute(name: str) -> bool:
    """An absolute path, here or on Windows (``C:...``), as written in the CSV."""
    return os.path.isabs(name) or (len(name) > 2 and name[1] == ":")


def _is_foreign(name: str) -> bool:
    """An absolute path that does not exist here: a CSV made on another computer."""
    return _is_absolute(name) and not os.path.exists(name)


def _shared_tail(name: str, image: str) -> int:
    """How many trailing path parts (file name included) ``name`` and ``image`` share."""
    a, b = _parts(name), _parts(image)
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _matches(name: str, image: str, base: Path) -> bool:
    """Whether ``name`` (as written in the CSV) is the image file at the absolute path ``image``."""
    if _is_absolute(name):
        if not _is_foreign(name):
            return os.path.normcase(os.path.abspath(name)) == os.path.normcase(image)
        return True   # made on another computer: the file name (already equal) decides; see know_images
    if os.path.normcase(os.path.abspath(base / name)) == os.path.normcase(image):
        return True
    # Relative to the image's folder (or a folder above it): the image's path ends with the name's parts.
    want = _parts(name)
    if ".." in want:
        return False
    have = _parts(image)
    return len(want) <= len(have) and have[-len(want):] == want


def _find(col: Dict[str, int], names: Sequence[str]) -> Optional[int]:
    for n in names:
        if n in col:
            return col[n]
    return None


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


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


def _cellprofiler_images(csv_path: Path, number_col: str) -> Dict[str, str]:
    """ImageNumber -> file, from the CellProfiler image table beside an object table (``*Image.csv``).

    Read with the same bounds as a points file (size cap, bounded lines).
    """
    for table in sorted(csv_path.parent.glob("*Image.csv")):
        try:
            fh = open_regular(table, "CellProfiler image table", POINTS_BYTES, PointsFileError)
        except PointsFileError:
            continue
        try:
            rows = csv.reader(_lines(io.TextIOWrapper(fh, encoding="utf-8-sig", newline=""), table))
            head = next(rows, None)
            if head is None:
                continue
            col = {h.strip().lower(): i for i, h in enumerate(head)}
            files = [h for h in col if h.startswith("filename_")]
            if number_col not in col or not files:
                continue
            fcol = col[files[0]]
            pcol = col.get("pathname_" + files[0][len("filename_"):])
            out = {}
            for row in itertools.islice(rows, POINTS_LIMIT.value()):
                try:
                    name = row[fcol].strip()
                    folder = row[pcol].strip() if pcol is not None else ""
                    out[row[col[number_col]].strip()] = os.path.join(folder, name) if folder else name
                except IndexError:
                    continue
            return out
        except (UnicodeDecodeError, csv.Error, OSError, PointsFileError):
            continue
        finally:
            fh.close()
    return {}


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
    >>> _ = f.write_text("file,cy,cx\\nimages/a.tif,3,4\\n")
    >>> read_points(f)[("images/a.tif", 0)], read_points(f).form
    ([(3.0, 4.0)], 'path,y,x')
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
    col: Dict[str, int] = {}
    for i, h in enumerate(header):
        col.setdefault(h, i)
    body = rows
    start_line = 2
    unit = "px"
    file_of_number: Optional[Dict[str, str]] = None
    ncol = None
    if {"location_center_y", "location_center_x"} <= col.keys():
        form = "CellProfiler"
        ycol, xcol = col["location_center_y"], col["location_center_x"]
        pagecol = col.get("metadata_frame")
        files = [h for h in header if h.startswith("filename_")]
        pcol = col[files[0]] if files else None
        dircol = col.get("pathname_" + files[0][len("filename_"):]) if files else None
        if pcol is None:
            ncol = col.get("imagenumber")
            file_of_number = _cellprofiler_images(path, "imagenumber") if ncol is not None else {}
            if not file_of_number:
                raise PointsFileError(path=path, reason="a CellProfiler table without FileName_* columns, and no "
                                      "*Image.csv beside it to tell which image each ImageNumber is; export the image "
                                      "table too, or add the file names to the object table")
    elif {"position_y", "position_x"} <= col.keys():
        form = "TrackMate"
        ycol, xcol, pcol, dircol = col["position_y"], col["position_x"], None, None
        pagecol = col.get("frame")
        # TrackMate's CSV repeats its header as names, short names and units: up to three rows without numbers.
        ahead = list(itertools.islice(body, 3))
        extra = 0
        while extra < len(ahead) and not _number(ahead[extra][xcol].strip() if xcol < len(ahead[extra]) else ""):
            extra += 1
        body = itertools.chain(ahead[extra:], body)
        if extra:
            units_row = ahead[extra - 1]
            # TrackMate writes units in parentheses: "(micron)", "(pixel)".
            unit = units_row[xcol].strip().strip("()").strip().lower() if xcol < len(units_row) else ""
            unit = "px" if unit in _PIXEL_UNITS else unit
        else:
            unit = "calibrated"    # no units row: the image's pixel size, where it has one, says
        start_line += extra
    elif _find(col, _Y) is not None and _find(col, _X) is not None:
        form = "path,y,x"
        ycol, xcol = _find(col, _Y), _find(col, _X)
        pcol, dircol, pagecol = _find(col, _PATH), None, _find(col, _PAGE)
        if pcol is None:
            raise PointsFileError(path=path, reason="has y,x but no 'path' column; add the image file of each point")
    elif {"axis-0", "axis-1"} <= col.keys():
        form, pcol, dircol = "napari", None, None
        if "axis-2" in col:       # napari (page, y, x)
            pagecol, ycol, xcol = col["axis-0"], col["axis-1"], col["axis-2"]
        else:
            pagecol, ycol, xcol = None, col["axis-0"], col["axis-1"]
    else:
        raise PointsFileError(path=path, reason=f"missing columns; expected path,y,x (or file,cy,cx; napari's "
                              "axis-0,axis-1; CellProfiler's Location_Center_Y/X; TrackMate's POSITION_Y/X), "
                              f"found {','.join(header)[:200] or 'none'}")
    out = Points(path.parent, form, unit)
    out.path = path
    cap = POINTS_LIMIT.value()
    n = 0
    for lineno, row in enumerate(body, start=start_line):
        if not "".join(row).strip():
            continue
        try:
            y, x = float(row[ycol]), float(row[xcol])
            page_value = float(row[pagecol]) if pagecol is not None and row[pagecol].strip() else 0.0
        except (IndexError, ValueError):
            raise PointsFileError(path=path, reason=f"line {lineno} has no number in its y/x columns") from None
        if not (math.isfinite(y) and math.isfinite(x) and math.isfinite(page_value)) or page_value < 0 \
                or page_value != int(page_value):
            raise PointsFileError(path=path, reason=f"line {lineno} has a non-finite coordinate or a page that is not "
                                  "a whole number >= 0")
        page = int(page_value)
        file = None
        if file_of_number is not None:
            try:
                number = row[ncol].strip()
            except IndexError:
                number = ""
            file = file_of_number.get(number)
            if not file:
                raise PointsFileError(path=path, reason=f"line {lineno}: ImageNumber {number or '(none)'} is not in the "
                                      "image table beside it")
        elif pcol is not None:
            try:
                name = row[pcol].strip()
                folder = row[dircol].strip() if dircol is not None and dircol < len(row) else ""
            except IndexError:
                raise PointsFileError(path=path, reason=f"line {lineno} has no path") from None
            if not name:
                raise PointsFileError(path=path, reason=f"line {lineno} has an empty path")
            if "\x00" in name or "\x00" in folder:
                raise PointsFileError(path=path, reason=f"line {lineno} has a NUL byte in its path")
            file = os.path.join(folder, name) if folder else name
        n += 1
        if n > cap:
            # Stop here: the rest of the file is never read.
            raise PointsFileError(path=path, reason=f"more than {cap:,} points ({POINTS_LIMIT.what}); split the "
                                  f"file, or {POINTS_LIMIT.hint}")
        out.add(file, page, y, x)
    if not out:
        raise PointsFileError(path=path, reason="the points file lists no points")
    return out



def points_for(points: Points, image: Union[str, os.PathLike], page: int, single_image: bool
               ) -> List[Tuple[float, float]]:
    """The points of one page of one image, as written (see :func:`in_pixels`); files naming none apply when
    ``single_image``."""
    names = points.files_for(image)
    if names:
        return [p for name in names for p in points.get((name, page), [])]
    if single_image:
        return points.get((None, page), [])
    return []


def in_pixels(points: Points, yx: List[Tuple[float, float]], pixel_size, image) -> List[Tuple[float, float]]:
    """Positions in page pixels: calibrated ones (TrackMate) divided by the image's pixel size (y, x), if known.

    Raises :class:`PointsFileError` when the positions are in a length unit and the image says no pixel size.
    """
    if points.unit == "px" or not yx:
        return yx
    if pixel_size is None:
        if points.unit == "calibrated":
            return yx            # no units row and no calibration: TrackMate's positions are pixels then
        raise PointsFileError(path=getattr(points, "path", points.base), reason=f"its {points.form} positions are in "
                              f"{points.unit}, but {Path(image).name} says no pixel size; export the spots in pixels "
                              "or save the image with its calibration")
    dy, dx = pixel_size
    return [(y / dy, x / dx) for y, x in yx]


def unloaded_names(points: Points, files: Sequence[Union[str, os.PathLike]]) -> List[str]:
    """The image names a points file gives that match none of ``files``, sorted (their points are left out).

    Examples
    --------
    >>> p = Points(Path("/csv"), "path,y,x")
    >>> p.add("a.tif", 0, 5.0, 5.0); p.add("b.tif", 0, 9.0, 9.0); p.add("c.tif", 0, 1.0, 1.0)
    >>> unloaded_names(p, ["/csv/a.tif"])
    ['b.tif', 'c.tif']
    """
    named = {f for f, _page in points if f is not None}
    matched = {name for f in files for name in points.files_for(f)}
    return sorted(named - matched)


def unmatched_line(points: Points, points_path, files: Sequence[Union[str, os.PathLike]]) -> Optional[str]:
    """One line when a points file that names images names none of ``files``, else None."""
    if not points.names_files or any(points.files_for(f) for f in files):
        return None
    named = sorted({f for f, _page in points if f is not None})
    shown = some_of(named)
    return (f"{points_path}: its points name no image that was loaded ({shown}); paths are looked for relative to "
            "the CSV's folder and to each image's folder — check the file names")
