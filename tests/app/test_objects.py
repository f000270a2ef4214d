"""Objects, not grid tiles: the patch source in the toolbar, object patches, outlines and the anomaly map."""

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from test_load_and_annotate import drop  # noqa: E402

pytestmark = pytest.mark.gui

SIZE = 20


@pytest.fixture
def fields(tmp_path):
    """Two synthetic 192 x 192 fields of blobs (uint16 TIFFs) in one folder; returns (folder, [Field])."""
    import tifffile

    from ddrcore.objects.synthetic import make_field

    folder = tmp_path / "fields"
    folder.mkdir()
    made = []
    for i in range(2):
        f = make_field((192, 192), ("blob",), n=12, size=SIZE, seed=i)
        tifffile.imwrite(folder / f"field_{i}.tif", f.image)
        made.append(f)
    return folder, made


def _load_auto(win, folder, wait_idle, size=SIZE):
    win.patching_combo.setCurrentIndex(win.patching_combo.findData("auto"))
    win.object_size_spin.setValue(size)
    accepted, _mime = drop(win, [folder])
    assert accepted
    wait_idle(win, timeout=20_000)


def _expected_objects(win, folder):
    from ddrcore.io.reading import page_of, read_image_groups
    from ddrcore.objects import page_objects

    n = 0
    for path in sorted(folder.glob("*.tif")):
        page = page_of(read_image_groups(str(path)), 0, None, str(path))
        n += len(page_objects(page, win.table.patching, str(path)).ids)
    return n


def test_auto_objects_give_one_patch_per_object(win, fields, wait_idle):
    folder, made = fields
    assert win.findChild(type(win.patching_combo), "patchingCombo") is win.patching_combo
    assert [win.patching_combo.itemData(i) for i in range(win.patching_combo.count())] == \
        ["grid", "auto", "labels", "points"]
    _load_auto(win, folder, wait_idle)
    t = win.table
    side = 2 * SIZE
    assert t.patching.source == "auto" and t.patching.object_size == SIZE and t.patching.crop_side() == side
    # Exactly one gallery row per object the engine finds again, close to the true count.
    assert win.gallery.model().rowCount() == len(t) == _expected_objects(win, folder)
    true = sum(int(f.labels.max()) for f in made)
    assert abs(len(t) - true) <= max(2, true // 10)
    assert all(s.size == side for s in t.sources)
    assert t.images.shape[-1] == 32                         # 40 px crops, network input 32 (the CLI's rule)
    assert t.patch_size == side == win.patch_size_box.value()
    # Tooltips and names say which object a tile is.
    tip = win.gallery.model().data(win.gallery.model().index(0), 3)   # ToolTipRole
    assert "object" in tip and "field_" in tip
    # Settings are fixed once patches are loaded, and travel in the project.
    assert not win.patching_combo.isEnabled() and not win.object_size_spin.isEnabled()
    proj = t.to_project(None, None, win.project_settings())
    assert proj.training["patching"]["source"] == "auto" and proj.training["patching"]["object_size"] == SIZE


def test_object_size_is_estimated_and_shown(win, fields, wait_idle):
    folder, _made = fields
    _load_auto(win, folder, wait_idle, size=0)              # 0 = "auto": estimate
    assert win.object_size_spin.specialValueText() == "auto"
    est = win.table.patching.object_size
    assert est is not None and 10 <= est <= 40
    assert win.object_size_spin.value() == pytest.approx(est, abs=0.05)
    assert all(s.size == win.table.patching.crop_side() for s in win.table.sources)


def test_source_view_outlines_every_object_and_maps_scores(win, fields, wait_idle, qtbot):
    from PySide6.QtCore import QPointF, Qt

    from ddrcore.model.scoring import Scores

    folder, _made = fields
    _load_auto(win, folder, wait_idle)
    t = win.table
    path = str(folder / "field_0.tif")
    idx, _ys, _xs = t.patches_on_page(path, 0)
    win.source_dock.raise_()
    qtbot.waitUntil(win.source_dock.isVisible)
    win.go_to_patch(int(idx[0]))
    view = win.source_view
    qtbot.waitUntil(lambda: view.shape == (192, 192) and view.labels is not None, timeout=10_000)
    # One outline per object of the page (boundaries of the same label image the patches came from).
    assert view.outline_count("objects") == len(idx)
    assert view.outline_count("selected") == 1              # the selected object's crop square
    # Clicking inside an object selects its patch.
    other = int(idx[-1])
    src = t.sources[other]
    scene = view.box.mapViewToScene(QPointF(src.center_x + 0.5, src.center_y + 0.5))
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=view.graphics.mapFromScene(scene))
    qtbot.waitUntil(lambda: win.gallery.current_patch() == other, timeout=5000)
    # Anomaly map: scores painted per object, the threshold applied live.
    scores = np.linspace(0, 1, len(t)).astype(np.float32)
    t.set_scores(np.arange(len(t)), Scores(latent=scores, recon=scores, score_type="latent", threshold=0.5))
    win._scores_changed(keep_threshold=0.5)
    view.heat_check.setChecked(True)
    for wanted in (0.5, 0.9):
        win.threshold_panel.set_threshold(wanted)          # the slider: outlines and map follow live
        thr = win.threshold_panel.threshold()
        assert view.heat_count() == int((scores[idx] >= thr).sum())
    assert view.heat_image.image is not None and view.heat_image.image.shape[:2] == (192, 192)
    view.heat_check.setChecked(False)
    assert view.heat_count() == 0


def test_command_line_presets_the_patch_source(qtbot, tmp_path):
    from app.__main__ import parse_args
    from app.main_window import MainWindow

    args = parse_args(["--objects", "auto", "--object-size", "12", "x"])
    assert (args.objects, args.object_size, args.paths) == ("auto", 12.0, ["x"])
    assert parse_args(["--labels", "lab"]).objects == "labels"
    with pytest.raises(SystemExit):
        parse_args(["--object-size", "0.5"])
    w = MainWindow()
    qtbot.addWidget(w)
    w.preset_patching(args.objects, args.object_size, None, None)
    assert w.patching_combo.currentData() == "auto" and w.object_size_spin.value() == 12
    p = w.chosen_patching()
    assert p.source == "auto" and p.object_size == 12 and p.crop_side() == 24


def test_points_source_asks_for_the_csv(win, fields, wait_idle, monkeypatch, tmp_path, qtbot):
    from PySide6.QtWidgets import QFileDialog

    folder, made = fields
    csv = tmp_path / "centres.csv"
    rows = ["path,y,x"] + [f"fields/field_0.tif,{y:.1f},{x:.1f}" for y, x in made[0].centers[:5]]
    csv.write_text("\n".join(rows) + "\n")
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (asked.append(1), (str(csv), ""))[1]))
    win.patching_combo.setCurrentIndex(win.patching_combo.findData("points"))
    assert asked and win.points_path == str(csv)
    win.object_size_spin.setValue(SIZE)
    win.open_paths([str(folder / "field_0.tif")])
    wait_idle(win, timeout=20_000)
    problems = [win.problems.item(i).text() for i in range(win.problems.count())]
    assert len(win.table) == 5, problems
    assert all(s.size == 2 * SIZE for s in win.table.sources)
    # Points have no extent: the source view draws their crop squares.
    win.source_dock.raise_()
    qtbot.waitUntil(win.source_dock.isVisible)
    win.go_to_patch(0)
    qtbot.waitUntil(lambda: win.source_view.shape == (192, 192), timeout=10_000)
    assert win.source_view.labels is None and win.source_view.outline_count("objects") == 5


def test_label_images_beside_the_images(win, fields, wait_idle):
    import tifffile

    folder, made = fields
    for i, f in enumerate(made):
        tifffile.imwrite(folder / f"field_{i}_masks.tif", f.labels.astype(np.uint16))
    win.patching_combo.setCurrentIndex(win.patching_combo.findData("labels"))
    assert win.object_size_spin.isEnabled() and not win.patch_size_box.isEnabled()
    win.open_paths([str(folder)])
    wait_idle(win, timeout=20_000)
    # One patch per label; the mask files themselves are not loaded as images.
    assert len(win.table) == sum(int(f.labels.max()) for f in made)
    assert not any("_masks" in s.path for s in win.table.sources)
    assert win.table.patching.source == "labels" and win.table.patching.object_size > 0


def test_project_keeps_the_patch_source(qtbot, fields, wait_idle, tmp_path):
    from app.main_window import MainWindow

    folder, _made = fields
    w1 = MainWindow()
    qtbot.addWidget(w1)
    _load_auto(w1, folder, wait_idle)
    assert w1.save_project_to(str(tmp_path / "p.ddridproj"))
    w2 = MainWindow()
    qtbot.addWidget(w2)
    w2.open_project(str(tmp_path / "p.ddridproj"))
    wait_idle(w2, timeout=20_000)
    assert w2.patching_combo.currentData() == "auto" and w2.object_size_spin.value() == SIZE
    assert w2.table.patching == w1.table.patching and len(w2.table) == len(w1.table)
    assert w2.table.sources == w1.table.sources


def test_training_on_objects_stores_the_patching(win, fields, wait_idle):
    from app.state import NORMAL

    folder, _made = fields
    _load_auto(win, folder, wait_idle)
    p = win.train_panel
    p.pretrain.setValue(1)
    p.finetune.setValue(1)
    p.batch.setValue(8)
    p.device.setCurrentIndex(p.device.findData("cpu"))
    win.mark(np.arange(8), NORMAL)
    assert win.start_training(p.config())
    wait_idle(win, timeout=60_000)
    cfg = win.model.config
    assert (cfg.objects, cfg.object_size, cfg.patch_size, cfg.input_size) == ("auto", SIZE, 2 * SIZE, 32)
    assert win.model.incompatibility(win.table.patch_size, win.table.channel, objects="auto") is None
    assert win.table.score is not None and not np.isnan(win.table.score).any()


def test_anomaly_map_and_squares_for_tiles_and_points(win, tmp_path, wait_idle, qtbot):
    """Without a label image (grid tiles, points) patches are crop squares, and the map paints squares."""
    import tifffile

    from ddrcore.model.scoring import Scores

    field = tmp_path / "field.tif"
    tifffile.imwrite(field, np.random.default_rng(0).integers(100, 4000, (96, 64)).astype(np.uint16))
    win.open_paths([str(field)])
    wait_idle(win)
    t = win.table
    assert len(t) == 6 and t.patching.source == "grid" and not t.is_objects
    assert win.gallery.model().data(win.gallery.model().index(0)) == "field.tif"     # no object ids on tiles
    scores = np.arange(6, dtype=np.float32)
    t.set_scores(np.arange(6), Scores(latent=scores, recon=scores, score_type="latent", threshold=3))
    win._scores_changed(keep_threshold=3.0)
    win.source_dock.raise_()
    qtbot.waitUntil(win.source_dock.isVisible)
    win.go_to_patch(0)
    view = win.source_view
    qtbot.waitUntil(lambda: view.shape == (96, 64), timeout=10_000)
    assert view.labels is None and view.outline_count("objects") == 0
    view.heat_check.setChecked(True)
    thr = win.threshold_panel.threshold()
    assert view.heat_count() == int((scores >= thr).sum()) > 0
    img = view.heat_image.image
    assert img.shape[:2] == (96, 64) and (img[..., 3] > 0).all()     # every tile painted (dim or strong)
    # A new project forgets the page: its patches may be cut differently.
    assert win.new_project()
    assert view.key is None and view.outline_count("selected") == 0


def test_labels_folder_button(win, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    assert not win.patching_files_action.isVisible()
    win.patching_combo.setCurrentIndex(win.patching_combo.findData("labels"))
    assert win.patching_files_action.isVisible()
    win.patching_files_button.click()
    assert win.labels_dir == str(tmp_path) and str(tmp_path) in win.patching_files_button.toolTip()
    assert win.chosen_patching().labels_dir == str(tmp_path)


def test_recut_from_objects_to_other_settings_keeps_marks_on_their_objects(win, fields, wait_idle):
    from app.state import NORMAL

    folder, made = fields
    _load_auto(win, folder, wait_idle)
    n_before = len(win.table)
    marked = win.table.sources[:3]
    win.table.set_marks([0, 1, 2], NORMAL)
    assert win.act_recut.isEnabled()
    assert win.recut("auto", object_size=SIZE, patch_size=64)
    wait_idle(win, timeout=20_000)
    t = win.table
    assert len(t) == n_before and t.patching.crop_side() == 64 and all(s.size == 64 for s in t.sources)
    normal = [t.sources[i] for i in t.normal_indices()]
    assert len(normal) == 3
    for old in marked:   # each mark stayed on its object
        assert min(abs(s.center_y - old.center_y) + abs(s.center_x - old.center_x) for s in normal) < 1
    assert win.recut("grid", patch_size=32)
    wait_idle(win, timeout=20_000)
    assert win.table.patching.is_grid and len(win.table) == 2 * 36
