"""The thumbnail gallery: a virtualised list model, a tile painter, the view.

Only visible tiles are ever painted (QListView in IconMode with uniform item
sizes), and a tile's image is rendered the first time it is painted and then
kept in a small LRU cache, so 100,000 patches cost a few numpy arrays, not
100,000 widgets or pixmaps.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from ddrcore.model.score_type import ScoreType
from ddrcore.io.report import display_u8

from ..document.table import EXCLUDED, NORMAL, PatchTable

PatchRole = Qt.ItemDataRole.UserRole + 1

NORMAL_COLOR = QColor("#2ca02c")
FLAG_COLOR = QColor("#d62728")
EXCLUDED_COLOR = QColor("#7f7f7f")
SELECT_COLOR = QColor("#1f77b4")
BORDER_COLOR = QColor("#ff7f0e")

#: Every score a patch may have, in the order tooltips and Detail list them.
SCORE_NAMES = (("cell", "AS_cell"), ("combined", "AS_c"), ("measure", "AS_m"), ("latent", "AS_l"),
               ("recon", "AS_r"), ("residual", "AS_e"))


def score_summary(table: PatchTable, i: int) -> str:
    """One line of every score patch ``i`` has, the ranking one first and named so ("" before scoring)."""
    if table.score_type is None or np.isnan(table.latent[i]):
        return ""
    ranking = table.score_type
    parts = [f"{label} {table.of(key)[i]:.4g}" for key, label in SCORE_NAMES
             if key != ranking and np.isfinite(table.of(key)[i])]
    head = f"{ScoreType.label_of(ranking)} {table.of(ranking)[i]:.4g}"
    if table.marks[i] == EXCLUDED:
        head += " (excluded: not ranked, not counted)"
    else:
        head += " (ranks the patches)"
    return head + ("\n" + ", ".join(parts) if parts else "")


#: Thumbnail contrast: each patch stretched to its own 1-99 %, every patch of a file to the file's robust
#: range (default: empty background stays dark, a few saturated objects do not darken the rest; robust_range),
#: or all patches to one fixed (robust) range.
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


class PatchListModel(QAbstractListModel):
    """Rows are patch indices in the current sort/filter order."""

    def __init__(self, table: PatchTable, parent=None):
        super().__init__(parent)
        self.table = table
        self.order = np.zeros(0, np.int64)
        self.threshold = float("inf")
        self._flagged = np.zeros(0, bool)

    def set_order(self, order: np.ndarray) -> None:
        self.beginResetModel()
        self.order = np.asarray(order, np.int64)
        self.endResetModel()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        self._flagged = self.table.flagged_mask(threshold)

    def refresh_flags(self) -> None:
        self.set_threshold(self.threshold)

    def is_flagged(self, i: int) -> bool:
        return bool(i < len(self._flagged) and self._flagged[i])

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self.order)

    def patch_at(self, row: int) -> int:
        return int(self.order[row])

    def row_of(self, patch: int) -> Optional[int]:
        hits = np.flatnonzero(self.order == patch)
        return int(hits[0]) if len(hits) else None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.order):
            return None
        i = int(self.order[index.row()])
        if role == PatchRole:
            return i
        if role == Qt.ItemDataRole.ToolTipRole:
            s = self.table.sources[i]
            tip = f"{s.path}\npage {s.page}, y {s.y}, x {s.x}"
            if self.table.is_objects:
                tip = (f"{s.path}\npage {s.page}, object {s.object_id} at y {s.center_y:.0f}, x {s.center_x:.0f}"
                       f" ({s.size} px crop)")
            if s.touches_border:
                tip += "\ntouches the image border: only part of the object is seen"
            summary = score_summary(self.table, i)
            if summary:
                tip += "\n" + summary
            elif self.table.marks[i] == EXCLUDED:
                tip += "\nexcluded"
            return tip
        if role == Qt.ItemDataRole.AccessibleTextRole or role == Qt.ItemDataRole.DisplayRole:
            s = self.table.sources[i]
            return f"{Path(s.path).name} #{s.object_id}" if self.table.is_objects else Path(s.path).name
        return None


class TileDelegate(QStyledItemDelegate):
    """Paints one tile: thumbnail, mark border, flag badge, score."""

    def __init__(self, model: PatchListModel, cache: ThumbnailCache, parent=None):
        super().__init__(parent)
        self.model = model
        self.cache = cache
        self.thumb = 64
        self.font = QFont()
        self.font.setPointSizeF(7.5)

    def tile_size(self) -> QSize:
        # Two lines under the thumbnail: the score (or object id) and the file; one line was cut off.
        return QSize(self.thumb + 10, self.thumb + 8 + 2 * QFontMetrics(self.font).height())

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt API)
        return self.tile_size()

    def paint(self, painter: QPainter, option, index) -> None:
        i = index.data(PatchRole)
        if i is None:
            return
        table = self.model.table
        r = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        if selected:
            painter.fillRect(r.adjusted(1, 1, -1, -1), SELECT_COLOR.lighter(160))
        img_rect = QRect(r.x() + 5, r.y() + 4, self.thumb, self.thumb)
        # Nearest-neighbour scaling: microscopists want to see the pixels, not a blur.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(img_rect, self.cache.get(i))
        mark = int(table.marks[i])
        if mark == EXCLUDED:
            painter.fillRect(img_rect, QColor(255, 255, 255, 150))
            painter.setPen(QPen(EXCLUDED_COLOR, 2))
            painter.drawLine(img_rect.topLeft(), img_rect.bottomRight())
        if mark == NORMAL:
            painter.setPen(QPen(NORMAL_COLOR, 4))
            painter.drawRect(img_rect.adjusted(-1, -1, 1, 1))
        flagged = self.model.is_flagged(i)
        if flagged:
            if mark != NORMAL:
                painter.setPen(QPen(FLAG_COLOR, 3))
                painter.drawRect(img_rect.adjusted(-1, -1, 1, 1))
            badge = QRect(img_rect.right() - 13, img_rect.y() + 1, 13, 13)
            painter.fillRect(badge, FLAG_COLOR)
            painter.setPen(QColor("white"))
            painter.setFont(self.font)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "!")
        src = table.sources[i]
        if src.touches_border:
            # Objects cut by the image edge (border = flag/include): only part of the object is in the crop.
            edge = QRect(img_rect.x() + 1, img_rect.bottom() - 12, 13, 13)
            painter.fillRect(edge, BORDER_COLOR)
            painter.setPen(QColor("white"))
            painter.setFont(self.font)
            painter.drawText(edge, Qt.AlignmentFlag.AlignCenter, "B")
        painter.setFont(self.font)
        line_h = QFontMetrics(self.font).height()
        first = QRect(r.x() + 2, img_rect.bottom() + 3, r.width() - 4, line_h)
        second = first.translated(0, line_h)
        for rect, (text, colour) in zip((first, second), self.labels(table, i, flagged, option)):
            painter.setPen(colour)
            # Object names keep their start ("#12 u2os-nu…"); file names their both ends.
            mode = Qt.TextElideMode.ElideRight if table.is_objects else Qt.TextElideMode.ElideMiddle
            shown = QFontMetrics(self.font).elidedText(text, mode, rect.width())
            painter.drawText(rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, shown)
        if selected:
            painter.setPen(QPen(SELECT_COLOR, 2))
            painter.drawRect(r.adjusted(1, 1, -2, -2))
        painter.restore()


    @staticmethod
    def tile_texts(table: PatchTable, i: int) -> tuple:
        """The two lines under a tile: (score or object id, name).  Excluded patches show no rank score."""
        src = table.sources[i]
        name = Path(src.path).stem
        ident = f"#{src.object_id}" if table.is_objects else ""
        score = table.score
        if table.marks[i] == EXCLUDED:
            return "excluded", f"{ident} {name}".strip()
        if score is not None and not np.isnan(score[i]):
            return f"{score[i]:.4g}", f"{ident} {name}".strip()
        return (ident or name), (name if ident else f"p{src.page} y{src.y} x{src.x}")

    def labels(self, table: PatchTable, i: int, flagged: bool, option) -> list:
        top, bottom = self.tile_texts(table, i)
        plain, faint = option.palette.text().color(), option.palette.placeholderText().color()
        scored = table.score is not None and not np.isnan(table.score[i]) and table.marks[i] != EXCLUDED
        return [(top, FLAG_COLOR if flagged else plain if scored else faint), (bottom, faint)]


class GalleryView(QListView):
    """Icon grid over :class:`PatchListModel`; emits the current patch index."""

    currentPatchChanged = Signal(int)   # -1 when none
    selectionCountChanged = Signal(int)

    def __init__(self, table: PatchTable, parent=None):
        super().__init__(parent)
        self.setObjectName("galleryView")
        self.table = table
        self.cache = ThumbnailCache(table)
        self.patch_model = PatchListModel(table, self)
        self.delegate = TileDelegate(self.patch_model, self.cache, self)
        self.setModel(self.patch_model)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        # Uniform sizes let Qt place 100,000 tiles arithmetically instead of measuring each.
        self.setUniformItemSizes(True)
        # Lay out in batches between events: one pass over 100,000 tiles froze the
        # window for ~0.6 s on every sort, filter or resize; batches of 2,000 cost ~60 ms.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setGridSize(self.delegate.tile_size())
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self._connect_selection()

    def _connect_selection(self) -> None:
        sel = self.selectionModel()
        sel.currentChanged.connect(self._current_changed)
        sel.selectionChanged.connect(lambda *_: self.selectionCountChanged.emit(self._selected_rows().size))

    def _current_changed(self, current: QModelIndex, _previous) -> None:
        self.currentPatchChanged.emit(current.data(PatchRole) if current.isValid() else -1)

    # ----------------------------------------------------------- content --
    def set_table(self, table: PatchTable) -> None:
        """Show the patches of another table (nothing is shown until :meth:`set_order`)."""
        self.table = table
        self.cache.table = table
        self.patch_model.table = table
        self.invalidate_thumbnails()

    def set_threshold(self, threshold: float) -> None:
        """Flag the tiles scoring at or above ``threshold``."""
        self.patch_model.set_threshold(threshold)
        self.viewport().update()

    def refresh_flags(self) -> None:
        """Marks changed: recompute the flags (excluded patches are never flagged) and repaint."""
        self.patch_model.refresh_flags()
        self.viewport().update()

    def set_contrast(self, mode: str) -> None:
        """Thumbnail contrast, one of :data:`CONTRAST_MODES`."""
        self.cache.set_mode(mode)
        self.viewport().update()

    def shows(self, patch: int) -> bool:
        """Whether ``patch`` has a tile under the current sort and filter."""
        return self.patch_model.row_of(patch) is not None

    def set_thumb_size(self, px: int) -> None:
        self.delegate.thumb = px
        self.setGridSize(self.delegate.tile_size())
        self.doItemsLayout()

    def set_order(self, order: np.ndarray, keep_selection: bool = True) -> None:
        """Show patches in ``order``; keeps the selected and current patches where still shown."""
        selected = self.selected_patches() if keep_selection else np.zeros(0, np.int64)
        current = self.current_patch() if keep_selection else -1
        self.patch_model.set_order(order)
        if len(selected) or current >= 0:
            self.select_patches(selected, current)
        else:
            self.currentPatchChanged.emit(-1)

    def invalidate_thumbnails(self) -> None:
        self.cache.clear()
        self.viewport().update()

    # --------------------------------------------------------- selection --
    def _selected_rows(self) -> np.ndarray:
        # Ranges, not one QModelIndex per tile: selecting 100,000 tiles stays cheap.
        parts = [np.arange(r.top(), r.bottom() + 1) for r in self.selectionModel().selection()]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def selected_patches(self) -> np.ndarray:
        rows = self._selected_rows()
        return np.sort(self.patch_model.order[rows]) if len(rows) else np.zeros(0, np.int64)

    def current_patch(self) -> int:
        ix = self.currentIndex()
        return ix.data(PatchRole) if ix.isValid() else -1

    def select_patches(self, patches, current: int = -1) -> None:
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        order = self.patch_model.order
        pos = np.flatnonzero(np.isin(order, np.asarray(patches, np.int64))) if len(patches) else np.zeros(0, int)
        sel = QItemSelection()
        # Contiguous rows become one range each: selecting 10,000 tiles stays cheap.
        if len(pos):
            breaks = np.flatnonzero(np.diff(pos) != 1)
            starts = np.concatenate([[pos[0]], pos[breaks + 1]])
            ends = np.concatenate([pos[breaks], [pos[-1]]])
            for a, b in zip(starts, ends):
                sel.select(self.patch_model.index(int(a)), self.patch_model.index(int(b)))
        sm = self.selectionModel()
        sm.select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        row = self.patch_model.row_of(current) if current >= 0 else None
        if row is not None:
            sm.setCurrentIndex(self.patch_model.index(row), QItemSelectionModel.SelectionFlag.NoUpdate)
            self.scrollTo(self.patch_model.index(row))
        else:
            self.currentPatchChanged.emit(-1)

    def show_top(self) -> None:
        """Select the first tile (rank 1 when sorted by score) and scroll to the top."""
        if self.patch_model.rowCount() == 0:
            return
        first = self.patch_model.patch_at(0)
        self.select_patches([first], current=first)
        self.scrollToTop()

    def step(self, delta: int) -> None:
        """Move the current tile by ``delta`` places in the displayed ranking."""
        n = self.patch_model.rowCount()
        if n == 0:
            return
        row = self.currentIndex().row()
        row = 0 if row < 0 else min(max(row + delta, 0), n - 1)
        ix = self.patch_model.index(row)
        self.setCurrentIndex(ix)
        self.scrollTo(ix)
