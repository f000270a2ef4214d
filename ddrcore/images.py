"""Find image files, read them at native bit depth, and cut them into patches.

Rules (documented in README "Images and patches"):

* Folders are searched recursively for ``.tif``/``.tiff``/``.png``/``.jpg``/
  ``.jpeg``; files are sorted by path so every run sees the same order.
* TIFFs are read with tifffile at their stored dtype (8/16/32-bit int, float).
  Every plane that is not Y, X or a channel axis (pages, Z, T, ...) becomes its
  own "page"; each page is cut into patches.
* Channels: ``channel=None`` accepts single-channel images, and multichannel
  images whose channels are all equal (grey saved as RGB).  Other multichannel
  images need ``channel=k`` (one channel) or ``channel="all"`` (all channels,
  for a multi-channel model).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

import numpy as np

from .errors import ImageReadError, NoUsableImagesError
from .progress import Clock, Job, Progress

TIFF_SUFFIXES = (".tif", ".tiff")
IMAGE_SUFFIXES = TIFF_SUFFIXES + (".png", ".jpg", ".jpeg")

Channel = Union[None, int, str]


@dataclass(frozen=True)
class PatchSource:
    """Where a patch came from: file, page (plane index), top-left y, x."""

    path: str
    page: int
    y: int
    x: int


@dataclass(frozen=True)
class BadFile:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class PatchSet:
    """Patches as float32 (N, C, S, S) at native intensity, with their origin."""

    images: np.ndarray
    sources: List[PatchSource]
    bad: List[BadFile] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sources)

    @staticmethod
    def empty(channels: int, size: int) -> "PatchSet":
        return PatchSet(np.zeros((0, channels, size, size), np.float32), [])

    @staticmethod
    def concat(sets: Sequence["PatchSet"]) -> "PatchSet":
        sets = [s for s in sets if s is not None]
        if not sets:
            raise ValueError("nothing to concatenate")
        return PatchSet(
            np.concatenate([s.images for s in sets]),
            [src for s in sets for src in s.sources],
            [b for s in sets for b in s.bad],
        )

    def subset(self, index) -> "PatchSet":
        index = np.asarray(index, dtype=np.int64)
        return PatchSet(self.images[index], [self.sources[i] for i in index], list(self.bad))


def find_images(paths: Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]) -> List[Path]:
    """Image files under the given folders/files, recursively, sorted by path.

    Raises :class:`NoUsableImagesError` for a path that does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(
                f for f in sorted(p.rglob("*"))
                if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
                # Hidden files and folders (.ipynb_checkpoints, ._ files from macOS) are not data.
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.is_file():
            found.append(p)
        else:
            raise NoUsableImagesError(f"{p}: no such file or folder; check the path")
    # A file named twice (folder + file) is read once.
    seen, unique = set(), []
    for f in found:
        key = os.path.abspath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


# TIFF ExtraSamples values meaning alpha (associated, unassociated).
_ALPHA_SAMPLES = (1, 2)


def _read_tiff_groups(path: Path) -> List[np.ndarray]:
    """Read every image series of a TIFF, each as (planes, Y, X, C).

    Multi-position files (e.g. OME-TIFF with one series per well) hold several
    series, possibly of different sizes; each becomes its own group of pages.
    """
    import tifffile

    groups = []
    with tifffile.TiffFile(path) as tf:
        if not tf.series:
            raise ImageReadError(f"{path}: TIFF holds no image data")
        for series in tf.series:
            planes = _to_planes(series.asarray(), series.axes)
            extra = tuple(getattr(series.keyframe, "extrasamples", ()) or ())
            n_alpha = sum(1 for e in extra if e in _ALPHA_SAMPLES)
            if n_alpha and planes.shape[-1] > n_alpha:
                # Alpha carries no fluorescence signal.
                planes = planes[..., : planes.shape[-1] - n_alpha]
            groups.append(planes)
    return groups


def _to_planes(arr: np.ndarray, axes: str) -> np.ndarray:
    """Reorder an array with tifffile axis letters to (planes, Y, X, C)."""
    if arr.ndim != len(axes):
        axes = axes[-arr.ndim:] if len(axes) > arr.ndim else "Q" * (arr.ndim - len(axes)) + axes
    if "Y" not in axes or "X" not in axes:
        # Unknown layout: take the last two axes as the image plane.
        axes = "Q" * (arr.ndim - 2) + "YX"
    chan_axes = [i for i, a in enumerate(axes) if a in "CS"]
    # Several channel-like axes (rare, e.g. C and S): keep S as channel, fold C into planes.
    chan = chan_axes[-1] if chan_axes else None
    y, x = axes.index("Y"), axes.index("X")
    rest = [i for i in range(arr.ndim) if i not in (y, x, chan)]
    order = rest + [y, x] + ([chan] if chan is not None else [])
    arr = np.transpose(arr, order)
    if chan is None:
        arr = arr[..., None]
    planes = int(np.prod(arr.shape[:-3])) if arr.ndim > 3 else 1
    return arr.reshape((planes,) + arr.shape[-3:])


def _read_other(path: Path) -> np.ndarray:
    """PNG/JPEG via imageio, as (1, Y, X, C) at stored depth (8 or 16 bit)."""
    import imageio.v3 as iio

    arr = np.asarray(iio.imread(path))
    if arr.ndim == 2:
        arr = arr[..., None]
    elif arr.ndim != 3:
        raise ImageReadError(f"{path}: unexpected image shape {arr.shape}")
    if arr.shape[-1] in (2, 4):
        # Grey+alpha or RGB+alpha: alpha carries no fluorescence signal.
        arr = arr[..., :-1]
    return arr[None]


def read_planes(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an image file's first series as (planes, Y, X, C) at its native dtype."""
    return read_image_groups(path)[0]


def read_image_groups(path: Union[str, os.PathLike]) -> List[np.ndarray]:
    """Read an image file as groups of (planes, Y, X, C) at native dtype (one per TIFF series).

    Raises :class:`ImageReadError` with a one-line, user-facing reason.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot open ({exc.strerror or exc}); check the path and permissions") from None
    if size == 0:
        raise ImageReadError(f"{path}: file is empty (0 bytes)")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            groups = _read_tiff_groups(path)
        else:
            groups = [_read_other(path)]
    except ImageReadError:
        raise
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied; check that the file is readable") from None
    except Exception as exc:  # any decoder failure means "this file is unusable"
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(f"{path}: not a readable image ({msg[:120]}); is the file truncated or corrupt?") from None
    out = []
    for planes in groups:
        if planes.size == 0 or planes.shape[1] == 0 or planes.shape[2] == 0:
            raise ImageReadError(f"{path}: image has no pixels (shape {planes.shape[1:3]})")
        if planes.dtype.kind == "c":
            raise ImageReadError(f"{path}: complex-valued images are not supported")
        out.append(planes.astype(np.uint8) if planes.dtype.kind == "b" else planes)
    return out


def select_channels(planes: np.ndarray, channel: Channel, path: Union[str, Path] = "") -> np.ndarray:
    """Pick channels from (planes, Y, X, C) according to the documented rule."""
    c = planes.shape[-1]
    if channel is None:
        if c == 1:
            return planes
        first = planes[..., :1]
        if np.array_equal(np.broadcast_to(first, planes.shape), planes):
            # Grey stored as RGB: all channels equal, nothing is lost.
            return first
        raise ImageReadError(
            f"{path}: has {c} different channels; choose one (--channel 0..{c - 1}) or all (--channel all)"
        )
    if channel == "all":
        return planes
    try:
        k = int(channel)
    except (TypeError, ValueError):
        raise ImageReadError(f"{path}: channel must be an index or 'all', got {channel!r}") from None
    if not -c <= k < c:
        raise ImageReadError(f"{path}: has {c} channel(s); channel {k} does not exist")
    return planes[..., k : k + 1] if k >= 0 else planes[..., [k]]


def read_page(path: Union[str, os.PathLike], page: int, channel: Channel = None) -> np.ndarray:
    """One whole page (Y, X, C) at native dtype, numbered as in :class:`PatchSource`.

    Pages count across all series of a TIFF, and channels are selected by the
    same rule as the patches, so a patch's (y, x) lands on the page it was cut from.
    """
    return page_of(read_image_groups(path), page, channel, path)


def page_of(groups: Sequence[np.ndarray], page: int, channel: Channel = None,
            path: Union[str, os.PathLike] = "") -> np.ndarray:
    """:func:`read_page` on groups already read with :func:`read_image_groups`."""
    first = 0
    for group in groups:
        if page < first + group.shape[0]:
            return select_channels(group[page - first : page - first + 1], channel, path)[0]
        first += group.shape[0]
    raise ImageReadError(f"{path}: has {first} page(s); page {page} does not exist (was the file changed?)")


def tile_origins(length: int, patch: int) -> List[int]:
    """Top-left offsets covering ``length`` with tiles of ``patch``; last tile shifted inwards."""
    if length <= patch:
        return [0]
    starts = list(range(0, length - patch + 1, patch))
    if starts[-1] + patch < length:
        starts.append(length - patch)
    return starts


def pad_to(img: np.ndarray, size: int) -> np.ndarray:
    """Pad (Y, X, C) symmetrically to at least size x size by repeating edge pixels."""
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


def patches_from_planes(
    planes: np.ndarray, path: str, patch_size: int, input_size: int
) -> tuple[np.ndarray, List[PatchSource], int]:
    """Cut (planes, Y, X, C) into patches; returns (N,C,S,S) float32, sources, dropped-NaN count."""
    out, sources, dropped = [], [], 0
    for p in range(planes.shape[0]):
        img = pad_to(planes[p], patch_size)
        for y in tile_origins(img.shape[0], patch_size):
            for x in tile_origins(img.shape[1], patch_size):
                tile = img[y : y + patch_size, x : x + patch_size]
                tile = np.asarray(tile, dtype=np.float32)
                if not np.isfinite(tile).all():
                    dropped += 1
                    continue
                out.append(np.moveaxis(tile, -1, 0))
                # Coordinates refer to the original image (before padding).
                sources.append(PatchSource(path, p, y, x))
    if not out:
        return np.zeros((0, planes.shape[-1], input_size, input_size), np.float32), [], dropped
    arr = resize_patches(np.stack(out), input_size)
    return arr, sources, dropped


def read_file_patches(
    path: Union[str, os.PathLike], patch_size: int = 32, input_size: Optional[int] = None, channel: Channel = None
) -> tuple[np.ndarray, List[PatchSource], Optional[str]]:
    """All patches of one file, plus a note (without the path) when some were dropped.

    Pages are numbered across all series of a TIFF.  Raises
    :class:`ImageReadError` when the file gives no usable patch.
    """
    input_size = input_size or patch_size
    groups = [select_channels(g, channel, path) for g in read_image_groups(path)]
    if len({g.shape[-1] for g in groups}) > 1:
        raise ImageReadError(f"{path}: its image series have different channel counts; choose one with --channel")
    finite = [g[np.isfinite(g)] if g.dtype.kind == "f" else g.ravel() for g in groups]
    if not any(v.size for v in finite):
        raise ImageReadError(f"{path}: every pixel is NaN or infinite")
    lo = min(float(v.min()) for v in finite if v.size)
    hi = max(float(v.max()) for v in finite if v.size)
    if lo == hi:
        raise ImageReadError(f"{path}: image is constant (every pixel = {lo:g}); nothing to learn or score")
    arrays, sources, dropped, first_page = [], [], 0, 0
    for g in groups:
        arr, src, n_bad = patches_from_planes(g, str(path), patch_size, input_size)
        arrays.append(arr)
        sources.extend(PatchSource(s.path, s.page + first_page, s.y, s.x) for s in src)
        dropped += n_bad
        first_page += g.shape[0]
    if not sources:
        raise ImageReadError(f"{path}: every patch contains NaN or infinite values")
    note = f"{dropped} patch(es) with NaN/Inf values skipped" if dropped else None
    return np.concatenate(arrays), sources, note


def load_patches(
    paths,
    patch_size: int = 32,
    input_size: Optional[int] = None,
    channel: Channel = None,
    expected_channels: Optional[int] = None,
) -> Job[PatchSet]:
    """Read every image under ``paths`` into a :class:`PatchSet` (a job).

    Yields one ``Progress(stage="load")`` per file.  Bad files are skipped and
    listed in ``PatchSet.bad``; raises :class:`NoUsableImagesError` when no
    file gives a patch.  All patches must have one channel count: files with
    another count than ``expected_channels`` (e.g. the model's) are skipped;
    without an expectation the count most files have wins, so one stray file
    never decides for the whole folder.
    """
    input_size = input_size or patch_size
    files = find_images(paths)
    clock = Clock()
    read: List[tuple] = []  # (file, patches, sources)
    bad: List[BadFile] = []
    n = len(files)
    for i, f in enumerate(files):
        try:
            arr, src, note = read_file_patches(f, patch_size, input_size, channel)
            read.append((f, arr, src))
            if note:
                bad.append(BadFile(str(f), note))
        except ImageReadError as exc:
            text = str(exc)
            prefix = f"{f}: "
            bad.append(BadFile(str(f), text[len(prefix):] if text.startswith(prefix) else text))
        done = (i + 1) / n
        yield Progress("load", step=i + 1, steps=n, overall=done, elapsed=clock.elapsed(), eta=clock.eta(done),
                       message=f.name)
    if read:
        counts = [arr.shape[1] for _, arr, _ in read]
        want = expected_channels or max(set(counts), key=lambda c: (counts.count(c), -counts.index(c)))
        kept = [r for r in read if r[1].shape[1] == want]
        for f, arr, _ in read:
            if arr.shape[1] != want:
                bad.append(BadFile(str(f), f"has {arr.shape[1]} channel(s) where {want} are expected; "
                                           "choose one with --channel"))
        read = kept
    if not read:
        where = ", ".join(str(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths))
        detail = f" ({len(bad)} file(s) skipped, e.g. {bad[0]})" if bad else " (no .tif/.tiff/.png/.jpg files found)"
        raise NoUsableImagesError(f"{where}: no usable image{detail}")
    return PatchSet(np.concatenate([arr for _, arr, _ in read]), [s for _, _, src in read for s in src], bad)
