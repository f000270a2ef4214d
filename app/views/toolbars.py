"""The two toolbars: how patches are cut (edits the document's patch settings) and how the gallery shows them.

:class:`PatchBar` writes every choice into :class:`ddrid_gui.document.PatchSettings`
and follows the document's ``settings_changed`` (a project or the first load
settles them); :class:`ViewBar` only says what the user chose, by signals.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QSpinBox,
                               QToolBar, QToolButton, QWidget)

from .. import settings as appsettings
from ..document.document import Document
from ..document.patch_settings import BORDER_POLICIES, BORDER_TIPS, SOURCE_LABELS
from .gallery import CONTRAST_LABELS, CONTRAST_MODES
from ..document.table import FILTERS, SORTS

CHANNELS = [("auto (grey)", None), ("channel 0", 0), ("channel 1", 1), ("channel 2", 2), ("channel 3", 3),
            ("all (multi-channel)", "all")]
# Where patches come from (ddrcore.objects.SOURCES): one name for each, shared with the Re-cut dialog.
PATCHING_LABELS = list(SOURCE_LABELS.items())
POINTS_FILTER = "Points CSV (*.csv);;All files (*)"
SORT_LABELS = {"score": "Score (highest first)", "name": "Name", "file": "File / load order"}
FILTER_LABELS = {"all": "All patches", "normal": "Marked normal", "flagged": "Flagged",
                 "unmarked": "Unmarked", "excluded": "Excluded"}


def _set_quietly(box, value) -> None:
    """Show ``value`` without emitting (and without touching a box that already shows it: typing goes on)."""
    if box.value() != value:
        box.blockSignals(True)
        box.setValue(value)
        box.blockSignals(False)


class PatchBar(QToolBar):
    """Patch size, patch source (with its label folder / points CSV), object size and channel."""

    def __init__(self, document: Document, start_dir, parent=None):
        super().__init__("Main", parent)
        self.setObjectName("mainToolbar")
        self.setMovable(False)
        self.document = document
        self._start_dir = start_dir      # where the file dialogs open (a callable)
        self.patch_size_box = QSpinBox(objectName="patchSizeBox")
        self.patch_size_box.setRange(4, 1024)
        self.patch_size_box.setSuffix(" px")
        self.patch_size_box.setValue(document.patch_settings.patch_size)
        self.patch_size_box.setToolTip("Side of the squares cut from larger images (32 = the paper's size)")
        self.patching_combo = QComboBox(objectName="patchingCombo")
        for key, label in PATCHING_LABELS:
            self.patching_combo.addItem(label, key)
        self.patching_combo.setToolTip("Where patches come from: square grid tiles, or one crop centred on each "
                                       "object (detected, from label images beside the images, or from a CSV "
                                       "of centres); object crops are twice the object size a side")
        self.files_button = QToolButton(objectName="patchingFilesButton")
        self.files_button.setText("…")
        self.object_size_spin = QDoubleSpinBox(objectName="objectSizeSpin")
        self.object_size_spin.setRange(0, 1024)
        self.object_size_spin.setDecimals(1)
        self.object_size_spin.setSingleStep(1)
        self.object_size_spin.setSuffix(" px")
        self.object_size_spin.setSpecialValueText("auto")
        self.object_size_spin.setToolTip("Typical object diameter in pixels; \"auto\" estimates it from the "
                                         "images (crops are twice this size a side): the folder's size, and an "
                                         "image at another magnification is cut at its own (the view row says "
                                         "which)")
        self.channel_box = QComboBox(objectName="channelBox")
        for label, value in CHANNELS:
            self.channel_box.addItem(label, value)
        self.channel_box.setToolTip("Which channel of multichannel images to use")
        self.border_box = QComboBox(objectName="borderBox")
        for key in BORDER_POLICIES:
            self.border_box.addItem(key, key)
            self.border_box.setItemData(self.border_box.count() - 1, BORDER_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.border_box.setToolTip("Objects touching the image border (as ddrid --border): exclude = not cut; "
                                   "flag = cut, scored and marked, never trained on; include = cut like any other")
        self._fixed = False

        self.addWidget(QLabel(" Patch "))
        self.addWidget(self.patch_size_box)
        self.addWidget(QLabel(" From "))
        self.addWidget(self.patching_combo)
        self.files_action = self.addWidget(self.files_button)
        self.files_action.setObjectName("patchingFilesAction")
        self.files_action.setVisible(False)
        self.addWidget(QLabel(" Object "))
        self.addWidget(self.object_size_spin)
        self.border_action = self.addWidget(self._labelled(" Border ", self.border_box))
        self.addWidget(QLabel(" Channel "))
        self.addWidget(self.channel_box)

        self.patch_size_box.valueChanged.connect(self._patch_size_changed)
        self.patching_combo.currentIndexChanged.connect(self._source_changed)
        self.object_size_spin.valueChanged.connect(
            lambda v: document.set_patch_settings(object_size=float(v) or None))
        self.channel_box.currentIndexChanged.connect(
            lambda _i: document.set_patch_settings(channel=self.channel_box.currentData()))
        self.border_box.currentIndexChanged.connect(
            lambda _i: document.set_patch_settings(border=self.border_box.currentData()))
        self.files_button.clicked.connect(self.ask_patching_files)
        document.settings_changed.connect(self._show_settings)

    @staticmethod
    def _labelled(text: str, box) -> QWidget:
        # Label and box in one widget: hidden together when the choice does not apply (grid tiles).
        w = QWidget()
        lay = QHBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(QLabel(text))
        lay.addWidget(box)
        return w

    # ---------------------------------------------------------- choices --
    def _patch_size_changed(self, value: int) -> None:
        if len(self.document) == 0:
            self.document.set_patch_settings(patch_size=value)
            appsettings.put("patchSize", value)

    def _source_changed(self, _index: int) -> None:
        source = self.patching_combo.currentData()
        self.document.set_patch_settings(source=source, chosen=True)
        if source == "points" and not self.document.patch_settings.points:
            self.ask_points_file()

    def ask_patching_files(self) -> None:
        """The "…" button: the label images folder (labels) or the points CSV (points)."""
        if self.patching_combo.currentData() == "labels":
            folder = QFileDialog.getExistingDirectory(self, "Folder of label images (cancel: beside the images)",
                                                      self.document.patch_settings.labels_dir or self._start_dir())
            self.document.set_patch_settings(labels_dir=folder or None)
        else:
            self.ask_points_file()

    def ask_points_file(self) -> Optional[str]:
        """Ask for the CSV of object centres (columns path,y,x or napari's axis-0,axis-1)."""
        path, _ = QFileDialog.getOpenFileName(self, "Points CSV (object centres)", self._start_dir(), POINTS_FILTER)
        if path:
            self.document.set_patch_settings(points=path)
        return path or None

    def preset(self, source: Optional[str] = None, object_size: Optional[float] = None,
               labels: Optional[str] = None, points: Optional[str] = None) -> None:
        """Preset the patch source (command line, projects, re-cut) before anything is loaded."""
        if labels is not None:
            self.document.set_patch_settings(labels_dir=labels)
        if points is not None:
            self.document.set_patch_settings(points=points)
        if source is not None:
            i = self.patching_combo.findData(source)
            if i >= 0:
                self.patching_combo.setCurrentIndex(i)
                # Chosen (command line, re-cut) even when the combo already showed it.
                self.document.set_patch_settings(chosen=True)
        if object_size is not None:
            self.object_size_spin.setValue(float(object_size))

    # ------------------------------------------------------------- shown --
    def _show_settings(self) -> None:
        s = self.document.patch_settings
        _set_quietly(self.patch_size_box, s.patch_size)
        _set_quietly(self.object_size_spin, float(s.object_size or 0))
        for box, value in ((self.patching_combo, s.source), (self.channel_box, s.channel),
                           (self.border_box, s.border)):
            i = max(0, next((k for k in range(box.count()) if box.itemData(k) == value), 0))
            if box.currentIndex() != i:
                box.blockSignals(True)
                box.setCurrentIndex(i)
                box.blockSignals(False)
        self.set_fixed(self._fixed)

    def set_fixed(self, fixed: bool) -> None:
        """Patches of one project share one size, source and channel (one model input shape)."""
        self._fixed = fixed
        s = self.document.patch_settings
        objects = s.source != "grid"
        # Points have no size to estimate: without an object size the patch size box gives the crop side.
        self.patch_size_box.setEnabled(not fixed and s.source in ("grid", "points"))
        self.channel_box.setEnabled(not fixed)
        self.patching_combo.setEnabled(not fixed)
        self.object_size_spin.setEnabled(not fixed and objects)
        # A folder at two magnifications is cut at each image's own size: the box says "per image" rather
        # than the folder's median, which no image may have been cut at (the view row's note gives the sizes).
        per_image = fixed and objects and len({src.size for src in self.document.table.sources}) > 1
        was = self.object_size_spin.specialValueText() == "per image"
        self.object_size_spin.setSpecialValueText("per image" if per_image else "auto")
        self.patch_size_box.setSpecialValueText("per image" if per_image else "")   # its crops too
        if per_image or was:
            _set_quietly(self.object_size_spin, 0.0 if per_image else float(s.object_size or 0))
            _set_quietly(self.patch_size_box, self.patch_size_box.minimum() if per_image else s.patch_size)
        self.files_action.setVisible(s.source in ("labels", "points"))
        self.border_action.setVisible(objects)
        self.border_box.setEnabled(not fixed)
        self.files_button.setEnabled(not fixed)
        self.files_button.setToolTip(f"Label images folder: {s.labels_dir or 'beside the images'}"
                                     if s.source == "labels" else f"Points CSV: {s.points or 'none chosen'}")
        tip = "Fixed for this project (File ▸ New Project to change)" if fixed else ""
        for box in (self.patch_size_box, self.channel_box, self.patching_combo, self.object_size_spin,
                    self.border_box):
            box.setStatusTip(tip)


class ViewBar(QToolBar):
    """Sort, filter, "include training patches", thumbnail contrast and tile size."""

    orderChanged = Signal()               # sort or filter
    includeTrainingToggled = Signal(bool)
    contrastChanged = Signal(str)
    tileSizeChanged = Signal(int)

    def __init__(self, parent=None):
        super().__init__("View", parent)
        self.setObjectName("viewToolbar")
        self.setMovable(False)
        self.sort_box = self._combo(" Sort ", "sortBox", SORTS, SORT_LABELS)
        self.filter_box = self._combo(" Show ", "filterBox", FILTERS, FILTER_LABELS)
        self.include_training_box = QCheckBox("Include training patches", objectName="includeTrainingCheck")
        self.include_training_box.setToolTip(
            "After training, the gallery, histogram, flagged count, CSV and report leave out the patches the "
            "model was trained or validated on (they score low by construction). Tick to include them.")
        self.include_training_box.toggled.connect(self.includeTrainingToggled.emit)
        self.addWidget(self.include_training_box)
        self.contrast_box = self._combo(" Contrast ", "contrastBox", CONTRAST_MODES, CONTRAST_LABELS, emit=False)
        self.contrast_box.setCurrentIndex(CONTRAST_MODES.index("file"))
        self.contrast_box.setToolTip("Thumbnail contrast (display only; the Detail panel has its own). Per file: "
                                     "every patch of an image shares one robust range (objects: up to the bright "
                                     "level of most objects, so a few saturated ones do not darken the rest), and "
                                     "empty background stays dark. Per patch: each patch stretched to its own "
                                     "range (faint structure shows, but background becomes loud noise). "
                                     "Fixed range: one range for all.")
        self.contrast_box.currentIndexChanged.connect(lambda _i: self.contrastChanged.emit(self.contrast_box.currentData()))
        sizes = (48, 64, 96, 128)
        self.zoom_box = self._combo(" Tiles ", "tileSizeBox", sizes, {px: f"{px} px" for px in sizes}, emit=False)
        self.zoom_box.setCurrentIndex(1)
        self.zoom_box.currentIndexChanged.connect(lambda _i: self.tileSizeChanged.emit(self.zoom_box.currentData()))
        # How the loaded images were cut when the app chose it (objects found): visible, not only a flash.
        # On this row: at 1280 px the patch toolbar's row is full and would hide it behind its » button.
        self.note_label = QLabel("", objectName="cutNoteLabel")
        self.note_label.setStyleSheet("color: #555; padding-left: 12px")
        self.addWidget(self.note_label)

    def show_note(self, text: str) -> None:
        """A short line: how the app cut the loaded images (the full text as tooltip); "" clears it."""
        self.note_label.setText(text.split(". ")[0] if text else "")
        self.note_label.setToolTip(text)

    def _combo(self, label: str, name: str, keys, labels, emit: bool = True) -> QComboBox:
        self.addWidget(QLabel(label))
        box = QComboBox(objectName=name)
        for key in keys:
            box.addItem(labels[key], key)
        if emit:
            box.currentIndexChanged.connect(lambda _i: self.orderChanged.emit())
        self.addWidget(box)
        return box

    def contrast(self) -> str:
        """The chosen thumbnail contrast (ddrid_gui.views.gallery.CONTRAST_MODES)."""
        return self.contrast_box.currentData()

    def set_contrast(self, mode) -> None:
        """Show thumbnails in ``mode`` (emits ``contrastChanged`` on change); an unknown mode is ignored."""
        i = self.contrast_box.findData(mode)
        if i >= 0:
            self.contrast_box.setCurrentIndex(i)

    def sort(self) -> str:
        """The chosen sort key (ddrid_gui.document.table.SORTS)."""
        return self.sort_box.currentData()

    def filter(self) -> str:
        """The chosen filter (ddrid_gui.document.table.FILTERS)."""
        return self.filter_box.currentData()

    def set_sort(self, key: str) -> None:
        """Sort by ``key`` (emits ``orderChanged`` when it changes)."""
        self.sort_box.setCurrentIndex(SORTS.index(key))

    def set_include_training(self, include: bool) -> None:
        """Tick or clear "Include training patches" (emits ``includeTrainingToggled`` on change)."""
        self.include_training_box.setChecked(include)
