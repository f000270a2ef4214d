"""Read image files at their native bit depth, page by page, within bounded memory.

* TIFFs are read with tifffile at their stored dtype (8/16/32-bit int, float).
  Every plane that is not Y, X or a channel axis (pages, Z, T, ...) becomes its
  own "page".
* Channels: ``channel=None`` accepts single-channel images, and multichannel
  images whose channels are all equal (grey saved as RGB).  Other multichannel
  images need ``channel=k`` (one channel) or ``channel="all"`` (all channels,
  for a multi-channel model).
* Bounded memory: a page (one plane) may hold at most :data:`max_pixels`
  pixels (default Pillow's 89,478,485, about 9459 x 9459; ``--max-pixels`` or
  :func:`set_max_pixels` to change it).  The size is read from the file's
  header (TIFF series shapes, PNG/JPEG headers) before anything is decoded,
  so a small compressed "bomb" is refused in milliseconds.  A file whose
  decoded pages together would not fit in the machine's memory is refused too.

Nothing here cuts patches (:mod:`ddrcore.io.images`) or finds objects
(:mod:`ddrcore.objects`); both build on these readers.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

from ..errors import ImageReadError

TIFF_SUFFIXES = (".tif", ".tiff")
#: CZI, ND2, LIF: read through bioio (the ``formats`` extra, :mod:`ddrcore.io.formats`); found in folders
#: either way, so that without it the user is told what to install rather than seeing nothing.
MICROSCOPE_SUFFIXES = (".czi", ".nd2", ".lif")
IMAGE_SUFFIXES = TIFF_SUFFIXES + (".png", ".jpg", ".jpeg") + MICROSCOPE_SUFFIXES

Channel = Union[None, int, str]

#: Pillow's default decompression-bomb limit (1 GiB of 4-byte pixels / 3).
DEFAULT_MAX_PIXELS = 89_478_485
#: Largest page (pixels per plane) any reader decodes; see :func:`set_max_pixels`.
max_pixels = DEFAULT_MAX_PIXELS


def set_max_pixels(limit: Optional[int]) -> int:
    """Set the per-page pixel limit for every reader (None: the default); returns the previous one."""
    global max_pixels
    previous = max_pixels
    if limit is None:
        limit = DEFAULT_MAX_PIXELS
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"the pixel limit must be a positive integer, got {limit!r}")
    max_pixels = limit
    return previous


def available_memory() -> int:
    """Bytes of memory this machine can give (available RAM where known, else total RAM; 0 if unknown)."""
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


def _check_page_size(path, height: int, width: int, planes: int = 1, itemsize: int = 1, channels: int = 1) -> None:
    """Refuse a page over the pixel limit, or a file whose pages will not fit in memory (from header sizes)."""
    pixels = int(height) * int(width)
    if pixels > max_pixels:
        raise ImageReadError(path=path, reason=f"page of {width} x {height} = {pixels:,} pixels is over the limit of "
                             f"{max_pixels:,} pixels per page (a decompression bomb?); raise it with --max-pixels "
                             "if the image is real")
    need = pixels * int(planes) * int(itemsize) * int(channels)
    avail = available_memory()
    if avail and need > 0.8 * avail:
        raise ImageReadError(path=path, reason=f"its {planes} page(s) need {need / 2**30:.1f} GiB decoded, more than this "
                             f"machine has free ({avail / 2**30:.1f} GiB)")




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
            raise ImageReadError(path=path, reason="TIFF holds no image data")
        for series in tf.series:
            axes, shape = series.axes, tuple(series.shape)
            if "Y" in axes and "X" in axes and len(axes) == len(shape):
                h, w = shape[axes.index("Y")], shape[axes.index("X")]
            elif len(shape) >= 2:
                h, w = shape[-2], shape[-1]
            else:
                h, w = (shape[0] if shape else 0), 1
            n_values = int(np.prod(shape, dtype=np.float64)) if shape else 0
            _check_page_size(path, h, w, max(1, n_values // max(1, h * w)), np.dtype(series.dtype).itemsize)
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
    from PIL import Image

    # The header alone gives the size: refuse a bomb before decoding it.
    with Image.open(path) as im:
        w, h = im.size
        bands = len(im.getbands())
    _check_page_size(path, h, w, 1, 2, bands)
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels   # our limit, checked above, is the one that counts
    arr = np.asarray(iio.imread(path))
    if arr.ndim == 2:
        arr = arr[..., None]
    elif arr.ndim != 3:
        raise ImageReadError(path=path, reason=f"unexpected image shape {arr.shape}")
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
        raise ImageReadError(path=path, reason=f"cannot open ({exc.strerror or exc}); check the path and permissions") from None
    if size == 0:
        raise ImageReadError(path=path, reason="file is empty (0 bytes)")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            groups = _read_tiff_groups(path)
        elif path.suffix.lower() in MICROSCOPE_SUFFIXES:
            from .formats import read_bioio_groups

            groups = read_bioio_groups(path, _check_page_size)
        else:
            groups = [_read_other(path)]
    except ImageReadError:
        raise
    except PermissionError:
        raise ImageReadError(path=path, reason="permission denied; check that the file is readable") from None
    except Exception as exc:  # any decoder failure means "this file is unusable"
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(path=path, reason=f"not a readable image ({msg[:120]}); is the file truncated or corrupt?") from None
    out = []
    for planes in groups:
        if planes.size == 0 or planes.shape[1] == 0 or planes.shape[2] == 0:
            raise ImageReadError(path=path, reason=f"image has no pixels (shape {planes.shape[1:3]})")
        if planes.dtype.kind == "c":
            raise ImageReadError(path=path, reason="complex-valued images are not supported")
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
        raise ImageReadError(path=path, reason=f"channel must be an index or 'all', got {channel!r}") from None
    if not -c <= k < c:
        raise ImageReadError(path=path, reason=f"has {c} channel(s); channel {k} does not exist")
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
    raise ImageReadError(path=path, reason=f"has {first} page(s); page {page} does not exist (was the file changed?)")
