"""Objects handed back to other tools: a Fiji ROI set and label images.

* :func:`write_rois` — a ROI Manager set (``.zip`` of ImageJ ``.roi`` files,
  written with ``roifile``): one polygon per flagged object, traced from its
  outline, named ``rank{rank}_score{score:.3g}_obj{object_id}`` (plus
  ``_{image}`` when the objects come from several images: a ROI does not name
  its image), with the page as its stack position.  Objects without an extent
  (points) get a circle of the object size; grid tiles their square.
* :func:`write_label_images` — one label image per input image,
  ``{image stem}_labels.tif`` (uint16, or uint32 past 65535 ids; a stack for a
  multi-page image), whose ids are the CSV's ``object_id`` s, for napari and
  CellProfiler to join on.  Only objects that have a CSV row are painted.

The objects' shapes are found again from the images, exactly as the patches
were cut (:func:`ddrcore.objects.page_objects` with the run's resolved
settings), one page at a time, so that nothing from the scoring run has to be
kept in memory.  Both go through the output rule (:mod:`.outputs`) and are
written atomically.
"""
from __future__ import annotations

import io
import os
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import DdridError
from .atomic import atomic_path
from .images import PatchSource
from .outputs import check_output

PathLike = Union[str, os.PathLike]


def roi_name(rank: int, score: float, object_id: int, image: str = "") -> str:
    """The name of a flagged object's ROI.

    >>> roi_name(3, 0.123456, 17), roi_name(1, 2.0, 4, "a01")
    ('rank3_score0.123_obj17', 'rank1_score2_obj4_a01')
    """
    from .names import printable

    # The image's name is the user's: a line break or escape in it stays out of the ROI's name.
    return f"rank{rank}_score{score:.3g}_obj{object_id}" + (f"_{printable(image)}" if image else "")


class _Pages:
    """The objects of each (file, page), found again as the run found them; one page read at a time."""

    def __init__(self, patching, channel=None):
        self.patching = patching
        self.channel = channel
        self._groups: Dict[str, list] = {}

    def groups(self, path: str) -> list:
        from .reading import read_image_groups

        if path not in self._groups:
            self._groups = {path: read_image_groups(path)}   # one file held at a time
        return self._groups[path]

    def labels(self, path: str, page: int, rows: Sequence[PatchSource]) -> np.ndarray:
        """A (Y, X) label image of the page with the ids of ``rows`` (its CSV rows) and 0 elsewhere."""
        from ..objects import page_objects
        from .reading import page_of

        image = page_of(self.groups(path), page, self.channel, path)
        h, w = image.shape[:2]
        ids = np.array(sorted({int(s.object_id) for s in rows}), np.int64)
        if self.patching.source in ("auto", "labels"):
            objects = page_objects(image, self.patching, path, page, self.channel)
            if objects.labels is None:          # no object on the page now (the file changed since the run)
                return np.zeros((h, w), np.int64)
            lab = np.asarray(objects.labels)
            return np.where(np.isin(lab, ids), lab, 0).astype(np.int64)
        if self.patching.source == "points":
            # Points have no extent: a disc of the object size, as their crop was centred on it.
            r = 0.5 * float(self.patching.object_size or self.patching.crop_side() / 2)
            lab = np.zeros((h, w), np.int64)
            yy, xx = np.ogrid[:h, :w]
            for s in rows:
                y0, y1 = max(0, int(s.center_y - r)), min(h, int(s.center_y + r) + 2)
                x0, x1 = max(0, int(s.center_x - r)), min(w, int(s.center_x + r) + 2)
                disc = (yy[y0:y1] - s.center_y) ** 2 + (xx[:, x0:x1] - s.center_x) ** 2 <= r * r
                lab[y0:y1, x0:x1][disc] = int(s.object_id)
            return lab
        raise DdridError("grid tiles are not objects and overlap at the image's edge: label images need "
                         "--objects auto, labels or points")


def _outline(mask: np.ndarray, y0: int, x0: int) -> Optional[np.ndarray]:
    """The longest outline of a boolean mask as (x, y) ImageJ coordinates (pixel i spans i..i+1)."""
    from skimage.measure import find_contours

    contours = find_contours(np.pad(mask, 1).astype(np.float32), 0.5)
    if not contours:
        return None
    c = max(contours, key=len)
    # find_contours runs between pixel centres (index units, after 1 px of padding); ImageJ's centres are at +0.5.
    return np.stack([c[:, 1] - 1 + x0 + 0.5, c[:, 0] - 1 + y0 + 0.5], axis=1)


def _square(s: PatchSource, h: int, w: int) -> np.ndarray:
    x0, y0 = max(0, s.x), max(0, s.y)
    x1, y1 = min(w, s.x + s.size), min(h, s.y + s.size)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def write_rois(path: PathLike, flagged: Sequence[Tuple[PatchSource, int, float]], patching, channel=None,
               inputs: Sequence = (), force: bool = False, skipped: Optional[list] = None) -> int:
    """Write a Fiji ROI set of ``flagged`` objects, each (source, rank, score), most anomalous first.

    Returns the number of ROIs written (one per object; an object whose outline
    cannot be traced gets its crop's square rather than nothing, so does every
    object of an image that cannot be read again: gone or changed since the run,
    said in ``skipped`` as one :class:`~ddrcore.io.images.BadFile` per file).
    """
    import roifile

    target = check_output(path, "rois", [*inputs, *{s.path for s, _r, _v in flagged}], force)
    by_page: Dict[Tuple[str, int], List[PatchSource]] = defaultdict(list)
    for s, _rank, _score in flagged:
        by_page[(s.path, s.page)].append(s)
    several = len({s.path for s, _r, _v in flagged}) > 1
    pages = _Pages(patching, channel)
    outlines: Dict[Tuple[str, int, int], np.ndarray] = {}
    for (file, page), rows in sorted(by_page.items()):
        try:
            if patching.source == "grid":
                from .reading import page_of

                h, w = page_of(pages.groups(file), page, channel, file).shape[:2]
                for s in rows:
                    outlines[(file, page, s.object_id)] = _square(s, h, w)
                continue
            lab = pages.labels(file, page, rows)
        except DdridError as exc:
            _skip(skipped, file, exc, "its objects get their crops' squares", partial=True)
            for s in rows:
                outlines[(file, page, s.object_id)] = _square(s, s.y + s.size, s.x + s.size)
            continue
        from scipy import ndimage as ndi

        from ..objects.labels import dense_labels

        # Boxes of the image renumbered 1..N: find_objects reserves room for every id up to the largest.
        dense, present = dense_labels(lab)
        boxes = ndi.find_objects(dense)
        for s in rows:
            oid = int(s.object_id)
            k = int(np.searchsorted(present, oid))
            box = boxes[k] if k < len(present) and present[k] == oid and k < len(boxes) else None
            poly = None if box is None else _outline(lab[box] == oid, box[0].start, box[1].start)
            outlines[(file, page, oid)] = poly if poly is not None else _square(s, *lab.shape)
    buf = io.BytesIO()
    names = set()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for s, rank, score in flagged:
            name = roi_name(rank, float(score), int(s.object_id), Path(s.path).stem if several else "")
            # frompoints takes the 0-based page and stores ImageJ's 1-based stack position.
            roi = roifile.ImagejRoi.frompoints(outlines[(s.path, s.page, int(s.object_id))], name=name,
                                               position=s.page)
            roi.roitype = roifile.ROI_TYPE.POLYGON   # an outline, not a freehand stroke
            entry = name if name not in names else f"{name}-{len(names)}"
            names.add(entry)
            zf.writestr(f"{entry}.roi", roi.tobytes())
    with atomic_path(target, suffix=".zip") as tmp:
        Path(tmp).write_bytes(buf.getvalue())
    return len(flagged)


def label_file_names(paths: Sequence[str]) -> Dict[str, str]:
    """Each image's label file name in the output folder: ``{stem}_labels.tif``, made unique.

    Images that share a stem are told apart by as many of their parent folders
    as it takes (never the root), then by their extension (``a/x.tif`` and
    ``a/x.png``), and a number where nothing else does; every name is a plain
    file name, so it stays inside the folder it is written to, and no two
    images share one (compared without case, as some file systems do).

    >>> label_file_names(["/d/a/x.tif", "/d/b/x.tif", "/d/y.png"])
    {'/d/a/x.tif': 'a_x_labels.tif', '/d/b/x.tif': 'b_x_labels.tif', '/d/y.png': 'y_labels.tif'}
    >>> sorted(label_file_names(["/c/a/f0.tif", "/c/a/f0.png"]).values())
    ['a_f0_png_labels.tif', 'a_f0_tif_labels.tif']
    >>> sorted(label_file_names(["/d/a/x.tif", "/d/b/x.tif", "/d/a_x.tif"]).values())
    ['a_x_2_labels.tif', 'a_x_labels.tif', 'b_x_labels.tif']
    """
    def folders(p: str) -> tuple:
        parent = Path(p).parent
        return tuple(q for q in parent.parts if q != parent.anchor)

    def clean(text: str) -> str:
        return text.replace("/", "_").replace("\\", "_")

    stems: Dict[str, List[str]] = defaultdict(list)
    for p in paths:
        stems[Path(p).stem.lower()].append(p)
    base: Dict[str, str] = {}
    for group in stems.values():
        if len(group) == 1:
            base[group[0]] = clean(Path(group[0]).stem)
            continue
        # Prefix as few parent folders as tell them apart best (never the root) ...
        deepest = max(1, max(len(folders(o)) for o in group))
        told = [len({folders(o)[-d:] for o in group}) for d in range(1, deepest + 1)]
        depth = 1 + told.index(max(told))
        for o in group:
            base[o] = clean("_".join(folders(o)[-depth:] + (Path(o).stem,)))
        # ... then by extension where folders cannot (the same name in the same folder).
        seen: Dict[str, int] = defaultdict(int)
        for o in group:
            seen[base[o].lower()] += 1
        for o in group:
            if seen[base[o].lower()] > 1:
                base[o] = clean(f"{base[o]}_{Path(o).suffix.lstrip('.')}")
    out: Dict[str, str] = {}
    used = set()
    for p in paths:
        name, n = f"{base[p]}_labels.tif", 2
        while name.lower() in used:      # whatever is still the same gets a number
            name, n = f"{base[p]}_{n}_labels.tif", n + 1
        used.add(name.lower())
        out[p] = name
    return out


def write_label_images(folder: PathLike, sources: Sequence[PatchSource], patching, channel=None,
                       inputs: Sequence = (), force: bool = False, skipped: Optional[list] = None) -> List[Path]:
    """One label image per image of ``sources`` (the CSV's rows) in ``folder``; returns the files written.

    An image that cannot be read again (gone or changed since the run) gets none; the others are written,
    and ``skipped`` gets one :class:`~ddrcore.io.images.BadFile` per such image.
    """
    import tifffile

    if patching.source == "grid":
        raise DdridError("grid tiles are not objects and overlap at the image's edge: label images need "
                         "--objects auto, labels or points")
    folder = check_output(folder, "folder", inputs)
    by_file: Dict[str, Dict[int, List[PatchSource]]] = defaultdict(lambda: defaultdict(list))
    for s in sources:
        by_file[s.path][s.page].append(s)
    names = label_file_names(list(by_file))
    every_input = [*inputs, *by_file]
    targets = {f: check_output(Path(folder) / names[f], "tiff", every_input, force) for f in by_file}
    pages = _Pages(patching, channel)
    written = []
    for file, rows_by_page in by_file.items():
        try:
            groups = pages.groups(file)
            shapes = [g.shape[1:3] for g in groups for _ in range(g.shape[0])]
            stack = []
            for page, shape in enumerate(shapes):
                rows = rows_by_page.get(page)
                stack.append(pages.labels(file, page, rows) if rows else np.zeros(shape, np.int64))
        except DdridError as exc:
            _skip(skipped, file, exc, "no label image written for it")
            continue
        if len({a.shape for a in stack}) > 1:
            raise DdridError(path=file, reason="its pages differ in size; one label image cannot hold them")
        top = max((int(a.max()) for a in stack), default=0)
        dtype = (np.uint16 if top <= np.iinfo(np.uint16).max else np.uint32 if top <= np.iinfo(np.uint32).max
                 else np.uint64)     # an id over 2**32 written as uint32 became another object's number
        data = np.stack(stack).astype(dtype)
        with atomic_path(targets[file], suffix=".tif") as tmp:
            tifffile.imwrite(tmp, data[0] if len(data) == 1 else data, photometric="minisblack",
                             compression="zlib", metadata={"axes": "YX" if len(data) == 1 else "QYX"})
        written.append(Path(targets[file]))
    return written


def _skip(skipped: Optional[list], file: str, exc: DdridError, what: str, partial: bool = False) -> None:
    """Note an image that could not be read again for an export (the rest of the export goes on)."""
    from .images import BadFile

    if skipped is not None:
        skipped.append(BadFile(file, f"{exc.reason or exc}; {what}", partial=partial))
