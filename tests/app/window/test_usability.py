"""Issue 11 (usability pass): roles, contrast, reset on New Project, geometry, loss plots, top of the
ranking after training, dialogs' folder, help texts, quality check in the Train panel."""
import csv

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from ddrid_gui.document import NORMAL  # noqa: E402
from gui import action, export_csv, find, open_window, page, save_project, shown  # noqa: E402

pytestmark = pytest.mark.gui


def _train_tiny(win, folder, wait_idle, qtbot):
    win.open_paths([str(folder)])
    wait_idle(win)
    normal = win.document.table.indices_under([str(folder / "normal")])
    win.document.mark(normal, NORMAL)
    p = find(win, "trainPanel")
    p.pretrain.setValue(1)
    p.finetune.setValue(1)
    p.batch.setValue(8)
    p.device.setCurrentIndex(p.device.findData("cpu"))
    with qtbot.waitSignal(win.runner.succeeded, timeout=180_000, check_params_cb=lambda k, r: k == "train"):
        p.train_button.click()
    wait_idle(win)
    return normal


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow   # in CI's slow tier: the default tier stays near 90 s
def test_roles_top_of_ranking_quality_and_reset(win, image_folder, wait_idle, qtbot, tmp_path, monkeypatch):
    # Scroll the gallery down and select something else before training: afterwards rank 1 must show.
    win.open_paths([str(image_folder)])
    wait_idle(win)
    gallery = find(win, "galleryView")
    last = int(shown(win)[-1])
    gallery.select_patches([last], current=last)
    normal = _train_tiny(win, image_folder, wait_idle, qtbot)
    doc = win.document
    t = doc.table
    n_val = len(doc.model.training["val_indices"])
    assert n_val >= 1
    roles = t.roles()
    assert roles.count("train") == len(normal) - n_val and roles.count("validation") == n_val
    assert set(np.flatnonzero(t.used)) == set(normal.tolist())
    # (6) The gallery shows the top of the ranking with rank 1 selected.
    order = t.view_order("score", "all")
    np.testing.assert_array_equal(shown(win), order)
    assert gallery.current_patch() == order[0]
    assert gallery.verticalScrollBar().value() == 0
    # (1) Results default to the patches not used for training: gallery, count, histogram, exports.
    odd = len(t) - len(normal)
    assert set(order.tolist()).isdisjoint(normal.tolist()) and len(order) == odd
    assert doc.counts()["scored"] == odd
    assert f"of {odd} flagged" in find(win, "flaggedLabel").text()
    assert f"(not counting {len(normal)} used in training)" in find(win, "countsLabel").text()
    out = tmp_path / "ranked.csv"
    export_csv(win, out, monkeypatch)
    rows = _rows(out)
    from ddrcore.io.export import COLUMNS
    assert list(rows[0]) == COLUMNS and COLUMNS[-1] == "role"
    assert len(rows) == odd and {r["role"] for r in rows} == {"unmarked"}
    # One click includes them.
    find(win, "includeTrainingCheck").click()
    assert t.include_training
    assert len(shown(win)) == len(t)
    assert f"of {len(t)} flagged" in find(win, "flaggedLabel").text()
    export_csv(win, out, monkeypatch)
    rows = _rows(out)
    assert len(rows) == len(t)
    assert {r["role"] for r in rows} == {"unmarked", "train", "validation"}
    # The report states the filter.
    from ddrid_gui.jobs.exporting import role_filter_text
    assert "including" in role_filter_text(t)
    # Roles survive saving and reopening the project (else the training patches would be mixed in again).
    proj = tmp_path / "roles" / "p.ddridproj"
    save_project(win, proj, monkeypatch)
    w2 = open_window(qtbot)
    w2.open_paths([str(proj)])
    wait_idle(w2)
    assert w2.document.table.roles() == t.roles()
    assert w2.document.counts()["scored"] == odd
    w2.close()
    # (13) The quality check is shown in the Train panel (1+1 epochs: near chance, a warning).
    status = find(win, "trainStatus").text()
    assert "quality check: AUC" in status
    assert "synthetic_auc" in doc.model.validation
    # (5) One panel per loss family, each holding its own curves.
    p = find(win, "trainPanel")
    assert len(p.family_plots) == 4
    assert all(p.points[n][0] for n in ("R_C", "L_R", "L_OC", "D_L"))
    step = p.points["L_OC"][0][0]
    assert "L_OC" in p.values_at(step)
    # (3) New Project resets every panel.
    action(win, "new").trigger()
    assert page(win) is find(win, "welcomePage")
    from ddrid_gui.views.training_panel import IDLE_TEXT
    assert find(win, "trainStatus").text() == IDLE_TEXT
    assert all(not xs for xs, _ in p.points.values())
    assert p.overall_bar.value() == 0
    slider = find(win, "thresholdSlider")
    assert not slider.isEnabled() and slider.value() == 0.0 and doc.threshold is None
    assert "No scores yet" in find(win, "flaggedLabel").text()
    assert not find(win, "includeTrainingCheck").isChecked()
    assert doc.model is None and len(doc) == 0
    assert not find(win, "exportCsvButton").isEnabled()


def test_geometry_is_clamped_to_the_screen(qtbot):
    from PySide6.QtCore import QRect

    from ddrid_gui import settings as appsettings
    from ddrid_gui.main_window import MainWindow

    w0 = MainWindow()
    qtbot.addWidget(w0)
    avail = w0.screen().availableGeometry()
    w0.setGeometry(QRect(avail.x(), avail.y() + 25, avail.width(), avail.height() + 400))
    appsettings.put("geometry", w0.saveGeometry())
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    f = w.frameGeometry()
    assert avail.contains(f), (f, avail)


def test_thumbnail_contrast_modes():
    from ddrid_gui.views.gallery import ThumbnailCache
    from ddrid_gui.document import PatchTable
    from ddrcore.io.images import PatchSet, PatchSource

    rng = np.random.default_rng(0)
    bright = 100 + 1000 * (rng.random((32, 32)) > 0.9)
    background = 100 + rng.normal(0, 3, (32, 32))      # nearly empty background
    images = np.stack([bright, background])[:, None].astype(np.float32)
    sources = [PatchSource("/data/a.tif", 0, 0, 0), PatchSource("/data/a.tif", 0, 0, 32)]
    table = PatchTable()
    table.add(PatchSet(images=images, sources=sources, bad=[]))
    cache = ThumbnailCache(table)
    assert cache.mode == "file"                        # the default
    assert cache.display(1).mean() < 40                 # background stays dark beside the bright patch
    cache.set_mode("patch")
    assert cache.display(1).mean() > 80                 # its own 1-99 %: noise stretched to full range
    cache.set_mode("fixed")
    assert cache.display(1).mean() < 40
    with pytest.raises(ValueError):
        cache.set_mode("loud")


def test_dialogs_start_in_the_data_folder_and_help_exists(win, image_folder, wait_idle, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    win.open_paths([str(image_folder / "normal"), str(image_folder / "odd")])
    wait_idle(win)
    seen = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda parent, title, start, *a: seen.append(start) or ("", "")))
    action(win, "open_project").trigger()
    assert seen[-1] == str(image_folder)
    win.document.set_project_path(str(image_folder / "sub" / "p.ddridproj"))
    assert win.windowTitle().startswith("p.ddridproj")
    action(win, "open_project").trigger()
    assert seen[-1] == str(image_folder / "sub")
    # (10) Tooltips explain the jargon; the help page lists every term.
    from ddrid_gui.glossary import TERMS, html
    detail = find(win, "detailView")
    assert "AS_l" in detail.scores.toolTip() and "AS_r" in detail.scores.toolTip()
    # Every score the Detail view lists is explained in its tooltip (AS_cell, AS_c, AS_m, AS_e too).
    from ddrid_gui.views.detail import SCORE_ROWS

    for score, _ in SCORE_ROWS:
        assert f"{score.label}:" in detail.scores.toolTip()
    assert "image units" in detail.labels[0].toolTip()
    assert "threshold" in find(win, "thresholdSlider").toolTip()
    assert "quality check" in find(win, "trainStatus").toolTip()
    text = html()
    for term in ("AS_l", "AS_r", "X_C", "X_N", "threshold", "image units", "residual heat"):
        assert term in TERMS and term in text
    action(win, "glossary").trigger()
    from PySide6.QtWidgets import QDialog, QTextBrowser

    box = find(win, "glossaryBox", QDialog)
    assert box.isVisible() and "AS_cell" in box.findChild(QTextBrowser, "glossaryPage").toPlainText()
    # It fits the screen (its Close button within reach); the page scrolls instead.
    assert box.frameGeometry().height() <= box.screen().availableGeometry().height()


def test_window_module_does_not_import_torch():
    """(7) The window shows before torch loads: importing the GUI pulls in no torch (3.5 s of a 5.3 s start)."""
    import subprocess
    import sys

    code = "import sys, ddrid_gui.main_window, ddrid_gui.__main__; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_window_shows_before_any_heavy_module_loads():
    """The window appears in well under a second: nothing heavy is imported before it shows.

    pyqtgraph (and matplotlib, which its colour-map menu imports) load when the first plot is
    built; torch loads in the background afterwards."""
    import os
    import subprocess
    import sys

    code = ("import os, sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from ddrid_gui.main_window import MainWindow\n"
            "w = MainWindow(); w.show()\n"
            "heavy = ('torch', 'pyqtgraph', 'matplotlib', 'skimage', 'scipy', 'dask')\n"
            "print(sorted(m for m in heavy if m in sys.modules), flush=True)\n"
            "os._exit(0)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_readme_states_the_cpu_route_before_the_install_command():
    """(11) A newcomer without a GPU reads the CPU-only torch route before the command they copy."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    quick = text[text.index("## Quick start"):]
    cpu = quick.index("download.pytorch.org/whl/cpu")
    install = quick.index('pip install -e ".[gui]"')
    assert cpu < install
    assert quick[cpu:install].count("\n") <= 12          # on the same screen
    assert "NVIDIA GPU" in quick[:install]                 # the GPU route beside it


def test_report_labels_are_relative_to_the_common_root():
    """(9) train/normal/ring.tif and test/normal/ring.tif stay apart; the common root is stated."""
    from ddrcore.io.images import PatchSource
    from ddrcore.io.report import common_root, patch_label

    a, b = PatchSource("/d/x/train/normal/r.tif", 0, 0, 0), PatchSource("/d/x/test/normal/r.tif", 0, 0, 0)
    root = common_root([a.path, b.path])
    assert root == "/d/x"
    assert patch_label(a, root).startswith("train/normal/r.tif") and patch_label(b, root).startswith("test/normal/r.tif")


def test_keyboard_goes_back_to_the_gallery_after_a_dialog(win, image_folder, wait_idle, monkeypatch):
    """(8) After a file dialog closes, the window's shortcuts work without a click first."""
    from PySide6.QtWidgets import QApplication, QFileDialog

    win.open_paths([str(image_folder)])
    wait_idle(win)
    find(win, "thresholdSlider").setFocus()
    seen = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda parent, title, start: seen.append(start) or ""))
    action(win, "open_folder").trigger()
    assert seen == [str(image_folder)]          # opened in the data's folder
    QApplication.processEvents()
    assert QApplication.focusWidget() is find(win, "galleryView")
