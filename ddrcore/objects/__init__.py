"""Objects, not grid tiles: where the patches of a whole field of view come from.

* :mod:`.patching` — the patch-source settings (:class:`Patching`).
* :mod:`.detect` — find bright objects in a page (``--objects auto``).
* :mod:`.labels` — label images from Cellpose, StarDist, ilastik, CellProfiler.
* :mod:`.points` — centres given by the user in a CSV.
* :mod:`.synthetic` — fields with known objects, for tests and benchmarks.

:class:`ObjectContext` ties them together for one run: it settles the object
size once per folder (estimated when not given) and gives, page by page, the
objects that :func:`ddrcore.io.images.load_patches` cuts patches around.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..errors import DdridError, ImageReadError
from ..progress import Clock, Progress
from .detect import Objects, detect_objects, estimate_object_size
from .labels import LABEL_SUFFIXES, find_label_image, is_label_file, objects_from_labels, read_label_pages
from .patching import MAX_OBJECT_SIZE, MIN_OBJECT_SIZE, SOURCES, Patching, reference_size
from .points import PointsFileError, in_pixels, points_for, read_points, unmatched_line

__all__ = [
    "LABEL_SUFFIXES", "MAX_OBJECT_SIZE", "MIN_OBJECT_SIZE", "SOURCES", "ObjectContext", "Objects", "Patching",
    "PointsFileError", "detect_objects", "estimate_object_size", "find_label_image", "is_label_file",
    "diameter_of", "objects_from_labels", "objects_in_array", "page_objects", "read_points",
]

#: Files sampled to estimate the object size of a folder.
ESTIMATE_SAMPLE = 8
#: Pages of one file tried, in order, for its object size (the first that gives one is used): this many
#: pages with something on them, among at most SIZE_PAGES_SEEN pages (blank ones are cheap to pass over;
#: a stack opening on nine empty frames was refused as "image is constant").
SIZE_PAGES = 32
SIZE_PAGES_SEEN = 256


class ObjectContext:
    """What one run needs to find objects: settings, the points file, and where label images live."""

    def __init__(self, patching: Patching, channel=None, single_image: bool = False, images=None):
        self.patching = patching
        self.channel = channel
        self.single_image = single_image
        self.points = None
        self._estimates: dict = {}     # path -> the image's own object-size estimate (None: none found)
        if patching.source == "points":
            if not patching.points:
                raise DdridError("--objects points needs --points FILE.csv (columns path,y,x)")
            self.points = read_points(patching.points)
            if images is not None:
                self.points.know_images(images)
            if not single_image and not self.points.names_files:
                raise DdridError(path=patching.points, reason=f"these points ({self.points.form}) name no image, and "
                                 "several images are loaded; load the one image they belong to, or use "
                                 "columns path,y,x")
        if patching.source == "labels" and patching.labels_dir and not Path(patching.labels_dir).is_dir():
            raise DdridError(path=patching.labels_dir, reason="no such labels folder; check --labels")

    # --------------------------------------------------------- object size --
    def resolve(self, files: Sequence[Path]):
        """Job: settle the object size (and so the crop side); returns the resolved :class:`Patching`.

        An estimated size (not given by the user) is the folder's reference:
        ``per_image`` is set, so that each image at another magnification is
        cut at its own size (:meth:`Patching.for_image`, in :meth:`for_file`).
        """
        p = self.patching
        if self.points is not None:
            # A points file that matches none of the images would give "no objects" for every file: say why once.
            line = unmatched_line(self.points, p.points, files)
            if line:
                raise DdridError(line)
        if p.object_size is not None or p.is_grid:
            return p
        if p.source == "points":
            if p.patch_size is None:
                raise DdridError("--objects points needs --object-size (the objects' diameter in pixels) "
                                 "or --patch-size")
            return p
        sample = list(files)
        if len(sample) > ESTIMATE_SAMPLE:
            step = len(sample) / ESTIMATE_SAMPLE
            sample = [sample[int(i * step)] for i in range(ESTIMATE_SAMPLE)]
        clock = Clock()
        sizes: List[float] = []
        problems: List[str] = []
        for i, f in enumerate(sample):
            try:
                own = self._sizes_of(f)
                self._estimates[str(f)] = float(np.median(own)) if own else None
                sizes.extend(own)
            except Exception as exc:  # noqa: BLE001 - one odd file must not stop the estimate for the others
                problems.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                # the file is reported again when it is read for its patches
            done = (i + 1) / len(sample)
            yield Progress("objects", step=i + 1, steps=len(sample), overall=done, elapsed=clock.elapsed(),
                           message=f"estimating the object size: {Path(f).name}")
        if not sizes and sample and p.source == "labels" and not any(find_label_image(f, p.labels_dir) for f in sample):
            # Say what is missing, not what could not be done with it: the user has to pair label images.
            where = f"in {p.labels_dir}" if p.labels_dir else "beside the images"
            raise DdridError(f"no label image found {where} for {Path(sample[0]).name}"
                             f"{f' or the other {len(sample) - 1} sampled images' if len(sample) > 1 else ''} "
                             f"(expected e.g. {Path(sample[0]).stem}_labels.tif or {Path(sample[0]).stem}_masks.png); "
                             "give --labels DIR, or use --objects auto to detect the objects")
        if not sizes and sample and len(problems) == len(sample):
            # Every sampled image is unusable: that is the news, not a missing --object-size.
            more = f"; {len(sample) - 1} more sampled, none usable" if len(sample) > 1 else ""
            raise DdridError(f"no usable image to estimate the object size from ({problems[0]}{more})")
        if not sizes:
            what = "label images" if p.source == "labels" else "images"
            why = f" ({problems[0]})" if problems else ""
            raise DdridError(f"could not estimate the object size from the {what}{why}; give --object-size "
                             "(the objects' diameter in pixels)")
        # Per-image estimates when there are several (one per sampled image); the folder's reference is the
        # middle of its largest group of one magnification (reference_size).
        per_image = [self._estimates[str(f)] for f in sample if self._estimates.get(str(f)) is not None] or sizes
        size = float(np.clip(reference_size(per_image), MIN_OBJECT_SIZE, MAX_OBJECT_SIZE))
        self.patching = replace(p.with_object_size(round(size, 1)), per_image=p.patch_size is None)
        return self.patching

    def _sizes_of(self, path) -> List[float]:
        from ..io.reading import check_values, read_image_groups, select_channels

        if self.patching.source == "labels":
            label_path = find_label_image(path, self.patching.labels_dir)
            if label_path is None:
                return []
            lab = read_label_pages(label_path)[0]
            size = diameter_of(objects_from_labels(lab).areas)
            return [] if size is None else [size]
        # The first page that gives an estimate: a stack may open on a blank or dark page (an empty first
        # frame, a channel with nothing in it) and still hold objects on the next.
        checked, tried, seen = [], 0, 0
        for group in read_image_groups(path):
            for index in range(len(group)):
                if tried >= SIZE_PAGES or seen >= SIZE_PAGES_SEEN:
                    break
                seen += 1
                page = select_channels(group[index:index + 1], self.channel, path)[0]
                finite = page[np.isfinite(page)] if page.dtype.kind == "f" else page.ravel()
                if not (finite.size and finite.min() < finite.max()):
                    checked.append(finite[:1])          # blank or all NaN: its one value is all check_values needs
                    continue
                checked.append(finite)
                tried += 1
                est = estimate_object_size(page)
                if est is not None:
                    return [est]
            if tried >= SIZE_PAGES or seen >= SIZE_PAGES_SEEN:
                break
        # A blank, constant or all-NaN image has no objects to size: said as such, not as "give --object-size".
        check_values(path, checked)
        return []

    def for_image(self, path) -> Patching:
        """The settings for one file: the folder's, or its own object size where its magnification differs."""
        p = self.patching
        if not p.per_image or p.patch_size is not None or p.source not in ("auto", "labels"):
            return p
        key = str(path)
        if key not in self._estimates:
            try:
                own = self._sizes_of(path)
            except (DdridError, OSError, ValueError):
                own = []       # the file is reported when it is read for its patches
            self._estimates[key] = float(np.median(own)) if own else None
        return p.for_image(self._estimates[key])

    # --------------------------------------------------------------- pages --
    def for_file(self, path, n_pages: int):
        """A function ``(page_array, page_index) -> Objects`` for one file; its ``notes`` collect problems.

        The function's ``patching`` attribute holds the settings this file is cut with (:meth:`for_image`).
        """
        source = self.patching.source
        file_patching = self.for_image(path)
        labels = None
        if source == "labels":
            label_path = find_label_image(path, self.patching.labels_dir)
            if label_path is None:
                where = self.patching.labels_dir or Path(path).parent
                raise ImageReadError(path=path, reason=f"no label image found (looked in {where} for "
                                     f"{Path(path).stem}_masks.tif, _cp_masks, _labels, -labels, _label, _mask, -mask, "
                                     "_Object Identities, -lbl); add it or leave this image out")
            labels = read_label_pages(label_path)
            if labels.shape[0] < n_pages:
                raise ImageReadError(path=path, reason=f"its label image {label_path.name} has {labels.shape[0]} page(s) "
                                     f"where the image has {n_pages}; use the label image made for this image")
            if not labels.any():
                raise ImageReadError(path=path, reason=f"its label image {label_path.name} has no objects (every pixel 0)")
        context = self

        def objects_of(page: np.ndarray, index: int) -> Objects:
            return context.page(page, index, path, labels, objects_of.notes, file_patching.object_size)

        objects_of.notes = []
        objects_of.patching = file_patching
        p = self.patching
        if (source == "auto" and p.per_image and p.patch_size is None and p.object_size is not None
                and str(path) in self._estimates and self._estimates[str(path)] is None):
            # Cut at the folder's (or the model's) size without a word, nine 90 px nuclei under vignetting gave
            # 81 crops of 48 px.
            objects_of.notes.append(f"its own object size could not be estimated; cut at {p.object_size:g} px "
                                    "like the rest (give --object-size if its objects are another size)")
        if source == "points":
            # Points on pages the file does not have are never asked for page by page: counted here, so that
            # they are not dropped without a word (1-based frame numbers are the usual cause).
            names = self.points.files_for(path)
            beyond = sum(len(pts) for (name, pg), pts in self.points.items() if pg >= n_pages
                         and (name in names if names else name is None and self.single_image))
            if beyond:
                objects_of.notes.append(f"{beyond} point(s) on pages this image does not have (it has {n_pages}, "
                                        "counted from 0) skipped")
        return objects_of

    @staticmethod
    def _say_if_background_is_labelled(lab: np.ndarray, found: Objects, index: int, notes: list) -> None:
        """A label image whose background is not 0 (1, or 255 in an 8-bit mask) makes the background an
        object: over half the page, reaching every edge, masked out of every other crop.  Said, not refused
        (a confluent sheet can be one object); the user knows which it is."""
        if not len(found) or lab.size == 0:
            return
        k = int(np.argmax(found.areas))
        if found.areas[k] <= 0.5 * lab.size:
            return
        oid = found.ids[k]
        edges = (lab[0] == oid).any() and (lab[-1] == oid).any() and (lab[:, 0] == oid).any() and \
            (lab[:, -1] == oid).any()
        if edges:
            notes.append(f"label {oid} covers {100 * found.areas[k] / lab.size:.0f} % of page {index} and reaches "
                         "every edge: if it is the background, the label image needs background 0 "
                         "(e.g. in Fiji: Process > Math > Subtract)")

    def page(self, page: np.ndarray, index: int, path, labels=None, notes: Optional[list] = None,
             object_size: Optional[float] = None) -> Objects:
        """The objects of one (Y, X, C) page, by the run's source (``object_size``: this file's, if not the run's)."""
        source = self.patching.source
        notes = notes if notes is not None else []
        if source == "auto":
            return detect_objects(page, object_size or self.patching.object_size)
        if source == "labels":
            lab = labels[index]
            if lab.shape != page.shape[:2]:
                raise ImageReadError(path=path, reason=f"its label image is {lab.shape[1]} x {lab.shape[0]} px but page "
                                     f"{index} is {page.shape[1]} x {page.shape[0]} px; use the label image "
                                     "made for this image")
            found = objects_from_labels(lab)
            self._say_if_background_is_labelled(lab, found, index, notes)
            return found
        if source == "points":
            pts = points_for(self.points, path, index, self.single_image)
            if self.points.unit != "px" and pts:
                from ..io.metadata import pixel_size_um

                try:
                    pts = in_pixels(self.points, pts, pixel_size_um(path), path)
                except PointsFileError as exc:
                    raise ImageReadError(path=path, reason=exc.reason) from None
            pts = np.array(pts, float).reshape(-1, 2)
            h, w = page.shape[:2]
            inside = (pts[:, 0] >= 0) & (pts[:, 0] <= h - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= w - 1)
            if (~inside).any():
                notes.append(f"page {index}: {int((~inside).sum())} point(s) outside the {w} x {h} image skipped")
            pts = pts[inside]
            return Objects(pts, np.arange(1, len(pts) + 1, dtype=np.int64), np.full(len(pts), np.nan))
        raise ValueError(f"no objects for patch source {source!r}")


def diameter_of(areas) -> Optional[float]:
    """The typical diameter (px) of objects of these areas: that of a disc of their median area.

    Examples
    --------
    >>> round(diameter_of([314.0, 320.0, 300.0]), 1), diameter_of([])
    (20.0, None)
    """
    areas = np.asarray(areas, float)
    areas = areas[np.isfinite(areas)]
    return float(np.sqrt(4 * np.median(areas) / np.pi)) if areas.size else None


def objects_in_array(page: np.ndarray, patching: Patching, labels: Optional[np.ndarray] = None,
                     points: Optional[np.ndarray] = None):
    """The objects of one in-memory page, and the settings resolved for it: ``(Objects, Patching)``.

    The in-memory sibling of :meth:`ObjectContext.page`, for callers that hold
    arrays rather than files (a viewer's layers, a notebook): ``labels`` is the
    page's (Y, X) label image (``source="labels"``), ``points`` (N, 2) object
    centres y, x (``source="points"``); ``auto`` detects.  An object size
    not given is settled as a run over files settles it: measured from the
    label image, else estimated from the page (points too, where the command
    line asks for it: here the page is at hand).  Point ``i`` keeps id
    ``i + 1`` even when points outside the page are left out, so ids map back
    to the caller's rows.
    """
    from ..errors import DdridError

    patching = patching.validate()
    if patching.is_grid:
        raise ValueError("grid tiles are not objects; use ddrcore.io.images.patches_from_planes")
    page = np.asarray(page)
    if page.ndim not in (2, 3):
        raise ValueError(f"expected a (Y, X) or (Y, X, C) page, got shape {page.shape}")
    hw = page.shape[:2]
    objects = None
    if patching.source == "labels":
        if labels is None:
            raise ValueError("objects from labels need the label image")
        labels = np.asarray(labels)
        if labels.shape != hw:
            raise DdridError(f"the label image is {labels.shape[1]} x {labels.shape[0]} px but the image is "
                             f"{hw[1]} x {hw[0]} px; use the labels made for this image")
        if labels.dtype.kind not in "iub" or (labels.size and labels.min() < 0):
            raise DdridError("a label image must hold non-negative whole numbers (object ids)")
        if labels.dtype == np.uint64 and labels.size and int(labels.max()) > np.iinfo(np.int64).max:
            # As for label files (ddrcore.objects.labels): ids travel as int64.
            raise DdridError(f"the label image holds object id {int(labels.max())}, above 2**63 - 1; number the "
                             "objects 1, 2, 3 ... (e.g. skimage.segmentation.relabel_sequential)")
        objects = objects_from_labels(labels)
    elif patching.source == "points":
        pts = np.asarray(points if points is not None else np.zeros((0, 2)), float).reshape(-1, 2)
        inside = np.isfinite(pts).all(1) & (pts[:, 0] >= 0) & (pts[:, 0] <= hw[0] - 1) & (pts[:, 1] >= 0) & (
            pts[:, 1] <= hw[1] - 1)
        keep = np.flatnonzero(inside)
        objects = Objects(pts[keep], (keep + 1).astype(np.int64), np.full(len(keep), np.nan))
    size = patching.object_size
    if patching.patch_size is None and (size is None or patching.per_image):
        own = diameter_of(objects.areas) if patching.source == "labels" else estimate_object_size(page)
        if size is None:
            if own is None:
                what = "the label image has no objects" if patching.source == "labels" else "no objects were found"
                raise DdridError(f"could not estimate the object size ({what}); give the objects' diameter in pixels")
            patching = patching.with_object_size(round(float(np.clip(own, MIN_OBJECT_SIZE, MAX_OBJECT_SIZE)), 1))
        else:
            patching = patching.for_image(own)
    if patching.source == "auto":
        objects = detect_objects(page, patching.object_size or patching.crop_side() / 2)
    return objects, patching


def page_objects(page: np.ndarray, patching: Patching, path, index: int = 0, channel=None) -> Objects:
    """The objects of one page as a run with ``patching`` finds them (for viewers: outlines, maps).

    Object ids match the ``object_id`` of the patches :func:`ddrcore.io.images.load_patches`
    cut with the same (resolved) settings.
    """
    context = ObjectContext(patching, channel=channel, single_image=True)
    return context.for_file(path, index + 1)(page, index)
