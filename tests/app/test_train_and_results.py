"""Train in a worker (progress, cancel), ranked gallery, detail, threshold, export, project."""

import csv
import json
import time

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QTimer  # noqa: E402

from app.state import NORMAL  # noqa: E402

pytestmark = pytest.mark.gui


def load_and_mark(win, folder, wait_idle):
    win.open_paths([str(folder)])
    wait_idle(win)
    normal = win.table.indices_under([str(folder / "normal")])
    win.mark(normal, NORMAL)
    return normal


def tiny(win, pre=1, fine=1):
    p = win.train_panel
    p.pretrain.setValue(pre)
    p.finetune.setValue(fine)
    p.batch.setValue(8)
    p.device.setCurrentIndex(p.device.findData("cpu"))


class StallMeter:
    """Largest gap between 10 ms timer ticks: how long the event loop was blocked."""

    def __init__(self):
        self.last = time.perf_counter()
        self.max_gap = 0.0
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self):
        now = time.perf_counter()
        self.max_gap = max(self.max_gap, now - self.last)
        self.last = now


def _digest(folder):
    import hashlib
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.tif"))}


def test_train_rank_detail_threshold_export_project(win, image_folder, wait_idle, qtbot, tmp_path):
    before = _digest(image_folder)
    load_and_mark(win, image_folder, wait_idle)
    # Native intensities reach the table (display contrast is for thumbnails only).
    import tifffile
    first = win.table.sources[0]
    np.testing.assert_array_equal(win.table.images[0, 0], tifffile.imread(first.path).astype(np.float32))
    tiny(win)
    progress = []
    win.runner.progressed.connect(lambda kind, batch: progress.extend(batch.records) if kind == "train" else None)
    meter = StallMeter()
    with qtbot.waitSignal(win.runner.succeeded, timeout=120_000, check_params_cb=lambda k, r: k == "train"):
        win.train_panel.train_button.click()
        # Can't start twice: the button is disabled and a second request is refused.
        assert not win.train_panel.train_button.isEnabled()
        assert win.train_panel.cancel_button.isEnabled()
        assert win.start_training(win.train_panel.config()) is False
    wait_idle(win)
    meter.timer.stop()
    print(f"\nmax event-loop gap during tiny training: {1000 * meter.max_gap:.0f} ms")
    # Generous bound (shared CI machines): it catches training on the GUI thread, which blocks for seconds.
    assert meter.max_gap < 1.5
    stages = {p.stage for p in progress}
    assert {"pretrain", "finetune", "done"} <= stages
    assert any("L_OC" in p.losses for p in progress) and any("R_C" in p.losses for p in progress)
    assert len(win.train_panel.points["L_R"][0]) > 0
    assert win.model is not None and win.model_path and win.model_path.endswith(".ddrid")
    assert win.train_panel.train_button.isEnabled() and not win.train_panel.cancel_button.isEnabled()

    # Results leave out the training patches by default (tests/app/test_usability.py); this test
    # follows the whole ranking, so it includes them.
    win.include_training_box.setChecked(True)
    # Scored automatically; the gallery shows most anomalous first.
    t = win.table
    score = t.score
    assert score is not None and not np.isnan(score).any()
    order = win.gallery.patch_model.order
    assert len(order) == len(t)
    assert np.all(np.diff(score[order]) <= 0)
    np.testing.assert_array_equal(order, np.argsort(-score, kind="stable"))

    # The slider starts at the model's threshold; moving it recounts.
    slider = win.threshold_panel.slider
    assert slider.isEnabled()
    assert abs(slider.value() - min(max(win.model.threshold, slider.minimum()), slider.maximum())) < 1e-6 * (
        slider.maximum() - slider.minimum()) + 10 ** -slider.decimals()
    for q in (0.2, 0.5, 0.9):
        thr = float(np.quantile(score, q))
        slider.setValue(thr)
        used = slider.value()
        flagged = int((score >= used).sum())
        assert win.table.count_flagged(used) == (flagged, len(t))
        assert f"<b>{flagged}</b> of {len(t)} flagged" in win.threshold_panel.count_label.text()
        assert f"{flagged}</b> flagged" in win.counts_label.text()
        assert win.gallery.patch_model.is_flagged(int(order[0])) == (score[order[0]] >= used)

    # Detail of the current patch: input | X_C | X_N | |X - X_C| and both scores.
    win.gallery.setCurrentIndex(win.gallery.model().index(0))
    d = win.detail
    assert d.patch == int(order[0])
    # The decomposition is computed in a worker and shown when it arrives.
    qtbot.waitUntil(lambda: win._detail_cache[0] == int(order[0]), timeout=30_000)
    assert all(item.image is not None for item in d.items)
    assert "AS_l" in d.scores.text() and "AS_r" in d.scores.text() and "▶" in d.scores.text()
    # Arrow keys in the detail panel walk the ranking, like in the gallery.
    from PySide6.QtCore import Qt
    qtbot.keyClick(d, Qt.Key.Key_Right)
    assert d.patch == int(order[1])
    qtbot.keyClick(d, Qt.Key.Key_Left)
    assert d.patch == int(order[0])
    win.gallery.step(1)
    assert d.patch == int(order[1])
    qtbot.waitUntil(lambda: win._detail_cache[0] == int(order[1]), timeout=30_000)
    # Shared contrast: X_C and X_N use the input's levels.
    np.testing.assert_allclose(d.items[1].levels, d.items[0].levels)

    # Export: the button asks for a path, then ddrcore.io.export.write_csv at the slider's threshold.
    out = tmp_path / "ranked.csv"
    from PySide6.QtWidgets import QFileDialog
    orig = QFileDialog.getSaveFileName
    QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (str(out), "CSV (*.csv)"))
    try:
        win.findChild(type(win.export_csv_button), "exportCsvButton").click()
    finally:
        QFileDialog.getSaveFileName = orig
    rows = list(csv.DictReader(out.open()))
    from ddrcore.io.export import COLUMNS
    assert list(rows[0].keys()) == COLUMNS
    assert len(rows) == len(t)
    used = slider.value()
    assert {float(r["threshold"]) for r in rows} == {float(f"{used:.6g}")}
    ranked = [float(r["score"]) for r in rows]
    assert ranked == sorted(ranked, reverse=True)
    assert sum(int(r["is_anomaly"]) for r in rows) == int((score >= used).sum())
    assert rows[0]["path"] == t.sources[order[0]].path

    # Report (PNG) through the same data.
    report = win.export_report(str(tmp_path / "report.png"))
    assert report.read_bytes()[:4] == b"\x89PNG"
    # From the menu the report is drawn in a worker; the file appears when the job ends.
    win._ask_save = lambda *a: str(tmp_path / "menu-report.pdf")
    win.ask_export_report()
    wait_idle(win)
    assert (tmp_path / "menu-report.pdf").read_bytes()[:5] == b"%PDF-"

    # Save the project, reopen it in a fresh window: marks, model and threshold come back.
    proj = tmp_path / "proj" / "p.ddridproj"
    assert win.save_project_to(str(proj))
    doc = json.loads(proj.read_text())
    assert doc["model"] == "p.ddrid" and (proj.parent / "p.ddrid").is_file()
    assert abs(doc["threshold"] - used) < 1e-9
    from app.main_window import MainWindow
    w2 = MainWindow()
    qtbot.addWidget(w2)
    w2.open_project(str(proj))
    wait_idle(w2)
    assert len(w2.table) == len(t)
    assert (w2.table.marks == NORMAL).sum() == (t.marks == NORMAL).sum()
    assert w2.model is not None
    assert abs(w2.threshold_panel.slider.value() - used) <= 10 ** -slider.decimals()
    np.testing.assert_allclose(np.sort(w2.table.score), np.sort(score), rtol=1e-4, atol=1e-6)

    # Patches loaded after training are scored when they arrive.
    import tifffile as tf
    extra = tmp_path / "later"
    extra.mkdir()
    yy, xx = np.mgrid[:32, :32] - 15.5
    tf.imwrite(extra / "late.tif", (200 + 900 * np.exp(-(yy ** 2 + xx ** 2) / 20)).astype(np.uint16))
    w2.open_paths([str(extra)])
    wait_idle(w2)
    assert len(w2.table) == len(t) + 1 and len(w2.table.unscored()) == 0
    # Inputs were never modified.
    assert _digest(image_folder) == before


def test_cancel_training_keeps_app_usable(win, image_folder, wait_idle, qtbot):
    load_and_mark(win, image_folder, wait_idle)
    tiny(win, pre=200, fine=200)
    with qtbot.waitSignal(win.runner.progressed, timeout=60_000):
        win.act_train.trigger()
    assert win.runner.busy and win.runner.kind == "train"
    with qtbot.waitSignal(win.runner.cancelled, timeout=60_000):
        win.train_panel.cancel_button.click()
    wait_idle(win)
    assert win.model is None
    assert win.table.score is None
    assert win.train_panel.train_button.isEnabled()
    assert "cancelled" in win.train_panel.status.text()


def test_training_needs_normals(win, image_folder, wait_idle, no_modal_boxes):
    win.open_paths([str(image_folder)])
    wait_idle(win)
    assert win.start_training(win.train_panel.config()) is False
    assert any("at least 4" in text for _k, _t, text in no_modal_boxes)
    assert not win.runner.busy


def test_project_with_a_model_for_other_patches_is_not_scored(qtbot, tiny_model, image_folder, wait_idle, tmp_path):
    from ddrcore.model import modelfile
    from ddrcore.io import project as projectfile
    from app.main_window import MainWindow

    model_path = tmp_path / "p.ddrid"
    modelfile.save(tiny_model, model_path)                  # trained on 32 px patches
    proj = tmp_path / "p.ddridproj"
    projectfile.save(projectfile.Project(inputs=[str(image_folder)], patch_size=16, model_path=str(model_path)), proj)
    w = MainWindow()
    qtbot.addWidget(w)
    w.open_project(str(proj))
    wait_idle(w)
    problems = [w.problems.item(i).text() for i in range(w.problems.count())]
    assert w.model is None
    assert any("p.ddrid" in p and "32 px" in p and "16 px" in p for p in problems), problems
    assert len(w.table) > 0 and np.isnan(w.table.latent).all()   # loaded, but nothing scored with the wrong model


def test_a_project_reading_files_outside_its_folder_says_so(qtbot, image_folder, wait_idle, tmp_path):
    from ddrcore.io import project as projectfile
    from app.main_window import MainWindow

    (tmp_path / "projects").mkdir()
    inside = tmp_path / "projects" / "inside.ddridproj"
    projectfile.save(projectfile.Project(inputs=[str(image_folder)]), inside)     # images beside, not below
    w = MainWindow()
    qtbot.addWidget(w)
    w.open_project(str(inside))
    wait_idle(w)
    problems = [w.problems.item(i).text() for i in range(w.problems.count())]
    assert any("outside its folder" in p and str(image_folder) in p for p in problems), problems
    below = image_folder.parent / "below.ddridproj"
    projectfile.save(projectfile.Project(inputs=[str(image_folder)]), below)
    w.open_project(str(below))
    wait_idle(w)
    assert not any("outside its folder" in w.problems.item(i).text() for i in range(w.problems.count()))
