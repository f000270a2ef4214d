"""Re-cut the loaded images with other patch settings, without starting a new project.

A user who loaded a field as grid tiles and then sees that objects would be
better (or who wants another object size) re-cuts the same inputs.  Marks
follow the objects: a new patch takes the mark of the old patch whose centre
is nearest to its own, if that centre lies within a quarter of the old
patch's side (an object's radius when crops are twice the object size).
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox,
                               QVBoxLayout)

from ddrcore.objects import SOURCES, Patching

SOURCE_LABELS = {"grid": "Grid tiles", "auto": "Objects: detect", "labels": "Objects: label images",
                 "points": "Objects: points CSV"}


class RecutDialog(QDialog):
    """Choose the new patch source, object size and patch size."""

    def __init__(self, current: Optional[Patching], patch_size: int, parent=None):
        super().__init__(parent)
        self.setObjectName("recutDialog")
        self.setWindowTitle("Re-cut patches")
        self.setMinimumWidth(400)
        self.source = QComboBox(objectName="recutSourceCombo")
        for s in SOURCES:
            self.source.addItem(SOURCE_LABELS[s], s)
        self.size = QDoubleSpinBox(objectName="recutObjectSizeSpin")
        self.size.setRange(0, 1024)
        self.size.setDecimals(1)
        self.size.setSuffix(" px")
        self.size.setSpecialValueText("auto")
        self.size.setToolTip("Typical object diameter; auto: estimated from the images")
        self.patch = QSpinBox(objectName="recutPatchSizeSpin")
        self.patch.setRange(0, 4096)
        self.patch.setSuffix(" px")
        self.patch.setSpecialValueText("2 × object size")
        self.patch.setToolTip("Side of each patch; for objects 0 means twice the object size")
        current = current or Patching("grid", patch_size=patch_size)
        self.source.setCurrentIndex(max(0, self.source.findData(current.source)))
        self.size.setValue(current.object_size or 0)
        self.patch.setValue(current.crop_side() if current.is_grid or current.patch_size else 0)
        form = QFormLayout()
        form.addRow("Patches from", self.source)
        form.addRow("Object size", self.size)
        form.addRow("Patch size", self.patch)
        note = QLabel("The loaded images are cut again. Marks follow the objects they were on; "
                      "scores are cleared, and a model trained on another patch size must be trained again.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Re-cut")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(buttons)

    def values(self) -> tuple[str, Optional[float], Optional[int]]:
        """(source, object size or None, patch size or None)."""
        source = self.source.currentData()
        patch = self.patch.value() or None
        if source == "grid" and patch is None:
            patch = 32
        return source, self.size.value() or None, patch
