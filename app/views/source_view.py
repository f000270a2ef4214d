"""The source-image view: the whole page a patch was cut from, patches outlined.

A field of view is tiled into many patches, and a flagged patch means more
when its surroundings are in sight.  The page is read off the GUI thread
(latest request wins, last page cached) with ddrcore.io.reading.read_page, so
its pixels and channels are exactly those the patches were cut from; display
contrast (percentiles) is separate from the data, as everywhere in ddrid.
Outlines show the selected patch, the patches marked normal and the ones
flagged at the current threshold.  Clicking in the image selects the patch
under the cursor.

For object sources (``auto``, ``labels``) the worker that reads the page also
finds its objects again (ddrcore.objects.page_objects: same ids as the
patches) and their boundaries; each object is outlined in its own colour
(score, or mark / flag), and the anomaly map paints every object's area with
its score, the threshold applied live.  Points and grid patches are drawn as
their crop squares.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..jobs.readers import crop_reader, read_page  # noqa: F401  (crop_reader: the views' users take it here)
from ..jobs.runner import LatestOnly
from .plots import PlotsOnDemand

# Pages larger than this (pixels a side) are shown subsampled: the screen has
# fewer pixels than that anyway, and a full-size texture of a large stitched
# field of view would cost hundreds of MB of video memory.
MAX_DISPLAY_SIDE = 4096
#: Displayed brightness (0..1) above which an outline is drawn in a dark shade of its colour, and that shade.
BRIGHT, DARK_SHADE = 0.75, 0.4

COLOURS = {"normal": "#2ca02c", "flagged": "#d62728", "selected": "#00bcd4", "objects": "#ffd54f"}
# Score colours, low to high (blue, pale yellow, red: ColorBrewer RdYlBu reversed).
SCORE_STOPS = np.array([[49, 54, 149], [116, 173, 209], [254, 224, 144], [244, 109, 67], [165, 0, 38]], float)
HEAT_ALPHA, DIM_ALPHA = 150, 30   # anomaly map: objects at/above the threshold, and below it


@dataclass
class PageData:
    """What the reader hands the view: the page and, for object sources, its objects."""

    page: np.ndarray                        # (Y, X, C) data
    labels: Optional[np.ndarray] = None     # (Y, X) object ids (== PatchSource.object_id), 0 = background
    edges: Optional[np.ndarray] = None      # labels on object boundaries, 0 elsewhere
    note: str = ""                          # why no objects could be found again, if so
    # The object ids behind ``labels`` when it is renumbered 1..N (a label image numbered in the billions
    # would need a colour table as long as its largest id); None: ``labels`` holds the ids themselves.
    ids: Optional[np.ndarray] = None


def block_pick(rgba: np.ndarray, priority: np.ndarray, factor: int) -> np.ndarray:
    """(Y, X, C) image reduced ``factor`` times, each block showing its pixel of highest ``priority`` (Y, X).

    For outlines drawn smaller than their pixels: every block that holds an outline shows one, whole (the
    maxima of the colour channels taken apart mixed a flagged red beside a yellow outline into yellow).
    Edge blocks are padded with priority -1.

    Examples
    --------
    >>> img = np.zeros((5, 5, 4), np.uint8); img[1, :] = (255, 213, 79, 255)   # a 1 px yellow line
    >>> img[2, 0] = (214, 39, 40, 255)                                       # red beside it, first in rank
    >>> rank = (img[..., 3] > 0).astype(int); rank[2, 0] = 3
    >>> small = block_pick(img, rank, 2)
    >>> small.shape, small[1, 0].tolist(), small[0, 1].tolist(), int(small[2, 2, 3])
    ((3, 3, 4), [214, 39, 40, 255], [255, 213, 79, 255], 0)
    """
    if factor <= 1:
        return rgba
    y, x, c = rgba.shape
    py, px = -y % factor, -x % factor
    pr = np.pad(np.asarray(priority), ((0, py), (0, px)), constant_values=-1)
    im = np.pad(rgba, ((0, py), (0, px), (0, 0)))
    ny, nx = pr.shape[0] // factor, pr.shape[1] // factor
    blocks = pr.reshape(ny, factor, nx, factor).transpose(0, 2, 1, 3).reshape(ny, nx, factor * factor)
    pick = blocks.argmax(axis=-1)
    pixels = im.reshape(ny, factor, nx, factor, c).transpose(0, 2, 1, 3, 4).reshape(ny, nx, factor * factor, c)
    return np.take_along_axis(pixels, pick[..., None, None], axis=2)[:, :, 0]


def boundaries(labels: np.ndarray) -> np.ndarray:
    """``labels`` on the pixels where an object meets another value, 0 elsewhere (1-px outlines)."""
    lab = np.asarray(labels)
    edge = np.zeros(lab.shape, bool)
    edge[:-1] |= lab[:-1] != lab[1:]
    edge[1:] |= lab[1:] != lab[:-1]
    edge[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    edge[0, :] = edge[-1, :] = True
    edge[:, 0] = edge[:, -1] = True
    return np.where(edge & (lab > 0), lab, 0)


def score_colours(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(N, 3) uint8 colours for scores between ``lo`` and ``hi``."""
    t = np.clip((np.asarray(values, float) - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    t = np.nan_to_num(t) * (len(SCORE_STOPS) - 1)
    k = np.minimum(t.astype(int), len(SCORE_STOPS) - 2)
    f = (t - k)[:, None]
    return (SCORE_STOPS[k] * (1 - f) + SCORE_STOPS[k + 1] * f).astype(np.uint8)


def _hex(colour: str) -> tuple:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))




def _read(path: str, page: int, channel, patching=None):
    """The page, plus its objects and their boundaries for ``auto``/``labels`` patching (worker thread)."""
    arr = read_page(path, page, channel)
    if patching is None or patching.source not in ("auto", "labels"):
        return PageData(arr)
    from ddrcore.objects import page_objects

    try:
        labels = page_objects(arr, patching, path, page, channel).labels
    except Exception as exc:  # the page still shows, with crop squares instead of outlines
        from ddrcore.errors import DdridError

        return PageData(arr, note=f"objects not shown: {exc.reason if isinstance(exc, DdridError) else exc}")
    if labels is None:
        return PageData(arr)
    from ddrcore.objects.labels import dense_labels

    dense, ids = dense_labels(labels)
    return PageData(arr, dense, boundaries(dense), ids=ids)


def page_reader(parent=None) -> LatestOnly:
    """Reads pages off the GUI thread; request with key = (path, page, channel), args = key + (patching,)."""
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


def outline_path(ys: np.ndarray, xs: np.ndarray, size) -> tuple[np.ndarray, np.ndarray]:
    """Square outlines as one polyline: 5 corners per square, NaN between squares (``size``: one or per square)."""
    ys, xs = np.asarray(ys, float), np.asarray(xs, float)
    size = np.broadcast_to(np.asarray(size, float), ys.shape)[:, None]
    cx = np.array([0, 1, 1, 0, 0, np.nan])
    cy = np.array([0, 0, 1, 1, 0, np.nan])
    return (xs[:, None] + cx * size).ravel(), (ys[:, None] + cy * size).ravel()


class SourceView(PlotsOnDemand, QWidget):
    """One page with its patches outlined; emits ``patchClicked`` with a patch index."""

    patchClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("sourceView")
        self.key: Optional[tuple] = None            # (path, page, channel) on screen
        self.shape: Optional[tuple] = None          # page (Y, X) in pixels
        self.labels: Optional[np.ndarray] = None    # the page's object label image (object sources)
        self._edges: Optional[np.ndarray] = None
        self._step = 1                              # display subsampling of the page
        self._patches = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))   # indices, ys, xs on this page
        self._ids = np.zeros(0, np.int64)           # object id per patch on this page, as the label image numbers it
        self._raw_ids = np.zeros(0, np.int64)       # ... and as the patches do (PatchSource.object_id)
        self._label_ids: Optional[np.ndarray] = None
        self._present = np.zeros(0, np.int64)      # the ids on the page's outlines
        self._n_objects = 0                         # objects on the page
        self._sizes = np.zeros(0)                   # crop side per patch on this page
        self._size = 0
        self._objects_drawn = self._flagged_drawn = 0
        self._heat_drawn = 0
        self.title = QLabel("Select a patch to see the image it was cut from.", objectName="sourceTitle")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._legend = " ".join(f"<span style='color:{COLOURS[k]}'>&#9633; {name}</span>" for k, name in
                                (("selected", "selected"), ("flagged", "flagged"), ("normal", "marked normal")))
        self.legend = QLabel(self._legend + " &nbsp;·&nbsp; click a patch to select it")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.heat_check = QCheckBox("Anomaly map")
        self.heat_check.setObjectName("anomalyMapCheck")
        self.heat_check.setToolTip("Paint each object's (or tile's) score into its area; objects below the "
                                   "threshold are dimmed")
        self.heat_check.toggled.connect(lambda _on: self._redraw())
        self.curves = {}
        self._last = None    # the last set_outlines arguments, for redraws (anomaly map toggle)
        self.layout_ = lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.title)
        row = QHBoxLayout()
        row.addWidget(self.legend, 1)
        row.addWidget(self.heat_check)
        lay.addLayout(row)

    def _build_plots(self, pg) -> None:
        """The page, its overlays and the outlines (pyqtgraph: made when first needed)."""
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(220)
        # Drops go to the main window (files to open), not to this canvas, which would swallow them.
        self.graphics.setAcceptDrops(False)
        self.box = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        # Object sources: the anomaly map and the object outlines are RGBA images over the page.
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.heat_image.setZValue(0.5)
        self.box.addItem(self.heat_image)
        self.outline_image = pg.ImageItem(axisOrder="row-major")
        self.outline_image.setZValue(0.8)
        self.box.addItem(self.outline_image)
        self._outlines: Optional[np.ndarray] = None     # (Y, X, 4) outlines at the shown page's resolution
        self._outline_priority: Optional[np.ndarray] = None   # (Y, X) which outline wins a block (block_pick)
        self._bright: Optional[np.ndarray] = None       # where the shown page is near white
        self._outline_factor = 0
        # Zoomed out, a 1 px outline drawn to fewer screen pixels breaks into dots (nearest sampling drops
        # rows and columns): redrawn at the zoom's own resolution, keeping every outline pixel (block maximum).
        self.box.sigRangeChanged.connect(lambda *_: self._show_outlines())
        # One polyline per kind (NaN-separated squares): thousands of outlines stay one item each.
        for kind, width in (("objects", 1.0), ("normal", 1.5), ("flagged", 2.0), ("selected", 3.0)):
            curve = pg.PlotCurveItem(pen=pg.mkPen(COLOURS[kind], width=width), connect="finite")
            curve.setZValue({"objects": 0.9, "normal": 1, "flagged": 2, "selected": 3}[kind])
            self.box.addItem(curve)
            self.curves[kind] = curve
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self.layout_.insertWidget(1, self.graphics, 1)   # between the title and the legend, as always

    # ------------------------------------------------------------ content --
    def show_message(self, text: str) -> None:
        self.title.setText(text)

    def set_page(self, key: tuple, page) -> None:
        """Show ``page`` for ``key`` = (path, page index, channel): (Y, X, C) data or a :class:`PageData`."""
        self.ensure_plots()
        self.key = key
        data = page if isinstance(page, PageData) or page is None else PageData(page)
        self.labels = None if data is None else data.labels
        self._edges = None if data is None else data.edges
        self._label_ids = None if data is None else data.ids
        # Once per page, not at every redraw (every move of the threshold slider redraws the outlines).
        self._present = np.unique(self._edges) if self._edges is not None else np.zeros(0, np.int64)
        self._n_objects = len(np.unique(self.labels)) - 1 if self.labels is not None else 0
        self._ids = self._dense(self._raw_ids)
        self.outline_image.clear()
        self._outlines = None
        self.heat_image.clear()
        self._objects_drawn = self._heat_drawn = self._flagged_drawn = 0
        if data is None:
            self.image.clear()
            self.shape = None
            if key is None:   # nothing on screen any more: no outlines of the last page either
                self._last = None
                self._patches = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
                for curve in self.curves.values():
                    curve.setData([], [])
            return
        page = data.page
        self.shape = page.shape[:2]
        self._step = max(1, int(np.ceil(max(page.shape[:2]) / MAX_DISPLAY_SIDE)))
        shown = display_image(page)
        # Where the page is drawn near white, outlines are drawn dark (see _draw_object_outlines).
        self._bright = (shown.max(axis=-1) if shown.ndim == 3 else shown) > BRIGHT
        self.image.setImage(shown, levels=(0, 1), autoLevels=False)
        # Subsampled pages are stretched back to full size: outlines stay in page pixels.
        rect = QRectF(0, 0, page.shape[1], page.shape[0])
        self.image.setRect(rect)
        self.box.autoRange(padding=0.02)
        path, index, _channel = key
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        objects = "" if data.labels is None else f", {self._n_objects} objects"
        note = f" <span style='color:#d62728'>({data.note})</span>" if data.note else ""
        self.title.setText(f"<b>{name}</b> — page {index}, {page.shape[1]} × {page.shape[0]} px"
                           f"{'' if page.shape[-1] == 1 else f', {page.shape[-1]} channels'}{objects}{note}")

    def set_outlines(self, indices: np.ndarray, ys: np.ndarray, xs: np.ndarray, size: int,
                     selected: int, flagged: np.ndarray, normal: np.ndarray, object_ids=None, sizes=None,
                     scores=None, score_range=None, objects: bool = False) -> None:
        """Patches of the shown page: their indices, origins, side, and which are flagged / normal.

        For object patches also their ``object_ids`` and crop ``sizes``, and the ``scores`` (NaN where
        unscored) coloured over ``score_range``; ``objects`` draws every crop square where the page has
        no label image (points).
        """
        self.ensure_plots()
        indices = np.asarray(indices, np.int64)
        n = len(indices)
        self._patches, self._size = (indices, np.asarray(ys, float), np.asarray(xs, float)), size
        self._raw_ids = np.zeros(n, np.int64) if object_ids is None else np.asarray(object_ids, np.int64)
        self._ids = self._dense(self._raw_ids)
        self._sizes = np.full(n, float(size)) if sizes is None else np.asarray(sizes, float)
        self._last = (selected, np.asarray(flagged, bool), np.asarray(normal, bool),
                      None if scores is None else np.asarray(scores, float), score_range, objects)
        self._say_if_changed()
        self._say_counts(objects or object_ids is not None)
        self._redraw()

    def _say_counts(self, object_patches: bool) -> None:
        """Where fewer patches than objects come from the page, say so beside the objects' count: the title
        said "118 objects" over a gallery of 97 (the others at the image edge, left out by the border policy,
        or unusable), and nothing said why."""
        if self.labels is None or not object_patches or self.shape is None:
            return
        found = self._n_objects
        cut = len(self._patches[0])
        text = self.title.text()
        marker = " cut into patches"
        if cut < found and marker not in text:
            self.title.setText(text.replace(f", {found} objects", f", {found} objects ({cut}{marker}; the others "
                                            "touch the image edge or hold no usable pixels)", 1))

    def _say_if_changed(self) -> None:
        """Add to the title when the page shown cannot be the one its patches were cut from (the file was
        replaced since it was loaded): a patch centre outside the page."""
        if self.shape is None or not len(self._patches[0]):
            return
        _, ys, xs = self._patches
        cy, cx = ys + self._sizes / 2, xs + self._sizes / 2
        h, w = self.shape
        stale = "changed since it was loaded: its patches lie outside this page; open it again"
        if ((cy < 0) | (cy >= h) | (cx < 0) | (cx >= w)).any() and stale not in self.title.text():
            self.title.setText(self.title.text() + f" <span style='color:#d62728'>({stale})</span>")

    def _dense(self, object_ids: np.ndarray) -> np.ndarray:
        """Object ids as the shown label image numbers them (1..N where it was renumbered; 0: not on it)."""
        ids = self._label_ids
        if ids is None or not len(object_ids):
            return object_ids
        if not len(ids):
            return np.zeros_like(object_ids)
        k = np.minimum(np.searchsorted(ids, object_ids), len(ids) - 1)
        return np.where(ids[k] == object_ids, k + 1, 0)

    def _redraw(self) -> None:
        if self._last is None or not self.plots_built:
            return
        selected, flagged, normal, scores, score_range, objects = self._last
        indices, ys, xs = self._patches
        sizes = self._sizes
        sel = indices == selected
        labelled = self.labels is not None and self.shape is not None and self.labels.shape == tuple(self.shape)
        scale = " &nbsp;·&nbsp; other objects: outline colour = score (blue low, red high)" if labelled else ""
        self.legend.setText(self._legend + scale + " &nbsp;·&nbsp; click a patch to select it")
        if labelled:
            self._draw_object_outlines(sel, flagged, normal, scores, score_range)
        else:
            self.outline_image.clear()
            self._outlines = None
            self._objects_drawn = self._flagged_drawn = 0
        square_kinds = (("selected", sel),) if labelled else \
            (("objects", np.full(len(indices), objects)), ("normal", normal), ("flagged", flagged), ("selected", sel))
        for kind in self.curves:
            mask = dict(square_kinds).get(kind)
            if mask is not None and mask.any():
                x, y = outline_path(ys[mask], xs[mask], sizes[mask])
                self.curves[kind].setData(x, y, connect="finite")
            else:
                self.curves[kind].setData([], [])
        self._draw_heat(flagged, scores, score_range, labelled)

    def _lut(self, n: int) -> np.ndarray:
        return np.zeros((n, 4), np.uint8)

    def _draw_object_outlines(self, sel, flagged, normal, scores, score_range) -> None:
        """Each object's boundary in its colour: score (or yellow unscored), normal, flagged, selected."""
        ids = self._ids
        lut = self._lut(int(max(self.labels.max(), ids.max() if len(ids) else 0)) + 1)
        ok = (ids > 0) & (ids < len(lut))
        lut[ids[ok], :3] = _hex(COLOURS["objects"])
        if scores is not None and score_range is not None:
            scored = ok & ~np.isnan(scores)
            lut[ids[scored], :3] = score_colours(scores[scored], *score_range)
        for kind, mask in (("normal", normal), ("flagged", flagged), ("selected", sel)):
            lut[ids[ok & mask], :3] = _hex(COLOURS[kind])
        lut[ids[ok], 3] = 255
        # Which outline wins where several meet in one block when zoomed out (block_pick): selected over
        # flagged over normal over the rest.
        rank = np.zeros(len(lut), np.int8)
        rank[ids[ok]] = 1
        for level, mask in ((2, normal), (3, flagged), (4, sel)):
            rank[ids[ok & mask]] = level
        step = self._step
        edges = self._edges[::step, ::step]
        rgba = lut[edges]
        priority = rank[edges]
        # Flagged cells get a 3 px red outline: a 1 px one in a score colour was lost among sixty others.
        hot = ids[ok & flagged & ~sel]
        if len(hot):
            ring = np.isin(edges, hot)
            thick = ring.copy()
            thick[1:] |= ring[:-1]
            thick[:-1] |= ring[1:]
            thick[:, 1:] |= ring[:, :-1]
            thick[:, :-1] |= ring[:, 1:]
            rgba[thick] = (*_hex(COLOURS["flagged"]), 255)
            priority[thick] = np.maximum(priority[thick], 3)
        # On near-white pixels (a saturated nucleus and its glow) a yellow or light outline vanished: drawn
        # there in a darker shade of its own colour, it shows on white as on black.
        bright = self._bright
        if bright is not None and bright.shape == rgba.shape[:2]:
            on_white = bright & (rgba[..., 3] > 0)
            rgba[on_white, :3] = (rgba[on_white, :3] * DARK_SHADE).astype(np.uint8)
        self._outlines, self._outline_priority = rgba, priority
        self._outline_factor = 0
        self._show_outlines()
        present = self._present
        self._objects_drawn = int(np.count_nonzero(np.isin(ids[ok], present)))
        self._flagged_drawn = int(np.count_nonzero(np.isin(hot, present)))

    def _show_outlines(self) -> None:
        rgba = self._outlines
        if rgba is None or self.shape is None:
            return
        pixel = self.box.viewPixelSize()        # page pixels per screen pixel, (x, y)
        page_per_screen = max(pixel) if all(np.isfinite(pixel)) else 1.0
        factor = max(1, int(page_per_screen / max(1, self._step)))
        if factor == self._outline_factor:
            return
        self._outline_factor = factor
        self.outline_image.setImage(block_pick(rgba, self._outline_priority, factor), autoLevels=False,
                                    levels=(0, 255))
        self.outline_image.setRect(QRectF(0, 0, self.shape[1], self.shape[0]))

    def _draw_heat(self, flagged, scores, score_range, labelled) -> None:
        """The anomaly map: each object's (tile's) score painted into its area, dim below the threshold."""
        self._heat_drawn = 0
        if not self.heat_check.isChecked() or scores is None or score_range is None or self.shape is None:
            self.heat_image.clear()
            return
        scored = ~np.isnan(scores)
        step = self._step
        if labelled:
            ids = self._ids
            lut = self._lut(int(max(self.labels.max(), ids.max() if len(ids) else 0)) + 1)
            ok = scored & (ids > 0) & (ids < len(lut))
            lut[ids[ok], :3] = score_colours(scores[ok], *score_range)
            lut[ids[ok], 3] = np.where(flagged[ok], HEAT_ALPHA, DIM_ALPHA)
            heat = lut[self.labels[::step, ::step]]
        else:
            # Tiles and point crops: squares, painted in score order so the highest score shows where they overlap.
            h, w = -(-self.shape[0] // step), -(-self.shape[1] // step)
            heat = np.zeros((h, w, 4), np.uint8)
            _idx, ys, xs = self._patches
            colours = score_colours(scores, *score_range)
            for k in np.flatnonzero(scored)[np.argsort(scores[scored])]:
                y0, x0 = max(0, int(ys[k]) // step), max(0, int(xs[k]) // step)
                y1, x1 = int(ys[k] + self._sizes[k]) // step, int(xs[k] + self._sizes[k]) // step
                heat[y0:y1, x0:x1, :3] = colours[k]
                heat[y0:y1, x0:x1, 3] = HEAT_ALPHA if flagged[k] else DIM_ALPHA
            ok = scored
        self.heat_image.setImage(heat, autoLevels=False, levels=(0, 255))
        self.heat_image.setRect(QRectF(0, 0, self.shape[1], self.shape[0]))
        self._heat_drawn = int(np.count_nonzero(ok & flagged))

    def outline_count(self, kind: str) -> int:
        """How many outlines of one kind are drawn (for tests and scripts); ``"objects"``: object outlines
        (boundaries from the label image, else crop squares)."""
        if kind == "objects" and self._objects_drawn:
            return self._objects_drawn
        if kind == "flagged" and self.labels is not None:
            return self._flagged_drawn     # object outlines (the selected one is drawn as selected)
        if kind not in self.curves:     # nothing drawn yet (the plots are made when first needed)
            return 0
        x, _y = self.curves[kind].getData()
        return 0 if x is None else int(np.isnan(x).sum())

    def heat_count(self) -> int:
        """Objects (tiles) painted at full strength in the anomaly map: those at or above the threshold."""
        return self._heat_drawn

    # ------------------------------------------------------------- clicks --
    def patch_at(self, x: float, y: float) -> int:
        """The patch under page pixel (x, y), -1 if none.

        On a label image the object under the cursor wins; elsewhere its crop square, the nearest
        centre where squares overlap.
        """
        idx, ys, xs = self._patches
        if self.labels is not None and self.shape is not None and len(idx):
            r, c = int(np.floor(y)), int(np.floor(x))
            if 0 <= r < self.labels.shape[0] and 0 <= c < self.labels.shape[1]:
                hit = np.flatnonzero(self._ids == self.labels[r, c]) if self.labels[r, c] > 0 else []
                if len(hit):
                    return int(idx[hit[0]])
        s = self._sizes if len(self._sizes) == len(idx) else np.full(len(idx), float(self._size))
        inside = (xs <= x) & (x < xs + s) & (ys <= y) & (y < ys + s)
        if not inside.any():
            return -1
        cand = np.flatnonzero(inside)
        d = (xs[cand] + s[cand] / 2 - x) ** 2 + (ys[cand] + s[cand] / 2 - y) ** 2
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
