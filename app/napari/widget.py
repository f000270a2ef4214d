"""The ddrid dock widget for napari: train on the objects of a layer, score them, paint the scores back.

A thin view: the arrays come out of napari's layers, the work is done by
:mod:`.session` (which drives ddrcore's generators), and the results go back
as layers.  Long work runs in napari's worker thread (``create_worker`` over
the generator), reported in napari's progress bar, and stops at the next
progress report when Cancel is pressed: ddrcore's jobs commit nothing before
they finish, so a cancelled run leaves the previous model and layers as they were.

Qt is reached through qtpy, as napari does, so the dock runs with whichever
binding napari runs on; nothing of the desktop app's widgets is used here.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox,
                            QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget)

from ddrcore.model.thresholds import ROBUST_RULE, robust_threshold

from . import session as ses
from .model_buttons import ModelFileButtons
from .layers import ANOMALIES_LAYER, COLORMAP, SCORES_LAYER, SELECTED_LAYER, ResultLayers, pixmap as _pixmap  # noqa: F401
#: Slider positions across the score range.
SLIDER_STEPS = 1000


class DdridWidget(ResultLayers, ModelFileButtons, QWidget):
    """Dock: image and objects in, model and ``ddrid scores`` / ``ddrid anomalies`` layers out."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.setObjectName("ddridDock")
        self.model = None
        self.outcome: Optional[ses.Outcome] = None
        self.threshold: float = float("nan")
        self.table = None
        self.worker = None
        self._bar = None
        self._training = False
        self.marked: set = set()
        self._updating = False        # layers are being rewritten: their events are ours, not the user's
        self._shown: Optional[int] = None   # the object whose decomposition the dock shows

        # --- input -------------------------------------------------------------
        self.image_combo = QComboBox(objectName="imageLayerCombo")
        self.image_combo.setToolTip("The image whose objects are trained on and scored (the plane on view)")
        self.objects_combo = QComboBox(objectName="objectsLayerCombo")
        self.objects_combo.setToolTip("Where the objects are: a Labels layer (e.g. from Cellpose or StarDist), "
                                      "a Points layer (one point per object), or detect bright objects")
        self.size_spin = QDoubleSpinBox(objectName="objectSizeSpin")
        self.size_spin.setRange(0, 1024)
        self.size_spin.setDecimals(0)
        self.size_spin.setSuffix(" px")
        self.size_spin.setSpecialValueText("auto")
        self.size_spin.setToolTip("The objects' typical diameter; auto measures it from the labels or the image")
        inputs = QFormLayout()
        inputs.addRow("Image", self.image_combo)
        inputs.addRow("Objects", self.objects_combo)
        inputs.addRow("Object size", self.size_spin)

        # --- normals -----------------------------------------------------------
        self.only_marked = QCheckBox("Train only on marked objects", objectName="onlyMarkedCheck")
        self.only_marked.setToolTip("Off: every object is taken as normal (fine while anomalies are rare)")
        self.mark_button = QPushButton("Mark selected label normal", objectName="markNormalButton")
        self.mark_button.setToolTip("Adds the Labels layer's selected label (pick it with the colour picker)")
        self.clear_marks = QPushButton("Clear", objectName="clearMarksButton")
        self.marks_label = QLabel("", objectName="marksLabel")
        self.marks_label.setWordWrap(True)
        marks_row = QHBoxLayout()
        marks_row.addWidget(self.mark_button)
        marks_row.addWidget(self.clear_marks)

        # --- training ------------------------------------------------------------
        self.epoch_spin = QSpinBox(objectName="epochSpin")
        self.epoch_spin.setRange(ses.MIN_EPOCHS, 1000)
        self.epoch_spin.setValue(ses.DEFAULT_EPOCHS)
        self.epoch_spin.setToolTip(f"Pretraining epochs, and as many finetuning epochs. {ses.DEFAULT_EPOCHS}: the "
                                   "demo schedule (minutes on a CPU); the paper uses 150 + 100")
        self.train_button = QPushButton("Train", objectName="trainButton")
        self.train_button.setToolTip("Train a model of normal objects, then score every object")
        self.cancel_button = QPushButton("Cancel", objectName="cancelButton")
        self.cancel_button.setEnabled(False)
        self.score_button = QPushButton("Score", objectName="scoreButton")
        self.score_button.setToolTip("Score the objects of the chosen image with the current model")
        self.score_button.setEnabled(False)
        self.save_button = QPushButton("Save model…", objectName="saveModelButton")
        self.save_button.setEnabled(False)
        self.load_button = QPushButton("Load model…", objectName="loadModelButton")
        self.load_button.setToolTip("A .ddrid model file from this dock, the ddrid app or `ddrid train`")
        run_row = QHBoxLayout()
        for b in (self.train_button, self.cancel_button, self.score_button):
            run_row.addWidget(b)
        file_row = QHBoxLayout()
        file_row.addWidget(self.load_button)
        file_row.addWidget(self.save_button)
        epochs = QFormLayout()
        epochs.addRow("Epochs", self.epoch_spin)

        # --- results -------------------------------------------------------------
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal, objectName="thresholdSlider")
        self.threshold_slider.setRange(0, SLIDER_STEPS)
        self.threshold_slider.setEnabled(False)
        self.threshold_slider.setToolTip("Objects scoring at or above the threshold are flagged (red outline)")
        self.robust_button = QPushButton("Robust z", objectName="robustThresholdButton")
        self.robust_button.setToolTip(f"Set the threshold from these objects' own scores: {ROBUST_RULE}")
        self.robust_button.setEnabled(False)
        self.threshold_label = QLabel("", objectName="thresholdLabel")
        self.threshold_label.setWordWrap(True)
        self.legend = QLabel(objectName="scoreLegend")
        self.legend.setPixmap(_pixmap(ses.colorbar(COLORMAP, 220, 10)))
        self.legend_low = QLabel("typical", objectName="legendLow")
        self.legend_high = QLabel("unusual", objectName="legendHigh")
        self.legend_caption = QLabel(f"Colour in '{SCORES_LAYER}': each object's anomaly score. Grey: touches the "
                                     "image edge, not scored.", objectName="legendCaption")
        self.legend_caption.setWordWrap(True)
        legend_row = QHBoxLayout()
        legend_row.addWidget(self.legend_low)
        legend_row.addWidget(self.legend, 1)
        legend_row.addWidget(self.legend_high)
        self.object_title = QLabel("Click an object in 'ddrid scores' to see why it scored so.",
                                   objectName="objectTitle")
        self.object_title.setWordWrap(True)
        # input | X_C | X_N, each with its caption under it.
        self.panels = [QLabel(objectName=f"decompositionPanel{k}") for k in range(len(ses.PANELS))]
        self.panel_captions = [QLabel("") for _ in ses.PANELS]
        self.decomposition = QWidget(objectName="decompositionView")
        grid = QGridLayout(self.decomposition)
        grid.setContentsMargins(0, 0, 0, 0)
        for k, (panel, caption) in enumerate(zip(self.panels, self.panel_captions)):
            panel.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            caption.setWordWrap(True)
            grid.addWidget(panel, 0, k)
            grid.addWidget(caption, 1, k)
        self.captions = QLabel("", objectName="decompositionCaptions")
        self.captions.setWordWrap(True)
        self.status = QLabel("", objectName="statusLabel")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)

        layout = QVBoxLayout(self)
        box_in = QGroupBox("1. Objects")
        box_in.setLayout(inputs)
        box_norm = QGroupBox("2. Normal objects")
        nl = QVBoxLayout(box_norm)
        nl.addWidget(self.only_marked)
        nl.addLayout(marks_row)
        nl.addWidget(self.marks_label)
        box_train = QGroupBox("3. Model")
        tl = QVBoxLayout(box_train)
        tl.addLayout(epochs)
        tl.addLayout(run_row)
        tl.addLayout(file_row)
        box_res = QGroupBox("4. Anomaly score")
        rl = QVBoxLayout(box_res)
        rl.addWidget(self.legend_caption)
        rl.addLayout(legend_row)
        rl.addWidget(QLabel("Threshold (drag: objects at or above it are flagged)"))
        slider_row = QHBoxLayout()
        slider_row.addWidget(self.threshold_slider, 1)
        slider_row.addWidget(self.robust_button)
        rl.addLayout(slider_row)
        rl.addWidget(self.threshold_label)
        rl.addWidget(self.object_title)
        rl.addWidget(self.decomposition)
        rl.addWidget(self.captions)
        for w in (box_in, box_norm, box_train, box_res):
            layout.addWidget(w)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.train_button.clicked.connect(self.train)
        self.cancel_button.clicked.connect(self.cancel)
        self.score_button.clicked.connect(self.score)
        self.save_button.clicked.connect(self._save_clicked)
        self.load_button.clicked.connect(self._load_clicked)
        self.mark_button.clicked.connect(self.mark_selected)
        self.clear_marks.clicked.connect(self.clear_marked)
        self.threshold_slider.valueChanged.connect(self._slider_moved)
        self.robust_button.clicked.connect(self.set_robust_threshold)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed,
                      self.viewer.layers.events.moved):
            event.connect(self._refresh_combos)
        self._refresh_combos()
        self._show_marks()

    # ------------------------------------------------------------ layers --
    def _refresh_combos(self, _event=None) -> None:
        from napari.layers import Image, Labels, Points

        def fill(combo, names, extra=()):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([*names, *extra])
            if current in [*names, *extra]:
                combo.setCurrentText(current)
            combo.blockSignals(False)

        layers = list(self.viewer.layers)
        fill(self.image_combo, [ly.name for ly in layers if isinstance(ly, Image)])
        objects = [ly.name for ly in layers if isinstance(ly, (Labels, Points))
                   and ly.name not in (SCORES_LAYER, ANOMALIES_LAYER, SELECTED_LAYER)]
        fill(self.objects_combo, objects, [ses.DETECT])
        # Renamed layers keep their place in the combos (connecting twice is a no-op in napari).
        for ly in layers:
            ly.events.name.connect(self._refresh_combos)

    def _layer(self, name: str):
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def _plane(self, layer) -> tuple[np.ndarray, tuple, int]:
        """The plane of ``layer`` on view: (Y, X[, C]) array, the leading indices, and how many leading dims."""
        data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
        spatial = 3 if getattr(layer, "rgb", False) else 2
        lead = data.ndim - spatial
        if lead <= 0:
            return np.asarray(data), (), 0
        coords = layer.world_to_data(self.viewer.dims.point)[:lead]
        index = tuple(int(np.clip(round(float(c)), 0, n - 1)) for c, n in zip(coords, data.shape[:lead]))
        return np.asarray(data[index]), index, lead

    def current_page(self) -> ses.Page:
        """The image plane on view and its objects, as chosen in the combos."""
        from napari.layers import Labels, Points

        from ddrcore.errors import DdridError

        image_layer = self._layer(self.image_combo.currentText())
        if image_layer is None:
            raise DdridError("add an image layer first (File ▸ Open, or File ▸ Open Sample ▸ ddrid)")
        image, index, lead = self._plane(image_layer)
        self._where = (image_layer, index, lead)
        size = self.size_spin.value() or None
        objects = self._layer(self.objects_combo.currentText())
        if isinstance(objects, Labels):
            labels, _index, _lead = self._plane(objects)
            return ses.Page(image, labels=np.asarray(labels), object_size=size, name=image_layer.name)
        if isinstance(objects, Points):
            pts = np.asarray(objects.data, float)
            if pts.shape[1] > 2 and lead:
                # Only the points on this plane.
                on = np.all(np.round(pts[:, :-2]) == np.asarray(index[-(pts.shape[1] - 2):], float), axis=1)
                pts = pts[on]
            return ses.Page(image, points=pts[:, -2:], object_size=size, name=image_layer.name)
        return ses.Page(image, object_size=size, name=image_layer.name)

    # ------------------------------------------------------------ normals --
    def mark_selected(self) -> None:
        from napari.layers import Labels

        layer = self._layer(self.objects_combo.currentText())
        if not isinstance(layer, Labels):
            scores = self._layer(SCORES_LAYER)
            layer = scores if isinstance(scores, Labels) else None
        if layer is None or not layer.selected_label:
            self._say("Select a label first (the colour picker of a Labels layer).")
            return
        self.marked.add(int(layer.selected_label))
        self.only_marked.setChecked(True)
        self._show_marks()

    def clear_marked(self) -> None:
        self.marked.clear()
        self.only_marked.setChecked(False)
        self._show_marks()

    def _show_marks(self) -> None:
        ids = sorted(self.marked)
        shown = ", ".join(map(str, ids[:12])) + (" …" if len(ids) > 12 else "")
        self.marks_label.setText(f"Marked normal: {shown}" if ids else "No object marked: all are taken as normal.")

    # ------------------------------------------------------------- jobs --
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def train(self) -> None:
        """Train on the normal objects of the chosen image (in napari's worker thread), then score them all."""
        if self.busy:
            return
        try:
            page = self.current_page()
        except Exception as exc:  # noqa: BLE001 - shown to the user in one line
            self._fail(exc)
            return
        normals = sorted(self.marked) if self.only_marked.isChecked() and self.marked else None
        self._run(ses.train_job, page, self.epoch_spin.value(), normals, training=True,
                  title=f"ddrid: training on {page.name}")

    def score(self) -> None:
        """Score the objects of the chosen image with the current model."""
        if self.busy or self.model is None:
            return
        try:
            page = self.current_page()
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            return
        self._run(ses.score_job, page, self.model, training=False, title=f"ddrid: scoring {page.name}")

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()
            self._say("Cancelling… the previous model and layers are kept.")

    def _run(self, job, *args, training: bool, title: str) -> None:
        from napari.qt.threading import create_worker
        from napari.utils import progress

        self._training = training
        self._bar = progress(total=SLIDER_STEPS, desc=title)
        worker = create_worker(job, *args, _start_thread=False)
        worker.yielded.connect(self._progress)
        worker.returned.connect(self._done)
        worker.errored.connect(self._fail)
        worker.aborted.connect(lambda: self._say("Cancelled; the previous model and layers are kept."))
        worker.finished.connect(self._finished)
        self.worker = worker
        self._set_running(True)
        self._say(title.replace("ddrid: ", "").capitalize() + "…")
        worker.start()

    def _set_running(self, running: bool) -> None:
        for w in (self.train_button, self.score_button, self.load_button, self.save_button):
            w.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.score_button.setEnabled(self.model is not None)
            self.save_button.setEnabled(self.model is not None)

    def _progress(self, rec) -> None:
        bar = self._bar
        # A report queued before the job finished may arrive after the bar is closed.
        if bar is None:
            return
        overall = float(rec.overall)
        if self._training:
            overall = 0.95 + 0.05 * overall if rec.stage == "score" else 0.95 * overall
        target = int(np.clip(overall, 0, 1) * SLIDER_STEPS)
        what = f"{rec.stage} epoch {rec.epoch}/{rec.epochs}" if rec.epochs else rec.stage
        bar.set_description(f"ddrid: {what}")
        if target > bar.n:
            bar.update(target - bar.n)

    def _finished(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.worker = None
        self._set_running(False)

    def _fail(self, exc) -> None:
        from ddrcore.errors import DdridError

        text = str(exc) if isinstance(exc, (DdridError, ValueError)) else f"{type(exc).__name__}: {exc}"
        self._say(f"<span style='color:#e05050'>{text}</span>")
        try:
            from napari.utils.notifications import show_error

            show_error(f"ddrid: {text}")
        except Exception:  # noqa: BLE001 - the status line already says it
            pass

    def _say(self, html: str) -> None:
        self.status.setText(html)

    def _done(self, outcome: ses.Outcome) -> None:
        from ddrcore.model.score_type import ScoreType

        self.model = outcome.model
        self.outcome = outcome
        self.threshold = float(outcome.model.threshold)
        # "auto" says what it settled on, so the size can be given back (or corrected) next time.
        used = outcome.cut.patches.patching.object_size
        self.size_spin.setSpecialValueText(f"auto ({used:.0f} px)" if used else "auto")
        self._show_results()
        n = len(outcome.cut.ids)
        label = ScoreType.label_of(self.model.score_type)
        if outcome.trained:
            secs = self.model.training.get("seconds", 0)
            self._say(f"Trained on {len(outcome.normal_ids)} normal objects in {secs:.0f} s; scored {n} objects "
                      f"by {label}. The threshold starts where 5 % of normal objects would be flagged.")
        else:
            self._say(f"Scored {n} objects by {label}.")

    # ---------------------------------------------------------- results --
    def _show_results(self) -> None:
        self._updating = True
        try:
            self._write_layers()
        finally:
            self._updating = False
        if self._shown is not None:
            self.show_object(self._shown)      # the same object, with the new model's view of it

    def _slider_position(self, value: float) -> int:
        span = self._slider_hi - self._slider_lo
        return int(round((value - self._slider_lo) / span * SLIDER_STEPS)) if span > 0 else 0

    def _slider_moved(self, position: int) -> None:
        if self.table is None:
            return
        self.threshold = self._slider_lo + (self._slider_hi - self._slider_lo) * position / SLIDER_STEPS
        self.set_threshold(self.threshold)

    def set_robust_threshold(self) -> None:
        """The threshold from the scored objects themselves (:func:`ddrcore.model.thresholds.robust_threshold`)."""
        if self.table is None:
            return
        value = robust_threshold(self.table["score"])
        if not np.isfinite(value):
            return
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(max(0, min(SLIDER_STEPS, self._slider_position(value))))
        self.threshold_slider.blockSignals(False)
        self.set_threshold(value)

    def set_threshold(self, value: float) -> None:
        """Flag the objects scoring at or above ``value`` (the slider calls this)."""
        import pandas as pd

        self.threshold = float(value)
        score = self.table["score"]
        self.table["is_anomaly"] = np.isfinite(score) & (score >= self.threshold)
        self._layer(SCORES_LAYER).features = pd.DataFrame(self.table)
        self._update_anomalies()
        self._show_threshold()

    def _show_threshold(self) -> None:
        flagged = int(self.table["is_anomaly"].sum())
        scored = int(np.isfinite(self.table["score"]).sum())
        val = self.model.validation_scores.get(self.model.score_type) if self.model is not None else None
        fpr = ""
        if val is not None and len(val):
            fpr = (f"; {100 * float(np.mean(np.asarray(val) >= self.threshold)):.0f} % of the held-out normal "
                   "objects score as high")
        from ddrcore.model.score_type import ScoreType

        name = ScoreType.label_of(self.model.score_type) if self.model is not None else "score"
        self.threshold_label.setText(f"{name} ≥ {self.threshold:.3g}: <b>{flagged} of {scored}</b> objects flagged "
                                     f"(red outlines, layer '{ANOMALIES_LAYER}'){fpr}.")

    # --------------------------------------------------------- selection --
    def _clicked(self, layer, event) -> None:
        value = layer.get_value(event.position, view_direction=event.view_direction,
                                dims_displayed=event.dims_displayed, world=True)
        if value:
            layer.selected_label = int(value)

    def _selected(self, _event=None) -> None:
        layer = self._layer(SCORES_LAYER)
        if layer is not None and not self._updating:
            self.show_object(int(layer.selected_label))
