"""The main window: owns the patch table, the model and the project, and wires
the panels (gallery, detail, train, threshold, problems) to ddrcore jobs.

All long work goes through :class:`app.workers.JobRunner`; this module only
reacts to its signals.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QListWidget,
                               QMainWindow, QMessageBox, QProgressBar, QPushButton, QSpinBox, QStackedWidget,
                               QToolBar, QToolButton, QVBoxLayout, QWidget)

from ddrcore.io import project as projectfile
from ddrcore.config import describe_devices
from ddrcore.pipeline import bundled_demo_dir
from ddrcore.errors import DdridError
from ddrcore.io.images import BadFile, PatchSource
from ddrcore.model.ddrid import DDRIDModel, score_name
from ddrcore.config import default_input_size
from ddrcore.objects import Patching

from . import exporting, jobs
from .icon import app_icon
from .compat import protect_none_refcount
from . import settings as appsettings
from .commands import MarkCommand
from .detail import DetailView
from .source_view import SourceView, page_reader
from .gallery import CONTRAST_LABELS, CONTRAST_MODES, GalleryView
from .state import EXCLUDED, FILTERS, MARK_NAMES, NORMAL, SORTS, UNMARKED, PatchTable, patching_from_dict
from .threshold import ThresholdPanel
from .training_panel import TrainingPanel
from .welcome import WelcomePage
from .workers import JobRunner, decomposer, warm_up

MODEL_SUFFIX = ".ddrid"   # ddrcore.model.modelfile.SUFFIX; modelfile imports torch, loaded after the window shows
IMAGE_FILTER = "Images (*.tif *.tiff *.png *.jpg *.jpeg);;All files (*)"
PROJECT_FILTER = f"ddrid project (*{projectfile.SUFFIX});;All files (*)"
# What each background job is called in the status bar and in error titles.
JOB_NAMES = {"load": "Loading", "train": "Training", "score": "Scoring", "report": "Writing report"}
CHANNELS = [("auto (grey)", None), ("channel 0", 0), ("channel 1", 1), ("channel 2", 2), ("channel 3", 3),
            ("all (multi-channel)", "all")]
SORT_LABELS = {"score": "Score (highest first)", "name": "Name", "file": "File / load order"}
FILTER_LABELS = {"all": "All patches", "normal": "Marked normal", "flagged": "Flagged",
                 "unmarked": "Unmarked", "excluded": "Excluded"}
AUTOSAVE_DELAY_MS = 1500
# Where patches come from (ddrcore.objects.SOURCES), as the toolbar names them.
PATCHING_LABELS = [("grid", "Grid tiles"), ("auto", "Objects: detect"), ("labels", "Objects: labels"),
                   ("points", "Objects: points")]
POINTS_FILTER = "Points CSV (*.csv);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, parent=None):
        super().__init__(parent)
        protect_none_refcount()
        pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="k", antialias=True)
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.table = PatchTable(patch_size=int(appsettings.get("patchSize", 32)))
        self.model: Optional[DDRIDModel] = None
        self.model_path: Optional[str] = None
        self.project_path: Optional[str] = None
        self.pending_marks: Dict[PatchSource, str] = {}
        self._recut_from: Optional[tuple] = None   # (sources, marks) of the table being re-cut
        self.pending_roles: Dict[PatchSource, str] = {}   # a reopened project's train/validation patches
        self.pending_threshold: Optional[float] = None
        self._detail_cache: tuple = (-1, None)
        self._source_patch = -1          # the patch outlined in the Source image tab
        self._source_tabbed = False      # Detail and Source image become tabs when work first starts
        self.undo_stack = QUndoStack(self)
        self.runner = JobRunner(parent=self)
        self.runner.progressed.connect(self._job_progress)
        self.runner.succeeded.connect(self._job_succeeded)
        self.runner.failed.connect(self._job_failed)
        self.runner.cancelled.connect(self._job_cancelled)
        self.runner.busyChanged.connect(self._busy_changed)
        self.decomposer = decomposer(self)
        self.decomposer.ready.connect(lambda key, parts: self._decomposition_ready(key[0], key[1], parts))
        self.decomposer.failed.connect(lambda _p, msg: self.statusBar().showMessage(f"Decomposition failed: {msg}", 8000))
        self.page_reader = page_reader(self)
        self.page_reader.ready.connect(self._page_ready)
        self.page_reader.failed.connect(self._page_failed)

        self._build_central()
        self._build_docks()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._build_statusbar()

        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DELAY_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.view_timer = QTimer(self, singleShot=True, interval=120)
        self.view_timer.timeout.connect(self._refresh_after_marks)

        self.resize(1400, 900)
        geometry = appsettings.get("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self.fit_on_screen()
        self.train_panel.apply_settings(appsettings.get("training", {}) or {})
        self._update_title()
        self._update_enabled()
        self._update_counts()
        self._refresh_welcome()
        self._page_changed(0)
        QTimer.singleShot(0, self._warm_up)

    def _warm_up(self) -> None:
        """Load torch in a worker thread once the window is up; then list the devices."""
        worker = warm_up()
        if worker is None:
            self._devices_ready()
        else:
            self._warm_worker = worker
            worker.finished.connect(self._devices_ready)

    def _devices_ready(self) -> None:
        try:
            self.train_panel.set_devices(describe_devices(jobs.gui_cpu_threads()))
        except Exception:  # noqa: BLE001 - the placeholder list still trains (auto / CPU)
            pass

    def fit_on_screen(self) -> None:
        """Keep the whole window (title bar to status bar) inside the available screen area."""
        screen = self.screen() or (self.windowHandle().screen() if self.windowHandle() else None)
        if screen is None:
            from PySide6.QtGui import QGuiApplication

            screen = QGuiApplication.primaryScreen()
        if screen is None:
            return
        avail = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w = max(0, frame.width() - self.width())
        extra_h = max(0, frame.height() - self.height())
        if self.isMaximized() or self.isFullScreen():
            return
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

    # ================================================================ UI ==
    def _build_central(self) -> None:
        self.welcome = WelcomePage()
        self.welcome.openDemoRequested.connect(self.open_demo)
        self.welcome.openFolderRequested.connect(self.ask_open_folder)
        self.welcome.openProjectRequested.connect(lambda p: self.open_project(p) if p else self.ask_open_project())
        self.welcome.restoreRequested.connect(self.restore_autosave)
        self.gallery = GalleryView(self.table)
        self.gallery.currentPatchChanged.connect(self._show_detail)
        self.gallery.selectionCountChanged.connect(lambda _n: self._update_enabled())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.gallery)
        self.stack.currentChanged.connect(self._page_changed)
        self.setCentralWidget(self.stack)

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

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        from .glossary import tip

        # The device list needs torch: filled in when torch has loaded in the background (_devices_ready).
        self.train_panel = TrainingPanel([("auto", "Best available (detecting devices…)"), ("cpu", "CPU")])
        self.train_panel.startRequested.connect(self.start_training)
        self.train_panel.cancelRequested.connect(self.runner.cancel)
        self.train_dock = self._dock("Train", "trainDock", self.train_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.train_panel.status.setToolTip(tip("chosen score", "threshold", "quality check"))

        self.detail = DetailView()
        self.detail.scores.setToolTip(tip("AS_l", "AS_r", "chosen score"))
        for label, terms in zip(self.detail.labels, (("image units",), ("X_C", "image units"), ("X_N",), ("residual heat",))):
            label.setToolTip(tip(*terms))
        self.detail.stepRequested.connect(self.gallery.step)
        self.detail_dock = self._dock("Detail", "detailDock", self.detail, Qt.DockWidgetArea.RightDockWidgetArea)
        self.source_view = SourceView()
        self.source_view.patchClicked.connect(self.go_to_patch)
        self.source_dock = self._dock("Source image", "sourceDock", self.source_view,
                                      Qt.DockWidgetArea.RightDockWidgetArea)
        self.source_dock.hide()   # tabbed beside Detail when work starts (see _page_changed)
        # Deferred: when the tab is being raised, its area is not laid out yet.
        self.source_dock.visibilityChanged.connect(
            lambda shown: shown and QTimer.singleShot(0, lambda: self._update_source()))

        from .glossary import tip

        self.threshold_panel = ThresholdPanel()
        self.threshold_panel.slider.setToolTip(tip("threshold"))
        self.threshold_panel.plot.setToolTip(tip("threshold", "roles"))
        self.threshold_panel.count_label.setToolTip(tip("threshold", "roles"))
        self.threshold_panel.thresholdChanged.connect(self._threshold_changed)
        self.export_csv_button = QPushButton("Export ranked CSV…")
        self.export_csv_button.setObjectName("exportCsvButton")
        self.export_csv_button.clicked.connect(self.ask_export_csv)
        self.export_report_button = QPushButton("Export report…")
        self.export_report_button.setObjectName("exportReportButton")
        self.export_report_button.clicked.connect(self.ask_export_report)
        results = QWidget()
        row = QHBoxLayout(results)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.threshold_panel, 1)
        for b in (self.export_csv_button, self.export_report_button):
            b.setMinimumWidth(170)
        col = QVBoxLayout()
        col.addWidget(self.export_csv_button)
        col.addWidget(self.export_report_button)
        col.addStretch(1)
        row.addLayout(col)
        self.threshold_dock = self._dock("Threshold and export", "thresholdDock", results,
                                         Qt.DockWidgetArea.BottomDockWidgetArea)

        self.problems = QListWidget()
        self.problems.setObjectName("problemsList")
        self.problems.setWordWrap(True)
        hint = QLabel("These files were skipped; everything else was loaded. Multichannel files: pick a channel "
                      "in the toolbar and open them again (in a new project).")
        hint.setWordWrap(True)
        dismiss = QPushButton("Dismiss")
        dismiss.setObjectName("dismissProblemsButton")
        dismiss.clicked.connect(self.dismiss_problems)
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(hint)
        lay.addWidget(self.problems, 1)
        lay.addWidget(dismiss, 0, Qt.AlignmentFlag.AlignRight)
        self.problems_dock = self._dock("Problems", "problemsPanel", box, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.threshold_dock, self.problems_dock)
        self.problems_dock.hide()
        self.resizeDocks([self.train_dock, self.detail_dock], [330, 420], Qt.Orientation.Horizontal)
        self.resizeDocks([self.threshold_dock], [230], Qt.Orientation.Vertical)
        # Drops go to the window, not to the plot canvases (which would swallow them).
        for view in (self.detail.graphics, self.source_view.graphics, self.threshold_panel.plot,
                     self.train_panel.plots):
            view.setAcceptDrops(False)

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        act = QAction(text, self)
        act.triggered.connect(slot)
        if shortcut is not None:
            act.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(f"{text.replace('&', '').rstrip('.…')} ({act.shortcut().toString()})" if shortcut else tip)
        return act

    def _build_actions(self) -> None:
        A = self._action
        self.act_new = A("&New Project", self.new_project, QKeySequence.StandardKey.New)
        self.act_open_folder = A("Open &Folder…", self.ask_open_folder, "Ctrl+O", "Load all images in a folder")
        self.act_open_files = A("Open F&iles…", self.ask_open_files, "Ctrl+Shift+I", "Load image files")
        self.act_open_project = A("Open &Project…", self.ask_open_project, "Ctrl+Shift+O")
        self.act_demo = A("Open &Demo Data", self.open_demo, None, "Load the bundled demo patches")
        self.act_save = A("&Save Project", self.save_project, QKeySequence.StandardKey.Save)
        self.act_save_as = A("Save Project &As…", self.ask_save_project_as, "Ctrl+Shift+S")
        self.act_export_csv = A("Export Ranked &CSV…", self.ask_export_csv, "Ctrl+E")
        self.act_export_report = A("Export &Report (PNG/PDF)…", self.ask_export_report, "Ctrl+Shift+E")
        self.act_quit = A("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_normal = A("Mark &Normal", lambda: self.mark_selected(NORMAL), "N",
                            "Selected patches become training normals")
        self.act_unmark = A("&Unmark", lambda: self.mark_selected(UNMARKED), "U", "Remove marks from the selection")
        self.act_exclude = A("E&xclude", lambda: self.mark_selected(EXCLUDED), "X",
                             "Leave the selection out of training, counts and exports")
        self.act_file_normal = A("Mark Whole &File(s) Normal", self.mark_files_normal, "Shift+N",
                                 "Every patch of the selected patches' files becomes normal")
        self.act_folder_normal = A("Mark Whole F&older Normal", self.mark_folders_normal, "Ctrl+Shift+N",
                                   "Every patch in the selected patches' folders, subfolders included, becomes normal")
        self.act_recut = A("Re-&cut Patches…", self.ask_recut, None,
                           "Cut the loaded images again with another patch source or size; marks follow the objects")
        self.act_recut.setObjectName("recutAction")
        self.act_select_all = A("Select &All", lambda: self.gallery.selectAll(), QKeySequence.StandardKey.SelectAll)
        self.act_train = A("&Train", lambda: self.start_training(self.train_panel.config()), "Ctrl+T")
        self.act_score = A("&Score", self.score_unscored, "Ctrl+R", "Score patches the model has not scored yet")
        self.act_cancel = A("&Cancel Job", self.cancel_job_from_keyboard, "Esc")
        self.act_next = A("Next in Ranking", lambda: self.gallery.step(1), "]")
        self.act_prev = A("Previous in Ranking", lambda: self.gallery.step(-1), "[")
        self.act_shortcuts = A("&Keyboard Shortcuts", self.show_shortcuts, "F1")
        self.act_about = A("&About ddrid", self.show_about)
        self.act_glossary = A("&What Do These Mean?", self.show_glossary, None,
                              "AS_l, AS_r, X_C, X_N, threshold, image units, residual heat, roles, quality check")
        for act in (self.act_normal, self.act_unmark, self.act_exclude, self.act_file_normal, self.act_folder_normal):
            self.gallery.addAction(act)
        for act in (self.act_undo, self.act_redo, self.act_next, self.act_prev, self.act_cancel):
            self.addAction(act)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        self.addToolBar(tb)
        tb.addAction(self.act_open_folder)
        tb.addAction(self.act_open_files)
        tb.addSeparator()
        tb.addWidget(QLabel(" Patch "))
        self.patch_size_box = QSpinBox()
        self.patch_size_box.setObjectName("patchSizeBox")
        self.patch_size_box.setRange(4, 1024)
        self.patch_size_box.setSuffix(" px")
        self.patch_size_box.setValue(self.table.patch_size)
        self.patch_size_box.setToolTip("Side of the squares cut from larger images (32 = the paper's size)")
        self.patch_size_box.valueChanged.connect(self._patch_size_changed)
        tb.addWidget(self.patch_size_box)
        tb.addWidget(QLabel(" From "))
        self.patching_combo = QComboBox()
        self.patching_combo.setObjectName("patchingCombo")
        for key, label in PATCHING_LABELS:
            self.patching_combo.addItem(label, key)
        self.patching_combo.setToolTip("Where patches come from: square grid tiles, or one crop centred on each "
                                       "object (detected, from label images beside the images, or from a CSV "
                                       "of centres); object crops are twice the object size a side")
        self.patching_combo.currentIndexChanged.connect(self._patching_changed)
        tb.addWidget(self.patching_combo)
        self.patching_files_button = QToolButton()
        self.patching_files_button.setObjectName("patchingFilesButton")
        self.patching_files_button.setText("…")
        self.patching_files_button.clicked.connect(self.ask_patching_files)
        self.patching_files_action = tb.addWidget(self.patching_files_button)
        self.patching_files_action.setVisible(False)
        tb.addWidget(QLabel(" Object "))
        self.object_size_spin = QDoubleSpinBox()
        self.object_size_spin.setObjectName("objectSizeSpin")
        self.object_size_spin.setRange(0, 1024)
        self.object_size_spin.setDecimals(1)
        self.object_size_spin.setSingleStep(1)
        self.object_size_spin.setSuffix(" px")
        self.object_size_spin.setSpecialValueText("auto")
        self.object_size_spin.setValue(0)
        self.object_size_spin.setToolTip("Typical object diameter in pixels; \"auto\" estimates it from the "
                                         "images (crops are twice this size a side)")
        tb.addWidget(self.object_size_spin)
        self.labels_dir: Optional[str] = None     # "labels": label images folder (None: beside the images)
        self.points_path: Optional[str] = None    # "points": the CSV of centres
        tb.addWidget(QLabel(" Channel "))
        self.channel_box = QComboBox()
        self.channel_box.setObjectName("channelBox")
        for label, value in CHANNELS:
            self.channel_box.addItem(label, value)
        self.channel_box.setToolTip("Which channel of multichannel images to use")
        self.channel_box.currentIndexChanged.connect(self._channel_changed)
        tb.addWidget(self.channel_box)
        tb.addSeparator()
        for act in (self.act_normal, self.act_unmark, self.act_exclude):
            tb.addAction(act)
        tb.addSeparator()
        tb.addAction(self.act_score)
        # The view controls get their own row: on one row with the rest they were cut off at 1600 px.
        self.addToolBarBreak()
        tb = QToolBar("View", self)
        tb.setObjectName("viewToolbar")
        tb.setMovable(False)
        self.addToolBar(tb)
        self.sort_box = self._view_combo(tb, " Sort ", "sortBox", SORTS, SORT_LABELS)
        self.filter_box = self._view_combo(tb, " Show ", "filterBox", FILTERS, FILTER_LABELS)
        self.include_training_box = QCheckBox("Include training patches")
        self.include_training_box.setObjectName("includeTrainingCheck")
        self.include_training_box.setToolTip(
            "After training, the gallery, histogram, flagged count, CSV and report leave out the patches the "
            "model was trained or validated on (they score low by construction). Tick to include them.")
        self.include_training_box.toggled.connect(self.set_include_training)
        tb.addWidget(self.include_training_box)
        tb.addWidget(QLabel(" Contrast "))
        self.contrast_box = QComboBox()
        self.contrast_box.setObjectName("contrastBox")
        for key in CONTRAST_MODES:
            self.contrast_box.addItem(CONTRAST_LABELS[key], key)
        self.contrast_box.setCurrentIndex(CONTRAST_MODES.index("file"))
        self.contrast_box.setToolTip("Thumbnail contrast (display only; the Detail panel has its own). Per file: "
                                     "every patch of an image shares its 1–99 % range, so empty background stays "
                                     "dark. Per patch: each patch stretched to its own range (faint structure "
                                     "shows, but background becomes loud noise). Fixed range: one range for all.")
        self.contrast_box.currentIndexChanged.connect(
            lambda _i: (self.gallery.cache.set_mode(self.contrast_box.currentData()),
                        self.gallery.viewport().update()))
        tb.addWidget(self.contrast_box)
        tb.addWidget(QLabel(" Tiles "))
        self.zoom_box = QComboBox()
        for px in (48, 64, 96, 128):
            self.zoom_box.addItem(f"{px} px", px)
        self.zoom_box.setCurrentIndex(1)
        self.zoom_box.currentIndexChanged.connect(lambda _i: self.gallery.set_thumb_size(self.zoom_box.currentData()))
        tb.addWidget(self.zoom_box)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.act_new, self.act_open_folder, self.act_open_files, self.act_open_project, self.act_demo):
            m.addAction(a)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        for a in (self.act_save, self.act_save_as):
            m.addAction(a)
        m.addSeparator()
        for a in (self.act_export_csv, self.act_export_report):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&Edit")
        for a in (self.act_undo, self.act_redo, None, self.act_select_all):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Annotate")
        for a in (self.act_normal, self.act_unmark, self.act_exclude, None, self.act_file_normal,
                  self.act_folder_normal, None, self.act_recut):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Model")
        for a in (self.act_train, self.act_score, self.act_cancel):
            m.addAction(a)
        m = mb.addMenu("&View")
        for dock in (self.train_dock, self.detail_dock, self.threshold_dock, self.problems_dock):
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        m.addAction(self.act_next)
        m.addAction(self.act_prev)
        m = mb.addMenu("&Help")
        m.addAction(self.act_glossary)
        m.addAction(self.act_shortcuts)
        m.addAction(self.act_about)

    def _build_statusbar(self) -> None:
        sb = self.statusBar()
        self.job_label = QLabel("")
        self.job_bar = QProgressBar()
        self.job_bar.setObjectName("jobProgress")
        self.job_bar.setMaximumWidth(220)
        self.job_cancel = QToolButton()
        self.job_cancel.setText("Cancel")
        self.job_cancel.clicked.connect(self.runner.cancel)
        self.counts_label = QLabel("")
        self.counts_label.setObjectName("countsLabel")
        sb.addWidget(self.job_label, 1)
        sb.addPermanentWidget(self.job_bar)
        sb.addPermanentWidget(self.job_cancel)
        sb.addPermanentWidget(self.counts_label)
        self.job_bar.hide()
        self.job_cancel.hide()

    # ========================================================= drag/drop ==
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

    # ============================================================ opening ==
    def open_paths(self, paths: Sequence[str]) -> None:
        """Open projects, folders and image files (command line, drops)."""
        projects = [p for p in paths if str(p).lower().endswith(projectfile.SUFFIX)]
        images = [p for p in paths if p not in projects]
        if projects:
            self.open_project(projects[0])
            for extra in projects[1:]:
                self.add_problems([BadFile(extra, "only one project can be open at a time; open it separately")])
        if images:
            self.load_inputs(images)

    def load_inputs(self, paths: Sequence[str], mark_normal_under: Sequence[str] = ()) -> None:
        paths = [os.path.abspath(p) for p in paths]
        size, channel = self.table.patch_size, self.table.channel
        # Files whose channel count differs from the project's are reported, not loaded.
        expected = None if self.table.images is None else int(self.table.images.shape[1])
        # Once patches are loaded, more inputs are cut exactly like them (object size settled).
        patching = self.table.patching if self.table.patching is not None else self.chosen_patching()
        if patching is None:
            return
        try:
            # The network input side follows the crop side (the CLI's rule); unknown until an object size is estimated.
            input_size = default_input_size(patching.crop_side())
        except ValueError:
            input_size = None
        self.stack.setCurrentWidget(self.gallery)
        if self.runner.busy:
            self.statusBar().showMessage(f"Loading {len(paths)} input(s) after the current job", 5000)
        self.runner.submit("load", lambda: jobs.load_inputs(paths, size, input_size, channel,
                                                            mark_normal_under, expected, patching))
        self._update_enabled()

    def open_demo(self) -> None:
        demo = bundled_demo_dir()
        normal, test = demo / "train" / "normal", demo / "test"
        if not normal.is_dir():
            QMessageBox.warning(self, "ddrid", f"The demo data is not where it should be ({demo}); "
                                               "reinstall ddrid or open your own folder.")
            return
        self.load_inputs([str(normal), str(test)], mark_normal_under=[str(normal)])

    def start_dir(self) -> str:
        """Where file dialogs open: the project's folder, else the loaded data's, else the last one used."""
        if self.project_path:
            return str(Path(self.project_path).parent)
        inputs = [p for p in self.table.inputs if os.path.exists(p)]
        if inputs:
            folders = [p if os.path.isdir(p) else os.path.dirname(p) for p in inputs]
            try:
                return os.path.commonpath(folders)   # e.g. the folder above train/ and test/
            except ValueError:   # different drives
                return folders[0]
        last = appsettings.get("lastDir", "")
        return last if last and os.path.isdir(last) else str(Path.home())

    def _after_dialog(self) -> None:
        """Give the keyboard back to the window (shortcuts worked only after a click otherwise)."""
        self.activateWindow()
        (self.gallery if self.stack.currentWidget() is self.gallery else self).setFocus()

    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder of images", self.start_dir())
        self._after_dialog()
        if folder:
            appsettings.put("lastDir", folder)
            self.load_inputs([folder])

    def ask_open_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", self.start_dir(), IMAGE_FILTER)
        self._after_dialog()
        if files:
            appsettings.put("lastDir", str(Path(files[0]).parent))
            self.load_inputs(files)

    def ask_open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self.start_dir(), PROJECT_FILTER)
        self._after_dialog()
        if path:
            self.open_project(path)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = appsettings.recent_projects()
        for p in recent:
            self.recent_menu.addAction(p, lambda p=p: self.open_project(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ============================================================ project ==
    def new_project(self) -> bool:
        """Start empty (the current work is autosaved first); False while a job runs."""
        if self.runner.busy:
            QMessageBox.information(self, "ddrid", "Wait for the current job to finish (or cancel it) first.")
            return False
        self.autosave()
        self.set_table(PatchTable(patch_size=self.patch_size_box.value(), channel=self.channel_box.currentData()))
        self.model = None
        self.model_path = None
        self.project_path = None
        self.pending_marks = {}
        self.pending_roles = {}
        self.pending_threshold = None
        self._detail_cache = (-1, None)
        self.undo_stack.clear()
        self.dismiss_problems()
        self.train_panel.clear()
        self.include_training_box.setChecked(False)
        self.refresh_view()
        self._scores_changed()
        self.threshold_panel.reset()
        self.detail.clear()
        self.stack.setCurrentWidget(self.welcome)
        self._refresh_welcome()
        self._update_title()
        self._update_enabled()
        return True

    def _refresh_welcome(self) -> None:
        self.welcome.set_recent(appsettings.recent_projects())
        auto = appsettings.autosave_project_path()
        when = ""
        if auto.is_file():
            import time

            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(auto.stat().st_mtime))
        self.welcome.set_autosave(when)

    def restore_autosave(self) -> None:
        """Reopen the autosaved session; it stays unsaved (Save asks for a name)."""
        auto = appsettings.autosave_project_path()
        if auto.is_file():
            self.open_project(str(auto), remember=False)
            self.project_path = None
            self._update_title()

    def set_table(self, table: PatchTable) -> None:
        """Work on another patch table (new project; tests inject large synthetic ones)."""
        self.table = table
        table.set_include_training(self.include_training_box.isChecked())
        # Another table may cut the same page differently (other patch source): read it again when shown.
        self.source_view.set_page(None, None)
        self.gallery.table = table
        self.gallery.cache.table = table
        self.gallery.patch_model.table = table
        self.gallery.invalidate_thumbnails()
        self.refresh_view()
        self._scores_changed()
        if len(table):
            self.stack.setCurrentWidget(self.gallery)

    def open_project(self, path: str, remember: bool = True) -> None:
        try:
            proj = projectfile.load(path)
        except DdridError as exc:
            QMessageBox.warning(self, "Cannot open project", str(exc))
            return
        patching = patching_from_dict(proj.training.get("patching"))
        self.patch_size_box.setValue(proj.patch_size)
        idx = next((k for k, (_l, v) in enumerate(CHANNELS) if v == proj.channel), 0)
        self.channel_box.setCurrentIndex(idx)
        if not self.new_project():
            return
        if patching is not None:
            self.labels_dir, self.points_path = patching.labels_dir, patching.points
            self._show_patching(patching)
            self.object_size_spin.setValue(patching.object_size or 0)
            self._update_enabled()
        self.project_path = str(Path(path).resolve())
        outside = projectfile.outside_paths(proj, path)
        if outside:
            # A shared project may point anywhere on this machine: say where before it is read.
            shown = ", ".join(outside[:3]) + (f" and {len(outside) - 3} more" if len(outside) > 3 else "")
            self.add_problems([BadFile(path, f"this project reads {len(outside)} path(s) outside its folder: "
                                             f"{shown}; check that you expected them")])
        self.pending_marks = dict(proj.marks)
        self.pending_roles = dict(proj.roles) if self.model is not None or proj.model_path else {}
        self.pending_threshold = proj.threshold
        self.train_panel.apply_settings(proj.training)
        if proj.model_path:
            try:
                from ddrcore.model import modelfile

                m = modelfile.load(proj.model_path, device="auto")
                why = m.incompatibility(proj.patch_size, proj.channel,
                                        objects=patching.source if patching is not None else None)
                if why:
                    # Patches cut differently from the training ones get scores that look valid but are not.
                    raise DdridError(f"{proj.model_path}: {why}; this project cuts {proj.patch_size} px patches")
                self.model = m
                self.model_path = proj.model_path
                self.train_panel.show_model(
                    f"Model {Path(proj.model_path).name} loaded ({m.config.pretrain_epochs}+{m.config.finetune_epochs} "
                    f"epochs, {score_name(m.score_type)}, threshold {m.threshold:.4g}). Train again to replace it.")
            except DdridError as exc:
                self.add_problems([BadFile(proj.model_path, str(exc).split(": ", 1)[-1] +
                                           " — train again to get a new model")])
        if remember:
            appsettings.add_recent_project(self.project_path)
        self._update_title()
        if proj.inputs:
            self.load_inputs(proj.inputs)
        else:
            self.stack.setCurrentWidget(self.gallery)

    def project_settings(self) -> dict:
        return self.train_panel.settings()

    def current_threshold(self) -> Optional[float]:
        return self.threshold_panel.threshold() if self.threshold_panel.slider.isEnabled() else None

    def save_project(self) -> bool:
        if not self.project_path:
            return self.ask_save_project_as()
        return self.save_project_to(self.project_path)

    def ask_save_project_as(self) -> bool:
        start = self.project_path or str(Path(self.start_dir()) / f"project{projectfile.SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, PROJECT_FILTER)
        self._after_dialog()
        if not path:
            return False
        if not path.lower().endswith(projectfile.SUFFIX):
            path += projectfile.SUFFIX
        return self.save_project_to(path)

    def save_project_to(self, path: str) -> bool:
        """Write the project (and its model beside it, if it lives elsewhere)."""
        path = str(Path(path).resolve())
        try:
            if self.model is not None:
                from ddrcore.model import modelfile

                beside = str(Path(path).with_suffix(MODEL_SUFFIX))
                if self.model_path != beside:
                    # The model travels with the project: copy it next to the project file.
                    modelfile.save(self.model, beside)
                    self.model_path = beside
            proj = self.table.to_project(self.model_path, self.current_threshold(), self.project_settings())
            projectfile.save(proj, path)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot save project", f"{path}: {exc}")
            return False
        self.project_path = path
        appsettings.add_recent_project(path)
        self.undo_stack.setClean()
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def autosave(self) -> None:
        """Save annotations now: to the project file, or to the autosave file if unsaved."""
        self.autosave_timer.stop()
        if len(self.table) == 0 and not self.pending_marks:
            return
        target = self.project_path or str(appsettings.autosave_project_path())
        try:
            proj = self.table.to_project(self.model_path, self.current_threshold(), self.project_settings())
            # Marks of inputs not loaded yet (project still loading) must not be dropped.
            for src, mark in self.pending_marks.items():
                proj.marks.setdefault(src, mark)
            for src, role in self.pending_roles.items():
                proj.roles.setdefault(src, role)
            projectfile.save(proj, target)
        except (OSError, ValueError) as exc:
            self.statusBar().showMessage(f"Autosave failed: {target}: {exc}", 8000)
            return
        if self.project_path:
            self.undo_stack.setClean()
        self.statusBar().showMessage(f"Autosaved to {target}", 2000)

    # ========================================================== annotate ==
    def mark_selected(self, value: int) -> None:
        self.mark(self.gallery.selected_patches(), value)

    def mark(self, indices, value: int, what: str = "") -> None:
        indices = np.asarray(indices, np.int64)
        if len(indices) == 0:
            self.statusBar().showMessage("Select patches first (click, Shift/Ctrl-click or drag a rectangle)", 4000)
            return
        name = MARK_NAMES.get(value, "unmarked")
        n = len(indices)
        text = f"{'mark' if value else 'unmark'} {n} patch{'es' if n != 1 else ''}{' ' + name if value else ''}{what}"
        self.undo_stack.push(MarkCommand(self.table, indices, value, text, self._marks_changed))

    def _selected_files(self) -> List[str]:
        return sorted({self.table.sources[i].path for i in self.gallery.selected_patches()})

    def mark_files_normal(self) -> None:
        files = self._selected_files()
        self.mark(self.table.indices_in_files(files), NORMAL, f" (whole file{'s' if len(files) > 1 else ''})")

    def mark_folders_normal(self) -> None:
        folders = sorted({str(Path(f).parent) for f in self._selected_files()})
        self.mark(self.table.indices_under(folders), NORMAL, f" (folder {', '.join(Path(f).name for f in folders)})")

    def _marks_changed(self) -> None:
        self.gallery.patch_model.refresh_flags()
        self.gallery.viewport().update()
        self._update_counts()
        self._update_enabled()
        self.view_timer.start()   # re-filter and histogram: debounced, at most every 120 ms
        self.autosave_timer.start()
        self._update_title()
        cur = self.gallery.current_patch()
        if cur >= 0:
            self._show_detail(cur)

    def _refresh_after_marks(self) -> None:
        if self.filter_box.currentData() != "all":
            self.refresh_view()
        self._update_histogram()

    # ============================================================ views ==
    def refresh_view(self) -> None:
        t = self.threshold_panel.threshold() if self.threshold_panel.slider.isEnabled() else float("inf")
        self.gallery.patch_model.set_threshold(t)
        order = self.table.view_order(self.sort_box.currentData(), self.filter_box.currentData(), t)
        self.gallery.set_order(order)

    def set_include_training(self, include: bool) -> None:
        """Show (or leave out) the patches the model was trained/validated on, everywhere results are shown."""
        self.table.set_include_training(include)
        keep = self.current_threshold()
        self._scores_changed(keep_threshold=keep)
        self._histogram_roles_note()

    def _histogram_roles_note(self) -> None:
        used = self.table.n_used()
        if used and self.table.score is not None:
            note = ("training patches included" if self.table.include_training else
                    f"{used} training/validation patches left out")
            self.threshold_panel.plot.setTitle(note, size="8pt")
        else:
            self.threshold_panel.plot.setTitle(None)

    def _threshold_changed(self, value: float) -> None:
        self._update_source(outlines_only=True)
        self.gallery.patch_model.set_threshold(value)
        self.gallery.viewport().update()
        self._update_counts()
        if self.filter_box.currentData() == "flagged":
            self.view_timer.start()
        self.detail.update_threshold(value)

    def _update_histogram(self) -> None:
        s = self.table.score
        if s is None:
            return
        active = self.table.active_mask()
        self.threshold_panel.update_histogram(np.where(active, s, np.nan), self.table.marks == NORMAL)

    def _scores_changed(self, keep_threshold: Optional[float] = None) -> None:
        s = self.table.score
        active = self.table.active_mask()
        default = self.model.threshold if self.model is not None else float("nan")
        self.threshold_panel.set_scores(None if s is None else np.where(active, s, np.nan),
                                        self.table.marks == NORMAL, self.table.count_flagged, default,
                                        self.table.score_type, keep=keep_threshold)
        if s is not None and self.sort_box.currentData() != "score":
            self.sort_box.setCurrentIndex(SORTS.index("score"))   # triggers refresh_view
        else:
            self.refresh_view()
        self._detail_cache = (-1, None)
        self._update_counts()
        self._update_enabled()
        self._update_source(outlines_only=True)

    def _show_detail(self, patch: int) -> None:
        self._update_source(patch)
        if patch is None or patch < 0 or patch >= len(self.table):
            self.detail.clear()
            return
        t = self.table
        decomposition = None
        if self.model is not None and not np.isnan(t.latent[patch]):
            if self._detail_cache[0] == patch:
                decomposition = self._detail_cache[1]
            else:
                # Computed in a worker; the panel shows the input now and the parts when ready.
                self.decomposer.request((patch, self.model), self.model, t.images[patch])
        self.detail.objects = t.is_objects
        self.detail.show_patch(patch, t.sources[patch], t.images[patch], MARK_NAMES.get(int(t.marks[patch]), ""),
                               decomposition, float(t.latent[patch]), float(t.recon[patch]), t.score_type,
                               self.current_threshold())

    # ======================================================= source image ==
    def _source_showing(self) -> bool:
        return self.source_dock.isVisible() and not self.source_dock.visibleRegion().isEmpty()

    def _update_source(self, patch: Optional[int] = None, outlines_only: bool = False) -> None:
        """Show the page ``patch`` (default: the current one) came from, if the Source tab is showing."""
        if not self._source_showing():
            return   # a hidden tab reads no files
        if patch is None:
            patch = self.detail.patch if self.detail.patch is not None else -1
        if patch < 0 or patch >= len(self.table):
            return
        src = self.table.sources[patch]
        key = (src.path, src.page, self.table.channel)
        if key != self.source_view.key:
            if outlines_only:
                return
            self.source_view.show_message(f"Reading {Path(src.path).name}, page {src.page}…")
            self.source_view.set_page(key, None)
            self.page_reader.request(key, *key, self.table.patching)
        self._source_patch = patch
        self._draw_outlines()

    def _draw_outlines(self) -> None:
        key = self.source_view.key
        if key is None:
            return
        t = self.table
        idx, ys, xs = t.patches_on_page(key[0], key[1])
        ids, sizes = t.objects_on_page(key[0], key[1])
        threshold = self.current_threshold()
        flagged = t.flagged_mask(threshold, idx) if threshold is not None else np.zeros(len(idx), bool)
        score = t.score
        self.source_view.set_outlines(idx, ys, xs, t.patch_size, self._source_patch, flagged, t.marks[idx] == NORMAL,
                                      object_ids=ids if t.is_objects else None, sizes=sizes,
                                      scores=None if score is None else score[idx], score_range=t.score_range(),
                                      objects=t.is_objects)

    def _page_ready(self, key: tuple, page) -> None:
        if self.page_reader.superseded:
            return   # a newer page was asked for meanwhile
        self.source_view.set_page(key, page)
        self._draw_outlines()

    def _page_failed(self, key: tuple, message: str) -> None:
        self.source_view.set_page(key, None)
        self.source_view.show_message(f"Cannot show the source image: {message}")

    def go_to_patch(self, patch: int) -> None:
        """Make ``patch`` the current one (from a click in the source image)."""
        if self.gallery.patch_model.row_of(patch) is None:
            self.statusBar().showMessage("That patch is hidden by the Show filter; showing it in Detail only", 5000)
            self._show_detail(patch)
            return
        self.gallery.select_patches([patch], current=patch)
        self._update_source(patch)   # also when it already was the current patch

    def _decomposition_ready(self, patch: int, model, parts) -> None:
        if model is not self.model:
            return   # computed with a model that has since been replaced
        self._detail_cache = (patch, parts)
        if self.detail.patch == patch:
            self._show_detail(patch)

    def _update_counts(self) -> None:
        c = self.table.counts(self.current_threshold())
        unmarked = c["total"] - c["normal"] - c["excluded"]
        text = (f"<b>{c['total']}</b> patches · <span style='color:#2ca02c'><b>{c['normal']}</b> normal</span> · "
                f"{c['excluded']} excluded · {unmarked} unmarked")
        if self.table.score is not None:
            text += f" · <span style='color:#d62728'><b>{c['flagged']}</b> flagged</span> of {c['scored']} scored"
            if c["hidden"]:
                text += f" (not counting {c['hidden']} used in training)"
        self.counts_label.setText(text)

    def _update_title(self) -> None:
        name = Path(self.project_path).name if self.project_path else "untitled"
        modified = "" if self.undo_stack.isClean() else " *"
        self.setWindowTitle(f"{name}{modified} — ddrid")

    def _update_enabled(self) -> None:
        busy = self.runner.busy
        training = busy and self.runner.kind == "train"
        loaded = len(self.table) > 0
        scored = self.table.score is not None and self.model is not None
        has_sel = self.gallery.selectionModel().hasSelection()
        self.train_panel.set_running(training)
        self.train_panel.train_button.setEnabled(not busy and loaded)
        self.act_train.setEnabled(not busy and loaded)
        self.act_score.setEnabled(not busy and self.model is not None and loaded)
        for a in (self.act_normal, self.act_unmark, self.act_exclude, self.act_file_normal, self.act_folder_normal):
            a.setEnabled(has_sel)
        self.act_recut.setEnabled(not busy and loaded)
        self.export_csv_button.setEnabled(scored)
        self.export_report_button.setEnabled(scored)
        self.act_export_csv.setEnabled(scored)
        self.act_export_report.setEnabled(scored)
        # Patches of one project share one size and channel choice (one model input shape).
        fixed = loaded or (busy and self.runner.kind == "load") or bool(self.runner.pending)
        objects = self.patching_combo.currentData() != "grid"
        # Points have no size to estimate: without an object size the patch size box gives the crop side.
        self.patch_size_box.setEnabled(not fixed and self.patching_combo.currentData() in ("grid", "points"))
        self.channel_box.setEnabled(not fixed)
        self.patching_combo.setEnabled(not fixed)
        self.object_size_spin.setEnabled(not fixed and objects)
        source = self.patching_combo.currentData()
        self.patching_files_action.setVisible(source in ("labels", "points"))
        self.patching_files_button.setEnabled(not fixed)
        self.patching_files_button.setToolTip(
            f"Label images folder: {self.labels_dir or 'beside the images'}" if source == "labels" else
            f"Points CSV: {self.points_path or 'none chosen'}")
        tip = "Fixed for this project (File ▸ New Project to change)" if fixed else ""
        for box in (self.patch_size_box, self.channel_box, self.patching_combo, self.object_size_spin):
            box.setStatusTip(tip)

    def _patch_size_changed(self, value: int) -> None:
        if len(self.table) == 0:
            self.table.patch_size = value
            appsettings.put("patchSize", value)

    def _channel_changed(self, _index: int) -> None:
        if len(self.table) == 0:
            self.table.channel = self.channel_box.currentData()

    # ========================================================= patching ==
    def _patching_changed(self, _index: int) -> None:
        if self.patching_combo.currentData() == "points" and not self.points_path:
            self.ask_points_file()
        self._update_enabled()

    def ask_patching_files(self) -> None:
        """The "…" button: the label images folder (labels) or the points CSV (points)."""
        if self.patching_combo.currentData() == "labels":
            folder = QFileDialog.getExistingDirectory(self, "Folder of label images (cancel: beside the images)",
                                                      self.labels_dir or self.start_dir())
            self.labels_dir = folder or None
        else:
            self.ask_points_file()
        self._update_enabled()

    def ask_points_file(self) -> Optional[str]:
        """Ask for the CSV of object centres (columns path,y,x or napari's axis-0,axis-1)."""
        path, _ = QFileDialog.getOpenFileName(self, "Points CSV (object centres)", self.start_dir(),
                                              POINTS_FILTER)
        if path:
            self.points_path = path
        return path or None

    def preset_patching(self, source: Optional[str] = None, object_size: Optional[float] = None,
                        labels: Optional[str] = None, points: Optional[str] = None) -> None:
        """Preset the patch source (command line, projects) before anything is loaded."""
        if labels is not None:
            self.labels_dir = labels
        if points is not None:
            self.points_path = points
        if source is not None:
            i = self.patching_combo.findData(source)
            if i >= 0:
                self.patching_combo.setCurrentIndex(i)
        if object_size is not None:
            self.object_size_spin.setValue(float(object_size))

    def ask_recut(self) -> None:
        """Annotate ▸ Re-cut Patches…: the same inputs, cut with other settings."""
        from PySide6.QtWidgets import QDialog

        from .recut import RecutDialog

        if self.runner.busy or not len(self.table):
            return
        dialog = RecutDialog(self.table.patching, self.table.patch_size, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.recut(*dialog.values())

    def recut(self, source: str, object_size: Optional[float] = None, patch_size: Optional[int] = None) -> bool:
        """Cut the loaded inputs again (grid, auto, labels or points); marks follow the objects they were on."""
        if self.runner.busy or not len(self.table):
            return False
        old = self.table
        self.preset_patching(source, object_size or 0)
        patching = Patching(source, patch_size=patch_size, object_size=object_size,
                            labels_dir=self.labels_dir if source == "labels" else None,
                            points=self.points_path if source == "points" else None)
        if source == "points" and not patching.points:
            patching = self.chosen_patching()      # asks for the CSV
            if patching is None:
                return False
        try:
            patching.validate()
        except ValueError as exc:
            self.add_problems([BadFile("patch source", str(exc))])
            return False
        self._recut_from = (list(old.sources), old.marks.copy())
        table = PatchTable(patch_size=patching.crop_side() if patching.is_grid or patch_size else old.patch_size,
                           channel=old.channel)
        table.set_patching(patching)
        inputs = list(old.inputs)
        self.set_table(table)
        self.undo_stack.clear()           # its commands name patches of the old table
        self._detail_cache = (-1, None)
        self.load_inputs(inputs)
        return True

    def _carry_recut_marks(self, new: np.ndarray) -> None:
        from .recut import carried_marks

        old_sources, old_marks = self._recut_from
        self._recut_from = None
        carried = carried_marks(old_sources, old_marks, [self.table.sources[i] for i in new])
        for mark in (NORMAL, EXCLUDED):
            idx = [int(new[j]) for j, m in carried.items() if m == mark]
            if idx:
                self.table.set_marks(idx, mark)
        if self.model is not None:
            why = self.model.incompatibility(self.table.patch_size, self.table.channel)
            if why:
                self.model = None
                self.model_path = None
                self.add_problems([BadFile("model", f"{why}; the re-cut patches need a new model: train again")])
        self.statusBar().showMessage(f"Re-cut: {len(new)} patches, {len(carried)} marks carried over", 8000)

    def chosen_patching(self) -> Optional[Patching]:
        """The toolbar's patch-source choice as a Patching; None (with a problem listed) when incomplete."""
        source = self.patching_combo.currentData()
        if source == "grid":
            return Patching("grid", patch_size=self.table.patch_size)
        size = self.object_size_spin.value() or None
        patch_size = None
        if source == "points":
            if not self.points_path and not self.ask_points_file():
                self.add_problems([BadFile("points", "Objects: points needs a CSV of centres; choose one (the … "
                                           "button) or pick another patch source")])
                return None
            if size is None:
                patch_size = self.patch_size_box.value()   # no size to estimate from points: the patch size box
        p = Patching(source, patch_size=patch_size, object_size=size,
                     labels_dir=self.labels_dir if source == "labels" else None,
                     points=self.points_path if source == "points" else None)
        try:
            return p.validate()
        except ValueError as exc:
            self.add_problems([BadFile("patch source", str(exc))])
            return None

    def _show_patching(self, p: Optional[Patching]) -> None:
        """Show resolved settings (estimated object size, crop side) in the toolbar."""
        if p is None:
            return
        for box, value in ((self.patching_combo, None), (self.object_size_spin, p.object_size),
                           (self.patch_size_box, p.crop_side())):
            box.blockSignals(True)
            if box is self.patching_combo:
                box.setCurrentIndex(max(0, box.findData(p.source)))
            elif value is not None:
                box.setValue(value)
            box.blockSignals(False)

    # =========================================================== problems ==
    def add_problems(self, problems: Sequence[BadFile]) -> None:
        for b in problems:
            # ddrcore's reasons name the CLI option; here the same choice is the toolbar's Channel field.
            reason = b.reason.replace("(--channel ", "(toolbar Channel: ")
            self.problems.addItem(f"{b.path}: {reason}")
        if problems:
            self.problems_dock.show()
            self.problems_dock.raise_()

    def dismiss_problems(self) -> None:
        self.problems.clear()
        self.problems_dock.hide()

    # =============================================================== jobs ==
    def start_training(self, config) -> bool:
        if self.runner.busy:
            return False   # the button is disabled while busy; this guards the shortcut and tests
        normal = self.table.normal_indices()
        if len(normal) < 4:
            QMessageBox.information(self, "Mark normal patches first",
                                    f"Training needs at least 4 patches marked normal; {len(normal)} are marked.\n"
                                    "Select typical patches in the gallery and press N.")
            return False
        if self.table.patching is not None:
            config.set_patching(self.table.patching)
        config.patch_size = self.table.patch_size
        config.input_size = self.table.input_size
        config.channel = self.table.channel
        try:
            config.validate()
        except ValueError as exc:
            QMessageBox.warning(self, "Training settings", str(exc))
            return False
        appsettings.put("training", self.train_panel.settings())
        self.train_panel.reset()
        images = self.table.images
        target = str(Path(self.project_path).with_suffix(MODEL_SUFFIX) if self.project_path
                     else appsettings.autosave_dir() / "autosave.ddrid")
        self.runner.submit("train", lambda: jobs.train_model(images, normal, config, target))
        self.train_dock.raise_()
        return True

    def score_unscored(self) -> None:
        if self.model is None:
            return
        todo = self.table.unscored()
        if len(todo) == 0:
            self.statusBar().showMessage("Every patch is already scored", 3000)
            return
        model, images = self.model, self.table.images
        why = model.incompatibility(self.table.patch_size, self.table.channel, int(images.shape[1]),
                                    self.table.patching.source if self.table.patching is not None else None)
        if why:
            self.add_problems([BadFile(self.model_path or "model", f"not used for scoring: {why}. "
                                       "Train again on this project's patches")])
            return
        self.runner.submit("score", lambda: jobs.score_indices(model, images, todo))

    def _busy_changed(self, busy: bool) -> None:
        self.job_bar.setVisible(busy)
        self.job_cancel.setVisible(busy and self.runner.kind != "train")
        if busy:
            self.job_bar.setValue(0)
            self.job_label.setText(f"{JOB_NAMES.get(self.runner.kind, 'Working')}…")
        else:
            self.job_label.setText("")
        self._update_enabled()

    def _job_progress(self, kind: str, batch) -> None:
        rec = batch.latest
        self.job_bar.setValue(int(100 * rec.overall))
        eta = f", ETA {rec.eta:.0f} s" if rec.eta is not None else ""
        label = JOB_NAMES.get(kind, kind)
        detail = f"{rec.step}/{rec.steps}" if kind != "train" and rec.steps else rec.stage
        self.job_label.setText(f"{label}: {detail}{eta}  {rec.message if kind == 'load' else ''}")
        if kind == "train":
            self.train_panel.add_progress(batch.records)

    def _job_succeeded(self, kind: str, result) -> None:
        if kind == "load":
            self._load_finished(result)
        elif kind == "train":
            self._training_finished(result)
        elif kind == "score":
            self.table.set_scores(result.indices, result.scores)
            keep = self.pending_threshold
            self.pending_threshold = None
            if keep is None and self.threshold_panel.slider.isEnabled():
                keep = self.threshold_panel.threshold()
            self._scores_changed(keep_threshold=keep)
            self._histogram_roles_note()
            if self.sort_box.currentData() == "score":
                self.gallery.show_top()   # the top of the new ranking, rank 1 selected
            n = len(result.indices)
            self.statusBar().showMessage(f"Scored {n} patch{'es' if n != 1 else ''}", 4000)
        elif kind == "report":
            self.statusBar().showMessage(f"Wrote {result}", 5000)

    def _load_finished(self, result: jobs.LoadResult) -> None:
        self.add_problems(result.problems)
        if result.patches is not None:
            self.add_problems(result.patches.bad)
            try:
                if len(self.table) == 0 and result.patches.patching is not None:
                    self.table.set_patching(result.patches.patching)
                    self._show_patching(self.table.patching)
                new = self.table.add(result.patches, result.inputs)
            except ValueError as exc:
                self.add_problems([BadFile(", ".join(result.inputs), str(exc))])
                new = np.zeros(0, np.int64)
            if self._recut_from is not None:
                self._carry_recut_marks(new)
            if result.mark_normal_under:
                under = self.table.indices_under(result.mark_normal_under)
                self.table.set_marks(under, NORMAL)
            if self.pending_marks:
                self.table.apply_marks(self.pending_marks)
                # Applied marks now live in the table (and its undo history); keeping them
                # pending would re-apply them over the user's later changes.
                self.pending_marks = {s: m for s, m in self.pending_marks.items() if s not in self.table}
            if self.pending_roles and self.model is not None:
                self.table.apply_roles(self.pending_roles)
                self.pending_roles = {s: r for s, r in self.pending_roles.items() if s not in self.table}
            n, k = len(new), len(result.inputs)
            self.statusBar().showMessage(f"Loaded {n} new patch{'es' if n != 1 else ''} from {k} "
                                         f"input{'s' if k != 1 else ''}", 5000)
        self.gallery.patch_model.refresh_flags()
        self.refresh_view()
        self._update_counts()
        self._update_enabled()
        self._update_histogram()
        if len(self.table):
            self.stack.setCurrentWidget(self.gallery)
            if self.gallery.current_patch() < 0 and self.gallery.patch_model.rowCount():
                self.gallery.setCurrentIndex(self.gallery.patch_model.index(0))
            self.autosave_timer.start()
        if self.model is not None and len(self.table.unscored()):
            self.score_unscored()

    def _training_finished(self, result: jobs.TrainResult) -> None:
        model = self.model = result.model
        self.model_path = result.path
        if result.save_error:
            self.add_problems([BadFile(self.model_path or "model", result.save_error +
                                       "; use File ▸ Save Project As to save it elsewhere")])
        saved = f" Saved {Path(result.path).name}." if result.path else ""
        from ddrcore.model.quality import describe

        check = describe(model.validation)
        warn = model.validation.get("synthetic_warning")
        check_html = (f"<br><span style='color:#d62728'><b>{check}</b></span>" if warn else
                      f"<br>{check}" if check else "")
        self.train_panel.status.setText(
            f"Done in {model.training.get('seconds', 0):.0f} s on {model.training.get('device', '?')}: "
            f"{score_name(model.score_type)} chosen, threshold {model.threshold:.4g}.{saved}{check_html}")
        self.train_panel.quality = dict((k, v) for k, v in model.validation.items() if k.startswith("synthetic"))
        # Which patches this model was trained and validated on: results leave them out by default.
        self.table.set_used(result.normal, model.training.get("val_indices", []))
        self.pending_roles = {}
        self.table.clear_scores()
        self.pending_threshold = None
        # The old model's scores are gone: show that now (empty histogram, name order) rather than
        # leaving them on screen until the new scores arrive.
        self._scores_changed()
        self.threshold_panel.count_label.setText("Scoring every patch with the new model…")
        self.threshold_panel.slider.setEnabled(False)   # a new model brings its own default threshold
        self.autosave_timer.start()
        todo = np.arange(len(self.table))
        images = self.table.images
        self.runner.submit("score", lambda: jobs.score_indices(model, images, todo))

    def _job_failed(self, kind: str, message: str) -> None:
        what = JOB_NAMES.get(kind, kind)
        if kind == "train":
            self.train_panel.status.setText(f"<span style='color:#d62728'>{what} failed: {message}</span>")
        QMessageBox.warning(self, f"{what} failed", message)

    def _job_cancelled(self, kind: str) -> None:
        if kind == "train":
            self.train_panel.status.setText("Training cancelled; the previous model (if any) is kept.")
        self.statusBar().showMessage(f"{kind.capitalize()} cancelled", 4000)

    # ============================================================= export ==
    def export_csv(self, path: str) -> Path:
        """Write the ranked CSV at the slider's threshold (ddrcore.io.export.write_csv)."""
        return exporting.export_csv(path, self.table, self.model, self.model_path, self.threshold_panel.threshold())

    def export_report(self, path: str) -> Path:
        return exporting.export_report(path, self.table, self.model, self.model_path,
                                       self.threshold_panel.threshold())

    def _ask_save(self, title: str, name: str, filters: str) -> Optional[str]:
        start = str(Path(self.start_dir()) / name)
        path, _ = QFileDialog.getSaveFileName(self, title, start, filters)
        self._after_dialog()
        return path or None

    def ask_export_csv(self) -> None:
        path = self._ask_save("Export ranked CSV", "ranked.csv", "CSV (*.csv)")
        if path:
            try:
                out = self.export_csv(path)
            except (OSError, ValueError) as exc:
                QMessageBox.warning(self, "Export failed", f"{path}: {exc}")
                return
            self.statusBar().showMessage(f"Wrote {out}", 5000)

    def ask_export_report(self) -> None:
        path = self._ask_save("Export report", "report.pdf", "PDF (*.pdf);;PNG (*.png)")
        if path:
            if Path(path).suffix.lower() not in (".pdf", ".png"):
                path += ".pdf"
            try:
                job = exporting.report_job(path, self.table, self.model, self.model_path,
                                           self.threshold_panel.threshold())
            except (OSError, ValueError) as exc:
                QMessageBox.warning(self, "Export failed", f"{path}: {exc}")
                return
            # Drawing takes about a second: off the GUI thread, like every other job.
            self.runner.submit("report", lambda: job)

    # =============================================================== help ==
    def shortcut_rows(self) -> List[tuple]:
        acts = [self.act_open_folder, self.act_open_files, self.act_open_project, self.act_save, self.act_save_as,
                self.act_normal, self.act_unmark, self.act_exclude, self.act_file_normal, self.act_folder_normal,
                self.act_select_all, self.act_undo, self.act_redo, self.act_train, self.act_score, self.act_cancel,
                self.act_next, self.act_prev, self.act_export_csv, self.act_export_report, self.act_shortcuts]
        rows = [(a.text().replace("&", ""), ", ".join(s.toString() for s in a.shortcuts())) for a in acts]
        rows.append(("Walk the ranking (gallery or detail panel)", "Arrow keys"))
        rows.append(("Extend / toggle selection", "Shift+click, Ctrl+click, drag a rectangle"))
        return rows

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td>{name}</td><td><b>{keys}</b></td></tr>" for name, keys in self.shortcut_rows())
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText(f"<table cellspacing=6>{rows}</table>")
        box.exec()

    def show_glossary(self) -> None:
        from .glossary import html

        box = QMessageBox(self)
        box.setObjectName("glossaryBox")
        box.setWindowTitle("What do these mean?")
        box.setText(html())
        box.open()   # not modal to the app: the window's shortcuts keep working beside it
        self.glossary_box = box

    def show_about(self) -> None:
        from ddrcore import __version__

        QMessageBox.about(self, "About ddrid", f"<b>ddrid {__version__}</b><br>Anomalous patch finder based on "
                                               "DDR-ID (dual deep reconstruction networks).")

    # ============================================================= close ==
    def _view_combo(self, toolbar, label: str, name: str, keys, labels) -> QComboBox:
        """A labelled toolbar combo box whose choice re-sorts/re-filters the gallery."""
        toolbar.addWidget(QLabel(label))
        box = QComboBox()
        box.setObjectName(name)
        for key in keys:
            box.addItem(labels[key], key)
        box.currentIndexChanged.connect(lambda _i: self.refresh_view())
        toolbar.addWidget(box)
        return box

    def cancel_job_from_keyboard(self) -> None:
        """Esc cancels loading/scoring at once, but asks before throwing away a training run."""
        if self.runner.kind == "train":
            from PySide6.QtWidgets import QMessageBox

            answer = QMessageBox.question(self, "Cancel training?",
                                          "Stop the training run? Its progress is lost; the previous model is kept.")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.runner.cancel()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.autosave()
        appsettings.put("geometry", self.saveGeometry())
        appsettings.put("training", self.train_panel.settings())
        # Queued jobs must not start while the window goes away.
        self.runner.cancel_all()
        from PySide6.QtCore import QThreadPool

        # Let a cancelled job reach its next yield so no worker outlives the window.
        QThreadPool.globalInstance().waitForDone(30000)
        super().closeEvent(event)
