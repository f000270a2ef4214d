"""The dock's Save model / Load model buttons: the same model files as the ddrid app and `ddrid score`.

A mixin of :class:`ddrid_gui.napari.widget.DdridWidget` (it uses the dock's ``model``, ``_say``,
``_fail`` and ``_set_running``).
"""
from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import QFileDialog


class ModelFileButtons:
    """Save and load the dock's model."""

    def save_model(self, path) -> Path:
        from ddrcore.model import modelfile

        path = Path(path)
        if path.suffix != modelfile.SUFFIX:
            path = path.with_name(path.name + modelfile.SUFFIX)
        modelfile.save(self.model, path)
        self._say(f"Saved the model to {path}; `ddrid score` and the ddrid app open it too.")
        return path

    def load_model(self, path) -> None:
        from ddrcore.model import modelfile

        self.model = modelfile.load(path)
        self._set_running(False)
        self._say(f"Loaded {Path(path).name}; press Score to score the chosen image's objects.")

    def _save_clicked(self) -> None:
        if self.model is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save ddrid model", "model.ddrid", "ddrid model (*.ddrid)")
        if path:
            try:
                self.save_model(path)
            except Exception as exc:  # noqa: BLE001
                self._fail(exc)

    def _load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load ddrid model", "", "ddrid model (*.ddrid)")
        if path:
            try:
                self.load_model(path)
            except Exception as exc:  # noqa: BLE001
                self._fail(exc)
