"""The detail panel: one patch as input | X_C | X_N | |X - X_C|, and its scores.

The four images share zoom/pan (linked ViewBoxes) and the first three share
contrast (one histogram/LUT widget drives all of them), because comparing the
input with its class-specific and residual parts only makes sense on one
intensity scale.  The error map |X - X_C| is non-negative and gets its own
range.  Decompositions are supplied by app.views (computed on demand
for the selected patch only).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ddrcore.io.images import PatchSource

PANELS = ("input", "X_C (class-specific)", "X_N (residual)", "|X − X_C|")


class DetailView(QWidget):
    """Shows the current patch; arrow keys ask to walk the ranking."""

    stepRequested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("detailView")
        self.objects = False          # patches are object crops: name the object, not the crop origin
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.title = QLabel("No patch selected")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scores = QLabel("")
        self.scores.setTextFormat(Qt.TextFormat.RichText)
        self.scores.setWordWrap(True)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(260)
        # Drops go to the main window (files to open), not to this canvas, which would swallow them.
        self.graphics.setAcceptDrops(False)
        self.boxes, self.items, self.labels = [], [], []
        for k, name in enumerate(PANELS):
            # 2 x 2: the dock is narrow, and four side-by-side views would be tiny.
            row, col = 2 * (k // 2), k % 2
            label = self.graphics.addLabel(name, row=row, col=col, size="9pt")
            box = self.graphics.addViewBox(row=row + 1, col=col, lockAspect=True, invertY=True, enableMenu=False)
            item = pg.ImageItem(axisOrder="row-major")
            box.addItem(item)
            if self.boxes:
                box.setXLink(self.boxes[0])
                box.setYLink(self.boxes[0])
            self.boxes.append(box)
            self.items.append(item)
            self.labels.append(label)
        # One LUT/histogram for input, X_C and X_N: shared contrast.
        self.lut = pg.HistogramLUTWidget(orientation="horizontal")
        self.lut.setImageItem(self.items[0])
        self.lut.setMaximumHeight(80)
        self.lut_label = QLabel("Contrast (shared by input, X_C and X_N; drag the handles):")
        self.lut.item.sigLevelsChanged.connect(self._share_levels)
        self.lut.item.sigLookupTableChanged.connect(self._share_levels)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.lut_label)
        layout.addWidget(self.lut)
        layout.addWidget(self.scores)
        from .glossary import tip

        self.scores.setToolTip(tip("AS_l", "AS_r", "chosen score"))
        for label, terms in zip(self.labels, (("model units",), ("X_C",), ("X_N",), ("|X − X_C|",))):
            label.setToolTip(tip(*terms))
        self.patch: int = -1
        self._score_args = (float("nan"), float("nan"), None, None)
        self.clear()

    # ------------------------------------------------------------ content --
    def clear(self, message: str = "No patch selected") -> None:
        self.patch = -1
        self.title.setText(message)
        self.scores.setText("")
        for item in self.items:
            item.clear()

    def show_patch(self, patch: int, source: PatchSource, raw: np.ndarray, mark: str = "",
                   decomposition: Optional[tuple] = None, latent: float = float("nan"),
                   recon: float = float("nan"), score_type: Optional[str] = None,
                   threshold: Optional[float] = None) -> None:
        """``raw`` is (C, S, S) at native intensity; ``decomposition`` = (x, x_c, x_n), each (C, S, S)."""
        self.patch = patch
        mark_text = f" — marked {mark}" if mark else ""
        where = f"y {source.y}, x {source.x}"
        if self.objects and not np.isnan(source.center_y):
            where = f"object {source.object_id} at y {source.center_y:.0f}, x {source.center_x:.0f}"
        self.title.setText(f"<b>{source.path}</b><br>page {source.page}, {where}{mark_text}")
        if decomposition is None:
            # Before a model exists: the input at native intensity, percentile contrast.
            img = raw[0].astype(np.float32)
            self.items[0].setImage(img, autoLevels=False)
            for item in self.items[1:]:
                item.clear()
            self.labels[0].setText("input (native intensity)")
            lo, hi = np.percentile(img, [1, 99])
            self.lut.item.setHistogramRange(float(img.min()), float(img.max()))
            self.lut.item.setLevels(float(lo), float(hi) if hi > lo else float(lo) + 1)
        else:
            x, x_c, x_n = (np.asarray(a[0], np.float32) for a in decomposition)
            err = np.abs(x - x_c)
            self.labels[0].setText("input (model units)")
            for item, img in zip(self.items, (x, x_c, x_n)):
                item.setImage(img, autoLevels=False)
            self.items[3].setImage(err, autoLevels=False, levels=(0.0, float(max(err.max(), 1e-6))))
            stacked = np.concatenate([x.ravel(), x_c.ravel(), x_n.ravel()])
            lo, hi = np.percentile(stacked, [1, 99.5])
            self.lut.item.setHistogramRange(float(stacked.min()), float(stacked.max()))
            self.lut.item.setLevels(float(lo), float(hi) if hi > lo else float(lo) + 1)
        self._share_levels()
        self.boxes[0].autoRange(padding=0.02)
        self._show_scores(latent, recon, score_type, threshold)

    def update_threshold(self, threshold: Optional[float]) -> None:
        """Re-mark flagged / below threshold without redrawing the images."""
        if self.patch >= 0:
            self._show_scores(*self._score_args[:3], threshold)

    def _show_scores(self, latent, recon, score_type, threshold) -> None:
        self._score_args = (latent, recon, score_type, threshold)
        if np.isnan(latent):
            self.scores.setText("<i>Not scored yet: train a model (or press Score) to see AS_l and AS_r.</i>")
            return
        parts = []
        for key, name, value in (("latent", "AS_l (latent)", latent), ("recon", "AS_r (image)", recon)):
            if key == score_type:
                flag = ""
                if threshold is not None and np.isfinite(threshold):
                    flag = " — <span style='color:#d62728'>flagged</span>" if value >= threshold else " — below threshold"
                parts.append(f"<b>▶ {name} = {value:.5g}</b> (used for ranking{flag})")
            else:
                parts.append(f"{name} = {value:.5g}")
        self.scores.setText("<br>".join(parts))

    def _share_levels(self, *_args) -> None:
        levels = self.lut.item.getLevels()
        lut = self.items[0].lut
        for item in self.items[1:3]:
            item.setLevels(levels)
            item.setLookupTable(lut)

    # ---------------------------------------------------------- keyboard --
    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        step = {Qt.Key.Key_Right: 1, Qt.Key.Key_Down: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_Up: -1}.get(event.key())
        if step is not None:
            self.stepRequested.emit(step)
            event.accept()
        else:
            super().keyPressEvent(event)
