"""The detail panel: one patch as input | X_C | X_N | input with the residual as heat.

Every image is in the patch's own intensity units (ddrcore.model.decomposition
maps the networks' output back through the preprocessing), so a user reads
X_C as "the normal-looking image" and X_N as "what was added to it":

* input and X_C share one contrast (one histogram drives both), set from the
  input's own percentiles, so the input is never washed out by a saturated part;
* X_N is a difference: a diverging map, symmetric about zero, with its own range;
* the last panel lays the smoothed residual over the input as a coloured heat
  layer, so the anomalous place is seen on the object itself.

All four share zoom/pan.  Decompositions are supplied by ddrid_gui.views.bindings
(computed on demand for the selected patch only).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from ddrcore.io.images import PatchSource
from ddrcore.model.score_type import ScoreType

from .plots import PlotsOnDemand

PANELS = ("object in the image (native)", "X_C (normal-looking part)", "X_N (residual)", "network input")
INPUT_TIP = ("The patch as the model sees it: the crop shrunk to the network's input size, other objects set "
             "to the local background (masked).")
#: Score rows, in the order Detail lists them (key, name shown).
SCORE_ROWS = ((ScoreType.CELL, "AS_cell (the cell score)"),
              (ScoreType.COMBINED, "AS_c (AS_l or a standout residual)"),
              (ScoreType.MEASURE, "AS_m (measurements: size, shape, brightness)"), (ScoreType.LATENT, "AS_l (latent)"),
              (ScoreType.RECON, "AS_r (image)"), (ScoreType.RESIDUAL, "AS_e (residual peak)"))
#: The heat layer is full red at this multiple of what the model's validation normals show.
HEAT_FULL_RED = 2.0
# X_N: red for an added bright, blue for a missing one; white at zero.
_DIVERGING = ([0.0, 0.5, 1.0], [(40, 90, 200), (245, 245, 245), (210, 40, 40)])
# The heat layer: transparent where nothing departs from normal, opaque yellow-red where most does.
_HEAT = ([0.0, 0.35, 1.0], [(255, 200, 0, 0), (255, 160, 0, 110), (230, 20, 20, 210)])


class DetailView(PlotsOnDemand, QWidget):
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
        self.why = QLabel("")
        self.why.setObjectName("detailWhy")
        self.why.setWordWrap(True)
        self.lut_label = QLabel("Contrast of input and X_C (image units; drag the handles):")
        self.boxes, self.items, self.labels = [], [], []
        self.layout_ = layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        # Images above, the contrast histogram and the score lines below, split by a handle the user can drag.
        # The text below scrolls rather than squeezing the images: on a 1280 x 800 screen, with a model's
        # scores and its explanation, the images had shrunk to 60-95 px.
        self.split = QSplitter(Qt.Orientation.Vertical, objectName="detailSplit")
        self.split.setChildrenCollapsible(False)
        below = QWidget()
        self.below_ = QVBoxLayout(below)
        self.below_.setContentsMargins(0, 0, 0, 0)
        self.below_.addWidget(self.lut_label)
        self.below_.addWidget(self.scores)
        self.below_.addWidget(self.why)
        self.below_.addStretch(1)
        scroll = QScrollArea(objectName="detailText")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(below)
        self.split.addWidget(scroll)
        layout.addWidget(self.split, 1)
        from ..glossary import tip

        self.tip = tip
        self.scores.setToolTip(tip("chosen score", "AS_cell", "AS_c", "AS_e", "AS_m", "AS_l", "AS_r"))
        self.patch: int = -1
        self.mark = ""
        self._score_args = ((float("nan"),) * 6, None, None)
        self.clear()

    def _build_plots(self, pg) -> None:
        """The four image panels and the contrast histogram (pyqtgraph: made when first needed)."""
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(200)
        # Drops go to the main window (files to open), not to this canvas, which would swallow them.
        self.graphics.setAcceptDrops(False)
        # 2 x 2.  Top left: the object as it is in the image, at native resolution (texture and size are
        # judged there: a 171 px crop shrunk to the network's 32 px input hides chromatin texture and a
        # hollow core).  The others are the network's views at its input size; the bottom right shows the
        # input as the model saw it (other objects masked), with the residual as heat once a model exists.
        self.boxes, self.items, self.labels = [], [], []
        for k, name in enumerate(PANELS):
            row, col = 2 * (k // 2), k % 2
            label = self.graphics.addLabel(name, row=row, col=col, size="9pt")
            box = self.graphics.addViewBox(row=row + 1, col=col, lockAspect=True, invertY=True, enableMenu=False)
            item = pg.ImageItem(axisOrder="row-major")
            if k == 0:
                # The network input's own item drives the shared contrast of input and X_C; it is drawn in
                # the bottom-right panel (items[3]), and this panel shows the native crop instead.
                self.native_box, self.native_item = box, pg.ImageItem(axisOrder="row-major")
                box.addItem(self.native_item)
            else:
                box.addItem(item)
            if k > 1:
                box.setXLink(self.boxes[1])      # the network-size panels zoom together
                box.setYLink(self.boxes[1])
            self.boxes.append(box)
            self.items.append(item)
            self.labels.append(label)
        self.native_label = self.labels[0]
        self.items[2].setColorMap(pg.ColorMap(*_DIVERGING))
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setColorMap(pg.ColorMap(*_HEAT))
        self.heat.setZValue(10)
        self.boxes[3].addItem(self.heat)
        # One LUT/histogram for input and X_C (the panel with the heat layer follows it).
        self.lut = pg.HistogramLUTWidget(orientation="horizontal")
        self.lut.setImageItem(self.items[0])
        # A horizontal LUT needs about 90 px for its histogram, gradient and ticks; less and its gradient is
        # drawn over the score lines below it.
        self.lut.setFixedHeight(92)
        self.lut_label.setText("Contrast of model input and X_C (drag the handles):")
        self.lut_label.setToolTip("In image units; the native view has its own 1-99.5 % contrast")
        self.lut.item.sigLevelsChanged.connect(self._share_levels)
        self.lut.item.sigLookupTableChanged.connect(self._share_levels)
        # Same order as before the plots were made on demand: title, images, contrast label and histogram.
        self.split.insertWidget(0, self.graphics)
        self.below_.insertWidget(1, self.lut)
        # Most of the height to the images (they are what is judged); the text scrolls below.
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.split.setSizes([600, 400])
        for label, terms in zip(self.labels, (("image units",), ("X_C", "image units"), ("X_N",), ("residual heat",))):
            label.setToolTip(self.tip(*terms))
        self.labels[3].setToolTip(INPUT_TIP + " " + self.labels[3].toolTip())
        self._native_tip = ("The crop read from the image file at its own resolution, neighbours and all. "
                            "The model sees the smaller network input (bottom right). " + self.native_label.toolTip())
        self.native_label.setToolTip(self._native_tip)

    # ------------------------------------------------------------ content --
    def clear(self, message: str = "No patch selected") -> None:
        self.patch = -1
        self.title.setText(message)
        self.scores.setText("")
        self.why.setText("")
        if not self.plots_built:
            return
        self.native_item.clear()
        self.native_label.setText("object in the image (native)")
        for item in (*self.items, self.heat):
            item.clear()
        # The contrast histogram belongs to the patch that was shown, too (it stayed after New Project).
        for plot in self.lut.item.plots:
            plot.setData([], [])
        # The residual's range and kind belong to the patch that was shown.
        for label, name in zip(self.labels[1:], PANELS[1:]):
            label.setText(name)

    def show_patch(self, patch: int, source: PatchSource, raw: np.ndarray, mark: str = "",
                   decomposition=None, latent: float = float("nan"),
                   recon: float = float("nan"), score_type: Optional[str] = None,
                   threshold: Optional[float] = None, residual: float = float("nan"),
                   combined: float = float("nan"), measure: float = float("nan"), cell: float = float("nan"),
                   native: Optional[np.ndarray] = None) -> None:
        """``raw`` is (C, S, S) at native intensity; ``decomposition`` a ddrcore Explanation (or None).

        ``residual`` is AS_e, ``combined`` AS_c, ``measure`` AS_m and ``cell`` AS_cell, where the model has
        them.  ``native`` is the crop from the image at its own resolution (None: still being read).
        """
        self.ensure_plots()
        same = patch == self.patch
        self.patch = patch
        self.mark = mark
        mark_text = f" — marked {mark}" if mark else ""
        where = f"y {source.y}, x {source.x}"
        if self.objects and not np.isnan(source.center_y):
            where = f"object {source.object_id} at y {source.center_y:.0f}, x {source.center_x:.0f}"
        edge = " — <span style='color:#ff7f0e'>touches the image border</span>" if source.touches_border else ""
        self.title.setText(f"<b>{source.path}</b><br>page {source.page}, {where}{mark_text}{edge}")
        side = int(raw.shape[-1])
        crop = int(source.size) if source.size else side
        # Short: the dock is narrow.  The tooltip says what "masked" means.
        self.input_text = f"model input {side} px" + (" (masked)" if self.objects else "")
        self.labels[3].setText(self.input_text)
        if native is not None:
            self.show_native(native, crop)
        elif not same:
            self.native_item.clear()
            self.native_label.setText(f"object, native {crop} px (reading…)")
        img = np.asarray(raw[0], np.float32)
        # The input's own percentiles set the contrast of input and X_C alike.
        lo, hi = (float(v) for v in np.percentile(img, [1, 99.5]))
        hi = hi if hi > lo else lo + 1.0
        self.items[0].setImage(img, autoLevels=False)
        self.lut.item.setHistogramRange(float(img.min()), float(img.max()))
        self.lut.item.setLevels(lo, hi)
        if decomposition is None:
            # Before a model exists (or while the parts are computed): the input as the network sees it,
            # named so; no heat layer (an empty one would read as "nothing anomalous").
            for item in (self.items[1], self.items[2], self.heat):
                item.clear()
            self.items[3].setImage(img, autoLevels=False)
            self.why.setText("")
        else:
            x_c = np.asarray(decomposition.x_c[0], np.float32)
            x_n = np.asarray(decomposition.x_n[0], np.float32)
            self.items[1].setImage(x_c, autoLevels=False)
            self.items[3].setImage(img, autoLevels=False)
            span = float(np.percentile(np.abs(x_n), 99.5)) or 1.0
            self.items[2].setImage(x_n, autoLevels=False, levels=(-span, span))
            heat = np.asarray(decomposition.heat, np.float32)
            normal = float(getattr(decomposition, "heat_normal", float("nan")))
            if np.isfinite(normal) and normal > 0:
                # Scaled by what the model's validation normals show: heat up to that level stays
                # faint, twice it is full red.  X_C never reproduces a patch exactly; this keeps a
                # normal ring from glowing along its edge.
                top = HEAT_FULL_RED * normal
            else:
                # One scale for every patch, tied to the input's contrast: a residual half as large as
                # the input's range is full red, so a normal patch with a small residual stays clear.
                top = 0.5 * (hi - lo)
            self.heat.setImage(heat, autoLevels=False, levels=(0.0, top))
            self.labels[2].setText(f"X_N (residual, ±{span:.3g})")
            self.labels[3].setText(self.input_text + " + heat")
            self.why.setText(decomposition.why)
        self._share_levels()
        self.boxes[1].autoRange(padding=0.02)
        self.boxes[3].autoRange(padding=0.02)
        self._show_scores((latent, recon, residual, combined, measure, cell), score_type, threshold)

    def show_native(self, crop: np.ndarray, side: int) -> None:
        """The crop from the image at native resolution, its own 1-99.5 % contrast (display only)."""
        self.ensure_plots()
        crop = np.asarray(crop, np.float32)
        finite = crop[np.isfinite(crop)]
        if finite.size == 0:
            self.native_item.clear()
            return
        lo, hi = (float(v) for v in np.percentile(finite, [1, 99.5]))
        hi = hi if hi > lo else lo + 1.0
        # Outside the page (border objects): left blank (transparent over the panel's background), neither a
        # stripe of edge pixels nor black, which read as dark image.
        # (pyqtgraph draws NaN transparent.)
        inside = np.isfinite(crop)
        self.native_item.setImage(crop, autoLevels=False, levels=(lo, hi))
        # Short: a longer label widened its column and pushed X_C out of the dock; the tooltip says why blank.
        self.native_label.setText(f"object, native {side} px")
        self.native_label.setToolTip(self._native_tip + ("" if inside.all() else
                                                         " Blank where the crop runs past the image's edge."))
        self.native_box.autoRange(padding=0.02)

    def update_threshold(self, threshold: Optional[float]) -> None:
        """Re-mark flagged / below threshold without redrawing the images."""
        if self.patch >= 0:
            self._show_scores(*self._score_args[:2], threshold)

    def _show_scores(self, values, score_type, threshold) -> None:
        self._score_args = (values, score_type, threshold)
        latent, recon, residual, combined, measure, cell = values
        if np.isnan(latent):
            self.scores.setText("<i>Not scored yet: train a model (or press Score) to see its scores.</i>")
            return
        by_key = {ScoreType.LATENT: latent, ScoreType.RECON: recon, ScoreType.RESIDUAL: residual,
                  ScoreType.COMBINED: combined, ScoreType.MEASURE: measure, ScoreType.CELL: cell}
        parts = []
        for key, name in SCORE_ROWS:
            value = by_key[key]
            if np.isnan(value):
                continue   # a model (or patch) without this score
            if key == score_type:
                if self.mark == "excluded":
                    # Excluded patches are not part of the ranking: never "flagged", whatever their score.
                    parts.insert(0, f"<b>{name} = {value:.5g}</b> (excluded: not ranked, not counted)")
                    continue
                flag = ""
                if threshold is not None and np.isfinite(threshold):
                    flag = " — <span style='color:#d62728'>flagged</span>" if value >= threshold else " — below threshold"
                parts.insert(0, f"<b>▶ {name} = {value:.5g}</b> (used for ranking{flag})")
            else:
                parts.append(f"{name} = {value:.5g}")
        self.scores.setText("<br>".join(parts))

    def _share_levels(self, *_args) -> None:
        levels = self.lut.item.getLevels()
        lut = self.items[0].lut
        for item in (self.items[1], self.items[3]):
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
