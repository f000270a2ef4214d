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
from ddrcore.model.thresholds import MIN_ROBUST, ROBUST_RULE, robust_threshold

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
        self.count_label.setWordWrap(True)
        # The threshold's false-positive rate on the model's validation normals (issue #26): what it costs.
        self.fpr_label = QLabel("", objectName="thresholdFprLabel")
        self.fpr_label.setToolTip("Share of the model's validation normals (held out from training) scoring at or "
                                  "above the threshold: the expected false-positive rate on normal objects. Where few "
                                  "objects were held out, each is scored in its eight turns and mirrors and the "
                                  "share is over all of them (the count in brackets).")
        self._validation: Optional[np.ndarray] = None
        self._objects, self._views = 0, 1
        self.default_button = QPushButton("Model default")
        self.default_button.setToolTip("Reset to the model's threshold (95th percentile of validation normals)")
        self.default_button.setEnabled(False)
        # A threshold from the scored objects themselves (a screen's robust z): its rate holds where the model's
        # few validation normals misjudge the spread of the fields being scored.
        self.robust_button = QPushButton("Robust z", objectName="robustThresholdButton")
        self.robust_button.setToolTip(f"Set the threshold from the unmarked patches' own scores, not the model: "
                                      f"{ROBUST_RULE}")
        self.robust_button.setEnabled(False)
        self._robust = float("nan")
        row = QHBoxLayout()
        row.addWidget(QLabel("Threshold"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.fpr_label)
        row.addWidget(self.default_button)
        row.addWidget(self.robust_button)
        self.layout_ = layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.count_label)
        # A legend inside the plot sat on the highest-score bars, where the anomalies are: the key is a line
        # of coloured words above the plot instead.
        self.legend_label = QLabel("<span style='color:#1f77b4'>&#9632; other patches</span> &nbsp; "
                                   "<span style='color:#2ca02c'>&#9632; marked normal</span>",
                                   objectName="histogramLegend")
        legend_row = QHBoxLayout()
        legend_row.addWidget(self.legend_label)
        legend_row.addStretch(1)
        self.note_label = QLabel("", objectName="histogramNote")
        legend_row.addWidget(self.note_label)
        layout.addLayout(legend_row)
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
        self.robust_button.clicked.connect(lambda: self.set_threshold(self._robust))

    def _build_plots(self, pg) -> None:
        """The score histogram with its draggable threshold line (pyqtgraph: made when first needed)."""
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("scoreHistogram")
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        # Small enough that the whole panel fits its dock at 1280 x 800 (a larger minimum pushed the x axis
        # out of sight behind a scroll bar); it grows with the dock.
        self.plot.setMinimumHeight(60)
        # Drops go to the main window (files to open), not to this canvas, which would swallow them.
        self.plot.setAcceptDrops(False)
        self.plot.setLabel("bottom", "anomaly score")
        self.plot.setLabel("left", "patches")
        self.plot.getAxis("left").setWidth(48)     # room for the counts beside the axis title
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
                   keep: Optional[float] = None, empty_text: Optional[str] = None) -> None:
        """New scores: rebuild range and histogram; start at ``keep`` or the model default.

        ``empty_text`` says why there is nothing to rank when ``scores`` holds none (the default: no model yet).
        """
        self.ensure_plots()
        self._count = count
        ok = scores is not None and len(scores) > 0 and np.isfinite(scores).any()
        self.slider.setEnabled(bool(ok))
        self.default_button.setEnabled(bool(ok) and math.isfinite(default))
        self._robust = float("nan")
        why_not = "Not available until patches are scored."
        if ok:
            unmarked = np.isfinite(scores) & ~(np.zeros(len(scores), bool) if normal_mask is None
                                               else np.asarray(normal_mask, bool))
            # Fewer than ten unmarked patches say little about a spread.
            if unmarked.sum() >= MIN_ROBUST:
                self._robust = robust_threshold(scores[unmarked])
            else:
                why_not = (f"Not available: it needs at least {MIN_ROBUST} scored patches that are not marked "
                           f"normal, and {int(unmarked.sum())} are shown.")
        self.robust_button.setEnabled(math.isfinite(self._robust))
        # A greyed-out button says why (tooltips show on disabled buttons too).
        self.robust_button.setToolTip(("" if math.isfinite(self._robust) else why_not + " ")
                                      + f"Sets the threshold from the unmarked patches' own scores, not the "
                                        f"model: {ROBUST_RULE}")
        self.line.setVisible(bool(ok))
        if not ok:
            self.rest_curve.setData([0, 1], [0])
            self.normal_curve.setData([0, 1], [0])
            # A flat, empty histogram would otherwise autorange to a meaningless axis.
            self.plot.disableAutoRange()
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            self.plot.setLabel("bottom", "anomaly score")      # no score named while none is shown
            self.count_label.setText(empty_text or "No scores yet: train a model to rank the patches.")
            self.fpr_label.setText("")
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
        """A small note over the histogram (which patches it holds), or none.

        Beside the legend, not as the plot's title: a title squeezed the y axis under it.
        """
        self.note_label.setText(f"<small>{note}</small>" if note else "")

    def set_validation(self, scores: Optional[np.ndarray], objects: Optional[int] = None) -> None:
        """The model's validation normals' scores of the ranking score (None: no model).

        ``objects``: how many validation normals gave them, where each was scored in several views (its
        turns and mirrors; a few dozen objects give a steadier rate that way).  The label then says so, as
        "5.7 %" of 11 objects is no whole number of them.
        """
        self._validation = None if scores is None or len(scores) == 0 else np.sort(np.asarray(scores, float))
        n = len(self._validation) if self._validation is not None else 0
        self._views = (n // objects) if objects and n > objects and n % objects == 0 else 1
        self._objects = n // self._views
        self._apply_fpr(self.threshold())

    def false_positive_rate(self, value: float) -> Optional[float]:
        """Share of validation normals at or above ``value`` (as the ranked CSV's threshold_fpr), or None."""
        v = self._validation
        if v is None:
            return None
        return float(len(v) - np.searchsorted(v, value, side="left")) / len(v)

    def _apply_fpr(self, value: float) -> None:
        fpr = self.false_positive_rate(value) if self.slider.isEnabled() else None
        if fpr is None:
            self.fpr_label.setText("")
            return
        views = f" in {self._views} views each" if self._views > 1 else ""
        self.fpr_label.setText(f"{100 * fpr:.1f} % of validation normals above ({self._objects}{views})")

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
        self._apply_fpr(value)
        self.thresholdChanged.emit(value)
