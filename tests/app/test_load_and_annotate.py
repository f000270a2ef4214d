"""Start screen, loading by drop, bad files, marking, counts, undo, autosave."""

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

pytestmark = pytest.mark.gui


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


def test_empty_start_explains_and_names_widgets(win):
    assert "ddrid" in win.windowTitle()
    assert win.stack.currentWidget() is win.welcome
    assert win.findChild(QPushButton, "openDemoButton").text() == "Open demo data"
    from PySide6.QtCore import QObject
    for name in ("galleryView", "trainButton", "cancelButton", "thresholdSlider", "exportCsvButton", "detailView"):
        assert win.findChild(QObject, name) is not None, name
    assert win.acceptDrops()
    assert not win.findChild(QObject, "trainButton").isEnabled()  # nothing loaded yet


def test_drop_folder_fills_gallery_and_lists_bad_files(win, image_folder, wait_idle, tmp_path):
    import tifffile

    (image_folder / "broken.tif").write_bytes(b"not a tiff at all")
    (image_folder / "empty.tif").write_bytes(b"")
    tifffile.imwrite(image_folder / "field.tif", np.random.default_rng(0).integers(0, 4000, (64, 96), np.uint16))
    tifffile.imwrite(image_folder / "stack.tif", np.random.default_rng(1).integers(0, 4000, (3, 32, 32), np.uint16),
                    photometric="minisblack")
    accepted, _mime = drop(win, [image_folder])
    assert accepted
    wait_idle(win)
    # 32 single patches + a 64x96 field (2x3 tiles) + a 3-page stack.
    assert win.gallery.model().rowCount() == 32 + 6 + 3 == len(win.table)
    assert win.stack.currentWidget() is win.gallery
    problems = [win.problems.item(i).text() for i in range(win.problems.count())]
    assert any("broken.tif" in p and "not a readable image" in p for p in problems)
    assert any("empty.tif" in p and "empty" in p for p in problems)
    assert win.problems_dock.isVisible()
    pages = {(s.page, s.y, s.x) for s in win.table.sources if s.path.endswith("stack.tif")}
    assert pages == {(0, 0, 0), (1, 0, 0), (2, 0, 0)}
    win.findChild(QPushButton, "dismissProblemsButton").click()
    assert win.problems.count() == 0 and not win.problems_dock.isVisible()
    # Dropping the same folder again adds nothing twice.
    drop(win, [image_folder])
    wait_idle(win)
    assert len(win.table) == 41
    assert "41" in win.counts_label.text()


def test_mark_unmark_exclude_counts_undo_and_autosave(win, image_folder, wait_idle, qtbot):
    from app import settings as appsettings
    from app.state import EXCLUDED, NORMAL

    win.open_paths([str(image_folder)])
    wait_idle(win)
    g = win.gallery
    g.setFocus()
    g.select_patches(np.arange(5))
    qtbot.keyClick(g, Qt.Key.Key_N)
    assert (win.table.marks == NORMAL).sum() == 5
    assert "5</b> normal" in win.counts_label.text()
    g.select_patches([3, 4, 6])
    qtbot.keyClick(g, Qt.Key.Key_X)
    assert (win.table.marks == NORMAL).sum() == 3 and (win.table.marks == EXCLUDED).sum() == 3
    qtbot.keyClick(g, Qt.Key.Key_U)
    assert (win.table.marks != 0).sum() == 3
    win.act_undo.trigger()
    assert (win.table.marks == EXCLUDED).sum() == 3
    win.act_undo.trigger()
    assert (win.table.marks == NORMAL).sum() == 5 and (win.table.marks == EXCLUDED).sum() == 0
    win.act_redo.trigger()
    assert (win.table.marks == EXCLUDED).sum() == 3
    # Filter shows exactly the marked patches.
    win.filter_box.setCurrentIndex(win.filter_box.findData("normal"))
    assert g.model().rowCount() == 3
    win.filter_box.setCurrentIndex(win.filter_box.findData("all"))
    # A whole folder declared normal.
    normal_dir = str(image_folder / "normal")
    first = next(i for i, s in enumerate(win.table.sources) if s.path.startswith(normal_dir))
    g.select_patches([first])
    win.act_folder_normal.trigger()
    in_folder = np.array([s.path.startswith(normal_dir) for s in win.table.sources])
    assert (win.table.marks[in_folder] == NORMAL).all()
    # The debounced autosave writes the marks (no project file yet: the autosave file).
    qtbot.waitUntil(lambda: appsettings.autosave_project_path().is_file(), timeout=5000)
    qtbot.wait(1800)
    doc = json.loads(appsettings.autosave_project_path().read_text())
    marked = sum(len(e.get("normal", [])) for e in doc["annotations"])
    assert marked == int((win.table.marks == NORMAL).sum())


def test_missing_input_is_reported_and_the_rest_loads(win, image_folder, wait_idle, tmp_path):
    missing = tmp_path / "not_there"
    win.open_paths([str(missing), str(image_folder / "odd")])
    wait_idle(win)
    assert len(win.table) == 8
    problems = [win.problems.item(i).text() for i in range(win.problems.count())]
    assert any(str(missing) in p and "no such file or folder" in p for p in problems)


def test_shortcuts_listed_in_help(win):
    rows = dict(win.shortcut_rows())
    assert rows["Mark Normal"] == "N" and rows["Unmark"] == "U" and rows["Exclude"] == "X"
    assert "Ctrl+Z" in rows["Undo"] and "Ctrl+Shift+Z" in rows["Redo"]


def test_open_demo_marks_training_normals(win, wait_idle):
    win.welcome.demo_button.click()
    wait_idle(win)
    n_train = sum("/train/normal/" in s.path.replace("\\", "/") for s in win.table.sources)
    assert n_train == 300 and len(win.table) == 500
    assert (win.table.marks == 1).sum() == 300
    assert win.train_panel.train_button.isEnabled()


def test_command_line_arguments():
    from app.__main__ import parse_args

    assert parse_args(["a", "b.ddridproj"]).paths == ["a", "b.ddridproj"]
    assert parse_args([]).paths == []


def _window(qtbot):
    from app.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    return w


def _autosaved_with_four_marks(qtbot, image_folder, wait_idle):
    """A window that loaded ``image_folder``, marked 4 patches normal and autosaved (never saved a project)."""
    w = _window(qtbot)
    w.open_paths([str(image_folder)])
    wait_idle(w)
    w.mark(np.arange(4), 1)
    w.autosave()          # what the debounce timer does 1.5 s after the change
    return w


def test_autosaved_session_can_be_restored(qtbot, image_folder, wait_idle):
    """A crash loses nothing marked: a new window offers the autosave and restores the marks."""
    w1 = _autosaved_with_four_marks(qtbot, image_folder, wait_idle)
    w2 = _window(qtbot)       # as after a crash: w1 never saved a project
    assert w2.welcome.restore_button.isVisibleTo(w2.welcome)
    w2.welcome.restore_button.click()
    wait_idle(w2)
    assert len(w2.table) == len(w1.table)
    assert (w2.table.marks == 1).sum() == 4
    assert w2.project_path is None


def test_multichannel_needs_a_channel_choice(win, tmp_path, wait_idle):
    import tifffile

    rng = np.random.default_rng(0)
    tifffile.imwrite(tmp_path / "rgb.tif", rng.integers(0, 4000, (32, 32, 3), np.uint16), photometric="rgb")
    win.open_paths([str(tmp_path / "rgb.tif")])
    wait_idle(win)
    assert len(win.table) == 0
    assert "different channels" in win.problems.item(0).text()
    # Patch size and channel can be chosen while nothing is loaded.
    assert win.channel_box.isEnabled() and win.patch_size_box.isEnabled()
    win.channel_box.setCurrentIndex(win.channel_box.findData(1))
    win.patch_size_box.setValue(16)
    win.open_paths([str(tmp_path / "rgb.tif")])
    wait_idle(win)
    # 32 x 32 at 16 px: 4 patches of channel 1, network input 32 px (the CLI's rule).
    assert len(win.table) == 4 and win.table.images.shape == (4, 1, 32, 32)
    assert not win.channel_box.isEnabled() and not win.patch_size_box.isEnabled()


def test_restored_marks_do_not_come_back_after_unmarking(qtbot, image_folder, wait_idle):
    """Marks read from a project are applied once; the user's later changes win."""
    _autosaved_with_four_marks(qtbot, image_folder, wait_idle)
    w2 = _window(qtbot)
    w2.welcome.restore_button.click()
    wait_idle(w2)
    assert (w2.table.marks == 1).sum() == 4
    w2.mark(np.arange(1), 0)            # the user unmarks one restored patch
    w2.autosave()
    assert (w2.table.marks == 1).sum() == 3
    w3 = _window(qtbot)
    w3.welcome.restore_button.click()
    wait_idle(w3)
    assert (w3.table.marks == 1).sum() == 3


def test_window_has_the_ddrid_icon(win):
    assert not win.windowIcon().isNull()
    assert not win.windowIcon().pixmap(64, 64).isNull()


def test_source_image_view_outlines_and_click(win, tmp_path, wait_idle, qtbot):
    import tifffile
    from PySide6.QtCore import QPointF, Qt

    from app.state import NORMAL
    from ddrcore.io.images import PatchSource

    img = np.random.default_rng(0).integers(100, 4000, (96, 64)).astype(np.uint16)
    field = tmp_path / "field.tif"
    tifffile.imwrite(field, img)
    win.open_paths([str(field)])
    wait_idle(win)
    assert len(win.table) == 6                      # 3 x 2 tiles of 32 px
    win.source_dock.raise_()
    qtbot.waitUntil(win.source_dock.isVisible)
    middle = win.table.index_of(PatchSource(str(field), 0, 32, 32))
    win.go_to_patch(middle)
    view = win.source_view
    qtbot.waitUntil(lambda: view.shape == (96, 64), timeout=10_000)
    assert "field.tif" in view.title.text() and view.outline_count("selected") == 1
    win.mark([0, 1], NORMAL)
    assert view.outline_count("normal") == 2
    # A click at page pixel (x=10, y=70) lands in the tile at y=64, x=0 and selects it.
    scene_pos = view.box.mapViewToScene(QPointF(10, 70))
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=view.graphics.mapFromScene(scene_pos))
    below = win.table.index_of(PatchSource(str(field), 0, 64, 0))
    qtbot.waitUntil(lambda: win.gallery.current_patch() == below, timeout=5000)
    assert view.outline_count("selected") == 1


def test_source_image_view_reports_a_vanished_file(win, tmp_path, wait_idle, qtbot):
    import tifffile

    field = tmp_path / "gone.tif"
    tifffile.imwrite(field, np.random.default_rng(1).integers(0, 4000, (64, 64)).astype(np.uint16))
    win.open_paths([str(field)])
    wait_idle(win)
    field.unlink()                                  # e.g. a network share went away
    win.source_dock.raise_()
    qtbot.waitUntil(win.source_dock.isVisible)
    win.go_to_patch(0)
    qtbot.waitUntil(lambda: "Cannot show the source image" in win.source_view.title.text(), timeout=10_000)
    assert "gone.tif" in win.source_view.title.text()
