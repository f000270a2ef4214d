"""Train panel: settings, Start/Cancel, progress with ETA, live loss curves.

Curves are redrawn by a timer at most 10 times a second, however often
progress arrives, so plotting never competes with the rest of the GUI.
"""
from __future__ import annotations

import math
from typing import Dict, List

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from ddrcore.config import TrainConfig
from ddrcore.pipeline import DEMO_FINETUNE_EPOCHS, DEMO_PRETRAIN_EPOCHS
from ddrcore.progress import Progress

from .plots import PlotsOnDemand

PAPER = TrainConfig()  # the paper's schedule (150 + 100 epochs)
# (value, shown text, tooltip) of each training profile, in ddrcore.config.PROFILES' terms.
PROFILE_CHOICES = (
    ("explain", "explain: X_C shows the patch",
     "X_C follows the input, the anomaly shows in input − X_C; E_C is trained as a one-class encoder"),
    ("paper", "paper: reproduce the paper", "Eq. 3-6 and Algorithm 2 exactly, as published"),
)
CURVE_COLORS = {"R_C": "#1f77b4", "R_N": "#ff7f0e", "L_R": "#1f77b4", "L_XC": "#17becf", "L1_XN": "#ff7f0e",
                "L_OC": "#2ca02c", "L_LSC": "#9467bd", "D_L": "#d62728"}
IDLE_TEXT = "Mark normal patches, then press Train."
PRETRAIN_LOSSES = ("R_C", "R_N")
FINETUNE_LOSSES = ("L_R", "L_XC", "L1_XN", "L_OC", "L_LSC", "D_L")
# One panel per family of losses that share a scale: (title, curves, log y axis).
# L_XC and L1_XN exist only under the explain profile; their curves stay empty under paper.
LOSS_FAMILIES = (("pretraining", PRETRAIN_LOSSES, True), ("finetuning L_R", ("L_R", "L_XC", "L1_XN"), True),
                 ("L_OC", ("L_OC",), False), ("adversarial", ("L_LSC", "D_L"), False))
LOSS_HELP = ("R_C, R_N: how well each autoencoder reconstructs the normal patches in pretraining (lower is better).\n"
             "L_R: reconstruction error of X_C + X_N in finetuning; under the explain profile also\n"
             "L_XC, the error of X_C alone, and L1_XN, the size of X_N (both small on normal patches).\n"
             "L_OC: how far the latent codes are from their centre Z_C (one-class compactness).\n"
             "L_LSC: the encoder's adversarial loss; D_L: the latent discriminator's loss "
             "(these two pull against each other and need not fall;\n"
             "under the explain profile L_LSC is only watched: the encoder learns from L_OC alone).\n"
             "Hover over a panel to read values.")


_decade_axis = None


def decade_axis(pg, orientation: str):
    """An axis whose log mode labels only whole decades (pyqtgraph also labels 2, 5, ... per decade,
    and in a small panel those labels overlap).  The class is made on first use: pyqtgraph is
    imported only when the first plot is built (views/plots.py)."""
    global _decade_axis
    if _decade_axis is None:
        class DecadeAxis(pg.AxisItem):
            def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph API)
                if not self.logMode:
                    return super().tickStrings(values, scale, spacing)
                out = []
                for v in values:
                    k = round(v)
                    out.append(f"1e{k:d}" if abs(v - k) < 1e-6 and -300 < k < 300 else "")
                return out

        _decade_axis = DecadeAxis
    return _decade_axis(orientation)


#: A space that never breaks a line: "ETA 0m" / "10s" on two lines read as two numbers.
NBSP = "\u00a0"


def _fmt_seconds(s) -> str:
    if s is None or not math.isfinite(s):
        return "…"
    s = int(round(s))
    text = f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"
    return text.replace(" ", NBSP)


class TrainingPanel(PlotsOnDemand, QWidget):
    startRequested = Signal(object)   # TrainConfig
    cancelRequested = Signal()

    def __init__(self, devices, parent=None):
        super().__init__(parent)
        self.setObjectName("trainPanel")
        self.pretrain = QSpinBox()
        self.pretrain.setRange(0, 10000)
        self.pretrain.setValue(DEMO_PRETRAIN_EPOCHS)
        self.finetune = QSpinBox()
        self.finetune.setRange(0, 10000)
        self.finetune.setValue(DEMO_FINETUNE_EPOCHS)
        self.batch = QSpinBox()
        self.batch.setRange(2, 65536)
        self.batch.setValue(PAPER.batch_size)
        self.batch.setToolTip("Shrunk automatically so an epoch has at least 8 steps on small sets")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1.0)
        self.lr.setSingleStep(1e-5)
        self.lr.setValue(PAPER.lr)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(PAPER.seed)
        self.profile = QComboBox(objectName="profileCombo")
        for value, text, tip_text in PROFILE_CHOICES:
            self.profile.addItem(text, value)
            self.profile.setItemData(self.profile.count() - 1, tip_text, Qt.ToolTipRole)
        self.profile.setCurrentIndex(max(0, self.profile.findData(PAPER.profile)))
        self.profile.setToolTip("How DDR-ID is trained; stored in the model file (see docs/method.md, Profiles)")
        self.device = QComboBox(objectName="deviceCombo")
        for dev_id, name in devices:
            self.device.addItem(name, dev_id)
        # Long item texts must not set the panel's width (it was cut off in a 300 px dock at 1280 x 800).
        for box in (self.profile, self.device):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        # Short words: with the epochs in them the two buttons set a 360 px panel width (cut off at 1280 x 800).
        self.schedule_short = QPushButton(f"Quick {DEMO_PRETRAIN_EPOCHS}+{DEMO_FINETUNE_EPOCHS}")
        self.schedule_paper = QPushButton(f"Paper {PAPER.pretrain_epochs}+{PAPER.finetune_epochs}")
        self.schedule_short.setToolTip("The demo schedule: minutes on a laptop CPU")
        self.schedule_paper.setToolTip("The paper's schedule (Section 4.1): best results, much longer")
        self.schedule_short.clicked.connect(lambda: self.set_schedule(DEMO_PRETRAIN_EPOCHS, DEMO_FINETUNE_EPOCHS))
        self.schedule_paper.clicked.connect(lambda: self.set_schedule(PAPER.pretrain_epochs, PAPER.finetune_epochs))
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.train_button.setToolTip("Train DDR-ID on the patches marked normal (Ctrl+T)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setEnabled(False)
        self.train_button.clicked.connect(lambda: self.startRequested.emit(self.config()))
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        self.stage_bar = QProgressBar()
        self.stage_bar.setFormat("stage %p %")
        self.stage_bar.setObjectName("stageBar")
        self.overall_bar = QProgressBar()
        self.overall_bar.setFormat("overall %p %")
        self.overall_bar.setObjectName("overallBar")
        self.status = QLabel(IDLE_TEXT)
        self._idle_text = IDLE_TEXT          # the advice shown while no run or model has said more
        self.status.setObjectName("trainStatus")
        self.status.setWordWrap(True)
        from ..glossary import tip

        self.status.setToolTip(tip("chosen score", "threshold", "quality check"))
        self.curves: Dict[str, object] = {}          # loss name -> pyqtgraph curve, once built
        self.family_plots: Dict[str, object] = {}    # loss family -> its pyqtgraph panel, once built
        self.hover_label = QLabel("")
        self.hover_label.setObjectName("lossHoverLabel")
        # Wrapped: the line under the plots of an opened model widened the dock's content past its edge.
        self.hover_label.setWordWrap(True)
        self.points: Dict[str, tuple[List[float], List[float]]] = {
            n: ([], []) for _family, names, _log in LOSS_FAMILIES for n in names}
        self._dirty = False
        self._step = 0
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setInterval(100)  # at most ~10 redraws per second
        self.redraw_timer.timeout.connect(self._redraw)
        self._build_form()

    def _build_plots(self, pg) -> None:
        """One small panel of loss curves per loss family (pyqtgraph: made when first needed)."""
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setObjectName("lossPlots")
        self.plots.setMinimumHeight(200)
        # Drops go to the main window (files to open), not to this canvas, which would swallow them.
        self.plots.setAcceptDrops(False)
        self.plots.setToolTip(LOSS_HELP)
        font = QFont()
        font.setPointSize(7)
        # One small panel per loss family: the losses differ by orders of magnitude, and on one
        # axis L_OC, L_LSC and D_L sat flat at 0 under L_R.
        for row, (family, names, log) in enumerate(LOSS_FAMILIES):
            # A 2 x 2 grid: each panel tall enough to read.
            plot = self.plots.addPlot(row=row // 2, col=row % 2, axisItems={"left": decade_axis(pg, "left")})
            self.family_plots[family] = plot
            # Coloured names in the title instead of a legend, which would cover the curves.
            # Packed tight: in a dock 330 px wide (a 1280 x 800 screen) a panel's title has about 120 px.
            key = " ".join(f"<span style='color:{CURVE_COLORS[n]}'>&#9632;{n}</span>" for n in names)
            # (L_R, L_XC and L1_XN exist only in finetuning: that panel needs no prefix, and has no room.)
            short = {"pretraining": "pretrain "}.get(family, "")
            plot.setTitle(f"{short}{key}", size="7pt")
            plot.showGrid(y=True, alpha=0.2)
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setTickFont(font)
                # Major ticks only: log axes otherwise label minor ticks too, and the labels overlap.
                axis.setStyle(maxTickLevel=0, tickTextOffset=2)
            plot.getAxis("left").setWidth(34)
            # Every panel names its x axis: the curves run over training steps (not epochs).
            plot.setLabel("bottom", "training step", **{"font-size": "7pt"})
            plot.getAxis("bottom").setHeight(28)
            plot.setLogMode(y=False)
            plot.log_y = log
            for name in names:
                self.curves[name] = plot.plot([], [], pen=pg.mkPen(CURVE_COLORS[name], width=1.5), name=name)
        self.pre_plot = self.family_plots["pretraining"]
        self.fine_plot = self.family_plots["finetuning L_R"]
        self.plots.scene().sigMouseMoved.connect(self._mouse_moved)
        # Above the hover line, as before the plots were made on demand; curves so far are drawn now.
        self.layout_.insertWidget(self.layout_.indexOf(self.hover_label), self.plots, 1)
        self._dirty = True
        self._redraw()

    def _build_form(self) -> None:
        form = QFormLayout()
        form.addRow("Pretrain epochs", self.pretrain)
        form.addRow("Finetune epochs", self.finetune)
        sched = QHBoxLayout()
        sched.addWidget(self.schedule_short)
        sched.addWidget(self.schedule_paper)
        form.addRow("Schedule", sched)
        form.addRow("Batch size", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Seed", self.seed)
        form.addRow("Profile", self.profile)
        form.addRow("Device", self.device)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.cancel_button)
        self.layout_ = layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.stage_bar)
        layout.addWidget(self.overall_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.hover_label)

    # ---------------------------------------------------------- settings --
    def set_devices(self, devices) -> None:
        """Replace the device list (known once torch has loaded), keeping the choice where offered."""
        current = self.device.currentData()
        self.device.blockSignals(True)
        self.device.clear()
        for dev_id, name in devices:
            self.device.addItem(name, dev_id)
        i = self.device.findData(current) if current not in (None, "auto") else -1
        self.device.setCurrentIndex(max(0, i))
        self.device.blockSignals(False)

    def set_schedule(self, pretrain: int, finetune: int) -> None:
        self.pretrain.setValue(pretrain)
        self.finetune.setValue(finetune)

    def config(self) -> TrainConfig:
        return TrainConfig(pretrain_epochs=self.pretrain.value(), finetune_epochs=self.finetune.value(),
                           batch_size=self.batch.value(), lr=self.lr.value(), seed=self.seed.value(),
                           device=self.device.currentData() or "auto", profile=self.profile.currentData())

    def settings(self) -> dict:
        c = self.config()
        return {"pretrain_epochs": c.pretrain_epochs, "finetune_epochs": c.finetune_epochs,
                "batch_size": c.batch_size, "lr": c.lr, "seed": c.seed, "profile": c.profile}

    def apply_settings(self, values: dict) -> None:
        for key, box in (("pretrain_epochs", self.pretrain), ("finetune_epochs", self.finetune),
                         ("batch_size", self.batch), ("seed", self.seed)):
            try:
                box.setValue(int(values[key]))
            except (KeyError, TypeError, ValueError):
                pass
        try:
            self.lr.setValue(float(values["lr"]))
        except (KeyError, TypeError, ValueError):
            pass
        i = self.profile.findData(values.get("profile")) if isinstance(values.get("profile"), str) else -1
        if i >= 0:
            self.profile.setCurrentIndex(i)

    # -------------------------------------------------------------- runs --
    def set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in (self.pretrain, self.finetune, self.batch, self.lr, self.seed, self.profile, self.device,
                  self.schedule_short, self.schedule_paper):
            w.setEnabled(not running)
        if running:
            self.redraw_timer.start()
        else:
            self.redraw_timer.stop()
            self._redraw()

    def show_status(self, text: str) -> None:
        """One line (rich text) under the progress bars: what the last run did, or why it stopped."""
        self.status.setText(text)

    def set_can_train(self, can: bool) -> None:
        """Whether Train may be pressed now (patches loaded, no job running)."""
        self.train_button.setEnabled(can)

    def show_model(self, text: str) -> None:
        """Describe a model that was loaded rather than trained here: a finished run, not one at 0 %."""
        self.reset()
        for bar, what in ((self.stage_bar, "trained"), (self.overall_bar, "done")):
            bar.setValue(100)
            bar.setFormat(what)
        self.status.setText(text)
        # The model file keeps the network, not the run's losses: say why the plots are empty.
        self.hover_label.setText("Loss curves belong to a training run in this window; the model file does "
                                 "not keep them. Train again to see them.")

    def clear(self) -> None:
        """Everything back to a new project's state: no curves, no bars, the idle text."""
        self.reset()
        self._idle_text = IDLE_TEXT
        self.status.setText(IDLE_TEXT)

    def show_marked(self, normal: int, needed: int) -> None:
        """Before any model: how many patches are marked normal, and whether Train can use them.

        Only while the line shows this idle advice: a run's result or a loaded model's description stays.
        (It said "Mark normal patches, then press Train." with 91 marked.)
        """
        if self.status.text() != self._idle_text:
            return
        if normal <= 0:
            text = IDLE_TEXT
        elif normal < needed:
            text = f"{normal} patch{'es' if normal != 1 else ''} marked normal; training needs at least {needed}."
        else:
            text = f"{normal} patches marked normal: press Train."
        self._idle_text = text
        self.status.setText(text)

    def reset(self) -> None:
        for xs, ys in self.points.values():
            xs.clear()
            ys.clear()
        self._step = 0
        self._dirty = True
        self._redraw()
        # The next run's curves set their own ranges (the last run's axes stayed after New Project).
        for plot in self.family_plots.values():
            plot.enableAutoRange()
        self.hover_label.setText("")
        self.stage_bar.setValue(0)
        self.overall_bar.setValue(0)
        self.stage_bar.setFormat("stage %p %")
        self.overall_bar.setFormat("overall %p %")

    def add_progress(self, records: List[Progress]) -> None:
        """Take a batch of training progress records (all kept for the curves)."""
        for rec in records:
            if rec.losses:
                self._step += 1
                for name, value in rec.losses.items():
                    if name in self.points:
                        xs, ys = self.points[name]
                        xs.append(self._step)
                        ys.append(value)
                self._dirty = True
        rec = records[-1]
        self.stage_bar.setValue(int(100 * rec.fraction) if rec.steps else 0)
        self.stage_bar.setFormat(f"{rec.stage} epoch {rec.epoch}/{rec.epochs}: %p %" if rec.epochs else f"{rec.stage}")
        self.overall_bar.setValue(int(100 * rec.overall))
        where = f"{rec.stage}"
        if rec.epochs:
            where += f" epoch {rec.epoch}/{rec.epochs}, step {rec.step}/{rec.steps}"
        losses = "  ".join(f"{k} {v:.4g}" for k, v in rec.losses.items())
        self.status.setText(f"{where} — elapsed{NBSP}{_fmt_seconds(rec.elapsed)}, ETA{NBSP}{_fmt_seconds(rec.eta)}"
                            + (f"<br>{losses}" if losses else "") + (f"<br>{rec.message}" if rec.message else ""))

    def _redraw(self) -> None:
        if not self._dirty or not self.plots_built:
            return          # (unbuilt: the curves are drawn from self.points when the plots are made)
        self._dirty = False
        # Reconstruction errors fall by orders of magnitude in the first epochs; a log
        # axis keeps them readable (switched on with data: an empty log axis is clutter).
        for plot in self.family_plots.values():
            names = [n for n, c in self.curves.items() if c.getViewBox() is plot.getViewBox()]
            values = [v for n in names for v in self.points[n][1] if v > 0]
            # A log axis only when the curves span more than a decade: within one, its labels crowd.
            wide = bool(values) and max(values) > 10 * min(values)
            plot.setLogMode(y=bool(plot.log_y and wide))
        for name, curve in self.curves.items():
            xs, ys = self.points[name]
            curve.setData(xs, ys)

    def values_at(self, step: int) -> Dict[str, float]:
        """Each loss's value at training step ``step`` (losses logged at that step only)."""
        out = {}
        for name, (xs, ys) in self.points.items():
            if xs and xs[0] <= step <= xs[-1]:
                k = int(np.searchsorted(xs, step))
                if k < len(xs) and xs[k] == step:
                    out[name] = ys[k]
        return out

    def _mouse_moved(self, pos) -> None:
        for plot in self.family_plots.values():
            if plot.sceneBoundingRect().contains(pos):
                step = int(round(plot.getViewBox().mapSceneToView(pos).x()))
                values = self.values_at(step)
                self.hover_label.setText(f"step {step}: " + "  ".join(f"{k} {v:.4g}" for k, v in values.items())
                                         if values else "")
                return

    def last_values(self) -> Dict[str, float]:
        """The latest value of each loss (what the hover text shows)."""
        return {n: ys[-1] for n, (xs, ys) in self.points.items() if ys}
