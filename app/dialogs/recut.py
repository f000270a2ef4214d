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

from ..document.patch_settings import BORDER_POLICIES, BORDER_TIPS, SOURCE_LABELS, crop_warning


class RecutDialog(QDialog):
    """Choose the new patch source, object size, patch size and border policy.

    For objects the patch size follows the object size (0: twice it) unless the
    user types one: a grid's 32 px tile size carried over would cut 32 px
    squares inside 85 px nuclei.
    """

    def __init__(self, current: Optional[Patching], patch_size: int, parent=None, estimated: str = ""):
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
        self.border = QComboBox(objectName="recutBorderCombo")
        for key in BORDER_POLICIES:
            self.border.addItem(f"{key}: {BORDER_TIPS[key]}", key)
        self.border.setToolTip("Objects touching the image border (as ddrid --border)")
        self.warning = QLabel("", objectName="recutCropWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #d62728")
        current = current or Patching("grid", patch_size=patch_size)
        self.source.setCurrentIndex(max(0, self.source.findData(current.source)))
        # An estimated size (per_image) stays "auto": sent back as typed it would cut every image at the folder's
        # size, an image at another magnification included.  The estimate is shown beside it.
        self._estimate = current.object_size if current.per_image and current.object_size else None
        if self._estimate:
            # ``estimated``: what the patches were cut at, in words (each image's own size where they differ).
            self.size.setSpecialValueText(f"auto ({estimated or f'estimated {current.object_size:g} px'})")
        self.size.setValue(0 if self._estimate else (current.object_size or 0))
        self.border.setCurrentIndex(max(0, self.border.findData(current.border)))
        # Only a size the user typed (or a grid's tile) is kept; an object crop's side is derived, not chosen.
        self._grid_tile = current.crop_side() if current.is_grid else 32
        self._typed = bool(not current.is_grid and current.patch_size)
        self.patch.setValue(current.crop_side() if current.is_grid or current.patch_size else 0)
        self.patch.valueChanged.connect(self._patch_typed)
        self.source.currentIndexChanged.connect(self._source_changed)
        self.size.valueChanged.connect(lambda _v: self._update_warning())
        form = QFormLayout()
        form.addRow("Patches from", self.source)
        form.addRow("Object size", self.size)
        form.addRow("Patch size", self.patch)
        form.addRow("Border objects", self.border)
        note = QLabel("The loaded images are cut again. Marks follow the objects they were on; "
                      "scores are cleared, and a model trained on another patch size must be trained again.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Re-cut")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.warning)
        lay.addWidget(note)
        self._source_changed()
        lay.addWidget(buttons)

    def _patch_typed(self, _value: int) -> None:
        if not self._setting:
            self._typed = True
        self._update_warning()

    _setting = False

    def _source_changed(self, *_args) -> None:
        grid = self.source.currentData() == "grid"
        self._setting = True
        if grid and not self.patch.value():
            self.patch.setValue(self._grid_tile)
        elif not grid and not self._typed:
            self.patch.setValue(0)          # twice the object size
        self._setting = False
        self.border.setEnabled(not grid)
        self.size.setEnabled(not grid)
        self._update_warning()

    def _update_warning(self) -> None:
        grid = self.source.currentData() == "grid"
        self.warning.setText("" if grid else crop_warning(self.patch.value(), self.size.value() or self._estimate))
        self.warning.setVisible(bool(self.warning.text()))

    def values(self) -> tuple[str, Optional[float], Optional[int]]:
        """(source, object size or None, patch size or None)."""
        source = self.source.currentData()
        patch = self.patch.value() or None
        if source == "grid" and patch is None:
            patch = 32
        return source, self.size.value() or None, patch

    def border_policy(self) -> str:
        """exclude, flag or include (objects touching the image border)."""
        return self.border.currentData()
