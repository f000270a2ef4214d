"""The window's parts as a user or a script finds them: by objectName, through signals and the document.

Tests use these rather than the window's attributes, so that the window can
be rearranged without rewriting them.
"""
import numpy as np
from PySide6.QtCore import QMimeData, QObject, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog

from ddrid_gui.views.gallery import PatchRole


def find(win, name: str, cls=QObject):
    """The child of ``win`` called ``name`` (it must exist)."""
    found = win.findChild(cls, name)
    assert found is not None, f"no {cls.__name__} named {name!r}"
    return found


def action(win, name: str) -> QAction:
    """A command by its name in ddrid_gui.actions.ACTIONS (objectName ``<camelName>Action``)."""
    from ddrid_gui.actions import camel

    return find(win, f"{camel(name)}Action", QAction)


def choose(box, data) -> None:
    """Pick the item of a combo box whose data is ``data``."""
    i = box.findData(data)
    assert i >= 0, data
    box.setCurrentIndex(i)


def problems(win) -> list:
    """The lines of the Problems panel."""
    lst = find(win, "problemsList")
    return [lst.item(i).text() for i in range(lst.count())]


def shown(win) -> np.ndarray:
    """Patch indices of the gallery's tiles, in display order."""
    model = find(win, "galleryView").model()
    return np.array([model.index(r).data(PatchRole) for r in range(model.rowCount())], np.int64)


def page(win):
    """The widget the central area shows (the start screen or the gallery)."""
    return win.centralWidget().currentWidget()


def answer_save_dialog(monkeypatch, path) -> None:
    """The next Save dialogs answer ``path``."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "")))


def save_project(win, path, monkeypatch) -> None:
    """File ▸ Save Project As… ``path``."""
    answer_save_dialog(monkeypatch, path)
    action(win, "save_as").trigger()


def export_csv(win, path, monkeypatch) -> None:
    """Click "Export ranked CSV…" and answer ``path``."""
    answer_save_dialog(monkeypatch, path)
    find(win, "exportCsvButton").click()


def open_window(qtbot):
    """A second window (as after a restart), shown."""
    from ddrid_gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    return w


def show_source(win, qtbot, patch: int, shape: tuple):
    """Raise the Source image tab, click ``patch`` (as a click on its page does) and wait for its page."""
    dock, view = find(win, "sourceDock"), find(win, "sourceView")
    dock.raise_()
    qtbot.waitUntil(dock.isVisible)
    view.patchClicked.emit(patch)
    qtbot.waitUntil(lambda: view.shape == shape, timeout=10_000)
    return view


def drop(w, paths):
    """Drag file URLs onto the window and drop them (the window's own handlers).

    QApplication.sendEvent would drop the event: Qt only delivers a Drop to
    the target of a real drag in progress, which offscreen tests cannot start.
    """
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    w.dragEnterEvent(enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    w.dropEvent(event)
    accepted = event.isAccepted()
    return accepted, mime
