"""Objects, not grid tiles: the patch source in the toolbar, object patches, outlines and the anomaly map."""

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import action, choose, drop, find, open_window, problems, save_project, show_source  # noqa: E402

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
    choose(find(win, "patchingCombo"), "auto")
    find(win, "objectSizeSpin").setValue(size)
    accepted, _mime = drop(win, [folder])
    assert accepted
    wait_idle(win, timeout=20_000)


def _expected_objects(win, folder):
    from ddrcore.io.reading import page_of, read_image_groups
    from ddrcore.objects import page_objects

    n = 0
    for path in sorted(folder.glob("*.tif")):
        page = page_of(read_image_groups(str(path)), 0, None, str(path))
        n += len(page_objects(page, win.document.table.patching, str(path)).ids)
    return n


def test_auto_objects_give_one_patch_per_object(win, fields, wait_idle):
    folder, made = fields
    combo = find(win, "patchingCombo")
    assert [combo.itemData(i) for i in range(combo.count())] == ["grid", "auto", "labels", "points"]
    _load_auto(win, folder, wait_idle)
    t = win.document.table
    side = 2 * SIZE
    assert t.patching.source == "auto" and t.patching.object_size == SIZE and t.patching.crop_side() == side
    # Exactly one gallery row per object the engine finds again, close to the true count.
    gallery = find(win, "galleryView")
    assert gallery.model().rowCount() == len(t) == _expected_objects(win, folder)
    true = sum(int(f.labels.max()) for f in made)
    assert abs(len(t) - true) <= max(2, true // 10)
    assert all(s.size == side for s in t.sources)
    assert t.images.shape[-1] == 64                         # 40 px crops, network input 64 (the CLI's rule)
    assert t.patch_size == side == find(win, "patchSizeBox").value()
    # Tooltips and names say which object a tile is.
    tip = gallery.model().data(gallery.model().index(0), 3)   # ToolTipRole
    assert "object" in tip and "field_" in tip
    # Settings are fixed once patches are loaded, and travel in the project.
    assert not combo.isEnabled() and not find(win, "objectSizeSpin").isEnabled()
    proj = win.document.to_project({})
    assert proj.training["patching"]["source"] == "auto" and proj.training["patching"]["object_size"] == SIZE


def test_object_size_is_estimated_and_shown(win, fields, wait_idle):
    folder, _made = fields
    _load_auto(win, folder, wait_idle, size=0)              # 0 = "auto": estimate
    spin = find(win, "objectSizeSpin")
    assert spin.specialValueText() == "auto"
    t = win.document.table
    est = t.patching.object_size
    assert est is not None and 10 <= est <= 40
    assert spin.value() == pytest.approx(est, abs=0.05)
    assert all(s.size == t.patching.crop_side() for s in t.sources)


def test_source_view_outlines_every_object_and_maps_scores(win, fields, wait_idle, qtbot):
    from PySide6.QtCore import QPointF, Qt

    from ddrcore.model.scoring import Scores

    folder, _made = fields
    _load_auto(win, folder, wait_idle)
    doc = win.document
    t = doc.table
    path = str(folder / "field_0.tif")
    idx, _ys, _xs = t.patches_on_page(path, 0)
    dock = find(win, "sourceDock")
    dock.raise_()
    qtbot.waitUntil(dock.isVisible)
    view = find(win, "sourceView")
    view.patchClicked.emit(int(idx[0]))
    qtbot.waitUntil(lambda: view.shape == (192, 192) and view.labels is not None, timeout=10_000)
    # One outline per object of the page (boundaries of the same label image the patches came from).
    assert view.outline_count("objects") == len(idx)
    assert view.outline_count("selected") == 1              # the selected object's crop square
    # Clicking inside an object selects its patch.
    other = int(idx[-1])
    src = t.sources[other]
    scene = view.box.mapViewToScene(QPointF(src.center_x + 0.5, src.center_y + 0.5))
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=view.graphics.mapFromScene(scene))
    qtbot.waitUntil(lambda: find(win, "galleryView").current_patch() == other, timeout=5000)
    # Anomaly map: scores painted per object, the threshold applied live.
    scores = np.linspace(0, 1, len(t)).astype(np.float32)
    doc.set_scores(np.arange(len(t)), Scores(latent=scores, recon=scores, score_type="latent", threshold=0.5),
                   keep_threshold=0.5)
    view.heat_check.setChecked(True)
    slider = find(win, "thresholdSlider")
    for wanted in (0.5, 0.9):
        slider.setValue(wanted)          # the slider: outlines and map follow live
        thr = doc.threshold
        assert thr == slider.value()
        assert view.heat_count() == int((scores[idx] >= thr).sum())
    assert view.heat_image.image is not None and view.heat_image.image.shape[:2] == (192, 192)
    view.heat_check.setChecked(False)
    assert view.heat_count() == 0


def test_command_line_presets_the_patch_source(qtbot, tmp_path):
    from ddrid_gui.__main__ import parse_args

    args = parse_args(["--objects", "auto", "--object-size", "12", "x"])
    assert (args.objects, args.object_size, args.paths) == ("auto", 12.0, ["x"])
    assert parse_args(["--labels", "lab"]).objects == "labels"
    with pytest.raises(SystemExit):
        parse_args(["--object-size", "0.5"])
    w = open_window(qtbot)
    w.preset_patching(args.objects, args.object_size, None, None)
    assert find(w, "patchingCombo").currentData() == "auto" and find(w, "objectSizeSpin").value() == 12
    p = w.document.patch_settings.patching()
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
    choose(find(win, "patchingCombo"), "points")
    assert asked and win.document.patch_settings.points == str(csv)
    find(win, "objectSizeSpin").setValue(SIZE)
    win.open_paths([str(folder / "field_0.tif")])
    wait_idle(win, timeout=20_000)
    t = win.document.table
    assert len(t) == 5, problems(win)
    assert all(s.size == 2 * SIZE for s in t.sources)
    # Points have no extent: the source view draws their crop squares.
    view = show_source(win, qtbot, 0, (192, 192))
    assert view.labels is None and view.outline_count("objects") == 5


def test_label_images_beside_the_images(win, fields, wait_idle):
    import tifffile

    folder, made = fields
    for i, f in enumerate(made):
        tifffile.imwrite(folder / f"field_{i}_masks.tif", f.labels.astype(np.uint16))
    choose(find(win, "patchingCombo"), "labels")
    assert find(win, "objectSizeSpin").isEnabled() and not find(win, "patchSizeBox").isEnabled()
    win.open_paths([str(folder)])
    wait_idle(win, timeout=20_000)
    # One patch per label; the mask files themselves are not loaded as images.
    t = win.document.table
    assert len(t) == sum(int(f.labels.max()) for f in made)
    assert not any("_masks" in s.path for s in t.sources)
    assert t.patching.source == "labels" and t.patching.object_size > 0


def test_project_keeps_the_patch_source(qtbot, fields, wait_idle, tmp_path, monkeypatch):
    folder, _made = fields
    w1 = open_window(qtbot)
    _load_auto(w1, folder, wait_idle)
    save_project(w1, tmp_path / "p.ddridproj", monkeypatch)
    w2 = open_window(qtbot)
    w2.open_paths([str(tmp_path / "p.ddridproj")])
    wait_idle(w2, timeout=20_000)
    assert find(w2, "patchingCombo").currentData() == "auto" and find(w2, "objectSizeSpin").value() == SIZE
    t1, t2 = w1.document.table, w2.document.table
    assert t2.patching == t1.patching and len(t2) == len(t1)
    assert t2.sources == t1.sources


@pytest.mark.slow   # in CI's slow tier: the default tier stays under 90 s on 2 cores
def test_training_on_objects_stores_the_patching(win, fields, wait_idle):
    from ddrid_gui.document import NORMAL

    folder, _made = fields
    _load_auto(win, folder, wait_idle)
    p = find(win, "trainPanel")
    p.pretrain.setValue(1)
    p.finetune.setValue(1)
    p.batch.setValue(8)
    p.device.setCurrentIndex(p.device.findData("cpu"))
    win.document.mark(np.arange(8), NORMAL)
    p.train_button.click()
    assert win.runner.kind == "train"
    wait_idle(win, timeout=60_000)
    model, t = win.document.model, win.document.table
    cfg = model.config
    assert (cfg.objects, cfg.object_size, cfg.patch_size, cfg.input_size) == ("auto", SIZE, 2 * SIZE, 64)
    assert model.incompatibility(t.patch_size, t.channel, objects="auto") is None
    assert t.score is not None and not np.isnan(t.score).any()


def test_anomaly_map_and_squares_for_tiles_and_points(win, tmp_path, wait_idle, qtbot):
    """Without a label image (grid tiles, points) patches are crop squares, and the map paints squares."""
    import tifffile

    from ddrcore.model.scoring import Scores

    field = tmp_path / "field.tif"
    tifffile.imwrite(field, np.random.default_rng(0).integers(100, 4000, (96, 64)).astype(np.uint16))
    win.open_paths([str(field)])
    wait_idle(win)
    doc = win.document
    t = doc.table
    assert len(t) == 6 and t.patching.source == "grid" and not t.is_objects
    gallery = find(win, "galleryView")
    assert gallery.model().data(gallery.model().index(0)) == "field.tif"     # no object ids on tiles
    scores = np.arange(6, dtype=np.float32)
    doc.set_scores(np.arange(6), Scores(latent=scores, recon=scores, score_type="latent", threshold=3),
                   keep_threshold=3.0)
    view = show_source(win, qtbot, 0, (96, 64))
    assert view.labels is None and view.outline_count("objects") == 0
    view.heat_check.setChecked(True)
    thr = doc.threshold
    assert view.heat_count() == int((scores >= thr).sum()) > 0
    img = view.heat_image.image
    assert img.shape[:2] == (96, 64) and (img[..., 3] > 0).all()     # every tile painted (dim or strong)
    # A new project forgets the page: its patches may be cut differently.
    action(win, "new").trigger()
    assert len(doc) == 0
    assert view.key is None and view.outline_count("selected") == 0


def test_labels_folder_button(win, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    from PySide6.QtGui import QAction

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    files_action, button = find(win, "patchingFilesAction", QAction), find(win, "patchingFilesButton")
    assert not files_action.isVisible()
    choose(find(win, "patchingCombo"), "labels")
    assert files_action.isVisible()
    button.click()
    settings = win.document.patch_settings
    assert settings.labels_dir == str(tmp_path) and str(tmp_path) in button.toolTip()
    assert settings.patching().labels_dir == str(tmp_path)


def test_recut_from_objects_to_other_settings_keeps_marks_on_their_objects(win, fields, wait_idle):
    from ddrid_gui.document import NORMAL

    folder, made = fields
    _load_auto(win, folder, wait_idle)
    doc = win.document
    n_before = len(doc)
    marked = doc.table.sources[:3]
    doc.mark([0, 1, 2], NORMAL)
    assert action(win, "recut").isEnabled()
    assert win.loader.recut("auto", object_size=SIZE, patch_size=64)
    wait_idle(win, timeout=20_000)
    t = doc.table
    assert len(t) == n_before and t.patching.crop_side() == 64 and all(s.size == 64 for s in t.sources)
    normal = [t.sources[i] for i in t.normal_indices()]
    assert len(normal) == 3
    for old in marked:   # each mark stayed on its object
        assert min(abs(s.center_y - old.center_y) + abs(s.center_x - old.center_x) for s in normal) < 1
    assert not action(win, "undo").isEnabled()          # the undo history named the old patches
    doc.mark(np.arange(len(doc)), NORMAL)
    assert win.loader.recut("grid", patch_size=32)
    wait_idle(win, timeout=20_000)
    assert doc.table.patching.is_grid and len(doc) == 2 * 36
    # Marks that find no tile are kept and said to be kept (they were dropped without a word), and come
    # back when the images are cut into objects again.
    kept = [src for src, _mark in doc.unplaced_marks]
    assert len(kept) >= 2
    assert any("found no patch" in p and "kept" in p for p in problems(win))
    # Unmarking the tile over one kept mark is the user's newer word there: that one must not come back.
    t = doc.table
    over = next(i for i, s in enumerate(t.sources) if s.path == kept[0].path and s.page == kept[0].page
                and s.y <= kept[0].center_y < s.y + s.size and s.x <= kept[0].center_x < s.x + s.size)
    doc.mark([over], 0)
    gone = [src for src in kept if src not in {k for k, _m in doc.unplaced_marks}]
    assert kept[0] in gone and len(gone) < len(kept)
    assert win.loader.recut("auto", object_size=SIZE, patch_size=64)
    wait_idle(win, timeout=20_000)
    back = [doc.table.sources[i] for i in doc.table.normal_indices()]

    def near(src):
        return min(abs(s.center_y - src.center_y) + abs(s.center_x - src.center_x) for s in back) < 1

    assert all(near(src) for src in kept if src not in gone) and not near(kept[0])
