"""Objects handed back to Fiji (a ROI set) and to napari / CellProfiler (label images), from `ddrid score`."""
import csv
import zipfile

import numpy as np
import pytest
import tifffile

from ddrcore.cli import main
from ddrcore.io.exchange import label_file_names, roi_name

roifile = pytest.importorskip("roifile")


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _field(folder, seed, pages=1):
    """Discs on a grid, an image and its napari-named label image (ids not consecutive)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[:128, :128]
    imgs, labs = [], []
    for _ in range(pages):
        img = (100 + rng.normal(0, 5, (128, 128))).astype(np.uint16)
        lab = np.zeros((128, 128), np.uint16)
        k = 0
        for cy in range(18, 128, 30):
            for cx in range(18, 128, 30):
                k += 1
                r2 = int(rng.integers(25, 49))
                inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r2
                img[inside] = 900 + rng.integers(0, 300)
                lab[inside] = 7 * k + 2
        imgs.append(img)
        labs.append(lab)
    tifffile.imwrite(folder / "X.tif", np.stack(imgs) if pages > 1 else imgs[0])
    tifffile.imwrite(folder / "X-labels.tif", np.stack(labs) if pages > 1 else labs[0])
    return folder


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A labels model (1+1 epochs) and a test folder with a two-page image."""
    from ddrcore.config import TrainConfig
    from ddrcore.io.images import load_patches
    from ddrcore.model.modelfile import save
    from ddrcore.model.training import train
    from ddrcore.objects import Patching
    from ddrcore.progress import run_to_end

    root = tmp_path_factory.mktemp("exchange")
    import torch

    # One torch thread: on 2 busy cores OpenMP's barriers made this 1+1-epoch run take 31 s instead of 4 s.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    normal = run_to_end(load_patches(_field(root / "normal", 0), patching=Patching("labels", object_size=12)))
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, device="cpu", batch_size=8, min_steps_per_epoch=0)
    cfg.set_patching(normal.patching)
    cfg.input_size = int(normal.images.shape[-1])
    try:
        save(run_to_end(train(normal, cfg)), root / "m.ddrid")
    finally:
        torch.set_num_threads(threads)
    _field(root / "test", 1, pages=2)
    first = root / "first.csv"
    assert main(["--quiet", "score", str(root / "m.ddrid"), str(root / "test"), "--csv", str(first)]) == 0
    return root, [float(r["score"]) for r in rows(first)]


@pytest.mark.slow   # in CI's slow tier: the default tier stays near 90 s
def test_rois_and_label_images_of_a_scored_run(scored):
    root, ranked = scored
    tau = (ranked[6] + ranked[7]) / 2   # 7 flagged (the CSV's scores are rounded: not on one of them)
    out = root / "run"
    assert main(["--quiet", "score", str(root / "m.ddrid"), str(root / "test"), "--csv", str(out / "r.csv"),
                 "--threshold", repr(tau), "--rois", str(out / "flagged.zip"), "--labels-out", str(out / "labels")]) == 0
    table = rows(out / "r.csv")
    flagged = [r for r in table if r["is_anomaly"] == "1"]
    rois = roifile.roiread(out / "flagged.zip")
    assert len(rois) == len(flagged) == 7
    assert [r.name for r in rois] == [roi_name(int(f["rank"]), float(f["score"]), int(f["object_id"])) for f in flagged]
    for roi, f in zip(rois, flagged):
        assert roi.position == int(f["page"]) + 1
        xy = roi.coordinates()
        # The outline surrounds the object's centre, and is about its size.
        cx, cy = float(f["center_x"]), float(f["center_y"])
        assert xy[:, 0].min() < cx + 0.5 < xy[:, 0].max() and xy[:, 1].min() < cy + 0.5 < xy[:, 1].max()
        assert 4 <= np.ptp(xy[:, 0]) <= 16
    lab = tifffile.imread(out / "labels" / "X_labels.tif")
    assert lab.dtype == np.uint16 and lab.shape == (2, 128, 128)
    for page in (0, 1):
        ids = set(np.unique(lab[page]).tolist()) - {0}
        assert ids == {int(r["object_id"]) for r in table if r["page"] == str(page)}
    # The label images are the inputs' own: the same pixels carry the same ids.
    np.testing.assert_array_equal(lab, tifffile.imread(root / "test" / "X-labels.tif"))


def test_exchange_outputs_follow_the_output_rule(scored, capsys):
    root, _ = scored
    model, test = str(root / "m.ddrid"), str(root / "test")
    (root / "notes.zip").write_bytes(b"PK\x03\x04 not a roi set")
    for extra, words in ((["--rois", str(root / "notes.zip")], "not a Fiji ROI set"),
                         (["--labels-out", test], "input folder"),
                         (["--rois", model], "input files")):
        assert main(["--quiet", "score", model, test, "--csv", str(root / "x.csv"), *extra]) == 1
        assert words in capsys.readouterr().err
    assert not (root / "x.csv").exists()


def test_one_image_given_its_label_image_is_an_input_too(scored, capsys):
    # Given one image file rather than its folder, the label image read with it (beside it, or in the
    # StarDist layout's masks/) was not protected: --labels-out wrote over it, --force let a CSV replace it.
    import hashlib
    import shutil

    root, _ = scored
    model = str(root / "m.ddrid")
    beside, layout = root / "single", root / "sd"
    for folder in (beside, layout / "images", layout / "masks"):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "test" / "X.tif", beside / "X.tif")
    shutil.copy(root / "test" / "X-labels.tif", beside / "X_labels.tif")
    shutil.copy(root / "test" / "X.tif", layout / "images" / "X.tif")
    shutil.copy(root / "test" / "X-labels.tif", layout / "masks" / "X.tif")
    labels = [beside / "X_labels.tif", layout / "masks" / "X.tif"]
    before = [hashlib.md5(p.read_bytes()).hexdigest() for p in labels]
    for image, extra in ((beside / "X.tif", ["--labels-out", str(beside)]),
                         (beside / "X.tif", ["--force", "--rois", str(beside / "X_labels.tif")]),
                         (layout / "images" / "X.tif", ["--force", "--rois", str(layout / "masks" / "X.tif")])):
        assert main(["--quiet", "score", model, str(image), "--csv", str(root / "y.csv"), *extra]) == 1, extra
        assert "input" in capsys.readouterr().err
    assert main(["--quiet", "objects", str(image), "--csv", str(layout / "masks" / "X.tif"), "--force"]) == 1
    assert [hashlib.md5(p.read_bytes()).hexdigest() for p in labels] == before


def test_label_file_names_stay_apart():
    names = label_file_names(["/a/p1/x.tif", "/a/p2/x.tif"])
    assert len(set(names.values())) == 2


def test_a_roi_set_is_a_zip_of_roi_files(tmp_path):
    from ddrcore.io.images import PatchSource
    from ddrcore.io.exchange import write_rois
    from ddrcore.objects import Patching

    img = np.zeros((64, 64), np.uint16)
    img[10:20, 30:44] = 500
    tifffile.imwrite(tmp_path / "a.tif", img)
    src = PatchSource(str(tmp_path / "a.tif"), 0, 0, 16, object_id=1, center_y=15, center_x=37, size=32)
    out = tmp_path / "out" / "f.zip"
    assert write_rois(out, [(src, 1, 3.2)], Patching("grid", patch_size=32)) == 1
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["rank1_score3.2_obj1.roi"]
    (roi,) = roifile.roiread(out)
    assert roi.coordinates().tolist() == [[16, 0], [48, 0], [48, 32], [16, 32]]


def test_images_changed_since_the_run_cost_only_themselves(tmp_path):
    """An image emptied since it was scored made the ROI export fail (its page had no labels to take the
    crop's square from); a deleted one stopped the label-image export for every image."""
    from ddrcore.io.exchange import write_label_images, write_rois
    from ddrcore.io.images import PatchSource
    from ddrcore.objects import Patching

    patching = Patching("auto", object_size=12)
    img = np.full((64, 64), 100, np.uint16)
    img[20:32, 20:32] = 900
    sources = []
    for name in ("a", "b", "c"):
        tifffile.imwrite(tmp_path / f"{name}.tif", img)
        sources.append(PatchSource(str(tmp_path / f"{name}.tif"), 0, 14, 14, object_id=1, center_y=25.5,
                                   center_x=25.5, size=24))
    tifffile.imwrite(tmp_path / "b.tif", np.full((64, 64), 100, np.uint16))     # blank: no object any more
    (tmp_path / "c.tif").unlink()
    skipped = []
    assert write_rois(tmp_path / "out" / "r.zip", [(s, k + 1, 1.0) for k, s in enumerate(sources)], patching,
                      skipped=skipped) == 3
    assert [b.path for b in skipped] == [sources[2].path] and skipped[0].partial
    rois = roifile.roiread(tmp_path / "out" / "r.zip")
    assert len(rois) == 3 and rois[1].coordinates().tolist() == [[14, 14], [38, 14], [38, 38], [14, 38]]
    skipped = []
    written = write_label_images(tmp_path / "labels", sources, patching, skipped=skipped)
    assert sorted(p.name for p in written) == ["a_labels.tif", "b_labels.tif"]
    assert [b.path for b in skipped] == [sources[2].path] and "gone" in skipped[0].reason
