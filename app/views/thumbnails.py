"""Gallery thumbnails: the display contrast of patches (never the model's input) and an LRU cache of them.

Display contrast is for the eye only: the patches the model sees are untouched.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtGui import QImage

from ddrcore.io.report import display_u8

from ..document.table import PatchTable

CONTRAST_MODES = ("patch", "file", "fixed")
CONTRAST_LABELS = {"patch": "Per patch", "file": "Per file", "fixed": "Fixed range"}


def _percentiles(images: np.ndarray, low: float = 1.0, high: float = 99.0, limit: int = 200_000):
    """(lo, hi) per channel over ``images`` (N, C, S, S), from at most ``limit`` pixels a channel."""
    flat = np.moveaxis(np.asarray(images, np.float32), 1, 0).reshape(images.shape[1], -1)
    if flat.shape[1] > limit:
        flat = flat[:, :: flat.shape[1] // limit + 1]
    lo, hi = np.percentile(flat, [low, high], axis=1)
    return lo, hi


#: Object crops: the display's white point is this percentile of the objects' own bright levels.
OBJECT_WHITE = 75.0


def robust_range(images: np.ndarray, objects: bool, limit: int = 200_000):
    """(lo, hi) per channel for a shared display range that a few saturated objects do not set.

    Over all pixels, the top 1 % of a field of nuclei belongs to its few
    saturated ones, and every other nucleus was drawn nearly black.  For object
    crops each crop's own bright level (its 99.5th percentile) is taken, and the
    white point is the 75th percentile of those: a quarter of the objects reach
    white, the saturated ones clip, the rest keep their contrast.  Grid tiles
    (mostly background where objects are sparse) keep 1-99 % of the pixels.
    """
    images = np.asarray(images, np.float32)
    lo, hi = _percentiles(images, 1.0, 99.0, limit)
    if objects and len(images) >= 4:
        step = max(1, len(images) // 2000)      # the bright levels of at most ~2,000 crops
        sub = images[::step]
        tops = np.percentile(sub.reshape(len(sub), sub.shape[1], -1), 99.5, axis=2)     # (N, C)
        hi = np.percentile(tops, OBJECT_WHITE, axis=0)
    hi = np.where(hi > lo, hi, lo + 1.0)
    return lo, hi


def stretch_u8(patch: np.ndarray, lo, hi) -> np.ndarray:
    """One raw patch (C, S, S) to uint8 (S, S) or (S, S, 3) between per-channel ``lo`` and ``hi``."""
    x = np.asarray(patch, np.float32)
    rgb = x.shape[0] == 3
    x = x if rgb else x[:1]
    lo = np.asarray(lo, np.float32)[: x.shape[0], None, None]
    hi = np.asarray(hi, np.float32)[: x.shape[0], None, None]
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    out = (np.clip((x - lo) / span, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.moveaxis(out, 0, -1) if rgb else out[0]


class ThumbnailCache:
    """uint8 display images by patch index, least recently used dropped first."""

    def __init__(self, table: PatchTable, capacity: int = 4000):
        self.table = table
        self.capacity = capacity
        self.mode = "file"
        self._items: "OrderedDict[int, QImage]" = OrderedDict()
        self._ranges: dict = {}     # file path (or None for "fixed") -> (lo, hi) per channel
        self._by_file = None        # (table size, {path: patch indices}), built on first use
        self._n = 0

    def __len__(self) -> int:
        """Thumbnails held now (at most ``capacity``)."""
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self._ranges.clear()
        self._by_file = None

    def set_mode(self, mode: str) -> None:
        if mode not in CONTRAST_MODES:
            raise ValueError(f"contrast mode must be one of {CONTRAST_MODES}, got {mode!r}")
        self.mode = mode
        self.clear()

    def display(self, i: int) -> np.ndarray:
        """Patch ``i`` as uint8 in the current contrast mode."""
        t = self.table
        if self.mode == "patch":
            return display_u8(t.images[i])[0]
        key = t.sources[i].path if self.mode == "file" else None
        rng = self._ranges.get(key)
        if rng is None:
            if key is None:
                idx = slice(None)
            else:
                if self._by_file is None or self._by_file[0] != len(t):
                    files: dict = {}
                    for j, src in enumerate(t.sources):
                        files.setdefault(src.path, []).append(j)
                    self._by_file = (len(t), files)
                idx = np.asarray(self._by_file[1].get(key, [i]), np.int64)
            rng = self._ranges[key] = robust_range(t.images[idx], t.is_objects)
        return stretch_u8(t.images[i], *rng)

    def get(self, i: int) -> QImage:
        if self.mode != "patch" and self._n != len(self.table):
            self.clear()   # more patches: shared ranges (per file, fixed) are computed again
            self._n = len(self.table)
        img = self._items.get(i)
        if img is not None:
            self._items.move_to_end(i)
            return img
        pix = self.display(i)
        if pix.ndim == 3:
            img = QImage(np.ascontiguousarray(pix).data, pix.shape[1], pix.shape[0], 3 * pix.shape[1],
                         QImage.Format.Format_RGB888).copy()
        else:
            # .copy() detaches the QImage from the numpy buffer, which is freed after this call.
            img = QImage(np.ascontiguousarray(pix).data, pix.shape[1], pix.shape[0], pix.shape[1],
                         QImage.Format.Format_Grayscale8).copy()
        self._items[i] = img
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return img
