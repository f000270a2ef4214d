"""Threshold panel: slider, score histogram with the threshold line, flagged count.

The panel does no counting itself: it is given a count function
(the patch table's O(log N) recount) so moving the slider stays instant at
100,000 patches.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from ddrcore.model.score_type import ScoreType

from .plots import PlotsOnDemand


def _decimals(span: float) -> int:
    # About four significant digits across the slider's range.
    if span <= 0 or not math.isfinite(span):
        return 3
    return int(min(6, max(0, 3 - math.floor(math.log10(span)))))


class ThresholdPanel(PlotsOnDemand, QWidget):
    thresholdChanged = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("thresholdSlider")
        self.slider.setEnabled(False)
        self.count_label = QLabel("No scores yet: train a model to rank the patches.")
        self.count_label.setObjectName("flaggedLabel")
        self.default_button = QPushButton("Model default")
        self.default_button.setToolTip("Reset to the model's threshold (95th percentile of validation normals)")
        self.default_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Threshold"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.default_button)
        self.layout_ = layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.count_label)
        from ..glossary import tip

        self.tip = tip
        self.setObjectName("thresholdPanel")
        self.slider.setToolTip(tip("threshold"))
        self.count_label.setToolTip(tip("threshold", "roles"))
        self._count: Optional[Callable[[float], tuple]] = None
        self._default = float("nan")
        self._syncing = False
        self.slider.valueChanged.connect(self._slider_moved)
        self.default_button.clicked.connect(lambda: self.set_threshold(self._default))

    def _build_plots(self, pg) -> None:
        """The score histogram with its draggable threshold line (pyqtgraph: made when first needed)."""
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("scoreHistogram")
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.plot.setMinimumHeight(110)
        # Drops go to the main window (files to open), not to this canvas, which would swallow them.
        self.plot.setAcceptDrops(False)
        self.plot.setLabel("bottom", "anomaly score")
        self.plot.setLabel("left", "patches")
        self.plot.addLegend(offset=(-10, 5))
        self.plot.setMouseEnabled(x=True, y=False)
        self.rest_curve = self.plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=(31, 119, 180, 110),
                                         pen=pg.mkPen("#1f77b4"), name="other patches")
        self.normal_curve = self.plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=(44, 160, 44, 110),
                                           pen=pg.mkPen("#2ca02c"), name="marked normal")
        self.line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen("#d62728", width=2))
        # Before the plot existed the slider may have moved: the line starts where the slider is.
        self.line.setVisible(self.slider.isEnabled())
        self.line.setValue(float(self.slider.value()))
        self.plot.addItem(self.line)
        self.layout_.addWidget(self.plot, 1)
        self.plot.setToolTip(self.tip("threshold", "roles"))
        self.line.sigPositionChanged.connect(self._line_moved)

    # ------------------------------------------------------------ content --
    def set_scores(self, scores: Optional[np.ndarray], normal_mask: Optional[np.ndarray],
                   count: Callable[[float], tuple], default: float, score_type: Optional[str],
                   keep: Optional[float] = None) -> None:
        """New scores: rebuild range and histogram; start at ``keep`` or the model default."""
        self.ensure_plots()
        self._count = count
        ok = scores is not None and len(scores) > 0 and np.isfinite(scores).any()
        self.slider.setEnabled(bool(ok))
        self.default_button.setEnabled(bool(ok) and math.isfinite(default))
        self.line.setVisible(bool(ok))
        if not ok:
            self.rest_curve.setData([0, 1], [0])
            self.normal_curve.setData([0, 1], [0])
            # A flat, empty histogram would otherwise autorange to a meaningless axis.
            self.plot.disableAutoRange()
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            self.count_label.setText("No scores yet: train a model to rank the patches.")
            return
        finite = np.isfinite(scores)
        lo, hi = float(scores[finite].min()), float(scores[finite].max())
        if math.isfinite(default):
            lo, hi = min(lo, default), max(hi, default)
        span = hi - lo if hi > lo else 1.0
        self._default = default if math.isfinite(default) else hi
        self._syncing = True
        self.slider.setDecimals(_decimals(span))
        self.slider.setRange(lo, hi + 1e-9 * span)
        self.slider.setSingleStep(span / 1000)
        self._syncing = False
        self.plot.setLabel("bottom", f"anomaly score ({ScoreType.label_of(score_type)})")
        self.update_histogram(scores, normal_mask)
        self.set_threshold(keep if keep is not None and math.isfinite(keep) else self._default)

    def reset(self) -> None:
        """Back to the state of a new project: no scores, no threshold, nothing counted."""
        self._count = None
        self._default = float("nan")
        self._syncing = True
        self.slider.setRange(0.0, 1.0)
        self.slider.setValue(0.0)
        self._syncing = False
        self.set_scores(None, None, lambda _t: (0, 0), float("nan"), None)

    def show_waiting(self, text: str) -> None:
        """No threshold until scores arrive (e.g. while a new model scores every patch): say why."""
        self.slider.setEnabled(False)
        self.count_label.setText(text)

    def set_note(self, note: Optional[str]) -> None:
        """A small title over the histogram (which patches it holds), or none."""
        self.ensure_plots()
        if note:
            self.plot.setTitle(note, size="8pt")
        else:
            self.plot.setTitle(None)

    def update_histogram(self, scores: np.ndarray, normal_mask: Optional[np.ndarray]) -> None:
        self.ensure_plots()
        finite = np.isfinite(scores)
        if not finite.any():
            return
        normal = np.zeros(len(scores), bool) if normal_mask is None else np.asarray(normal_mask, bool)
        edges = np.histogram_bin_edges(scores[finite], bins=min(80, max(10, int(finite.sum()) // 4)))
        rest, _ = np.histogram(scores[finite & ~normal], bins=edges)
        marked, _ = np.histogram(scores[finite & normal], bins=edges)
        self.rest_curve.setData(edges, rest)
        self.normal_curve.setData(edges, marked)
        self.plot.enableAutoRange()

    def threshold(self) -> float:
        return float(self.slider.value())

    def set_threshold(self, value: float) -> None:
        self.slider.setValue(value)
        # setValue does not emit when the value is unchanged; the label must still be right.
        self._apply(self.threshold())

    def recount(self) -> None:
        self._apply(self.threshold())

    # ------------------------------------------------------------ signals --
    def _slider_moved(self, value: float) -> None:
        if not self._syncing:
            self._apply(float(value))

    def _line_moved(self) -> None:
        if not self._syncing:
            self.slider.setValue(float(self.line.value()))

    def _apply(self, value: float) -> None:
        if self.plots_built:
            self._syncing = True
            self.line.setValue(value)
            self._syncing = False
        if self._count is not None and self.slider.isEnabled():
            flagged, total = self._count(value)
            pct = 100.0 * flagged / total if total else 0.0
            self.count_label.setText(f"<b>{flagged}</b> of {total} flagged ({pct:.1f} %) at threshold {value:.4g}")
        self.thresholdChanged.emit(value)
