"""The main window: assembles the document, its views and the controllers that change it.

- :mod:`ddrid_gui.document`: patches, marks, model, threshold, files, undo (Qt-free, emits events)
- :mod:`ddrid_gui.views.bindings`: gallery, threshold panel, counts, detail and source image follow the document
- :mod:`ddrid_gui.actions`: every command, its shortcut and menu
- :mod:`ddrid_gui.jobs.loading`, :mod:`ddrid_gui.jobs.modelling`, :mod:`ddrid_gui.jobs.projects`: jobs and files

All long work goes through :class:`ddrid_gui.jobs.runner.JobRunner`, each job with its own handlers.
"""
from __future__ import annotations

from functools import partial
from typing import Sequence

from PySide6.QtCore import QByteArray, QSize, Qt, QThreadPool, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDockWidget, QFrame, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QPushButton, QScrollArea, QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from . import settings as appsettings
from .actions import GALLERY, WINDOW, Actions
from .compat import protect_none_refcount
from .views.detail import DetailView
from .document.document import Document, PatchSettings
from .views.gallery import GalleryView
from .icon import app_icon
from .jobs.loading import Loader
from .jobs.modelling import ModelJobs
from .dialogs.preferences import PreferencesDialog
from .views.problems import ProblemsPanel, show_error
from .jobs.projects import Projects, start_dir
from .views.source_view import SourceView
from .document.table import EXCLUDED, NORMAL, UNMARKED
from .views.threshold import ThresholdPanel
from .views.toolbars import PatchBar, ViewBar
from .views.training_panel import TrainingPanel
from .views.bindings import DocumentViews
from .views.welcome import WelcomePage
from .jobs.runner import JobRunner

Area = Qt.DockWidgetArea
#: The smallest a dock's contents may be: every dock fits beside the others on a 1280 x 800 screen.
DOCK_MIN = QSize(220, 120)


class _DockBody(QWidget):
    """A dock's panel inside its scroll area, filling the dock down to the panel's minimum size.

    Word-wrapped labels give a panel a height-for-width, which QScrollArea then
    takes from the panel's *preferred* size (a plot's 480 px): the threshold
    panel stood 556 px tall in a 200 px dock, its histogram's x axis out of sight.
    """

    def __init__(self, panel: QWidget):
        super().__init__()
        # No layout of its own: QScrollArea asks a layout for its height-for-width; this body has none.
        self.panel = panel
        panel.setParent(self)

    def minimumSizeHint(self):  # noqa: N802 (Qt API)
        return self.panel.minimumSizeHint()

    def sizeHint(self):  # noqa: N802 (Qt API)
        return self.panel.minimumSizeHint()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.panel.setGeometry(self.rect())
        super().resizeEvent(event)


class MainWindow(QMainWindow):
    def __init__(self, parent=None):
        super().__init__(parent)
        protect_none_refcount()
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        doc = self.document = Document(PatchSettings(patch_size=int(appsettings.get("patchSize", 32))))
        self.runner = JobRunner(parent=self)
        self._source_tabbed = False      # Detail and Source image become tabs when work first starts
        self._docks_sized = False        # the docks get their share of the window when work first starts
        self._build_central()
        self._build_docks()
        # Neither gets a method of the window: that would tie the window into a reference cycle.
        self.patch_bar = PatchBar(doc, partial(start_dir, doc), self)
        self.view_bar = ViewBar(self)
        self._build_statusbar()
        self.loader = Loader(self, doc)
        self.projects = Projects(self, doc)
        self.views = DocumentViews(doc, self.gallery, self.threshold_panel, self.counts_label, self.detail,
                                   self.source_view, self.source_dock, self.view_bar, self.statusBar().showMessage, self)
        self.models = ModelJobs(self, doc, self.train_panel, on_scored=self.views.show_ranking_top)
        self.act = Actions(self, self._handlers())
        self._build_toolbars()
        self.act.build_menus(self.menuBar(), (self.train_dock, self.detail_dock, self.threshold_dock,
                                              self.problems_dock), self.projects.fill_recent)
        for name in GALLERY:
            self.gallery.addAction(self.act[name])
        for name in WINDOW:
            self.addAction(self.act[name])

        for event in (doc.table_replaced, doc.patches_added, doc.marks_changed, doc.scores_changed,
                      doc.model_changed, doc.settings_changed):
            event.connect(self.update_enabled)
        doc.history_changed.connect(self._history_changed)
        doc.table_replaced.connect(self._table_replaced)
        doc.path_changed.connect(self._update_title)
        self.runner.busyChanged.connect(self._busy_changed)
        self.runner.progressed.connect(self._job_progress)
        self.runner.failed.connect(self._job_failed)
        self.runner.cancelled.connect(lambda kind: self.notify(f"{kind.capitalize()} cancelled", 4000))
        self.gallery.selectionCountChanged.connect(lambda _n: self.update_enabled())

        self.resize(1400, 900)
        geometry = appsettings.get("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self.fit_on_screen()
        self.train_panel.apply_settings(appsettings.get("training", {}) or {})
        self._history_changed()
        self.update_enabled()
        self.projects.refresh_welcome()
        self._page_changed(0)
        QTimer.singleShot(0, self.models.warm_up)

    def _handlers(self) -> dict:
        p, ld, g, doc = self.projects, self.loader, self.gallery, self.document
        return {"new": p.new_project, "open_folder": ld.ask_open_folder, "open_files": ld.ask_open_files,
                "open_project": p.ask_open_project, "demo": ld.open_demo, "save": p.save_project,
                "save_as": p.ask_save_project_as, "export_csv": p.ask_export_csv,
                "export_report": p.ask_export_report, "quit": self.close, "undo": doc.undo, "redo": doc.redo,
                "normal": lambda: self.mark_selected(NORMAL), "unmark": lambda: self.mark_selected(UNMARKED),
                "exclude": lambda: self.mark_selected(EXCLUDED),
                "file_normal": lambda: self.mark_selected(NORMAL, doc.mark_files),
                "folder_normal": lambda: self.mark_selected(NORMAL, doc.mark_folders),
                "recut": ld.ask_recut, "select_all": g.selectAll,
                "train": lambda: self.models.start_training(self.train_panel.config()),
                "score": self.models.score_unscored, "cancel": self.cancel_job_from_keyboard,
                "next": lambda: g.step(1), "prev": lambda: g.step(-1), "shortcuts": self.show_shortcuts,
                "about": self.show_about, "glossary": self.show_glossary,
                "preferences": lambda: PreferencesDialog(self).exec()}

    # ================================================================ UI ==
    def _build_central(self) -> None:
        self.welcome = WelcomePage()
        self.welcome.openDemoRequested.connect(lambda: self.loader.open_demo())
        self.welcome.openFolderRequested.connect(lambda: self.loader.ask_open_folder())
        self.welcome.openProjectRequested.connect(
            lambda p: self.projects.open_project(p) if p else self.projects.ask_open_project())
        self.welcome.restoreRequested.connect(lambda: self.projects.restore_autosave())
        self.gallery = GalleryView(self.document.table)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.gallery)
        self.stack.currentChanged.connect(self._page_changed)
        self.setCentralWidget(self.stack)

    def _dock(self, title: str, name: str, widget: QWidget, area, scroll: bool = True) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if scroll:
            # In a scroll area the panel's own minimum no longer sets the window's: the Train panel alone
            # asked for 600 px, and the window opened 912 px tall on an 800 px screen, its menus off-screen.
            area_widget = QScrollArea(objectName=f"{name}Scroll")
            area_widget.setWidget(_DockBody(widget))
            area_widget.setWidgetResizable(True)
            area_widget.setFrameShape(QFrame.Shape.NoFrame)
            area_widget.setMinimumSize(DOCK_MIN)
            widget = area_widget
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        # The device list needs torch: filled in when torch has loaded in the background (ModelJobs.warm_up).
        self.train_panel = TrainingPanel([("auto", "Best available (detecting devices…)"), ("cpu", "CPU")])
        self.train_dock = self._dock("Train", "trainDock", self.train_panel, Area.LeftDockWidgetArea)
        self.detail = DetailView()
        self.detail_dock = self._dock("Detail", "detailDock", self.detail, Area.RightDockWidgetArea)
        self.source_view = SourceView()
        self.source_dock = self._dock("Source image", "sourceDock", self.source_view, Area.RightDockWidgetArea)
        self.source_dock.hide()   # tabbed beside Detail when work starts (see _page_changed)
        self.threshold_panel = ThresholdPanel()
        self.export_csv_button = QPushButton("Export ranked CSV…", objectName="exportCsvButton")
        self.export_csv_button.clicked.connect(lambda: self.projects.ask_export_csv())
        self.export_report_button = QPushButton("Export report…", objectName="exportReportButton")
        self.export_report_button.clicked.connect(lambda: self.projects.ask_export_report())
        results = QWidget()
        row = QHBoxLayout(results)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.threshold_panel, 1)
        col = QVBoxLayout()
        for b in (self.export_csv_button, self.export_report_button):
            b.setMinimumWidth(170)
            col.addWidget(b)
        col.addStretch(1)
        row.addLayout(col)
        self.threshold_dock = self._dock("Threshold and export", "thresholdDock", results, Area.BottomDockWidgetArea)
        self.problems = ProblemsPanel(self.document)
        self.problems_dock = self._dock("Problems", "problemsPanel", self.problems, Area.BottomDockWidgetArea)
        self.problems.wanted.connect(lambda show: (self.problems_dock.show(), self.problems_dock.raise_())
                                     if show else self.problems_dock.hide())
        self.tabifyDockWidget(self.threshold_dock, self.problems_dock)
        # Detail runs down to the window's bottom: beside a full-width bottom panel it had too little height
        # at 1280 x 800 for its images, contrast and score rows.
        self.setCorner(Qt.Corner.BottomRightCorner, Area.RightDockWidgetArea)
        self.problems_dock.hide()
        self.resizeDocks([self.train_dock, self.detail_dock], [330, 420], Qt.Orientation.Horizontal)
        self.resizeDocks([self.threshold_dock], [230], Qt.Orientation.Vertical)

    def _build_toolbars(self) -> None:
        self.act.fill_toolbar(self.patch_bar)
        self.addToolBar(self.patch_bar)
        # The view controls get their own row: on one row with the rest they were cut off at 1600 px.
        self.addToolBarBreak()
        self.addToolBar(self.view_bar)

    def _build_statusbar(self) -> None:
        sb = self.statusBar()
        self.job_label = QLabel("")
        self.job_bar = QProgressBar(objectName="jobProgress")
        self.job_bar.setMaximumWidth(220)
        self.job_cancel = QToolButton(objectName="jobCancelButton")
        self.job_cancel.setText("Cancel")
        self.job_cancel.clicked.connect(self.runner.cancel)
        self.counts_label = QLabel("", objectName="countsLabel")
        sb.addWidget(self.job_label, 1)
        sb.addPermanentWidget(self.job_bar)
        sb.addPermanentWidget(self.job_cancel)
        sb.addPermanentWidget(self.counts_label)
        self.job_bar.hide()
        self.job_cancel.hide()

    def _page_changed(self, _index: int) -> None:
        # The start screen stands alone: empty panels around it would only distract.
        working = self.stack.currentWidget() is self.gallery
        for dock in (self.train_dock, self.detail_dock, self.source_dock, self.threshold_dock):
            dock.setVisible(working)
        if not working:
            return
        if not self._source_tabbed:
            # A tab beside Detail: the right column is too short for both at a useful size.  Made
            # here, not in __init__: a tab group made while the start screen hides its docks left
            # a stale copy of the bottom panel's tab bar drawn over the threshold slider (Qt 6.11).
            self.tabifyDockWidget(self.detail_dock, self.source_dock)
            self._source_tabbed = True
        self.detail_dock.raise_()   # Detail is the tab on top when work starts
        # Showing the docks can grow the window past the screen's bottom: pull it back in.
        QTimer.singleShot(0, self.fit_on_screen)
        if not self._docks_sized:
            self._docks_sized = True
            QTimer.singleShot(0, self.size_docks)

    def size_docks(self) -> None:
        """Share the window between the docks and the gallery by proportion (once, when work starts).

        Fixed sizes set before the window had its size left the docks at their minimum on a 1280 px screen.
        """
        w, h = max(self.width(), 800), max(self.height(), 500)
        self.resizeDocks([self.train_dock, self.detail_dock], [int(0.27 * w), int(0.31 * w)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.threshold_dock], [int(0.27 * h)], Qt.Orientation.Vertical)

    # ====================================================== for controllers ==
    def notify(self, text: str, ms: int = 4000) -> None:
        """A message in the status bar for ``ms`` milliseconds."""
        self.statusBar().showMessage(text, ms)

    def show_gallery(self) -> None:
        """Show the gallery (and the panels around it) instead of the start screen."""
        self.stack.setCurrentWidget(self.gallery)

    def show_welcome(self) -> None:
        """Show the start screen."""
        self.stack.setCurrentWidget(self.welcome)

    def raise_training(self) -> None:
        """Bring the Train panel to the front (training started)."""
        self.train_dock.raise_()

    def start_dir(self) -> str:
        """Where file dialogs open (see ddrid_gui.jobs.projects.start_dir)."""
        return start_dir(self.document)

    def after_dialog(self) -> None:
        """Give the keyboard back to the window (shortcuts worked only after a click otherwise)."""
        self.activateWindow()
        (self.gallery if self.stack.currentWidget() is self.gallery else self).setFocus()

    def open_paths(self, paths: Sequence[str]) -> None:
        """Open projects, folders and image files (command line, drops)."""
        self.loader.open_paths(paths)

    def preset_patching(self, source=None, object_size=None, labels=None, points=None) -> None:
        """Preset the patch source (command line) before anything is loaded."""
        self.patch_bar.preset(source, object_size, labels, points)

    def mark_selected(self, value: int, how=None) -> None:
        """Mark the selected patches (``how``: the document's mark_files / mark_folders, else just them)."""
        selected = self.gallery.selected_patches()
        if not len(selected):
            self.notify("Select patches first (click, Shift/Ctrl-click or drag a rectangle)", 4000)
        elif how is not None:
            how(selected, value)
        else:
            self.document.mark(selected, value)

    # ============================================================ state ==
    def update_enabled(self, *_args) -> None:
        """Enable what can be done now (the document and the runner changed)."""
        doc, busy = self.document, self.runner.busy
        loaded = len(doc) > 0
        self.act.update(busy, loaded, doc.model is not None, doc.scored, self.gallery.selectionModel().hasSelection())
        self.train_panel.set_running(self.models.training)
        self.train_panel.set_can_train(not busy and loaded)
        self.export_csv_button.setEnabled(doc.scored)
        self.export_report_button.setEnabled(doc.scored)
        # Patches of one project share one size and channel choice (one model input shape): fixed once
        # loaded, and while a load runs or waits (with nothing loaded, a running job can only be a load).
        self.patch_bar.set_fixed(loaded or busy or bool(self.runner.pending))
        if not loaded and not busy:
            self.view_bar.show_note("")     # a new project: no cut to describe yet

    def _table_replaced(self) -> None:
        if len(self.document):
            self.show_gallery()

    def _history_changed(self) -> None:
        h = self.document.history
        self.act.update_history(h.undo_text, h.redo_text)
        self._update_title()

    def _update_title(self) -> None:
        from pathlib import Path

        path = self.document.project_path
        modified = "" if self.document.history.is_clean else " *"
        self.setWindowTitle(f"{Path(path).name if path else 'untitled'}{modified} — ddrid")

    def _busy_changed(self, busy: bool) -> None:
        job = self.runner.current
        self.job_bar.setVisible(busy)
        self.job_cancel.setVisible(busy and job is not None and job.status_cancel)
        self.job_bar.setValue(0)
        self.job_label.setText(f"{job.title or 'Working'}…" if busy and job is not None else "")
        self.update_enabled()

    def _job_progress(self, kind: str, batch) -> None:
        rec, job = batch.latest, self.runner.current
        if job is None:
            return
        self.job_bar.setValue(int(100 * rec.overall))
        eta = f", ETA {rec.eta:.0f} s" if rec.eta is not None else ""
        detail = f"{rec.step}/{rec.steps}" if job.count_steps and rec.steps else rec.stage
        self.job_label.setText(f"{job.title or kind}: {detail}{eta}  {rec.message if job.show_message else ''}")

    def _job_failed(self, job, message: str, detail: str) -> None:
        show_error(self, f"{job.title or job.kind} failed", message, detail)

    def cancel_job_from_keyboard(self) -> None:
        """Esc cancels loading/scoring at once, but asks before throwing away a training run."""
        job = self.runner.current
        if job is not None and job.cancel_question:
            answer = QMessageBox.question(self, "Cancel training?", job.cancel_question)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.runner.cancel()

    # ============================================================== help ==
    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard Shortcuts."""
        rows = "".join(f"<tr><td>{name}</td><td><b>{keys}</b></td></tr>" for name, keys in self.act.shortcut_rows())
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText(f"<table cellspacing=6>{rows}</table>")
        box.exec()

    def show_glossary(self) -> None:
        """Help ▸ What Do These Mean? (not modal)."""
        from .glossary import html

        box = QMessageBox(self)
        box.setObjectName("glossaryBox")
        box.setWindowTitle("What do these mean?")
        box.setText(html())
        box.open()   # not modal to the app: the window's shortcuts keep working beside it
        self.glossary_box = box

    def show_about(self) -> None:
        """Help ▸ About ddrid."""
        from ddrcore import __version__

        QMessageBox.about(self, "About ddrid", f"<b>ddrid {__version__}</b><br>Anomalous patch finder based on "
                                               "DDR-ID (dual deep reconstruction networks).")

    # ============================================================ window ==
    def fit_on_screen(self) -> None:
        """Keep the whole window (title bar to status bar) inside the available screen area."""
        screen = self.screen() or (self.windowHandle().screen() if self.windowHandle() else None)
        screen = screen or QGuiApplication.primaryScreen()
        if screen is None or self.isMaximized() or self.isFullScreen():
            return
        avail = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w = max(0, frame.width() - self.width())
        extra_h = max(0, frame.height() - self.height())
        w = min(self.width(), avail.width() - extra_w)
        h = min(self.height(), avail.height() - extra_h)
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)
        frame = self.frameGeometry()
        x = min(max(frame.x(), avail.left()), avail.right() + 1 - frame.width())
        y = min(max(frame.y(), avail.top()), avail.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if not getattr(self, "_fitted", False):
            # Frame margins are known once shown: fit again with them (title bar and status bar on screen).
            self._fitted = True
            self.fit_on_screen()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt API)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.projects.autosave()
        appsettings.put("geometry", self.saveGeometry())
        appsettings.put("training", self.train_panel.settings())
        # Queued jobs must not start while the window goes away.
        self.runner.cancel_all()
        # Let a cancelled job reach its next yield so no worker outlives the window.
        QThreadPool.globalInstance().waitForDone(30000)
        super().closeEvent(event)
