"""Find image files and cut them into patches (grid tiles or crops around objects).

Rules (documented in docs/file-formats.md, "Images and patches"):

* Folders are searched recursively for ``.tif``/``.tiff``/``.png``/``.jpg``/
  ``.jpeg``; files are sorted by path so every run sees the same order.
* Files are read at native bit depth by :mod:`ddrcore.io.reading`; each page is
  cut into patches.
* Tiling: an image larger than ``patch_size`` is cut into non-overlapping
  ``patch_size`` squares; the last row/column of tiles is shifted inwards so
  the whole image is covered (the last tiles overlap their neighbours).  An
  image smaller than ``patch_size`` in a dimension is padded symmetrically by
  repeating its edge pixels (no invented structure).  Each patch keeps
  (file, page, y, x) of its top-left corner in the original image.
* Bad files (empty, truncated, not an image, all NaN, constant, unreadable)
  are skipped and reported as :class:`BadFile`; patches that contain NaN/Inf
  are dropped and counted in the report.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, List, Optional, Union

import numpy as np

from ..errors import ImageReadError, NoUsableImagesError, some_of
from ..objects.patching import Patching
from ..progress import Clock, Job, Progress
from .reading import (IMAGE_BYTES, IMAGE_SUFFIXES, Channel, ReadCost, check_values, read_image_groups,
                      select_channels)

@dataclass(frozen=True)
class PatchSource:
    """Where a patch came from: file, page (plane index), top-left y, x of the crop.

    ``object_id`` is the label id (label images), the detection number
    (``auto``, points: 1..N per page) or the tile number (grid: 1..N per
    page); ``center_y``/``center_x`` the object's (or tile's) centre in page
    pixels; ``size`` the crop's side in page pixels; ``area`` (pixels) and
    ``mean_intensity`` (native units) where the source knows the object's
    extent, else NaN.  A patch is identified by (path, page, y, x) alone, as
    in project files.
    """

    path: str
    page: int
    y: int
    x: int
    object_id: int = field(default=0, compare=False)
    center_y: float = field(default=float("nan"), compare=False)
    center_x: float = field(default=float("nan"), compare=False)
    size: int = field(default=0, compare=False)
    area: float = field(default=float("nan"), compare=False)
    mean_intensity: float = field(default=float("nan"), compare=False)
    # Whether the object reaches the page's edge (only part of it is seen).
    touches_border: bool = field(default=False, compare=False)
    # The object's measurements (ddrcore.objects.measure.MEASUREMENTS), empty where its extent is unknown.
    measurements: tuple = field(default=(), compare=False)
    # (y, x) pixel size in µm where the file says it (ddrcore.io.metadata), else None.
    pixel_size: Optional[tuple] = field(default=None, compare=False)
    # What AS_m reads the object's intensities against (ddrcore.objects.measure.against_page): its page's
    # background and typical object intensity (native units), and its CV and centre-over-rim ratio above
    # that background; empty where unknown.  So a field taken at another exposure or camera offset is not
    # "brighter" as a whole (ddrcore.model.cellscore.feature_matrix).
    against_page: tuple = field(default=(), compare=False)


@dataclass(frozen=True)
class BadFile:
    path: str
    reason: str
    # True where the file was used and only some of it left out (patches with NaN, pages without objects).
    partial: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class PatchSet:
    """Patches as float32 (N, C, S, S) at native intensity, with their origin."""

    images: np.ndarray
    sources: List[PatchSource]
    bad: List[BadFile] = field(default_factory=list)
    # How the patches were cut, with an estimated object size filled in.
    patching: Optional["Patching"] = None

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, index) -> "PatchSet":
        index = np.asarray(index, dtype=np.int64)
        return PatchSet(self.images[index], [self.sources[i] for i in index], list(self.bad), self.patching)


def skipped_links(paths: Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]) -> List["BadFile"]:
    """Links under the given folders that :func:`find_images` does not follow, each with why.

    Dangling links (to a missing file) and links to folders (not followed, so
    a link loop cannot make a search endless) are reported, not silently dropped.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: List[BadFile] = []
    for p in map(Path, paths):
        if not p.is_dir():
            continue
        for f in sorted(p.rglob("*")):
            if not f.is_symlink() or any(part.startswith(".") for part in f.relative_to(p).parts):
                continue
            if not f.exists():
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    out.append(BadFile(str(f), "a link to a missing file; skipped"))
            elif f.is_dir():
                out.append(BadFile(str(f), "a linked folder; not followed (give it as an input of its own)"))
    return out


def _image_files(folder: Path) -> List[Path]:
    """Files with an image suffix under ``folder``, recursively, sorted; hidden files and folders
    (.ipynb_checkpoints, ._ files from macOS) are not data."""
    return [f for f in sorted(folder.rglob("*"))
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
            and not any(part.startswith(".") for part in f.relative_to(folder).parts)]


def find_images(paths: Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]) -> List[Path]:
    """Image files under the given folders/files, recursively, sorted by path.

    Raises :class:`NoUsableImagesError` for a path that does not exist.
    """
    from ..objects.labels import is_not_data

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            # Label images (a01_masks.tif, masks/a01.tif ...), masks and class maps other tools wrote
            # describe an image; they are not data themselves.
            found.extend(f for f in _image_files(p) if not is_not_data(f, p))
        elif p.is_file():
            found.append(p)
        elif os.path.lexists(p):
            what = "a dangling link" if p.is_symlink() and not p.exists() else "not a file or folder (a FIFO or device?)"
            raise NoUsableImagesError(path=p, reason=f"is {what}; give an image file or a folder of images")
        else:
            raise NoUsableImagesError(path=p, reason="no such file or folder; check the path")
    # A file named twice (folder + file), or reached twice through a link to it, is read once: the same
    # image twice would be trained on twice and ranked twice.
    seen, unique = set(), []
    for f in found:
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique



def tile_origins(length: int, patch: int, stride: Optional[int] = None) -> List[int]:
    """Top-left offsets covering ``length`` with tiles of ``patch`` every ``stride``; last tile shifted inwards.

    Examples
    --------
    >>> tile_origins(100, 32)
    [0, 32, 64, 68]
    >>> tile_origins(100, 32, stride=16)
    [0, 16, 32, 48, 64, 68]
    >>> tile_origins(20, 32)
    [0]
    """
    if length <= patch:
        return [0]
    starts = list(range(0, length - patch + 1, stride or patch))
    if starts[-1] + patch < length:
        starts.append(length - patch)
    return starts


def pad_to(img: np.ndarray, size: int) -> np.ndarray:
    """Pad (Y, X, C) symmetrically to at least size x size by repeating edge pixels.

    Examples
    --------
    >>> pad_to(np.arange(6).reshape(2, 3, 1), 4)[..., 0]
    array([[0, 1, 2, 2],
           [0, 1, 2, 2],
           [3, 4, 5, 5],
           [3, 4, 5, 5]])
    """
    py = max(0, size - img.shape[0])
    px = max(0, size - img.shape[1])
    if py == 0 and px == 0:
        return img
    return np.pad(img, ((py // 2, py - py // 2), (px // 2, px - px // 2), (0, 0)), mode="edge")


def resize_patches(patches: np.ndarray, size: int) -> np.ndarray:
    """Resize (N, C, S, S) float32 patches to size x size (anti-aliased)."""
    if patches.shape[-1] == size:
        return patches
    from skimage.transform import resize

    n, c = patches.shape[:2]
    out = np.empty((n, c, size, size), np.float32)
    for i in range(n):
        for j in range(c):
            out[i, j] = resize(patches[i, j], (size, size), order=1, anti_aliasing=True, preserve_range=True)
    return out


def _grid_patches(img: np.ndarray, path: str, page: int, side: int, stride: Optional[int]):
    """Tiles of one (Y, X, C) page: (crops, sources)."""
    h, w = img.shape[:2]
    img = pad_to(img, side)
    crops, sources = [], []
    for y in tile_origins(img.shape[0], side, stride):
        for x in tile_origins(img.shape[1], side, stride):
            crops.append(img[y : y + side, x : x + side])
            # Coordinates refer to the original image (before padding); a padded
            # image's tile centre is the image's own centre.
            cy = y + side / 2 if h >= side else h / 2
            cx = x + side / 2 if w >= side else w / 2
            sources.append(PatchSource(path, page, y, x, object_id=len(sources) + 1, center_y=cy, center_x=cx,
                                       size=side))
    return crops, sources


def _object_patches(img: np.ndarray, path: str, page: int, side: int, objects, patching: Patching,
                    unknown: Optional[np.ndarray] = None):
    """One object-true crop per object of one (Y, X, C) page: (crops, sources, objects left out at the border)."""
    from ..objects.crops import neighbour_margin, object_crop, satellites
    from ..objects.measure import against_page, touches_border

    n = len(objects)
    grey = img.astype(np.float64).mean(axis=-1)
    read_against = [()] * n
    if objects.labels is not None and n:
        measured, read_against = against_page(grey, objects.labels, objects.ids, unknown)
        border = touches_border(objects.labels, objects.ids)
    else:
        measured = np.full((n, 0), np.nan)
        # Without an extent, an object touches the border when a disc of its size would.
        r = 0.5 * (patching.object_size or side / 2)
        c = np.asarray(objects.centers, float).reshape(-1, 2)
        h, w = grey.shape
        border = (c[:, 0] < r) | (c[:, 1] < r) | (c[:, 0] > h - 1 - r) | (c[:, 1] > w - 1 - r)
    margin = neighbour_margin(patching.object_size or side / 2)
    crops, sources, left_out = [], [], 0
    for k, ((cy, cx), oid, area) in enumerate(zip(objects.centers, objects.ids, objects.areas)):
        if border[k] and patching.border == "exclude":
            left_out += 1
            continue
        keep = satellites(objects.ids, objects.areas, area) if patching.neighbours == "cells" else None
        # Other objects are masked where their light reaches (their footprint), not only inside their outline.
        masked_by = objects.footprint if objects.footprint is not None else objects.labels
        crop, y0, x0 = object_crop(img, cy, cx, side, masked_by, int(oid), margin,
                                   mask_others=patching.neighbours != "keep", keep=keep)
        crops.append(crop)
        m = measured[k]
        sources.append(PatchSource(path, page, y0, x0, object_id=int(oid), center_y=round(float(cy), 2),
                                   center_x=round(float(cx), 2), size=side, area=float(area),
                                   mean_intensity=float(m[6]) if m.size else float("nan"),
                                   touches_border=bool(border[k]), measurements=tuple(float(v) for v in m),
                                   against_page=tuple(read_against[k]) if m.size else ()))
    return crops, sources, left_out


def patches_from_planes(
    planes: np.ndarray, path: str, patch_size: int, input_size: int, patching: Optional[Patching] = None,
    objects_of=None, first_page: int = 0,
) -> tuple[np.ndarray, List[PatchSource], int, List[str]]:
    """Cut (planes, Y, X, C) into patches.

    Returns (N, C, S, S) float32 patches, their sources, the count of patches
    dropped for NaN/Inf values, and notes on pages that gave no patch.
    ``objects_of(page_array, page_index)`` gives the :class:`~ddrcore.objects.Objects`
    of a page for object sources (see :func:`ddrcore.objects.page_objects`).
    """
    patching = patching or Patching("grid", patch_size=patch_size)
    side = patching.crop_side()
    out, sources, dropped, notes = [], [], 0, []
    # Float32 crops, held twice while stacked, then resized: counted before each page is cut, so that a
    # page with a million objects (a tiny --object-size, a points file of millions) is refused, not cut.
    per_patch = 4 * planes.shape[-1] * (2 * side * side + input_size * input_size)
    budget = patch_budget()
    held = 0
    filled = 0
    for p in range(planes.shape[0]):
        index = p + first_page
        plane, missing = planes[p], None
        if not patching.is_grid and plane.dtype.kind == "f" and not np.isfinite(plane).all():
            # Objects: NaN is "no data" (Fiji's NaN Background leaves it outside every object), not a reason
            # to drop each object whose crop reaches it (0.1 % of such pixels cost 34 of 40 nuclei).
            missing = ~np.isfinite(plane).all(axis=-1)
            plane = _finite_plane(plane)
            filled += int(missing.sum())
        if patching.is_grid:
            h, w = max(side, planes.shape[1]), max(side, planes.shape[2])
            n = len(tile_origins(h, side, patching.stride)) * len(tile_origins(w, side, patching.stride))
        else:
            objects = objects_of(plane, index)
            if missing is not None and objects.labels is not None:
                plane = _unfill_broken_objects(plane, missing, objects.labels)
            n = len(objects)
            if n == 0:
                notes.append(f"page {index}: no objects found")
                continue
        held += n * per_patch
        if held > budget:
            fix = ("use a larger --stride" if patching.stride and patching.stride < side else
                   "use a smaller --patch-size or split the image") if patching.is_grid else \
                "give a larger --object-size (or fewer points), or split the image"
            raise ImageReadError(path=path, reason=f"its patches would need {held / 2**30:.1f} GiB by page {index} "
                                 f"({n:,} patches of {side} px there), over the {budget / 2**30:.1f} GiB one image may "
                                 f"take; {fix}, or {IMAGE_BYTES.hint} if it is real")
        if patching.is_grid:
            crops, srcs = _grid_patches(plane, path, index, side, patching.stride)
        else:
            crops, srcs, _left_out = _object_patches(plane, path, index, side, objects, patching, missing)
            # Objects left out at the border are not problems: that is the policy the user chose.
            if not crops:
                notes.append(f"page {index}: no objects found away from the border")
                continue
        for crop, src in zip(crops, srcs):
            with np.errstate(over="ignore"):      # a value past float32 becomes inf: the tile is dropped below
                tile = np.asarray(crop, dtype=np.float32)
            if not np.isfinite(tile).all():
                dropped += 1
                continue
            out.append(np.moveaxis(tile, -1, 0))
            sources.append(src)
    if filled:
        share = filled / max(1, planes[..., 0].size)
        notes.insert(0, f"{filled:,} NaN or infinite pixel(s) ({100 * share:.2g} %) read as the pixels around them, "
                        "or as the image's lowest value where there are none (a NaN background)")
    if not out:
        return np.zeros((0, planes.shape[-1], input_size, input_size), np.float32), [], dropped, notes
    arr = resize_patches(np.stack(out), input_size)
    return arr, sources, dropped, notes


def _finite_plane(plane: np.ndarray) -> np.ndarray:
    """A (Y, X, C) float plane with its non-finite pixels filled, channel by channel
    (:func:`ddrcore.objects.detect.fill_non_finite`)."""
    from ..objects.detect import fill_non_finite

    return np.stack([fill_non_finite(plane[..., c]) for c in range(plane.shape[-1])], -1).astype(plane.dtype)


#: An object more than this share of whose own pixels were NaN or infinite is not measured or scored: its
#: data is missing, not a few dead pixels (its patch is left out, as a patch with NaN always was).
BROKEN_OBJECT_SHARE = 0.1


def _unfill_broken_objects(plane: np.ndarray, missing: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``plane`` with the filled pixels of objects mostly missing set back to NaN (see BROKEN_OBJECT_SHARE)."""
    # Counted over the ids present (label ids may be sparse and large: a bincount over them is not).
    ids, where = np.unique(np.asarray(labels), return_inverse=True)
    where = where.reshape(missing.shape)
    lost = np.bincount(where[missing], minlength=len(ids))
    broken = (lost > BROKEN_OBJECT_SHARE * np.bincount(where.ravel(), minlength=len(ids))) & (ids != 0)
    if not broken.any():
        return plane
    out = plane.copy()
    out[broken[where] & missing] = np.nan
    return out


def patch_budget() -> int:
    """Bytes the patches of one image file may take: :data:`IMAGE_BYTES`, and at most 80 % of the memory
    this process can still get (measured now, so it shrinks as the run holds more patches)."""
    from .reading import available_memory

    cap = IMAGE_BYTES.value()
    avail = available_memory()
    return int(min(cap, 0.8 * avail)) if avail else cap


def patch_cost(patching: Patching, input_size: int) -> Optional[ReadCost]:
    """Bytes of grid patches per decoded image value, for :func:`read_image_groups`' check before decoding.

    A tile of ``side`` pixels every ``stride`` pixels covers each pixel
    (side / stride)^2 times; tiles are float32, held twice while stacked, then
    resized to ``input_size``.  ``--stride 1`` on a 1024 x 1024 field is
    about a million tiles of 32 x 32: gigabytes, refused before decoding.
    Object crops depend on the objects found, not the header: no estimate.
    """
    if not patching.is_grid:
        return None
    side = patching.crop_side()
    stride = patching.stride or side
    per_value = 4.0 * (side / stride) ** 2 * (2.0 + (input_size / side) ** 2)
    fix = "use a larger --stride" if stride < side else "use a smaller --patch-size or split the image"
    return ReadCost(per_value, f"{side} px tiles every {stride} px", fix)


def patches_from_array(page: np.ndarray, objects, patching: Patching, input_size: Optional[int] = None,
                       name: str = "", page_index: int = 0) -> PatchSet:
    """The object patches of one in-memory page (a viewer's layer, a notebook's array), as a :class:`PatchSet`.

    The in-memory sibling of :func:`read_file_patches`: ``page`` is (Y, X) or
    (Y, X, C) at native depth, ``objects`` and ``patching`` come from
    :func:`ddrcore.objects.objects_in_array`; patches are cut exactly as from a
    file (object-true crops, measurements, the border policy) and resized to
    ``input_size`` (default: as the command line picks for the crop side).
    ``name`` stands in for the file's path in each :class:`PatchSource`.
    Raises :class:`ImageReadError` (one line) when the page gives no patch.
    """
    page = np.asarray(page)
    if page.ndim == 2:
        page = page[..., None]
    if page.ndim != 3:
        raise ValueError(f"expected a (Y, X) or (Y, X, C) page, got shape {page.shape}")
    check_values(name, [page[np.isfinite(page)] if page.dtype.kind == "f" else page.ravel()])
    side = patching.crop_side()
    if input_size is None:
        from ..base import default_input_size

        input_size = default_input_size(side)
    arr, sources, dropped, notes = patches_from_planes(page[None], name, side, input_size, patching,
                                                       lambda _plane, _index: objects, page_index)
    if not sources:
        why = "; ".join(notes) or "every patch contains NaN or infinite values"
        raise ImageReadError(path=name, reason=why.replace(f"page {page_index}: ", ""))
    bad = [BadFile(name, f"{dropped} patch(es) with NaN/Inf values skipped", partial=True)] if dropped else []
    return PatchSet(arr, sources, bad, patching)


def read_file_patches(
    path: Union[str, os.PathLike], patch_size: int = 32, input_size: Optional[int] = None, channel: Channel = None,
    patching: Optional[Patching] = None, context=None,
) -> tuple[np.ndarray, List[PatchSource], Optional[str]]:
    """All patches of one file, plus a note (without the path) when some were dropped or pages were empty.

    Pages are numbered across all series of a TIFF.  ``context`` is an
    :class:`ddrcore.objects.ObjectContext` for object sources.  Raises
    :class:`ImageReadError` when the file gives no usable patch.
    """
    input_size = input_size or patch_size
    patching = patching or Patching("grid", patch_size=patch_size)
    groups = [select_channels(g, channel, path) for g in read_image_groups(path, patch_cost(patching, input_size))]
    if len({g.shape[-1] for g in groups}) > 1:
        raise ImageReadError(path=path, reason="its image series have different channel counts; choose one with --channel")
    check_values(path, [g[np.isfinite(g)] if g.dtype.kind == "f" else g.ravel() for g in groups])
    objects_of = None
    if not patching.is_grid:
        if context is None:
            from ..objects import ObjectContext

            context = ObjectContext(patching)
        objects_of = context.for_file(path, sum(g.shape[0] for g in groups))
        # This file's own settings: its object size where its magnification differs from the folder's.
        patching = getattr(objects_of, "patching", patching)
        patch_size = patching.crop_side()
    check_patch_side(path, groups, patch_size, input_size)
    arrays, sources, dropped, notes, first_page = [], [], 0, [], 0
    for g in groups:
        arr, src, n_bad, page_notes = patches_from_planes(g, str(path), patch_size, input_size, patching, objects_of,
                                                          first_page)
        arrays.append(arr)
        sources.extend(src)
        dropped += n_bad
        notes.extend(page_notes)
        first_page += g.shape[0]
    if objects_of is not None:
        notes.extend(getattr(objects_of, "notes", []))
    if sources:
        from .metadata import pixel_size_um

        # Read once per file (the header only): every patch of the file carries it for the µm columns.
        size = pixel_size_um(path)
        if size is not None:
            sources = [replace(s, pixel_size=size) for s in sources]
    if not sources:
        if notes and not dropped:
            hint = {"points": "the points file lists no point inside this image",
                    "labels": "check the label image"}.get(patching.source, "check --object-size")
            if all("away from the border" in n for n in notes):
                # Objects were found; the border policy left them all out.
                hint = "every object touches the border: --border flag or include keeps them"
            raise ImageReadError(path=path, reason=f"no objects found ({'; '.join(notes[:3])}); {hint}")
        raise ImageReadError(path=path, reason="every patch contains NaN or infinite values")
    if dropped:
        notes.insert(0, f"{dropped} patch(es) with NaN/Inf values skipped")
    return np.concatenate(arrays), sources, ("; ".join(notes[:4]) + (" ..." if len(notes) > 4 else "")) or None


#: A patch side over this many times an image's longer side (and over twice the network's input) is refused
#: for that image: its content would fill under a quarter of each patch, shrunk to a few input pixels.
PATCH_OVER_IMAGE = 4


def check_patch_side(path, groups, patch_size: int, input_size: int) -> None:
    """Refuse, in one line naming ``path``, patches far larger than the image they are cut from.

    A 32 px image cut into 4096 px patches is padded to 4096 px and shrunk
    to the network's input, where it is under a pixel, at seconds a patch.
    A small image in patches near the input's size (a 5 px spot padded to
    32) stays allowed.

    Examples
    --------
    >>> g = [np.zeros((1, 32, 32, 1))]
    >>> check_patch_side("a.tif", g, 64, 32)
    >>> check_patch_side("a.tif", g, 4096, 32)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ddrcore.errors.ImageReadError: a.tif: is 32 x 32 px, far smaller than the 4096 px patches ... (it would fill 1 % ...
    """
    h = max(int(g.shape[1]) for g in groups)
    w = max(int(g.shape[2]) for g in groups)
    if patch_size > PATCH_OVER_IMAGE * max(h, w) and patch_size > 2 * input_size:
        share = max(h, w) / patch_size * 100
        raise ImageReadError(path=path, reason=f"is {w} x {h} px, far smaller than the {patch_size} px patches it "
                             f"would be cut into (it would fill {share:.0f} % of each); give a --patch-size near "
                             "the image's size or its objects'")




def read_error(path: Union[str, os.PathLike], exc: ImageReadError) -> BadFile:
    """How a file that gave no patch is reported: the reason alone when the error is about this file,
    the whole line when it names another (e.g. the file's label image).

    Shared by :func:`load_patches` and the cluster scoring (ddrcore.cluster), so both report alike.
    """
    return BadFile(str(path), exc.reason if exc.path == str(path) else str(exc))


def failed_file(path: Union[str, os.PathLike], exc: BaseException) -> BadFile:
    """The report of a file whose reading failed in an unforeseen way (it vanished, a decoder broke, memory
    ran out): that file is skipped with the reason, and the run goes on with the others.

    Shared by :func:`load_patches` and the cluster tasks (ddrcore.cluster.tasks).
    """
    from ..errors import first_line

    if isinstance(exc, FileNotFoundError):
        return BadFile(str(path), "the file vanished while the run read it; skipped")
    if isinstance(exc, MemoryError):
        return BadFile(str(path), "not enough memory to read it; skipped (free memory, or split the image)")
    return BadFile(str(path), f"could not be read ({type(exc).__name__}: {first_line(exc, 120)}); skipped")


def wrong_channels(path: Union[str, os.PathLike], have: int, want: int) -> BadFile:
    """The report of a file whose patches have ``have`` channels where ``want`` are expected."""
    return BadFile(str(path), f"has {have} channel(s) where {want} are expected; choose one with --channel")


def not_data_files(paths) -> List[Path]:
    """Image files under the folders ``paths`` that :func:`find_images` leaves out by their names (label images,
    masks, class maps), so that a folder holding only those can say so."""
    from ..objects.labels import is_not_data

    folders = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    return [f for p in folders if p.is_dir() for f in _image_files(p) if is_not_data(f, p)]


def unread_label_images(paths) -> List[BadFile]:
    """One line per folder under ``paths`` whose label images a grid or detection run does not read.

    Cellpose or StarDist masks beside the images are left out of the images, rightly; but a user who put them
    there most likely meant the objects to be cut from them, so that is said, not done silently.
    """
    from ..objects.labels import is_label_image

    folders = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    out = []
    for folder in (p for p in folders if p.is_dir()):
        named = [f.relative_to(folder).as_posix() for f in _image_files(folder) if is_label_image(f, folder)]
        if named:
            out.append(BadFile(str(folder), f"{len(named)} label image(s) ({some_of(named, 2)}) were not read as "
                                            "images; to cut one patch per labelled object, "
                                            "use --objects labels (in the app: Annotate ▸ Re-cut Patches, "
                                            "Objects: label images)"))
    return out


def no_usable_images(paths, bad: List[BadFile]) -> NoUsableImagesError:
    """The error when no file under ``paths`` gave a patch (naming the first skipped file, if any)."""
    where = ", ".join(str(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths))
    if bad:
        detail = f" ({len(bad)} file(s) skipped, e.g. {bad[0]})"
    else:
        named = not_data_files(paths)
        shown = some_of([f.name for f in named], 2)
        detail = (f": {len(named)} file(s) here are named like label images, masks or class maps ({shown}) and are "
                  "not read as images; give the folder of the images they belong to, or rename them" if named
                  else " (no .tif/.tiff/.png/.jpg files found)")
    return NoUsableImagesError(path=where, reason=f"no usable image{detail}")


def load_patches(
    paths,
    patch_size: int = 32,
    input_size: Optional[int] = None,
    channel: Channel = None,
    expected_channels: Optional[int] = None,
    patching: Optional[Patching] = None,
) -> Job[PatchSet]:
    """Read every image under ``paths`` into a :class:`PatchSet` (a job).

    Yields one ``Progress(stage="load")`` per file.  Bad files are skipped and
    listed in ``PatchSet.bad``; raises :class:`NoUsableImagesError` when no
    file gives a patch.  All patches must have one channel count: files with
    another count than ``expected_channels`` (e.g. the model's) are skipped;
    without an expectation the count most files have wins, so one stray file
    never decides for the whole folder.

    ``patching`` says how patches are cut (default: grid tiles of
    ``patch_size``).  For object sources without an object size, the size is
    first estimated from the folder (``stage="objects"``); the returned
    ``PatchSet.patching`` holds the settings actually used.
    """
    files = find_images(paths)
    if not files:
        # Said before any object size is estimated, which would otherwise fail first and name the wrong cause.
        raise no_usable_images(paths, skipped_links(paths))
    patching = (patching or Patching("grid", patch_size=patch_size)).validate()
    context = None
    if not patching.is_grid:
        from ..objects import ObjectContext

        context = ObjectContext(patching, channel=channel, single_image=len(files) == 1, images=files)
        patching = yield from context.resolve(files)
    patch_size = patching.crop_side()
    if input_size is None:
        from ..base import default_input_size

        input_size = default_input_size(patch_size)
    clock = Clock()
    read: List[tuple] = []  # (file, patches, sources)
    bad: List[BadFile] = skipped_links(paths)
    if patching.source in ("grid", "auto"):
        bad.extend(unread_label_images(paths))
    n = len(files)
    for i, f in enumerate(files):
        try:
            arr, src, note = read_file_patches(f, patch_size, input_size, channel, patching, context)
            read.append((f, arr, src))
            if note:
                bad.append(BadFile(str(f), note, partial=True))
        except ImageReadError as exc:
            bad.append(read_error(f, exc))
        except Exception as exc:  # noqa: BLE001 - whatever one file does, it costs that file only
            bad.append(failed_file(f, exc))
        done = (i + 1) / n
        yield Progress("load", step=i + 1, steps=n, overall=done, elapsed=clock.elapsed(), eta=clock.eta(done),
                       message=f.name)
    if context is not None and context.points is not None and context.points.names_files:
        # Rows naming an image that was not loaded (a typo, a file left out of the folder) would be dropped
        # without a word whenever other rows match (when none does, ObjectContext.resolve refuses the run).
        from ..objects.points import unloaded_names

        missing = unloaded_names(context.points, files)
        if missing:
            bad.append(BadFile(str(patching.points), f"names {len(missing)} image(s) that were not loaded "
                                                     f"({some_of(missing)}); "
                                                     "their points are left out — check the names or load them"))
    if read:
        counts = [arr.shape[1] for _, arr, _ in read]
        want = expected_channels or max(set(counts), key=lambda c: (counts.count(c), -counts.index(c)))
        kept = [r for r in read if r[1].shape[1] == want]
        bad.extend(wrong_channels(f, arr.shape[1], want) for f, arr, _ in read if arr.shape[1] != want)
        read = kept
    if not read:
        raise no_usable_images(paths, bad)
    return PatchSet(np.concatenate([arr for _, arr, _ in read]), [s for _, _, src in read for s in src], bad,
                    patching)
