"""Files the user names: projects (new, open, save, autosave, recent) and exports (ranked CSV, report).

The document says what to write; this module asks where, writes, and says
what happened.  Annotations are autosaved shortly after every change.
"""
from __future__ import annotations

from functools import partial

import os
import time
import weakref
from pathlib import Path
from typing import Optional

import numpy as np

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ddrcore.config import TrainConfig
from ddrcore.errors import DdridError, some_of
from ddrcore.io import patchcache
from ddrcore.io import project as projectfile
from ddrcore.io.images import BadFile
from ddrcore.model.score_type import ScoreType

from .controller import Controller
from . import exporting
from .. import settings as appsettings
from ..document.document import Document
from .modelling import MODEL_SUFFIX
from ..document.table import patching_from_dict

PROJECT_FILTER = f"ddrid project (*{projectfile.SUFFIX});;All files (*)"
AUTOSAVE_DELAY_MS = 1500
#: The project's thumbnail contrast (ddrid_gui.views.gallery.CONTRAST_MODES), in its "training" settings.
CONTRAST_KEY = "gallery_contrast"


def load_model(path: str, patch_size: int, channel, objects):
    """Job: a project's model, checked against how the project cuts its patches: (model or None, path, problem)."""
    from ddrcore.progress import Progress

    yield Progress("model", message=f"reading {Path(path).name}")
    try:
        from ddrcore.model import modelfile

        m = modelfile.load(path, device="auto")
        why = m.incompatibility(patch_size, channel, objects=objects)
        if why:
            # Patches cut differently from the training ones get scores that look valid but are not.
            return None, path, f"{why}; this project cuts {patch_size} px patches"
    except DdridError as exc:
        return None, path, exc.reason
    return m, path, ""


def start_dir(document: Document) -> str:
    """Where file dialogs open: the project's folder, else the loaded data's, else the last one used."""
    if document.project_path:
        return str(Path(document.project_path).parent)
    inputs = [p for p in document.table.inputs if os.path.exists(p)]
    if inputs:
        folders = [p if os.path.isdir(p) else os.path.dirname(p) for p in inputs]
        try:
            return os.path.commonpath(folders)   # e.g. the folder above train/ and test/
        except ValueError:   # different drives
            return folders[0]
    last = appsettings.get("lastDir", "")
    return last if last and os.path.isdir(last) else str(Path.home())


def save_dir(document: Document) -> str:
    """Where save dialogs open: the project's folder, else the folder that holds the loaded data (beside it,
    not in it: a report or a CSV written among the images is read with them next time, and a PNG report
    there is refused), else where open dialogs start."""
    if document.project_path:
        return str(Path(document.project_path).parent)
    start = start_dir(document)
    # Beside a folder that was opened; image files opened one by one are saved beside, in their own folder.
    if any(os.path.isdir(p) for p in document.table.inputs) and os.path.isdir(start):
        return str(Path(start).parent)
    return start


class Projects(Controller):
    """Project files and exports for one document.

    ``window`` provides ``runner``, ``loader``, ``train_panel``, ``welcome``,
    ``notify(text, ms)``, ``show_gallery()``, ``show_welcome()`` and ``after_dialog()``.
    """

    def __init__(self, window, document: Document):
        super().__init__(window)
        self.doc = document
        self.runner = window.runner
        # Where this session copied a model beside an exported CSV, and which: exporting the same CSV again with
        # the same model names that copy again instead of writing another.
        self._copies: dict = {}
        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DELAY_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        # Bound methods, not lambdas: psygnal holds those weakly, so no reference cycle keeps the window.
        document.marks_changed.connect(self._changed)
        document.patches_added.connect(self._changed)
        document.model_changed.connect(self._changed)
        window.view_bar.contrastChanged.connect(self._changed)     # the contrast is kept with the project


    def _changed(self, *_args) -> None:
        """Autosave soon after marks change, patches arrive or a model is trained (never for an empty project).

        A project's own model is loaded before its patches, so opening a project does not rewrite it.
        """
        if len(self.doc):
            self.autosave_timer.start()

    # -------------------------------------------------------------- open --
    def new_project(self) -> bool:
        """Start empty (the current work is autosaved first); False while a job runs."""
        if self.runner.busy:
            QMessageBox.information(self.window, "ddrid", "Wait for the current job to finish (or cancel it) first.")
            return False
        self.autosave()
        self.doc.reset()
        self.window.view_bar.set_contrast("file")    # the default; a reopened project sets its own
        self.window.show_welcome()
        self.refresh_welcome()
        return True

    def refresh_welcome(self) -> None:
        """The start screen lists recent projects and offers the autosaved session."""
        self.window.welcome.set_recent(appsettings.recent_projects())
        auto = appsettings.autosave_project_path()
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(auto.stat().st_mtime)) if auto.is_file() else ""
        self.window.welcome.set_autosave(when)

    def restore_autosave(self) -> None:
        """Reopen the autosaved session; it stays unsaved (Save asks for a name)."""
        auto = appsettings.autosave_project_path()
        if auto.is_file():
            self.open_project(str(auto), remember=False)
            self.doc.set_project_path(None)

    def ask_open_project(self) -> None:
        """File ▸ Open Project…"""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", start_dir(self.doc), PROJECT_FILTER)
        self.window.after_dialog()
        if path:
            self.open_project(path)

    def fill_recent(self, menu) -> None:
        """Fill File ▸ Open Recent with the recent projects that still exist."""
        menu.clear()
        recent = appsettings.recent_projects()
        for p in recent:
            menu.addAction(p, lambda p=p: self.open_project(p))
        if not recent:
            menu.addAction("(none)").setEnabled(False)

    def open_project(self, path: str, remember: bool = True) -> None:
        """Open a project: its settings now, its inputs in a load job; marks and threshold follow them."""
        try:
            proj = projectfile.load(path, check_training=TrainConfig.check_settings)
        except DdridError as exc:
            QMessageBox.warning(self.window, "Cannot open project", str(exc))
            return
        patching = patching_from_dict(proj.training.get("patching"))
        self.doc.set_patch_settings(patch_size=proj.patch_size, channel=proj.channel)
        if not self.new_project():
            return
        if patching is not None:
            self.doc.set_patch_settings(source=patching.source, labels_dir=patching.labels_dir,
                                        points=patching.points, object_size=patching.object_size,
                                        patch_size=patching.crop_side())
        self.doc.set_project_path(str(Path(path).resolve()))
        outside = projectfile.outside_paths(proj, path)
        if outside:
            # A shared project may point anywhere on this machine: say where before it is read.
            self.doc.add_problems([BadFile(path, f"this project reads {len(outside)} path(s) outside its folder: "
                                                 f"{some_of(outside)}; check that you expected them")])
        self.doc.expect_project(proj, with_model=bool(proj.model_path))
        self.window.train_panel.apply_settings(proj.training)
        if isinstance(proj.training.get(CONTRAST_KEY), str):
            self.window.view_bar.set_contrast(proj.training[CONTRAST_KEY])
        if proj.model_path:
            # A job queued before the patches: the model is there when they (and their saved scores and roles) arrive.
            self._open_model(proj, patching)
        if remember:
            appsettings.add_recent_project(self.doc.project_path)
        if proj.inputs:
            # Never read the images nor score them again when the saved patches and scores still match.
            cache = (str(patchcache.cache_path(path)), self._fingerprint(proj))
            self.window.loader.load_inputs(proj.inputs, cache=cache)
        else:
            self.window.show_gallery()

    @staticmethod
    def _fingerprint(proj) -> str:
        """What a project's saved patches and scores were made from (see ddrcore.io.patchcache)."""
        patching = proj.training.get("patching") if isinstance(proj.training, dict) else None
        extra = [proj.model_path]
        if isinstance(patching, dict):
            extra += [patching.get(k) for k in ("labels_dir", "points") if isinstance(patching.get(k), str)]
        return patchcache.fingerprint(proj.inputs, extra, {"patching": patching, "patch_size": proj.patch_size,
                                                           "channel": proj.channel, "model": proj.model_path})

    def _loading(self) -> bool:
        """A load runs or waits, or marks wait for inputs not loaded yet: the project is not whole yet."""
        return (self.runner.current is not None and self.runner.current.kind == "load") or \
            "load" in self.runner.pending or bool(self.doc.pending_marks)

    def _write_cache(self, proj, path: str) -> None:
        """Save the patches and scores beside the project (only when they changed, and never mid-load)."""
        t = self.doc.table
        if not len(t) or self._loading():
            return
        key = (path, id(t), len(t), int(np.isnan(t.latent).sum()), t.score_type, proj.model_path)
        if key == getattr(self, "_cache_key", None):
            return
        scores = {name: getattr(t, name) for name in patchcache.SCORE_NAMES}
        try:
            patchcache.save(patchcache.cache_path(path), t.images, t.sources, scores, t.score_type,
                            self._fingerprint(proj))
        except (OSError, ValueError) as exc:
            # Only a cache: the project is saved; reopening reads the images again.
            self.window.notify(f"Could not save the patch cache beside {path}: {exc}", 6000)
            return
        self._cache_key = key

    def _open_model(self, proj, patching) -> None:
        """Load the project's model in a job: reading it (and importing torch) took 5-6 s on the GUI thread,
        with nothing on screen when a project was opened from the command line."""
        path, size, channel = proj.model_path, proj.patch_size, proj.channel
        objects = patching.source if patching is not None else None
        self.window.train_panel.show_status(f"Loading the model {Path(path).name}…")
        self.runner.submit("model", lambda: load_model(path, size, channel, objects), title="Loading the model",
                           on_done=self._model_loaded)

    def _model_loaded(self, result) -> None:
        model, path, problem = result
        if model is None:
            self.doc.add_problems([BadFile(path, f"{problem} — train again to get a new model")])
            self.window.train_panel.show_status("No model: train one on the patches marked normal.")
            return
        self.doc.set_model(model, path)
        self.window.train_panel.show_model(
            f"Model {Path(path).name} loaded ({model.config.pretrain_epochs}+{model.config.finetune_epochs} "
            f"epochs, {ScoreType.label_of(model.score_type)}, threshold {model.threshold:.4g}). "
            "Train again to replace it.")

    # -------------------------------------------------------------- save --
    def saved_settings(self) -> dict:
        """What the project keeps besides marks: the training settings and the thumbnail contrast.

        The contrast rides in the training settings' dict (unknown keys there are ignored by TrainConfig).
        """
        return {**self.window.train_panel.settings(), CONTRAST_KEY: self.window.view_bar.contrast()}

    def save_project(self) -> bool:
        """File ▸ Save Project: to its file, or ask where if it has none; False if not saved."""
        if not self.doc.project_path:
            return self.ask_save_project_as()
        return self.save_to(self.doc.project_path)

    def ask_save_project_as(self) -> bool:
        """File ▸ Save Project As…; False if cancelled or not saved."""
        start = self.doc.project_path or str(Path(save_dir(self.doc)) / f"project{projectfile.SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project", start, PROJECT_FILTER)
        self.window.after_dialog()
        if not path:
            return False
        if not path.lower().endswith(projectfile.SUFFIX):
            path += projectfile.SUFFIX
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Write the project (and its model beside it, if it lives elsewhere)."""
        path = str(Path(path).resolve())
        try:
            # The project's own output rule first: no model copy is left beside a project that cannot be saved.
            projectfile.check_path(self.doc.to_project(self.saved_settings()), path)
            if self.doc.model is not None:
                from ddrcore.model import modelfile

                beside = str(Path(path).with_suffix(MODEL_SUFFIX))
                if self.doc.model_path != beside:
                    # The model travels with the project: copy it next to the project file.
                    modelfile.save(self.doc.model, beside)
                    self.doc.set_model_path(beside)
            proj = self.doc.to_project(self.saved_settings())
            projectfile.save(proj, path)
        except (OSError, ValueError, DdridError) as exc:
            QMessageBox.warning(self.window, "Cannot save project", _why(path, exc))
            return False
        self._write_cache(proj, path)
        self.doc.set_project_path(path)
        appsettings.add_recent_project(path)
        if self._loading():
            # The inputs still loading are not in the file yet: left unsaved, so closing asks (the autosave
            # after the load writes them).
            self.window.notify(f"Saved {path}; inputs still loading are saved when they have loaded", 6000)
            return True
        self.doc.set_clean()
        self.window.notify(f"Saved {path}", 4000)
        return True

    def autosave(self) -> None:
        """Save annotations now: to the project file, or to the autosave file if unsaved."""
        self.autosave_timer.stop()
        if len(self.doc) == 0 and not self.doc.pending_marks:
            return
        target = self.doc.project_path or str(appsettings.autosave_project_path())
        try:
            # Marks of inputs not loaded yet (project still loading) must not be dropped.
            proj = self.doc.to_project(self.saved_settings(), keep_pending=True)
            projectfile.save(proj, target)
        except (OSError, ValueError, DdridError) as exc:
            # A project file replaced by another program, a folder gone read-only: said, and work goes on.
            self.window.notify(f"Autosave failed: {_why(target, exc)}", 8000)
            return
        self._write_cache(proj, target)
        if self.doc.project_path:
            self.doc.set_clean()
        self.window.notify(f"Autosaved to {target}", 2000)

    # ------------------------------------------------------------ export --
    def _ask_save(self, title: str, name: str, filters: str) -> Optional[str]:
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(Path(save_dir(self.doc)) / name), filters)
        self.window.after_dialog()
        return path or None

    def _export(self, path: str, export):
        """``export(path, table, model, model_path, threshold)`` at the current threshold; None if it failed."""
        d = self.doc
        try:
            return export(path, d.table, d.model, d.model_path, d.threshold)
        except (OSError, ValueError, DdridError) as exc:
            QMessageBox.warning(self.window, "Export failed", _why(path, exc))
            return None

    def ask_export_csv(self) -> None:
        """Write the ranked CSV at the current threshold (ddrcore.io.export.write_csv)."""
        path = self._ask_save("Export ranked CSV", "ranked.csv", "CSV (*.csv)")
        if not path:
            return
        d = self.doc
        try:
            # The CSV's own rule first: no model copy is left beside a CSV that cannot be written.
            exporting.check_target(path, "csv", d.table, d.model_path, d.threshold)
        except (OSError, ValueError, DdridError) as exc:
            QMessageBox.warning(self.window, "Export failed", _why(path, exc))
            return
        try:
            model_path = self.lasting_model_path(path)
        except (OSError, ValueError, DdridError) as exc:
            QMessageBox.warning(self.window, "Export failed", f"{path}: the model could not be saved beside it: {exc}")
            return
        try:
            out = exporting.export_csv(path, d.table, d.model, model_path, d.threshold)
        except (OSError, ValueError, DdridError) as exc:
            QMessageBox.warning(self.window, "Export failed", _why(path, exc))
            return
        kept = f" and the model beside it ({Path(model_path).name})" if model_path != d.model_path else ""
        self.window.notify(f"Wrote {out}{kept}", 5000)

    def _unsaved_model_label(self) -> Optional[str]:
        """How a report names a model that lives in the autosave folder (the next training replaces it, so its
        path would name another model); None for a model saved with the project or opened from a file."""
        if self._model_is_autosaved():
            return "this session's model, not saved (the next training replaces it)"
        return None

    def _model_is_autosaved(self) -> bool:
        """Whether the model lives in the autosave folder (an unsaved project's: the next training replaces it)."""
        current = self.doc.model_path
        return bool(current) and appsettings.autosave_dir().resolve() in Path(current).resolve().parents

    def lasting_model_path(self, csv_path: str) -> Optional[str]:
        """The model file a CSV may name: the project's, or a copy saved beside the CSV.

        An unsaved project's model lives in the autosave folder, and the next
        training overwrites it: a CSV naming it would point at another model.
        """
        current = self.doc.model_path
        if current and not self._model_is_autosaved():
            return current
        from ddrcore.model import modelfile

        # Never over a model already there (another run's, which an older CSV names): the next free name, or
        # the copy an earlier export of this session made of this same model, named again.
        stem = Path(csv_path).stem
        for k in range(1, 1000):
            beside = Path(csv_path).with_name(f"{stem}{'' if k == 1 else f'-{k}'}{MODEL_SUFFIX}")
            copied = self._copies.get(str(beside))
            if copied is not None and copied() is self.doc.model and beside.is_file():
                return str(beside)
            if not beside.exists():
                break
        modelfile.save(self.doc.model, str(beside))
        self._copies[str(beside)] = weakref.ref(self.doc.model)
        return str(beside)

    def ask_export_rois(self) -> None:
        """File ▸ Export Flagged as Fiji ROIs…: the flagged objects at the current threshold, in a worker."""
        path = self._ask_save("Export flagged objects as Fiji ROIs", "flagged-rois.zip", "Fiji ROI set (*.zip)")
        if path and not path.lower().endswith(".zip"):
            path += ".zip"
        job = self._export_job(path, exporting.rois_job) if path else None
        if job is not None:
            self.runner.submit("export", lambda: job, title="Writing ROIs",
                               on_done=lambda r: self._exported(f"Wrote {r[1]} ROI(s) to {r[0]}", r[2]))

    def ask_export_labels(self) -> None:
        """File ▸ Export Label Images…: one label image per image (ids = the CSV's object_id), in a worker."""
        folder = QFileDialog.getExistingDirectory(self.window, "Folder for the label images", save_dir(self.doc))
        self.window.after_dialog()
        job = self._export_job(folder, exporting.labels_job) if folder else None
        if job is not None:
            # The label images hold the ranked objects, as the CSV's rows: say so where training patches are
            # left out (a user exporting after training on most objects found six of 97 painted).
            hidden = self.doc.table.n_used() if not self.doc.table.include_training else 0
            note = (f" (the ranked objects, as in the CSV; {hidden} used in training are left out: tick "
                    "“Include training patches” to paint them too)") if hidden else ""
            self.runner.submit("export", lambda: job, title="Writing label images",
                               on_done=lambda r: self._exported(f"Wrote {len(r[1])} label image(s) to {r[0]}{note}",
                                                                r[2]))

    def _exported(self, text: str, skipped: list) -> None:
        """The status line of a finished export, and the images it could not read again in the Problems panel."""
        if skipped:
            self.doc.add_problems(skipped)
            text += f"; {len(skipped)} image(s) could not be read again (see Problems)"
        self.window.notify(text, 6000)

    def _export_job(self, path: str, make):
        """``make(path, table, model, model_path, threshold)``, or None with the one-line reason it cannot."""
        try:
            return self._export(path, make)
        except DdridError as exc:
            QMessageBox.warning(self.window, "Export failed", str(exc))
            return None

    def ask_export_report(self) -> None:
        """Draw the one-page report (PDF or PNG) at the current threshold, in a worker."""
        path = self._ask_save("Export report", "report.pdf", "PDF (*.pdf);;PNG (*.png)")
        if path and Path(path).suffix.lower() not in (".pdf", ".png"):
            path += ".pdf"
        job = self._export(path, partial(exporting.report_job, model_label=self._unsaved_model_label())) \
            if path else None
        if job is not None:
            # Drawing takes about a second: off the GUI thread, like every other job.
            self.runner.submit("report", lambda: job, title="Writing report",
                               on_done=lambda out: self.window.notify(f"Wrote {out}", 5000))


def _why(path: str, exc: Exception) -> str:
    """One line naming ``path`` once (a DdridError about that file already names it), in the app's words:
    the output rule's command-line hint becomes what to do here."""
    text = str(exc) if isinstance(exc, DdridError) and exc.path is not None else f"{path}: {exc}"
    return text.replace("(use --force to replace it)", "(choose another name, or move that file away first)")
