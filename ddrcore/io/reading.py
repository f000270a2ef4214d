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
from .bounded import Limit, open_regular

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
    """Bytes of memory this process can still get (0 if unknown).

    The machine's available RAM, but also what ``ulimit -v`` and a cgroup
    (container, SLURM job) leave: the least of them is what an allocation meets.
    """
    from .bounded import usable_memory

    return usable_memory()


#: Memory one image file may cost: its decoded pages plus the patches cut from them (estimated from the
#: header, before anything is decoded).  A small compressed file that inflates to gigabytes is refused here.
IMAGE_BYTES = Limit("memory per image file, decoded pages and their patches", "DDRID_MAX_IMAGE_BYTES", 2 * 2**30)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def _check_page_size(path, height: int, width: int, planes: int = 1, itemsize: int = 1, channels: int = 1) -> None:
    """Refuse a page over the pixel limit (from header sizes, before decoding)."""
    pixels = int(height) * int(width)
    if pixels > max_pixels:
        raise ImageReadError(path=path, reason=f"page of {width} x {height} = {pixels:,} pixels is over the limit of "
                             f"{max_pixels:,} pixels per page (a decompression bomb?); raise it with --max-pixels "
                             "if the image is real")


def check_decoded_size(path, values: int, itemsize: int, cost: Optional["ReadCost"] = None) -> None:
    """Refuse a file whose decoded ``values`` (and the patches ``cost`` says will be cut from them) would
    take more than :data:`IMAGE_BYTES` or more memory than this process can get: from the header, before
    decoding."""
    decoded = int(values) * int(itemsize)
    extra = int(values * cost.bytes_per_value) if cost is not None else 0
    need = decoded + extra
    what = f"{_gib(decoded)} decoded" + (f" and {_gib(extra)} of patches ({cost.why})" if extra else "")
    fix = cost.fix if cost is not None and extra > decoded else "split the image"
    cap = IMAGE_BYTES.value()
    if need > cap:
        raise ImageReadError(path=path, reason=f"would need {what}, over the limit of {_gib(cap)} "
                             f"({IMAGE_BYTES.what}); {fix}, or {IMAGE_BYTES.hint} if it is real")
    avail = available_memory()
    if avail and need > 0.8 * avail:
        raise ImageReadError(path=path, reason=f"would need {what}, more than this process can get "
                             f"({_gib(avail)} free); {fix}, or free memory")


class ReadCost:
    """What a caller will allocate per decoded value beyond the decoded pages (e.g. overlapping float32
    patches), so that :func:`read_image_groups` refuses a file from its header, not after decoding it."""

    def __init__(self, bytes_per_value: float, why: str, fix: str):
        self.bytes_per_value = float(bytes_per_value)
        self.why = why
        self.fix = fix


# TIFF ExtraSamples values meaning alpha (associated, unassociated).
_ALPHA_SAMPLES = (1, 2)


def _read_tiff_groups(path: Path, fh, cost: Optional[ReadCost] = None) -> List[np.ndarray]:
    """Read every image series of a TIFF, each as (planes, Y, X, C).

    Multi-position files (e.g. OME-TIFF with one series per well) hold several
    series, possibly of different sizes; each becomes its own group of pages.
    """
    import tifffile

    groups = []
    with tifffile.TiffFile(fh) as tf:
        if not tf.series:
            raise ImageReadError(path=path, reason="TIFF holds no image data")
        # Every series is sized from the header first, and the whole file checked, before one is decoded.
        total, itemsize = 0, 1
        for series in tf.series:
            axes, shape = series.axes, tuple(series.shape)
            if "Y" in axes and "X" in axes and len(axes) == len(shape):
                h, w = shape[axes.index("Y")], shape[axes.index("X")]
            elif len(shape) >= 2:
                h, w = shape[-2], shape[-1]
            else:
                h, w = (shape[0] if shape else 0), 1
            n_values = int(np.prod(shape, dtype=np.float64)) if shape else 0
            _check_page_size(path, h, w)
            total += n_values
            itemsize = max(itemsize, np.dtype(series.dtype).itemsize)
        check_decoded_size(path, total, itemsize, cost)
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


def _read_other(path: Path, fh, cost: Optional[ReadCost] = None) -> np.ndarray:
    """PNG/JPEG via imageio, as (1, Y, X, C) at stored depth (8 or 16 bit)."""
    import imageio.v3 as iio
    from PIL import Image

    # The header alone gives the size: refuse a bomb before decoding it.
    with Image.open(fh) as im:
        w, h = im.size
        bands = len(im.getbands())
    _check_page_size(path, h, w)
    check_decoded_size(path, int(h) * int(w) * bands, 2, cost)
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels   # our limit, checked above, is the one that counts
    fh.seek(0)
    arr = np.asarray(iio.imread(fh, extension=path.suffix.lower()))
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


def read_image_groups(path: Union[str, os.PathLike], cost: Optional[ReadCost] = None) -> List[np.ndarray]:
    """Read an image file as groups of (planes, Y, X, C) at native dtype (one per TIFF series).

    The file is opened once and checked on its descriptor (a regular file;
    a FIFO or device is refused, never waited on), and its decoded size, plus
    what ``cost`` says the caller will cut from it, is checked from the
    header before decoding.  Raises :class:`ImageReadError` with a one-line,
    user-facing reason.
    """
    path = Path(path)
    fh = open_regular(path, "image file", None, ImageReadError,
                      missing="the file is gone (deleted or moved after it was listed); skipped")
    try:
        if os.fstat(fh.fileno()).st_size == 0:
            raise ImageReadError(path=path, reason="file is empty (0 bytes)")
        if path.suffix.lower() in TIFF_SUFFIXES:
            groups = _read_tiff_groups(path, fh, cost)
        elif path.suffix.lower() in MICROSCOPE_SUFFIXES:
            from .formats import read_bioio_groups

            groups = read_bioio_groups(path, _check_page_size)
        else:
            groups = [_read_other(path, fh, cost)]
    except ImageReadError:
        raise
    except PermissionError:
        raise ImageReadError(path=path, reason="permission denied; check that the file is readable") from None
    except MemoryError:
        raise ImageReadError(path=path, reason="not enough memory to decode it; free memory or split the image") from None
    except Exception as exc:  # any decoder failure means "this file is unusable"
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(path=path, reason=f"not a readable image ({msg[:120]}); is the file truncated or corrupt?") from None
    finally:
        fh.close()
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
        raise ImageReadError(path=path, reason=f"has {c} different channels; choose one (--channel 0..{c - 1}) "
                             "or all (--channel all)")
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


def check_values(path, finite: Sequence[np.ndarray]) -> None:
    """Refuse, in one line naming ``path``, an image whose values cannot give patches.

    ``finite``: its finite values (one array per group of pages).  Refused:
    no finite value, one value everywhere, or values beyond what float32
    patches hold, either all below its smallest normal number or mostly past
    its largest (a few such pixels only cost the patches that hold them).

    Examples
    --------
    >>> try:
    ...     check_values("a.tif", [np.array([0.0, 1e300, 2e300])])
    ... except ImageReadError as e:
    ...     print(e.reason[:48])
    its values reach 2e+300, past the 3.4e+38 that p
    >>> check_values("a.tif", [np.array([0.0, 1.0, 2.0, 1e300])])   # one hot pixel: its patch is dropped later
    """
    if not any(v.size for v in finite):
        raise ImageReadError(path=path, reason="every pixel is NaN or infinite")
    lo = min(float(v.min()) for v in finite if v.size)
    hi = max(float(v.max()) for v in finite if v.size)
    if lo == hi:
        raise ImageReadError(path=path, reason=f"image is constant (every pixel = {lo:g}); nothing to learn or score")
    top = max(abs(lo), abs(hi))
    what = None
    if top < _FLOAT32_TINY:
        what = f"its largest value is {top:.3g}, under the {_FLOAT32_TINY:.3g} that patches (32-bit float) can tell apart"
    elif top > _FLOAT32_MAX and np.median(np.abs(np.concatenate([v.ravel() for v in finite]))) > _FLOAT32_MAX:
        what = f"its values reach {top:.3g}, past the {_FLOAT32_MAX:.3g} that patches (32-bit float) can hold"
    if what:
        raise ImageReadError(path=path, reason=f"{what}; rescale the image (e.g. in Fiji: Process > Math > "
                                               "Multiply) and save it again")


#: The largest value and the smallest normal magnitude a float32 patch holds.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)
