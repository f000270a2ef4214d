"""The source-image view: the whole page a patch was cut from, patches outlined.

A field of view is tiled into many patches, and a flagged patch means more
when its surroundings are in sight.  The page is read off the GUI thread
(latest request wins, last page cached) with ddrcore.images.read_page, so
its pixels and channels are exactly those the patches were cut from; display
contrast (percentiles) is separate from the data, as everywhere in ddrid.
Outlines show the selected patch, the patches marked normal and the ones
flagged at the current threshold.  Clicking in the image selects the patch
under the cursor.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .workers import JobFailed, LatestOnly

# Pages larger than this (pixels a side) are shown subsampled: the screen has
# fewer pixels than that anyway, and a full-size texture of a large stitched
# field of view would cost hundreds of MB of video memory.
MAX_DISPLAY_SIDE = 4096

COLOURS = {"normal": "#2ca02c", "flagged": "#d62728", "selected": "#00bcd4"}


# The last file read, whole: walking through a stack page by page then reads
# the file once, not once per page.  Only the PageReader's single worker uses it.
_last_file: dict = {"stamp": None, "groups": None}


def _read(path: str, page: int, channel):
    import os

    from ddrcore.images import page_of, read_image_groups

    try:
        st = os.stat(path)
        stamp = (path, st.st_mtime_ns, st.st_size)
        if _last_file["stamp"] != stamp:
            _last_file.update(stamp=None, groups=None)     # let the old file go before reading a new one
            _last_file.update(groups=read_image_groups(path), stamp=stamp)
        return page_of(_last_file["groups"], page, channel, path)
    except Exception as exc:  # see JobFailed: keep the one-line reason for the view
        from ddrcore.errors import DdridError

        raise JobFailed(str(exc) if isinstance(exc, DdridError) else
                        f"{path}: cannot open ({getattr(exc, 'strerror', None) or exc}); check the path") from None


def page_reader(parent=None) -> LatestOnly:
    """Reads pages off the GUI thread; request with key = args = (path, page, channel)."""
    return LatestOnly(_read, parent)


def display_image(page: np.ndarray) -> np.ndarray:
    """(Y, X, C) data -> what is drawn: grey (first channel) or RGB, scaled to 0..1 by percentiles.

    Three channels are shown as a colour composite, anything else by its
    first channel; each channel is stretched between its 0.5th and 99.5th
    percentile so that one bright spot does not leave the rest black.
    """
    step = max(1, int(np.ceil(max(page.shape[:2]) / MAX_DISPLAY_SIDE)))
    img = np.asarray(page[::step, ::step], np.float32)
    img = img if img.shape[-1] == 3 else img[..., :1]
    out = np.zeros(img.shape, np.float32)
    for c in range(img.shape[-1]):
        ch = img[..., c]
        finite = ch[np.isfinite(ch)]
        if finite.size == 0:
            continue
        lo, hi = np.percentile(finite, [0.5, 99.5])
        hi = hi if hi > lo else lo + 1
        out[..., c] = np.clip((np.nan_to_num(ch, nan=lo) - lo) / (hi - lo), 0, 1)
    return out[..., 0] if out.shape[-1] == 1 else out


def outline_path(ys: np.ndarray, xs: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Square outlines as one polyline: 5 corners per square, NaN between squares."""
    ys, xs = np.asarray(ys, float), np.asarray(xs, float)
    cx = np.array([0, size, size, 0, 0, np.nan])
    cy = np.array([0, 0, size, size, 0, np.nan])
    return (xs[:, None] + cx).ravel(), (ys[:, None] + cy).ravel()


class SourceView(QWidget):
    """One page with its patches outlined; emits ``patchClicked`` with a patch index."""

    patchClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("sourceView")
        self.key: Optional[tuple] = None            # (path, page, channel) on screen
        self.shape: Optional[tuple] = None          # page (Y, X) in pixels
        self._patches = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))   # indices, ys, xs on this page
        self._size = 0
        self.title = QLabel("Select a patch to see the image it was cut from.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        legend = " ".join(f"<span style='color:{COLOURS[k]}'>&#9633; {name}</span>" for k, name in
                          (("selected", "selected"), ("flagged", "flagged"), ("normal", "marked normal")))
        self.legend = QLabel(legend + " &nbsp;·&nbsp; click a patch to select it")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(220)
        self.box = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        # One polyline per kind (NaN-separated squares): thousands of outlines stay one item each.
        self.curves = {}
        for kind, width in (("normal", 1.5), ("flagged", 2.0), ("selected", 3.0)):
            curve = pg.PlotCurveItem(pen=pg.mkPen(COLOURS[kind], width=width), connect="finite")
            curve.setZValue({"normal": 1, "flagged": 2, "selected": 3}[kind])
            self.box.addItem(curve)
            self.curves[kind] = curve
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.title)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.legend)

    # ------------------------------------------------------------ content --
    def show_message(self, text: str) -> None:
        self.title.setText(text)

    def set_page(self, key: tuple, page: Optional[np.ndarray]) -> None:
        """Show ``page`` (Y, X, C data) for ``key`` = (path, page index, channel)."""
        self.key = key
        if page is None:
            self.image.clear()
            self.shape = None
            return
        self.shape = page.shape[:2]
        self.image.setImage(display_image(page), levels=(0, 1), autoLevels=False)
        # Subsampled pages are stretched back to full size: outlines stay in page pixels.
        self.image.setRect(QRectF(0, 0, page.shape[1], page.shape[0]))
        self.box.autoRange(padding=0.02)
        path, index, _channel = key
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        self.title.setText(f"<b>{name}</b> — page {index}, {page.shape[1]} × {page.shape[0]} px"
                           f"{'' if page.shape[-1] == 1 else f', {page.shape[-1]} channels'}")

    def set_outlines(self, indices: np.ndarray, ys: np.ndarray, xs: np.ndarray, size: int,
                     selected: int, flagged: np.ndarray, normal: np.ndarray) -> None:
        """Patches of the shown page: their indices, origins, side, and which are flagged / normal."""
        self._patches, self._size = (np.asarray(indices, np.int64), np.asarray(ys), np.asarray(xs)), size
        sel = np.asarray(indices) == selected
        for kind, mask in (("normal", normal), ("flagged", flagged), ("selected", sel)):
            mask = np.asarray(mask, bool)
            if mask.any():
                x, y = outline_path(ys[mask], xs[mask], size)
                self.curves[kind].setData(x, y, connect="finite")
            else:
                self.curves[kind].setData([], [])

    def outline_count(self, kind: str) -> int:
        """How many squares of one kind are drawn (for tests and scripts)."""
        x, _y = self.curves[kind].getData()
        return 0 if x is None else int(np.isnan(x).sum())

    # ------------------------------------------------------------- clicks --
    def patch_at(self, x: float, y: float) -> int:
        """The patch under page pixel (x, y), -1 if none; nearest centre wins where tiles overlap."""
        idx, ys, xs = self._patches
        s = self._size
        inside = (xs <= x) & (x < xs + s) & (ys <= y) & (y < ys + s)
        if not inside.any():
            return -1
        cand = np.flatnonzero(inside)
        d = (xs[cand] + s / 2 - x) ** 2 + (ys[cand] + s / 2 - y) ** 2
        return int(idx[cand[np.argmin(d)]])

    def _clicked(self, event) -> None:
        if self.shape is None or event.button() != Qt.MouseButton.LeftButton:
            return
        if not self.box.sceneBoundingRect().contains(event.scenePos()):
            return
        p = self.box.mapSceneToView(event.scenePos())
        patch = self.patch_at(p.x(), p.y())
        if patch >= 0:
            self.patchClicked.emit(patch)
