"""Reading a page or a crop of an image file off the GUI thread, for the views (latest request wins).

Each reader keeps the last file it read (its pages decoded once), checked by
modification time and size, so walking through the patches of one field
reads it once.  Pixels are exactly those the patches were cut from
(ddrcore.io.reading); display contrast is the views' business.
"""
from __future__ import annotations

import os

import numpy as np

from .runner import JobFailed, LatestOnly


class _LastFile:
    """The last file one reader decoded: its page groups, keyed by path, mtime and size."""

    def __init__(self):
        self.stamp = None
        self.groups = None

    def page(self, path: str, page: int, channel):
        from ddrcore.io.reading import page_of, read_image_groups

        st = os.stat(path)
        stamp = (path, st.st_mtime_ns, st.st_size)
        if self.stamp != stamp:
            self.stamp = self.groups = None       # let the old file go before reading a new one
            self.groups, self.stamp = read_image_groups(path), stamp
        return page_of(self.groups, page, channel, path)


# One each: the page reader and the crop reader run in workers of their own, side by side.
_page_file, _crop_file = _LastFile(), _LastFile()


def read_page(path: str, page: int, channel):
    """One page (Y, X, C) of ``path`` (worker thread); a one-line JobFailed when it cannot be read."""
    try:
        return _page_file.page(path, page, channel)
    except Exception as exc:  # see JobFailed: keep the one-line reason for the view
        from ddrcore.errors import DdridError

        raise JobFailed(str(exc) if isinstance(exc, DdridError) else
                        f"{path}: cannot open ({getattr(exc, 'strerror', None) or exc}); check the path") from None


def read_crop(path: str, page: int, channel, y: int, x: int, size: int) -> np.ndarray:
    """The crop (S, S) of page pixels at (y, x), first channel, native resolution; NaN outside the page."""
    try:
        arr = _crop_file.page(path, page, channel)
    except Exception as exc:  # see JobFailed
        raise JobFailed(f"{path}: cannot read the crop ({exc})") from None
    arr = np.asarray(arr, np.float32)
    arr = arr[..., 0] if arr.ndim == 3 else arr
    out = np.full((size, size), np.nan, np.float32)
    y0, x0 = max(0, y), max(0, x)
    y1, x1 = min(arr.shape[0], y + size), min(arr.shape[1], x + size)
    if y1 > y0 and x1 > x0:
        out[y0 - y: y1 - y, x0 - x: x1 - x] = arr[y0:y1, x0:x1]
    return out


def crop_reader(parent=None) -> LatestOnly:
    """Reads a patch's crop at native resolution off the GUI thread (Detail); key = patch, args as read_crop."""
    return LatestOnly(read_crop, parent)
