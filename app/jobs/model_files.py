"""Model files the user names: File ▸ Open Model… and Save Model As…

A model trained yesterday scores today's folder without training:

* opened before anything is loaded, its patching settings (patch source,
  object size, crop side, channel) become the project's and show in the patch
  toolbar, so the folder opened next is cut exactly as its training patches
  were, and scored as soon as it is loaded;
* opened over loaded patches cut the same way, it scores them at once;
* opened over patches cut otherwise, the user is asked whether to re-cut them
  as the model's were (marks follow their objects); otherwise the model is not
  used and the Problems panel says why.

Loading runs as a job (torch unpickles in a worker, never on the GUI thread).
A model file is data: :func:`ddrcore.model.modelfile.load` checks every field.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ddrcore.errors import DdridError
from ddrcore.io.images import BadFile
from ddrcore.progress import Progress

from .controller import Controller
from .modelling import MODEL_SUFFIX
from .. import settings as appsettings
from ..document.document import Document

MODEL_FILTER = f"ddrid model (*{MODEL_SUFFIX});;All files (*)"


def open_model_job(path: str):
    """Job: load a model file on the CPU-or-GPU the app uses ("auto"); returns the DDRIDModel."""
    yield Progress("model", message=f"reading {Path(path).name}")
    from ddrcore.model import modelfile

    return modelfile.load(path, device="auto")


def describe_patching(model) -> str:
    """The model's patching settings in words (what the toolbar is set to)."""
    c = model.config
    channel = "grey" if c.channel is None else f"channel {c.channel}"
    if c.objects == "grid":
        return f"grid tiles of {c.patch_size} px, {channel}, input {model.input_size} px"
    size = f", object size {c.object_size:g} px" if c.object_size else ""
    per = " (per image)" if getattr(c, "per_image", False) else ""
    return f"objects: {c.objects}{size}{per}, crops {c.patch_size} px, {channel}, input {model.input_size} px"


class ModelFiles(Controller):
    """Open and save model files for one document.

    ``window`` provides ``runner``, ``loader``, ``models`` (ModelJobs), ``train_panel``,
    ``notify(text, ms)``, ``after_dialog()`` and ``start_dir()``.
    """

    def __init__(self, window, document: Document):
        super().__init__(window)
        self.doc = document
        self.runner = window.runner

    # -------------------------------------------------------------- open --
    def ask_open_model(self) -> None:
        """File ▸ Open Model…"""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open model", self.window.start_dir(), MODEL_FILTER)
        self.window.after_dialog()
        if path:
            self.open_model(path)

    def open_model(self, path: str, then: Optional[Callable[[], object]] = None) -> bool:
        """Load ``path`` in a job, then use it (see the module docstring); False when it cannot start.

        ``then()`` runs once the model is in use (e.g. opening the folders named on the command line).
        """
        if self.runner.busy and self.window.models.training:
            QMessageBox.information(self.window, "ddrid", "Wait for the training run to finish (or cancel it) first.")
            return False
        path = str(Path(path).resolve())
        self.runner.submit("model", lambda: open_model_job(path), title="Opening model",
                           on_done=lambda model: (self._opened(path, model), then and then()),
                           on_failed=self._failed)
        return True

    def _failed(self, message: str, _detail: str) -> None:
        QMessageBox.warning(self.window, "Cannot open model", message)

    def _opened(self, path: str, model) -> None:
        doc, t = self.doc, self.doc.table
        s = doc.patch_settings
        patching = model.config.patching(labels_dir=s.labels_dir if model.config.objects == "labels" else None,
                                         points=s.points if model.config.objects == "points" else None)
        shown = describe_patching(model)
        # No training patches here: the model's train/validation roles and its old scores do not apply.
        doc.set_trained(model, path, np.zeros(0, np.int64), [])
        self.window.train_panel.show_model(
            f"Model {Path(path).name} opened ({model.config.pretrain_epochs}+{model.config.finetune_epochs} epochs, "
            f"{model.score_type}, threshold {model.threshold:.4g}); patches: {shown}.")
        appsettings.put("lastDir", str(Path(path).parent))
        if len(doc) == 0:
            # Nothing loaded yet: the next folder is cut as the model's training patches were.
            if patching.source == "points" and not patching.points:
                patching = None      # the toolbar asks for the CSV when a folder is opened
            self._use_settings(model, patching)
            self.window.notify(f"Model {Path(path).name} opened: {shown}. Open a folder to score it.", 8000)
            return
        why = model.incompatibility(t.patch_size, t.channel, int(t.images.shape[1]),
                                    t.patching.source if t.patching is not None else None)
        if why is None:
            self.window.models.score_unscored()
            return
        answer = QMessageBox.question(
            self.window, "Re-cut for this model?",
            f"{why}.\n\nRe-cut the loaded images as the model's training patches were ({shown}) and score them? "
            "Marks follow their objects.")
        if answer == QMessageBox.StandardButton.Yes and patching is not None \
                and self.window.loader.recut_as(patching, model.config.channel):
            return
        doc.add_problems([BadFile(path, f"not used for scoring: {why}; re-cut the images as the model's were "
                                        f"({shown}) or train again")])

    def _use_settings(self, model, patching) -> None:
        """The model's patching settings become the (empty) project's, shown in the toolbar."""
        c = model.config
        changes = dict(source=c.objects, patch_size=int(c.patch_size), channel=c.channel)
        if c.objects != "grid":
            changes["object_size"] = c.object_size
        self.doc.set_patch_settings(**changes)
        if patching is not None:
            self.doc.table.set_patching(patching)

    # -------------------------------------------------------------- save --
    def ask_save_model_as(self) -> Optional[str]:
        """File ▸ Save Model As…; the path written, or None."""
        if self.doc.model is None:
            return None
        from .projects import save_dir

        start = self.doc.model_path or str(Path(save_dir(self.doc)) / f"model{MODEL_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save model", start, MODEL_FILTER)
        self.window.after_dialog()
        if not path:
            return None
        if not path.lower().endswith(MODEL_SUFFIX):
            path += MODEL_SUFFIX
        return self.save_model(path)

    def save_model(self, path: str) -> Optional[str]:
        """Write the model (checked by the output rule: never over an input or a file of another kind)."""
        from ddrcore.model import modelfile

        try:
            out = modelfile.save(self.doc.model, path, inputs=list(self.doc.table.inputs))
        except (DdridError, OSError, ValueError) as exc:
            QMessageBox.warning(self.window, "Cannot save model", str(exc))
            return None
        self.doc.set_model_path(str(out))
        self.window.notify(f"Saved model {out}", 5000)
        return str(out)
