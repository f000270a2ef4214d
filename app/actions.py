"""Every command of the window in one place: its text, shortcuts, tip, menu, and when it is enabled.

:data:`ACTIONS` declares the commands and :data:`MENUS` the menu bar; the
window supplies one handler per command name.  Each QAction gets the
objectName ``<name>Action`` (e.g. ``undoAction``) so tests and scripts find it.
"""
from __future__ import annotations

from typing import Callable, Dict, List

from PySide6.QtGui import QAction, QKeySequence

Std = QKeySequence.StandardKey

#: name, menu text, shortcuts (one or a list; None: none), status tip
ACTIONS = (
    ("new", "&New Project", Std.New, ""),
    ("open_folder", "Open &Folder…", "Ctrl+O", "Load all images in a folder"),
    ("open_files", "Open F&iles…", "Ctrl+Shift+I", "Load image files"),
    ("open_project", "Open &Project…", "Ctrl+Shift+O", ""),
    ("demo", "Open &Demo Data", None, "Load the bundled demo patches"),
    ("save", "&Save Project", Std.Save, ""),
    ("save_as", "Save Project &As…", "Ctrl+Shift+S", ""),
    ("export_csv", "Export Ranked &CSV…", "Ctrl+E", ""),
    ("export_report", "Export &Report (PNG/PDF)…", "Ctrl+Shift+E", ""),
    ("export_rois", "Export Flagged as Fiji R&OIs…", None,
     "The flagged objects as a ROI Manager set (.zip), one outline each, named by rank and score"),
    ("export_labels", "Export &Label Images…", None,
     "One label image per image, ids = the CSV's object_id (for napari and CellProfiler)"),
    ("open_model", "Open &Model…", None, "Score with a saved model, without training; its patch settings apply"),
    ("save_model_as", "Save Mod&el As…", None, "Save the current model to a file of its own"),
    ("quit", "&Quit", Std.Quit, ""),
    ("undo", "&Undo", "Ctrl+Z", ""),
    ("redo", "&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], ""),
    ("preferences", "&Preferences…", Std.Preferences, "Where scoring runs: this computer or a Dask cluster"),
    ("normal", "Mark &Normal", "N", "Selected patches become training normals"),
    ("unmark", "&Unmark", "U", "Remove marks from the selection"),
    ("exclude", "E&xclude", "X", "Leave the selection out of training, counts and exports"),
    ("file_normal", "Mark Whole &File(s) Normal", "Shift+N", "Every patch of the selected patches' files becomes normal"),
    ("folder_normal", "Mark Whole F&older Normal", "Ctrl+Shift+N",
     "Every patch in the selected patches' folders, subfolders included, becomes normal"),
    ("recut", "Re-&cut Patches…", None,
     "Cut the loaded images again with another patch source or size; marks follow the objects"),
    ("select_all", "Select &All", Std.SelectAll, ""),
    ("train", "&Train", "Ctrl+T", ""),
    ("score", "&Score", "Ctrl+R", "Score patches the model has not scored yet"),
    ("cancel", "&Cancel Job", "Esc", ""),
    ("next", "Next in Ranking", "]", ""),
    ("prev", "Previous in Ranking", "[", ""),
    ("shortcuts", "&Keyboard Shortcuts", "F1", ""),
    ("about", "&About ddrid", None, ""),
    ("glossary", "&What Do These Mean?", None,
     "AS_l, AS_r, X_C, X_N, threshold, image units, residual heat, roles, quality check"),
)

#: menu title -> action names; None is a separator, "recent" the Open Recent submenu, "docks" the panels
MENUS = (
    ("&File", ("new", "open_folder", "open_files", "open_project", "demo", "recent", None, "save", "save_as", None,
               "open_model", "save_model_as", None,
               "export_csv", "export_report", "export_rois", "export_labels", None, "quit")),
    ("&Edit", ("undo", "redo", None, "select_all", None, "preferences")),
    ("&Annotate", ("normal", "unmark", "exclude", None, "file_normal", "folder_normal", None, "recut")),
    ("&Model", ("train", "score", "cancel")),
    ("&View", ("docks", None, "next", "prev")),
    ("&Help", ("glossary", "shortcuts", "about")),
)

#: The gallery's context menu (and where its one-key shortcuts apply).
GALLERY = ("normal", "unmark", "exclude", "file_normal", "folder_normal")
#: Shortcuts that work wherever the focus is in the window, although in no toolbar.
WINDOW = ("undo", "redo", "next", "prev", "cancel")
#: The first toolbar: these commands before its patch settings, and these after them.
TOOLBAR = (("open_folder", "open_files", None), (None, "normal", "unmark", "exclude", None, "score"))
#: Help ▸ Keyboard Shortcuts, in this order.
SHORTCUT_HELP = ("open_folder", "open_files", "open_project", "save", "save_as", "normal", "unmark", "exclude",
                 "file_normal", "folder_normal", "select_all", "undo", "redo", "train", "score", "cancel", "next",
                 "prev", "export_csv", "export_report", "shortcuts")
SELECTION = GALLERY


class Actions:
    """The window's QActions, one attribute per name in :data:`ACTIONS`."""

    def __init__(self, parent, handlers: Dict[str, Callable[[], None]]):
        self._all: Dict[str, QAction] = {}
        for name, text, keys, tip in ACTIONS:
            act = QAction(text, parent)
            act.setObjectName(f"{camel(name)}Action")
            act.triggered.connect(lambda _checked=False, f=handlers[name]: f())
            if keys is not None:
                act.setShortcuts([QKeySequence(k) for k in keys] if isinstance(keys, list) else [QKeySequence(keys)])
            if tip:
                act.setStatusTip(tip)
                act.setToolTip(f"{text.replace('&', '').rstrip('.…')} ({act.shortcut().toString()})" if keys else tip)
            self._all[name] = act
            setattr(self, name, act)

    def __getitem__(self, name: str) -> QAction:
        return self._all[name]

    def build_menus(self, menubar, docks, fill_recent: Callable) -> None:
        """The menu bar of :data:`MENUS`; ``docks`` get show/hide entries, ``fill_recent(menu)`` fills Open Recent."""
        for title, names in MENUS:
            menu = menubar.addMenu(title)
            for name in names:
                if name is None:
                    menu.addSeparator()
                elif name == "recent":
                    recent = menu.addMenu("Open &Recent")
                    recent.setObjectName("recentMenu")
                    recent.aboutToShow.connect(lambda m=recent: fill_recent(m))
                elif name == "docks":
                    for dock in docks:
                        menu.addAction(dock.toggleViewAction())
                else:
                    menu.addAction(self[name])

    def fill_toolbar(self, toolbar) -> None:
        """Put the :data:`TOOLBAR` commands before and after the toolbar's own widgets."""
        before, after = TOOLBAR
        first = toolbar.actions()[0] if toolbar.actions() else None
        for name in before:
            toolbar.insertSeparator(first) if name is None else toolbar.insertAction(first, self[name])
        for name in after:
            toolbar.addSeparator() if name is None else toolbar.addAction(self[name])

    def shortcut_rows(self) -> List[tuple]:
        """(command, shortcuts) for Help ▸ Keyboard Shortcuts."""
        rows = [(self[n].text().replace("&", ""), ", ".join(s.toString() for s in self[n].shortcuts()))
                for n in SHORTCUT_HELP]
        rows.append(("Walk the ranking (gallery or detail panel)", "Arrow keys"))
        rows.append(("Extend / toggle selection", "Shift+click, Ctrl+click, drag a rectangle"))
        return rows

    def update(self, busy: bool, loaded: bool, has_model: bool, scored: bool, has_selection: bool) -> None:
        """Enable what can be done now."""
        self.train.setEnabled(not busy and loaded)
        self.score.setEnabled(not busy and has_model and loaded)
        for name in SELECTION:
            self[name].setEnabled(has_selection)
        self.recut.setEnabled(not busy and loaded)
        self.export_csv.setEnabled(scored)
        self.export_report.setEnabled(scored)
        self.export_rois.setEnabled(scored and not busy)
        self.export_labels.setEnabled(scored and not busy)
        self.open_model.setEnabled(not busy)
        self.save_model_as.setEnabled(has_model)

    def update_history(self, undo_text: str, redo_text: str) -> None:
        """Undo/Redo name the edit they would undo or redo (as QUndoStack's actions do)."""
        for act, prefix, text in ((self.undo, "&Undo", undo_text), (self.redo, "&Redo", redo_text)):
            act.setText(f"{prefix} {text}" if text else prefix)
            act.setEnabled(bool(text))


def camel(name: str) -> str:
    """``file_normal`` -> ``fileNormal`` (how action objectNames are spelt)."""
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)
