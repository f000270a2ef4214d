"""Training and scoring: start the jobs, and take their results into the document.

Each job is submitted with its own handlers (``on_done``, ``on_failed``,
``on_cancelled``); the training panel shows progress, the outcome and the
model's quality check.  Patches that arrive after a model exists are scored
when the document says they were added.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QMessageBox

from ddrcore.io.images import BadFile
from ddrcore.model.score_type import ScoreType

from .controller import Controller
from . import tasks as jobs
from .. import settings as appsettings
from ..document.document import MIN_NORMALS, Document
from ..dialogs.preferences import scoring_cluster
from ..views.training_panel import TrainingPanel
from .runner import warm_up

MODEL_SUFFIX = ".ddrid"   # ddrcore.model.modelfile.SUFFIX; modelfile imports torch, loaded after the window shows


class ModelJobs(Controller):
    """Trains and scores for one document; ``window`` provides ``runner``, ``notify(text, ms)`` and ``raise_training()``.

    ``on_scored()`` is called after new scores are in the document (the gallery then shows the top of the ranking).
    """

    def __init__(self, window, document: Document, panel: TrainingPanel, on_scored=lambda: None):
        super().__init__(window)
        self.doc = document
        self.runner = window.runner
        self.panel = panel
        self.on_scored = on_scored
        self.training = False        # a training run is in progress
        panel.startRequested.connect(self.start_training)
        panel.cancelRequested.connect(self.runner.cancel)
        # Bound methods, not lambdas: psygnal holds those weakly, so no reference cycle keeps the window.
        document.patches_added.connect(self._patches_added)
        document.model_changed.connect(self._model_changed)
        document.marks_changed.connect(self._marks_changed)


    def _patches_added(self, new) -> None:
        self.score_unscored(quiet=True)   # patches that arrive after a model exists are scored
        self._marks_changed(new)          # marks can come with them (a project, the demo's normal folder)

    def _model_changed(self) -> None:
        if self.doc.model is None:
            self.panel.clear()

    def _marks_changed(self, _indices) -> None:
        if self.doc.model is None:
            self.panel.show_marked(self.doc.counts()["normal"], MIN_NORMALS)

    # ------------------------------------------------------------ devices --
    def warm_up(self) -> None:
        """Load torch in a worker thread once the window is up; then list the devices."""
        worker = warm_up()
        if worker is None:
            self._devices_ready()
        else:
            self._warm_worker = worker
            worker.finished.connect(self._devices_ready)

    def _devices_ready(self) -> None:
        from ddrcore.base import describe_devices

        try:
            self.panel.set_devices(describe_devices(jobs.gui_cpu_threads()))
        except Exception:  # noqa: BLE001 - the placeholder list still trains (auto / CPU)
            pass

    # ----------------------------------------------------------- training --
    def start_training(self, config) -> bool:
        """Train on the patches marked normal with ``config`` (a TrainConfig); False when it cannot start."""
        if self.runner.busy:
            return False   # the button is disabled while busy; this guards the shortcut and tests
        t = self.doc.table
        normal = self.doc.normal_indices()
        if len(normal) < MIN_NORMALS:
            QMessageBox.information(self.window, "Mark normal patches first",
                                    f"Training needs at least {MIN_NORMALS} patches marked normal; {len(normal)} "
                                    "are marked.\nSelect typical patches in the gallery and press N.")
            return False
        if t.patching is not None:
            config.set_patching(t.patching)
        config.patch_size = t.patch_size
        config.input_size = t.input_size
        config.channel = t.channel
        try:
            config.validate()
        except ValueError as exc:
            QMessageBox.warning(self.window, "Training settings", str(exc))
            return False
        appsettings.put("training", self.panel.settings())
        self.panel.reset()
        images, sources = t.images, list(t.sources)
        project = self.doc.project_path
        target = str(Path(project).with_suffix(MODEL_SUFFIX) if project
                     else appsettings.autosave_dir() / "autosave.ddrid")
        self.training = True
        self.runner.submit("train", lambda: jobs.train_model(images, normal, config, target, sources), title="Training",
                           on_done=self._trained, on_failed=self._training_failed,
                           on_cancelled=self._training_cancelled,
                           on_progress=self._training_progress, status_cancel=False, count_steps=False,
                           cancel_question="Stop the training run? Its progress is lost; the previous model is kept.")
        self.window.raise_training()
        return True

    def _training_progress(self, batch) -> None:
        self.panel.add_progress(batch.records)

    def _trained(self, result: jobs.TrainResult) -> None:
        self.training = False
        model = result.model
        if result.save_error:
            self.doc.add_problems([BadFile(result.path or "model", result.save_error +
                                           "; use File ▸ Save Project As to save it elsewhere")])
        saved = f" Saved {Path(result.path).name}." if result.path else ""
        from ddrcore.model.quality import describe

        check = describe(model.validation)
        # Only the warning in red: a good AUC in red beside it read as a failure.
        line, _, warning = check.partition(" Warning: ")
        check_html = (f"<br>{line}" if line else "") + \
            (f"<br><span style='color:#d62728'><b>Warning: {warning}</b></span>" if warning else "")
        # Which patches this model was trained and validated on: results leave them out by default.
        # The old model's scores go at once (empty histogram) rather than staying until the new ones arrive.
        self.doc.set_trained(model, result.path, result.normal, model.training.get("val_indices", []))
        self.panel.show_status(
            f"Done in {model.training.get('seconds', 0):.0f} s on {model.training.get('device', '?')}: "
            f"{ScoreType.label_of(model.score_type)} chosen, threshold {model.threshold:.4g}.{saved}{check_html}")
        self.window.threshold_panel.show_waiting("Scoring every patch with the new model…")
        self._score(np.arange(len(self.doc)))

    def _training_failed(self, message: str, _detail: str) -> None:
        self.training = False
        self.panel.show_status(f"<span style='color:#d62728'>Training failed: {message}</span>")

    def _training_cancelled(self) -> None:
        self.training = False
        self.panel.show_status("Training cancelled; the previous model (if any) is kept.")

    # ------------------------------------------------------------ scoring --
    def score_unscored(self, quiet: bool = False) -> None:
        """Score the patches the model has not scored yet (``quiet``: say nothing when there are none)."""
        model, t = self.doc.model, self.doc.table
        if model is None:
            return
        todo = t.unscored()
        if len(todo) == 0:
            if not quiet:
                self.window.notify("Every patch is already scored", 3000)
            return
        why = model.incompatibility(t.patch_size, t.channel, int(t.images.shape[1]),
                                    t.patching.source if t.patching is not None else None)
        if why and self._recut_said_so(why):
            return
        if why:
            self.doc.add_problems([BadFile(self.doc.model_path or "model", f"not used for scoring: {why}. "
                                           "Train again on this project's patches")])
            return
        self._score(todo)

    def _recut_said_so(self, why: str) -> bool:
        """Whether the Problems panel already says ``why`` (a re-cut listed it): one line, not two."""
        return any(why in p.reason for p in self.doc.problems[-3:])

    def _score(self, todo: np.ndarray) -> None:
        model, table = self.doc.model, self.doc.table
        cluster = scoring_cluster()
        if not cluster:
            sources = list(table.sources)   # their measurements give AS_m and AS_cell
            self.runner.submit("score", lambda: jobs.score_indices(model, table.images, todo, sources=sources),
                               title="Scoring", on_done=self._scored)
            return
        if not self.doc.model_path or not Path(self.doc.model_path).is_file():
            self.doc.add_problems([BadFile("model", f"not scored on the cluster {cluster}: its workers read the model "
                                           "from a file; save the project (the model is saved beside it)")])
            return
        model_path, sources = self.doc.model_path, list(table.sources)
        patching = table.patching or model.config.patching()   # how these patches were cut
        self.runner.submit("score", lambda: jobs.score_indices_on_cluster(model, model_path, sources, todo, patching,
                                                                          cluster),
                           title=f"Scoring on {cluster}", on_done=self._scored)

    def _scored(self, result: jobs.ScoreResult) -> None:
        if result.problems:
            self.doc.add_problems(result.problems)
        self.doc.set_scores(result.indices, result.scores)
        self.on_scored()
        n = len(result.indices)
        self.window.notify(f"Scored {n} patch{'es' if n != 1 else ''}", 4000)
