"""File ▸ Open Model / Save Model As: a model trained yesterday scores today's folder without training;
re-cut keeps the model; the flagged objects go to Fiji and the objects to napari from the File menu."""
import csv

import numpy as np
import pytest
import tifffile

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
roifile = pytest.importorskip("roifile")

from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from gui import action, answer_save_dialog, find, problems  # noqa: E402

pytestmark = pytest.mark.gui


def answer_open_dialog(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), "")))


@pytest.fixture(scope="module")
def yesterday(tmp_path_factory):
    """A grid model trained (1+1 epochs) on yesterday's rings, saved to a file."""
    from ddrcore.config import TrainConfig
    from ddrcore.io.images import load_patches
    from ddrcore.model.modelfile import save
    from ddrcore.model.training import train
    from ddrcore.progress import run_to_end

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:32, :32] - 15.5

    def ring(rng):      # as the app tests' image_folder draws them (tests/app/conftest.py)
        r = np.hypot(yy - rng.uniform(-1, 1), xx - rng.uniform(-1, 1))
        img = 200 + 800 * np.exp(-((r - rng.uniform(6, 8)) ** 2) / 3.0)
        return (img + rng.normal(0, 20, img.shape)).clip(0, 65535).astype(np.uint16)

    root = tmp_path_factory.mktemp("yesterday")
    (root / "normal").mkdir()
    for i in range(16):
        tifffile.imwrite(root / "normal" / f"r{i:02d}.tif", ring(rng))
    patches = run_to_end(load_patches(root / "normal", 32))
    import torch

    # One torch thread: on 2 busy cores OpenMP's barriers made this 1+1-epoch run take 31 s instead of 4 s.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, batch_size=8, min_steps_per_epoch=0, device="cpu")
    try:
        model = run_to_end(train(patches, cfg))
    finally:
        torch.set_num_threads(threads)
    return save(model, root / "yesterday.ddrid")


@pytest.mark.slow   # in CI's slow tier: the default tier stays near 90 s
def test_open_model_then_a_new_folder_scores_it_without_training(win, image_folder, yesterday, monkeypatch,
                                                                  wait_idle, tmp_path):
    assert not action(win, "save_model_as").isEnabled()
    answer_open_dialog(monkeypatch, yesterday)
    action(win, "open_model").trigger()
    wait_idle(win)
    doc = win.document
    assert doc.model is not None and doc.model_path == str(yesterday)
    assert doc.patch_settings.source == "grid" and doc.patch_settings.patch_size == 32
    assert "grid tiles of 32 px" in find(win, "trainStatus").text()     # the model's settings, shown
    win.open_paths([str(image_folder)])
    wait_idle(win)
    assert len(doc) == 32 and doc.scored                 # scored on arrival: no training ran
    assert np.isfinite(doc.table.score).all()
    assert not win.models.training
    # Save Model As… writes a model file that loads again.
    out = tmp_path / "kept.ddrid"
    answer_save_dialog(monkeypatch, out)
    action(win, "save_model_as").trigger()
    from ddrcore.model.modelfile import load

    assert load(out, "cpu").threshold == doc.model.threshold and doc.model_path == str(out)


@pytest.mark.slow   # in CI's slow tier: the default tier stays under 90 s on 2 cores
def test_open_model_over_loaded_patches_cut_otherwise_recuts_as_the_model(win, image_folder, yesterday, monkeypatch,
                                                                         wait_idle):
    doc = win.document
    doc.set_patch_settings(patch_size=16)
    win.open_paths([str(image_folder)])
    wait_idle(win)
    assert len(doc) == 32 * 4 and doc.table.patch_size == 16
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    assert win.model_files.open_model(str(yesterday))
    wait_idle(win)
    t = doc.table
    assert t.patch_size == 32 and len(doc) == 32 and doc.scored and doc.model is not None
    assert not problems(win)


def test_recut_keeps_the_model_and_rescores_or_says_why(win, image_folder, yesterday, wait_idle):
    win.model_files.open_model(str(yesterday))
    wait_idle(win)
    win.open_paths([str(image_folder)])
    wait_idle(win)
    doc = win.document
    assert doc.scored
    assert win.loader.recut("grid", patch_size=32)
    wait_idle(win)
    assert doc.model is not None and doc.scored and np.isfinite(doc.table.score).all()
    assert win.loader.recut("grid", patch_size=16)
    wait_idle(win)
    assert doc.model is not None and not doc.scored
    lines = [p for p in problems(win) if "cannot score the re-cut patches" in p]
    assert len(lines) == 1 and "32 px patches (these are 16 px)" in lines[0]
    assert win.loader.recut("grid", patch_size=32)        # back as the model was cut: it scores again
    wait_idle(win)
    assert doc.scored


def test_export_menu_rois_and_label_images(win, tmp_path, yesterday, wait_idle, monkeypatch):
    """Objects cut from label images, scored by an opened model, exported to Fiji and napari."""
    from ddrcore.objects.synthetic import make_field

    folder = tmp_path / "fields"
    folder.mkdir()
    for k in range(2):
        f = make_field((96, 96), ("blob",), n=5, size=14, seed=k)
        tifffile.imwrite(folder / f"w{k}.tif", f.image)
        tifffile.imwrite(folder / f"w{k}-labels.tif", (f.labels * 3).astype(np.uint16))
    # The labels source cuts 32 px crops (object size 16), the size of the model's input.
    win.preset_patching("labels", 16)
    win.open_paths([str(folder)])
    wait_idle(win)
    doc = win.document
    assert len(doc) == 10 and doc.table.patching.source == "labels"
    from ddrcore.model.modelfile import load

    model = load(yesterday, "cpu")
    # What is tested here is the export, not the scores: the grid model stands in for one trained on these
    # 32 px object crops (training one would cost the test half a minute).
    model.config.objects = "labels"
    doc.set_trained(model, str(yesterday), np.zeros(0, np.int64), [])
    win.models.score_unscored()
    wait_idle(win)
    assert doc.scored
    doc.set_threshold(float(np.sort(doc.table.score)[-4]))     # 4 flagged
    assert action(win, "export_rois").isEnabled() and action(win, "export_labels").isEnabled()
    answer_save_dialog(monkeypatch, tmp_path / "out" / "flagged.zip")
    action(win, "export_rois").trigger()
    wait_idle(win)
    rois = roifile.roiread(tmp_path / "out" / "flagged.zip")
    assert len(rois) == 4 and all(r.name.startswith(f"rank{k + 1}_score") for k, r in enumerate(rois))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "labels")))
    action(win, "export_labels").trigger()
    wait_idle(win)
    csv_path = tmp_path / "ranked.csv"
    answer_save_dialog(monkeypatch, csv_path)
    action(win, "export_csv").trigger()
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for k in range(2):
        lab = tifffile.imread(tmp_path / "labels" / f"w{k}_labels.tif")
        ids = set(np.unique(lab).tolist()) - {0}
        assert ids == {int(r["object_id"]) for r in rows if r["path"].endswith(f"w{k}.tif")}



def test_exports_refused_or_kept_apart_in_one_line(win, image_folder, yesterday, tmp_path, wait_idle, monkeypatch):
    """The GUI attack's export faults: a ranked CSV onto an input image raised out of the slot (no word) and
    left a model copy in the input folder; a CSV beside an older run's model replaced that model; a PNG
    report went into the input folder, to be read as an image next time."""
    import hashlib
    import shutil

    from ddrcore.model.modelfile import load
    from ddrid_gui import settings as appsettings

    win.open_paths([str(image_folder)])
    wait_idle(win)
    doc = win.document
    # A model that lives only in the autosave folder, as after training in an unsaved session.
    auto = appsettings.autosave_dir()
    auto.mkdir(parents=True, exist_ok=True)
    shutil.copy(yesterday, auto / "autosave.ddrid")
    doc.set_trained(load(auto / "autosave.ddrid", "cpu"), str(auto / "autosave.ddrid"), np.zeros(0, np.int64), [])
    win.models.score_unscored()
    wait_idle(win)
    assert doc.scored
    said = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _w, _t, text, *a: said.append(text)))
    image = next(p for p in sorted(image_folder.rglob("*.tif")))
    before = hashlib.md5(image.read_bytes()).hexdigest()
    answer_save_dialog(monkeypatch, image)
    action(win, "export_csv").trigger()
    assert len(said) == 1 and "input" in said[0] and hashlib.md5(image.read_bytes()).hexdigest() == before
    assert not list(image_folder.rglob("*.ddrid"))                     # no model copy left beside it
    (tmp_path / "exp1.ddrid").write_bytes(yesterday.read_bytes())
    older = hashlib.md5((tmp_path / "exp1.ddrid").read_bytes()).hexdigest()
    answer_save_dialog(monkeypatch, tmp_path / "exp1.csv")
    action(win, "export_csv").trigger()
    assert hashlib.md5((tmp_path / "exp1.ddrid").read_bytes()).hexdigest() == older
    with open(tmp_path / "exp1.csv", newline="") as fh:
        assert {r["model"] for r in csv.DictReader(fh) if r.get("model")} == {"exp1-2.ddrid"}
    assert (tmp_path / "exp1-2.ddrid").is_file()
    action(win, "export_csv").trigger()                               # the same CSV again: the same copy named
    assert sorted(p.name for p in tmp_path.glob("exp1*.ddrid")) == ["exp1-2.ddrid", "exp1.ddrid"]
    answer_save_dialog(monkeypatch, image_folder / "report.png")
    action(win, "export_report").trigger()
    wait_idle(win)
    assert not (image_folder / "report.png").exists() and "input folder" in said[-1]


def test_label_images_never_replace_the_label_image_of_an_image_opened_alone(win, tmp_path, yesterday, wait_idle,
                                                                             monkeypatch):
    # One image opened (not its folder), cut from the label image beside it; label images exported into that
    # folder would be named as the user's own and replaced it.
    import hashlib

    from ddrcore.model.modelfile import load
    from ddrcore.objects.synthetic import make_field

    folder = tmp_path / "fields"
    folder.mkdir()
    f = make_field((96, 96), ("blob",), n=5, size=14, seed=0)
    tifffile.imwrite(folder / "w0.tif", f.image)
    tifffile.imwrite(folder / "w0_labels.tif", (f.labels * 3).astype(np.uint16))
    before = hashlib.md5((folder / "w0_labels.tif").read_bytes()).hexdigest()
    win.preset_patching("labels", 16)
    win.open_paths([str(folder / "w0.tif")])
    wait_idle(win)
    doc = win.document
    assert len(doc) == 5 and doc.table.patching.source == "labels"
    model = load(yesterday, "cpu")
    model.config.objects = "labels"       # the grid model stands in for one trained on these crops
    doc.set_trained(model, str(yesterday), np.zeros(0, np.int64), [])
    win.models.score_unscored()
    wait_idle(win)
    said = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda _w, _t, text, *a: said.append(text)))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    action(win, "export_labels").trigger()
    wait_idle(win)
    assert hashlib.md5((folder / "w0_labels.tif").read_bytes()).hexdigest() == before
    assert any("input" in line for line in said + problems(win)), (said, problems(win))


@pytest.mark.slow   # in CI's slow tier: the default tier stays near 90 s
def test_a_saved_project_reopens_from_its_cache_without_reading_or_scoring(win, image_folder, yesterday, qtbot,
                                                                          wait_idle, tmp_path, monkeypatch):
    from ddrcore.io import patchcache
    from ddrid_gui.jobs import tasks
    from gui import open_window

    win.model_files.open_model(str(yesterday))
    wait_idle(win)
    win.open_paths([str(image_folder)])
    wait_idle(win)
    project = tmp_path / "p.ddridproj"
    assert win.projects.save_to(str(project))
    assert patchcache.cache_path(project).is_file()
    before = win.document.table.score.copy()
    calls = []
    for name in ("load_inputs", "score_indices"):
        real = getattr(tasks, name)
        monkeypatch.setattr(tasks, name, lambda *a, _n=name, _r=real, **k: (calls.append(_n), (yield from _r(*a, **k)))[1])
    again = open_window(qtbot)
    again.projects.open_project(str(project))
    wait_idle(again)
    doc = again.document
    assert doc.scored and calls == []                     # no image read, nothing scored again
    np.testing.assert_array_equal(doc.table.score, before)
    again.close()
    # A cache that no longer matches (an image changed) is not used: the images are read and scored again.
    first = sorted(image_folder.rglob("*.tif"))[0]
    tifffile.imwrite(first, tifffile.imread(first) + 1)
    third = open_window(qtbot)
    third.projects.open_project(str(project))
    wait_idle(third)
    assert third.document.scored and calls == ["load_inputs", "score_indices"]


def test_the_command_line_opens_a_model_then_the_folders(win, image_folder, yesterday, wait_idle):
    from ddrid_gui.__main__ import parse_args

    args = parse_args(["--model", str(yesterday), str(image_folder)])
    assert args.model == str(yesterday) and args.paths == [str(image_folder)]
    # What main() does with them, on this window.
    win.model_files.open_model(args.model, then=lambda: win.open_paths(args.paths))
    wait_idle(win)
    assert len(win.document) == 32 and win.document.scored
