"""Start screen, loading by drop, bad files, marking, counts, undo, autosave."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

from gui import action, drop, find, open_window, page, problems  # noqa: E402

pytestmark = pytest.mark.gui


def test_empty_start_explains_and_names_widgets(win):
    assert "ddrid" in win.windowTitle()
    assert page(win) is find(win, "welcomePage")
    assert find(win, "openDemoButton", QPushButton).text() == "Open demo data"
    for name in ("galleryView", "trainButton", "cancelButton", "thresholdSlider", "exportCsvButton", "detailView",
                 "sourceView", "countsLabel", "problemsList", "sortBox", "filterBox", "patchingCombo", "channelBox"):
        find(win, name)
    assert win.acceptDrops()
    assert not find(win, "trainButton").isEnabled()  # nothing loaded yet
    assert not action(win, "train").isEnabled() and not action(win, "undo").isEnabled()


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
    gallery = find(win, "galleryView")
    assert gallery.model().rowCount() == 32 + 6 + 3 == len(win.document)
    assert page(win) is gallery
    listed = problems(win)
    assert any("broken.tif" in p and "not a readable image" in p for p in listed)
    assert any("empty.tif" in p and "empty" in p for p in listed)
    assert find(win, "problemsPanel").isVisible()
    pages = {(s.page, s.y, s.x) for s in win.document.table.sources if s.path.endswith("stack.tif")}
    assert pages == {(0, 0, 0), (1, 0, 0), (2, 0, 0)}
    find(win, "dismissProblemsButton", QPushButton).click()
    assert problems(win) == [] and not find(win, "problemsPanel").isVisible()
    assert win.document.problems == []
    # Dropping the same folder again adds nothing twice.
    drop(win, [image_folder])
    wait_idle(win)
    assert len(win.document) == 41
    assert "41" in find(win, "countsLabel").text()


def test_mark_unmark_exclude_counts_undo_and_autosave(win, image_folder, wait_idle, qtbot):
    from ddrid_gui import settings as appsettings
    from ddrid_gui.document import EXCLUDED, NORMAL

    win.open_paths([str(image_folder)])
    wait_idle(win)
    t = win.document.table
    counts = find(win, "countsLabel")
    g = find(win, "galleryView")
    g.setFocus()
    g.select_patches(np.arange(5))
    qtbot.keyClick(g, Qt.Key.Key_N)
    assert (t.marks == NORMAL).sum() == 5
    assert "5</b> normal" in counts.text()
    assert win.windowTitle().startswith("untitled *")          # unsaved changes
    g.select_patches([3, 4, 6])
    qtbot.keyClick(g, Qt.Key.Key_X)
    assert (t.marks == NORMAL).sum() == 3 and (t.marks == EXCLUDED).sum() == 3
    qtbot.keyClick(g, Qt.Key.Key_U)
    assert (t.marks != 0).sum() == 3
    undo, redo = action(win, "undo"), action(win, "redo")
    assert undo.text().replace("&", "") == "Undo unmark 3 patches"
    undo.trigger()
    assert (t.marks == EXCLUDED).sum() == 3
    undo.trigger()
    assert (t.marks == NORMAL).sum() == 5 and (t.marks == EXCLUDED).sum() == 0
    assert "5</b> normal" in counts.text() and "0 excluded" in counts.text()
    redo.trigger()
    assert (t.marks == EXCLUDED).sum() == 3
    # Filter shows exactly the marked patches.
    filter_box = find(win, "filterBox")
    filter_box.setCurrentIndex(filter_box.findData("normal"))
    assert g.model().rowCount() == 3
    filter_box.setCurrentIndex(filter_box.findData("all"))
    # A whole folder declared normal.
    normal_dir = str(image_folder / "normal")
    first = next(i for i, s in enumerate(t.sources) if s.path.startswith(normal_dir))
    g.select_patches([first])
    action(win, "folder_normal").trigger()
    in_folder = np.array([s.path.startswith(normal_dir) for s in t.sources])
    assert (t.marks[in_folder] == NORMAL).all()
    # The debounced autosave writes the marks (no project file yet: the autosave file), atomically.
    def saved_marks() -> int:
        path = appsettings.autosave_project_path()
        if not path.is_file():
            return -1
        return sum(len(e.get("normal", [])) for e in json.loads(path.read_text())["annotations"])

    qtbot.waitUntil(lambda: saved_marks() == int((t.marks == NORMAL).sum()), timeout=5000)


def test_missing_input_is_reported_and_the_rest_loads(win, image_folder, wait_idle, tmp_path):
    missing = tmp_path / "not_there"
    win.open_paths([str(missing), str(image_folder / "odd")])
    wait_idle(win)
    assert len(win.document) == 8
    assert any(str(missing) in p and "no such file or folder" in p for p in problems(win))


def test_shortcuts_listed_in_help(win):
    rows = dict(win.act.shortcut_rows())
    assert rows["Mark Normal"] == "N" and rows["Unmark"] == "U" and rows["Exclude"] == "X"
    assert "Ctrl+Z" in rows["Undo"] and "Ctrl+Shift+Z" in rows["Redo"]


def test_open_demo_marks_training_normals(win, wait_idle):
    find(win, "openDemoButton").click()
    wait_idle(win)
    t = win.document.table
    n_train = sum("/train/normal/" in s.path.replace("\\", "/") for s in t.sources)
    assert n_train == 300 and len(t) == 500
    assert (t.marks == 1).sum() == 300
    assert find(win, "trainButton").isEnabled()


def test_command_line_arguments():
    from ddrid_gui.__main__ import parse_args

    assert parse_args(["a", "b.ddridproj"]).paths == ["a", "b.ddridproj"]
    assert parse_args([]).paths == []


def _autosaved_with_four_marks(qtbot, image_folder, wait_idle):
    """A window that loaded ``image_folder``, marked 4 patches normal and autosaved (never saved a project)."""
    from ddrid_gui import settings as appsettings

    w = open_window(qtbot)
    w.open_paths([str(image_folder)])
    wait_idle(w)
    w.document.mark(np.arange(4), 1)
    # The debounce timer saves 1.5 s after the change.
    auto = appsettings.autosave_project_path()

    def saved_four():
        if not auto.is_file():
            return False
        doc = json.loads(auto.read_text())
        return sum(len(e.get("normal", [])) for e in doc["annotations"]) == 4

    qtbot.waitUntil(saved_four, timeout=5000)
    return w


def _restore(qtbot, wait_idle):
    """A new window (as after a crash) that restores the autosaved session from its start screen."""
    w = open_window(qtbot)
    restore = find(w, "restoreButton")
    assert restore.isVisibleTo(find(w, "welcomePage"))
    restore.click()
    wait_idle(w)
    return w


def test_autosaved_session_can_be_restored(qtbot, image_folder, wait_idle):
    """A crash loses nothing marked: a new window offers the autosave and restores the marks."""
    w1 = _autosaved_with_four_marks(qtbot, image_folder, wait_idle)
    w2 = _restore(qtbot, wait_idle)       # w1 never saved a project
    assert len(w2.document) == len(w1.document)
    assert (w2.document.table.marks == 1).sum() == 4
    assert w2.document.project_path is None and w2.windowTitle().startswith("untitled")


def test_a_project_that_cannot_be_saved_there_is_said_not_raised(win, image_folder, tmp_path, wait_idle,
                                                                   monkeypatch):
    """Save As onto a file that is not a project, and autosave onto a project file another program replaced:
    both raised out of the slot (a traceback, no word to the user, the marks never saved)."""
    from PySide6.QtWidgets import QMessageBox

    said = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _w, _t, text, *a: said.append(text)))
    win.open_paths([str(image_folder)])
    wait_idle(win)
    notes = tmp_path / "notes.ddridproj"
    notes.write_text("my notes, not a project\n")
    assert win.projects.save_to(str(notes)) is False
    assert len(said) == 1 and "not a project file" in said[0] and said[0].count(str(notes)) == 1
    assert "--force" not in said[0] and "choose another name" in said[0]     # the app's words, not the CLI's
    assert notes.read_text() == "my notes, not a project\n" and win.document.project_path is None
    project = tmp_path / "p.ddridproj"
    assert win.projects.save_to(str(project)) is True
    project.write_text("replaced by another program\n")
    win.document.mark(np.arange(2), 1)
    win.projects.autosave()                               # at once, not after the debounce
    assert "Autosave failed" in win.statusBar().currentMessage() and "not a project file" in \
        win.statusBar().currentMessage()
    assert project.read_text() == "replaced by another program\n"


def test_a_project_saved_while_a_load_waits_stays_unsaved_until_the_load_is_in(win, image_folder, tmp_path,
                                                                               wait_idle):
    """Saved with a load still queued, the file lacks those inputs; it was marked saved all the same."""
    win.open_paths([str(image_folder / "normal")])
    wait_idle(win)
    win.document.mark([0], 1)
    win.open_paths([str(image_folder / "odd")])          # queued, not loaded yet
    assert win.projects.save_to(str(tmp_path / "p.ddridproj"))
    assert not win.document.history.is_clean
    wait_idle(win)
    win.projects.autosave()                               # as the debounce timer does after the load
    assert win.document.history.is_clean and len(win.document) == 32


def test_multichannel_needs_a_channel_choice(win, tmp_path, wait_idle):
    import tifffile

    rng = np.random.default_rng(0)
    tifffile.imwrite(tmp_path / "rgb.tif", rng.integers(0, 4000, (32, 32, 3), np.uint16), photometric="rgb")
    win.open_paths([str(tmp_path / "rgb.tif")])
    wait_idle(win)
    assert len(win.document) == 0
    assert "different channels" in problems(win)[0] and "toolbar Channel" in problems(win)[0]
    # Patch size and channel can be chosen while nothing is loaded.
    channel_box, size_box = find(win, "channelBox"), find(win, "patchSizeBox")
    assert channel_box.isEnabled() and size_box.isEnabled()
    channel_box.setCurrentIndex(channel_box.findData(1))
    size_box.setValue(16)
    win.open_paths([str(tmp_path / "rgb.tif")])
    wait_idle(win)
    # 32 x 32 at 16 px: 4 patches of channel 1, network input 32 px (the CLI's rule).
    assert len(win.document) == 4 and win.document.table.images.shape == (4, 1, 32, 32)
    assert not channel_box.isEnabled() and not size_box.isEnabled()


@pytest.mark.slow   # in CI's slow tier: the default tier stays near 90 s
def test_restored_marks_do_not_come_back_after_unmarking(qtbot, image_folder, wait_idle):
    """Marks read from a project are applied once; the user's later changes win."""
    _autosaved_with_four_marks(qtbot, image_folder, wait_idle)
    w2 = _restore(qtbot, wait_idle)
    assert (w2.document.table.marks == 1).sum() == 4
    w2.document.mark(np.arange(1), 0)            # the user unmarks one restored patch
    w2.close()                                    # closing saves at once
    assert (w2.document.table.marks == 1).sum() == 3
    w3 = _restore(qtbot, wait_idle)
    assert (w3.document.table.marks == 1).sum() == 3


def test_window_has_the_ddrid_icon(win):
    assert not win.windowIcon().isNull()
    assert not win.windowIcon().pixmap(64, 64).isNull()


def test_source_image_view_outlines_and_click(win, tmp_path, wait_idle, qtbot):
    import tifffile
    from PySide6.QtCore import QPointF, Qt

    from ddrid_gui.document import NORMAL
    from ddrcore.io.images import PatchSource

    img = np.random.default_rng(0).integers(100, 4000, (96, 64)).astype(np.uint16)
    field = tmp_path / "field.tif"
    tifffile.imwrite(field, img)
    win.open_paths([str(field)])
    wait_idle(win)
    t = win.document.table
    assert len(t) == 6                              # 3 x 2 tiles of 32 px
    dock = find(win, "sourceDock")
    dock.raise_()
    qtbot.waitUntil(dock.isVisible)
    middle = t.index_of(PatchSource(str(field), 0, 32, 32))
    find(win, "galleryView").select_patches([middle], current=middle)
    view = find(win, "sourceView")
    qtbot.waitUntil(lambda: view.shape == (96, 64), timeout=10_000)
    assert "field.tif" in view.title.text() and view.outline_count("selected") == 1
    win.document.mark([0, 1], NORMAL)
    assert view.outline_count("normal") == 2
    # A click at page pixel (x=10, y=70) lands in the tile at y=64, x=0 and selects it.
    scene_pos = view.box.mapViewToScene(QPointF(10, 70))
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=view.graphics.mapFromScene(scene_pos))
    below = t.index_of(PatchSource(str(field), 0, 64, 0))
    qtbot.waitUntil(lambda: find(win, "galleryView").current_patch() == below, timeout=5000)
    assert view.outline_count("selected") == 1


def test_source_image_view_reports_a_vanished_file(win, tmp_path, wait_idle, qtbot):
    import tifffile

    field = tmp_path / "gone.tif"
    tifffile.imwrite(field, np.random.default_rng(1).integers(0, 4000, (64, 64)).astype(np.uint16))
    win.open_paths([str(field)])
    wait_idle(win)
    field.unlink()                                  # e.g. a network share went away
    dock = find(win, "sourceDock")
    dock.raise_()
    qtbot.waitUntil(dock.isVisible)
    view = find(win, "sourceView")
    view.patchClicked.emit(0)                       # as a click on the page would
    qtbot.waitUntil(lambda: "Cannot show the source image" in view.title.text(), timeout=10_000)
    assert "gone.tif" in view.title.text()


def test_a_saved_mark_whose_image_is_gone_is_kept_and_the_project_can_be_saved(win, image_folder, tmp_path,
                                                                               wait_idle):
    """A reopened project's mark that finds no patch waited for one for ever: every save said "inputs still
    loading", the project never counted as saved and its patch cache was never written."""
    from ddrcore.io import project as projectfile

    win.open_paths([str(image_folder / "normal")])
    wait_idle(win)
    t = win.document.table
    gone = t.sources[0].path
    win.document.mark([0, 1], 1)
    project = tmp_path / "p.ddridproj"
    assert win.projects.save_to(str(project))
    saved = Path(gone).read_bytes()
    os.remove(gone)
    win.projects.open_project(str(project))
    wait_idle(win)
    assert win.document.pending_marks == {}
    assert any("1 saved mark(s) found no patch" in line for line in problems(win))
    win.document.mark([3], 1)
    assert win.projects.save_to(str(project))
    assert win.document.history.is_clean and "still loading" not in win.statusBar().currentMessage()
    from ddrcore.io import patchcache

    assert patchcache.cache_path(str(project)).exists()
    marks = projectfile.load(str(project)).marks
    assert {s.path for s, m in marks.items() if m == "normal"} >= {gone}      # the mark is not lost
    # The image is back: loading it again gives it its mark.
    Path(gone).write_bytes(saved)
    win.open_paths([gone])
    wait_idle(win)
    i = win.document.table.index_of(next(s for s in marks if s.path == gone))
    assert i is not None and win.document.table.marks[i] == 1 and win.document.kept_marks == []


def test_the_train_panel_says_how_many_are_marked_before_any_model(win, image_folder, wait_idle):
    """It said "Mark normal patches, then press Train." with 91 patches marked."""
    status = find(win, "trainStatus")
    assert status.text().startswith("Mark normal patches")
    win.open_paths([str(image_folder / "normal")])
    wait_idle(win)
    win.document.mark([0, 1], 1)
    assert status.text() == "2 patches marked normal; training needs at least 4."
    win.document.mark(np.arange(10), 1)
    assert status.text() == "10 patches marked normal: press Train."
    win.document.mark(np.arange(10), 0)
    assert status.text().startswith("Mark normal patches")
    # A run's own line is not overwritten by later marks.
    win.train_panel.show_status("Training cancelled; the previous model (if any) is kept.")
    win.document.mark([0], 1)
    assert status.text().startswith("Training cancelled")


def test_save_dialogs_open_beside_the_data_not_in_it(win, image_folder, tmp_path, wait_idle, monkeypatch):
    """Save dialogs opened in the images' folder, where a PNG report is refused and a CSV is read with the
    images next time; they open beside it (or in the project's folder once there is one)."""
    from PySide6.QtWidgets import QFileDialog

    from ddrid_gui.jobs.projects import save_dir, start_dir

    win.open_paths([str(image_folder / "normal")])
    wait_idle(win)
    assert start_dir(win.document) == str(image_folder / "normal")          # opening: where the data is
    assert save_dir(win.document) == str(image_folder)                       # saving: beside it
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda _w, _t, start, _f: (asked.append(start), ("", ""))[1]))
    win.projects.ask_save_project_as()
    assert Path(asked[-1]).parent == image_folder
    project = tmp_path / "elsewhere" / "p.ddridproj"
    project.parent.mkdir()
    assert win.projects.save_to(str(project))
    assert save_dir(win.document) == str(project.parent)
    # Image files opened one by one: saved in their own folder (one level up was /home for ~/x.tif).
    win.projects.new_project()
    one = sorted((image_folder / "odd").glob("*.tif"))[0]
    win.open_paths([str(one)])
    wait_idle(win)
    assert save_dir(win.document) == str(one.parent)
