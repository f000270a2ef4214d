"""Patches that show the cell, not the crop: neighbours masked, the border policy, per-image object size,
measurements and the cell score.  Each on a small synthetic field where the setting changes the answer."""
from dataclasses import replace

import numpy as np
import pytest
import tifffile

from ddrcore.io.images import load_patches
from ddrcore.objects import Patching
from ddrcore.objects.measure import MEASUREMENTS
from ddrcore.objects.patching import sizes_in_words
from ddrcore.progress import run_to_end

yy, xx = np.mgrid[:96, :96]


def disc(img, lab, cy, cx, r, value, oid):
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    img[inside] = value
    lab[inside] = oid


def field_with_neighbour(bright: int):
    """A dim disc at the centre and, 14 px to its right, a second disc of brightness ``bright``."""
    img = np.full((96, 96), 100, np.uint16)
    lab = np.zeros((96, 96), np.uint16)
    disc(img, lab, 48, 48, 6, 1000, 1)
    disc(img, lab, 48, 62, 6, bright, 2)
    return img, lab


def centre_patch(tmp_path, name, img, lab, **kw):
    folder = tmp_path / name
    folder.mkdir()
    tifffile.imwrite(folder / "f.tif", img)
    tifffile.imwrite(folder / "f_masks.tif", lab)
    ps = run_to_end(load_patches(folder, patching=Patching("labels", object_size=12, **kw)))
    return ps.images[[s.object_id for s in ps.sources].index(1)]


def test_masking_neighbours_makes_the_patch_independent_of_them(tmp_path):
    dim, dim_lab = field_with_neighbour(1200)
    glaring, glaring_lab = field_with_neighbour(60000)
    a = centre_patch(tmp_path, "a", dim, dim_lab)
    b = centre_patch(tmp_path, "b", glaring, glaring_lab)
    # Masked (the default): the object's patch is the same whatever its neighbour's brightness ...
    np.testing.assert_allclose(a, b, atol=1e-3)
    assert b.max() <= 1000 + 1e-3
    # ... kept: the saturated neighbour dominates the patch.
    kept = centre_patch(tmp_path, "c", glaring, glaring_lab, neighbours="keep")
    assert kept.max() > 10000


def border_field():
    img = np.full((96, 96), 100, np.uint16)
    lab = np.zeros((96, 96), np.uint16)
    disc(img, lab, 48, 48, 6, 1000, 1)
    disc(img, lab, 48, 2, 6, 1000, 2)        # cut by the left edge
    disc(img, lab, 20, 70, 6, 1000, 3)
    return img, lab


@pytest.mark.parametrize("policy, ids", [("exclude", [1, 3]), ("flag", [1, 2, 3]), ("include", [1, 2, 3])])
def test_border_policy_decides_which_objects_are_cut(tmp_path, policy, ids):
    img, lab = border_field()
    tifffile.imwrite(tmp_path / "f.tif", img)
    tifffile.imwrite(tmp_path / "f_masks.tif", lab)
    ps = run_to_end(load_patches(tmp_path, patching=Patching("labels", object_size=12, border=policy)))
    assert sorted(s.object_id for s in ps.sources) == ids
    assert [s.object_id for s in ps.sources if s.touches_border] == ([2] if 2 in ids else [])
    if policy != "exclude":
        edge = ps.images[[s.object_id for s in ps.sources].index(2)][0]
        # No edge-replicated stripes: the columns beyond the page are one flat background value.
        beyond = edge[:, :5]
        assert np.ptp(beyond) == 0 and abs(float(beyond[0, 0]) - 100) < 1e-3


@pytest.mark.slow
def test_flagged_border_objects_are_scored_but_never_trained_on(tmp_path):
    from ddrcore.config import TrainConfig
    from ddrcore.model.training import train

    rng = np.random.default_rng(0)
    img = np.full((160, 160), 100, np.uint16)
    lab = np.zeros((160, 160), np.uint16)
    yy2, xx2 = np.mgrid[:160, :160]
    k = 0
    for cy in range(20, 160, 28):
        for cx in range(20, 160, 28):
            k += 1
            inside = (yy2 - cy) ** 2 + (xx2 - cx) ** 2 <= 36
            img[inside] = 900 + rng.integers(0, 100)
            lab[inside] = k
    k += 1
    inside = (yy2 - 80) ** 2 + (xx2 - 1) ** 2 <= 36
    img[inside], lab[inside] = 900, k
    tifffile.imwrite(tmp_path / "f.tif", img)
    tifffile.imwrite(tmp_path / "f_masks.tif", lab)
    ps = run_to_end(load_patches(tmp_path, patching=Patching("labels", object_size=12, border="flag")))
    assert sum(s.touches_border for s in ps.sources) == 1
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, device="cpu", batch_size=8)
    cfg.set_patching(ps.patching)
    cfg.input_size = int(ps.images.shape[-1])
    model = run_to_end(train(ps, cfg))
    assert model.training["n_train"] + model.training["n_val"] == len(ps) - 1


def test_each_image_is_cut_at_its_own_magnification(tmp_path):
    from ddrcore.objects.synthetic import make_field

    fields = {"a_small.tif": make_field((256, 256), ("blob",), n=14, size=10, seed=1),
              "b_large.tif": make_field((512, 512), ("blob",), n=14, size=34, seed=2)}
    (tmp_path / "both").mkdir()
    for name, f in fields.items():
        (tmp_path / name[:-4]).mkdir()
        tifffile.imwrite(tmp_path / name[:-4] / name, f.image)
        tifffile.imwrite(tmp_path / "both" / name, f.image)
    both = run_to_end(load_patches(tmp_path / "both", patching=Patching("auto")))
    sides = {name: {s.size for s in both.sources if s.path.endswith(name)} for name in fields}
    # One crop side per image, each about twice that image's object size (not one size for the folder).
    assert len(sides["a_small.tif"]) == 1 and len(sides["b_large.tif"]) == 1
    assert 14 <= min(sides["a_small.tif"]) <= 28 and 52 <= min(sides["b_large.tif"]) <= 90
    alone = {n: len(run_to_end(load_patches(tmp_path / n[:-4], patching=Patching("auto")))) for n in fields}
    together = {n: sum(s.path.endswith(n) for s in both.sources) for n in fields}
    assert together == alone
    # What the user is told names each image's own size, not the folder's median that neither was cut at.
    words = sizes_in_words(both.patching, both.sources)
    for name in fields:
        assert f"{min(sides[name]) / 2:g} px (1 image)" in words
    assert f"object size {both.patching.object_size:g} px" not in words
    # A size the user gives holds for every image.
    fixed = run_to_end(load_patches(tmp_path / "both", patching=Patching("auto", object_size=20)))
    assert {s.size for s in fixed.sources} == {40}


def test_each_csv_row_says_the_object_size_its_image_was_cut_at():
    """Rows of an image cut at its own object size gave the folder's object_size and patch_size."""
    from ddrcore.io.export import ModelStamp, ranked_rows
    from ddrcore.io.images import PatchSource
    from ddrcore.model.scoring import Scores

    p = Patching("auto", object_size=12.0, per_image=True)
    src = [PatchSource("a.tif", 0, 0, 0, size=p.crop_side()), PatchSource("b.tif", 0, 0, 0, size=40)]
    v = np.array([1.0, 2.0], np.float32)
    scores = Scores(latent=v, recon=v, score_type="latent", threshold=1.5)
    rows = {r["path"]: r for r in ranked_rows(scores, src, ModelStamp("m.ddrid", 0, 0.0, 1.0, p))}
    assert (rows["a.tif"]["object_size"], rows["a.tif"]["patch_size"]) == ("12", 24)
    assert (rows["b.tif"]["object_size"], rows["b.tif"]["patch_size"]) == ("20", 40)


def test_two_images_of_two_magnifications_close_together_are_each_cut_at_their_own_size(tmp_path):
    """Two images whose objects differ by 1.6x were both within 1.4x of their median and both cut at it."""
    from ddrcore.objects.synthetic import make_field

    for name, size, seed in (("a.tif", 12, 1), ("b.tif", 19, 2)):
        tifffile.imwrite(tmp_path / name, make_field((256, 256), ("blob",), n=14, size=size, seed=seed).image)
    ps = run_to_end(load_patches(tmp_path, patching=Patching("auto")))
    sides = {name: {s.size for s in ps.sources if s.path.endswith(name)} for name in ("a.tif", "b.tif")}
    assert len(sides["a.tif"]) == len(sides["b.tif"]) == 1
    a, b = min(sides["a.tif"]), min(sides["b.tif"])
    assert b / a > 1.4, sides                                  # not one crop side for both


def test_same_magnification_keeps_one_size_so_small_objects_stay_small():
    p = Patching("auto", object_size=30.0, per_image=True)
    assert p.for_image(24.0) is p            # condensed cells in one image do not shrink its crops
    assert p.for_image(90.0).crop_side() == 180
    assert replace(p, per_image=False).for_image(90.0).object_size == 30.0


def test_every_object_row_carries_its_measurements(tmp_path):
    img, lab = border_field()
    tifffile.imwrite(tmp_path / "f.tif", img)
    tifffile.imwrite(tmp_path / "f_masks.tif", lab)
    ps = run_to_end(load_patches(tmp_path, patching=Patching("labels", object_size=12)))
    for s in ps.sources:
        m = dict(zip(MEASUREMENTS, s.measurements))
        assert m["area"] == (lab == s.object_id).sum()
        assert m["intensity_mean"] == pytest.approx(1000) and m["solidity"] > 0.9


@pytest.fixture(scope="module")
def cell_model(tmp_path_factory):
    """A model trained 1+1 epochs on a field of 25 similar discs, and a test field with one small bright disc."""
    from ddrcore.config import TrainConfig
    from ddrcore.model.training import train

    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("cells")
    yy2, xx2 = np.mgrid[:160, :160]

    def write(folder, odd=False):
        folder.mkdir()
        img = (100 + rng.normal(0, 5, (160, 160))).astype(np.uint16)
        lab = np.zeros((160, 160), np.uint16)
        k = 0
        for cy in range(20, 160, 28):
            for cx in range(20, 160, 28):
                k += 1
                r2, value = (9, 3000) if odd and k == 13 else (36, 900 + rng.integers(0, 100))
                inside = (yy2 - cy) ** 2 + (xx2 - cx) ** 2 <= r2
                img[inside] = value
                lab[inside] = k
        tifffile.imwrite(folder / "f.tif", img)
        tifffile.imwrite(folder / "f_masks.tif", lab)
        return folder

    normal = run_to_end(load_patches(write(root / "normal"), patching=Patching("labels", object_size=12)))
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, device="cpu", batch_size=8)
    cfg.set_patching(normal.patching)
    cfg.input_size = int(normal.images.shape[-1])
    model = run_to_end(train(normal, cfg))
    test = run_to_end(load_patches(write(root / "test", odd=True), patching=model.config.patching()))
    return model, test, root


def test_objects_with_measurements_are_ranked_by_the_cell_score(cell_model):
    from ddrcore.model.scoring import score_patches

    model, test, _ = cell_model
    assert model.score_type == "cell" and model.measure is not None
    assert {"measure", "cell"} <= set(model.validation_scores)
    # The quality check of object models: odd cells made from the validation objects, scored by AS_cell.
    assert 0.0 <= model.validation["cell_auc"] <= 1.0 and model.validation["cell_n"] >= 2
    from ddrcore.model.quality import describe

    assert "odd cells" in describe(model.validation)
    # 25 normal objects leave 6 held out: the user is told the ranking rests on few and to mark more.
    n_val = model.training["n_val"]
    assert n_val < 20 and f"rest on only {n_val} held-out normal objects" in describe(model.validation)
    scores = run_to_end(score_patches(model, test))
    odd = [s.object_id for s in test.sources].index(13)
    # The small bright disc is the one object measured unlike the normals.
    assert int(np.argmax(scores.measure)) == odd
    assert scores.cell is not None and np.isfinite(scores.cell).all()


def test_a_field_taken_brighter_or_with_a_camera_offset_measures_as_it_did(cell_model, tmp_path):
    """The same field at 1.2 and 2 times the exposure, or 200 counts of camera offset: read raw, every
    object's intensities moved alike and AS_m flagged most normal nuclei (30 of 40 at 1.2 times)."""
    from dataclasses import replace

    from ddrcore.model.cellscore import feature_matrix
    from ddrcore.model.scoring import score_patches

    model, test, root = cell_model
    assert model.config.measure_intensity == "page"
    plain = run_to_end(score_patches(model, test))
    img = tifffile.imread(root / "test" / "f.tif").astype(np.float64)
    for name, changed in (("gain12", img * 1.2), ("gain2", img * 2.0), ("offset", img + 200.0)):
        folder = tmp_path / name
        folder.mkdir()
        tifffile.imwrite(folder / "f.tif", np.round(changed).astype(np.uint16))
        tifffile.imwrite(folder / "f_masks.tif", tifffile.imread(root / "test" / "f_masks.tif"))
        other = run_to_end(load_patches(folder, patching=model.config.patching()))
        assert [s.object_id for s in other.sources] == [s.object_id for s in test.sources]
        assert {s.page for s in other.sources} == {0} and all(len(s.against_page) == 4 for s in other.sources)
        s = run_to_end(score_patches(model, other))
        # Measured against the page, the same objects measure the same (the rounding of 1.2 x aside).
        assert np.abs(s.measure - plain.measure).max() <= 0.1 * np.median(plain.measure), name
        assert int(np.argmax(s.measure)) == int(np.argmax(plain.measure))
        assert (s.cell >= model.threshold).sum() <= (plain.cell >= model.threshold).sum() + 1, name
    # Read raw (as model files from before keep), the brighter field moves far from the normals (100 x here).
    raw = replace(model, config=replace(model.config, measure_intensity="raw"))
    raw.measure = type(model.measure).fit(
        feature_matrix(run_to_end(load_patches(root / "normal", patching=model.config.patching())).sources))
    bright = run_to_end(load_patches(tmp_path / "gain2", patching=model.config.patching()))
    assert np.median(run_to_end(score_patches(raw, bright)).measure) > \
        2 * np.median(run_to_end(score_patches(raw, test)).measure)


def test_a_page_too_few_objects_to_say_its_scale_is_read_against_the_training_pages(cell_model, tmp_path):
    """One nucleus on its page is its own typical object, so a page model read it as nothing like the normals
    (AS_m 69 against 1.9 in its field), and any page without a scale fell back to raw intensities, which a
    model trained on page-relative ones flags wholesale."""
    from ddrcore.model.scoring import score_patches

    model, test, root = cell_model
    assert model.measure.reference is not None and model.measure.reference[1] > model.measure.reference[0]
    whole = run_to_end(score_patches(model, test))
    img, lab = tifffile.imread(root / "test" / "f.tif"), tifffile.imread(root / "test" / "f_masks.tif")
    (tmp_path / "one").mkdir()
    tifffile.imwrite(tmp_path / "one" / "f.tif", img[4:37, 4:37])
    tifffile.imwrite(tmp_path / "one" / "f_masks.tif", lab[4:37, 4:37])
    alone = run_to_end(load_patches(tmp_path / "one", patching=replace_border(model.config.patching())))
    assert len(alone) == 1 and alone.sources[0].against_page == ()
    k = [s.object_id for s in test.sources].index(alone.sources[0].object_id)
    s = run_to_end(score_patches(model, alone))
    assert abs(np.log(s.measure[0] / whole.measure[k])) < np.log(1.5), (s.measure[0], whole.measure[k])


def replace_border(patching):
    from dataclasses import replace

    return replace(patching, border="include")


def test_the_cell_score_survives_the_model_file_and_a_forged_one_is_refused(cell_model):
    import torch

    from ddrcore.errors import ModelFileError
    from ddrcore.model import modelfile
    from ddrcore.model.scoring import score_patches

    model, test, root = cell_model
    path = modelfile.save(model, root / "m.ddrid")
    loaded = modelfile.load(path, "cpu")
    a, b = run_to_end(score_patches(model, test)), run_to_end(score_patches(loaded, test))
    np.testing.assert_allclose(a.cell, b.cell, rtol=1e-5)
    assert loaded.config.border == "exclude" and loaded.config.neighbours == "mask"
    # Not a number, and finite numbers that overflow on the first object (NaN or infinite scores, exit 0).
    for key, value in (("std", float("nan")), ("mean", 1e308), ("std", 1e-300), ("train", 1e300),
                       ("calibration", 1e308)):
        payload = torch.load(path, weights_only=True)
        payload["measure"][key].view(-1)[0] = value
        torch.save(payload, root / "forged.ddrid")
        with pytest.raises(ModelFileError, match=f"measure.*{key}"):
            modelfile.load(root / "forged.ddrid", "cpu")


def test_texture_measures_hold_on_a_page_with_negative_values():
    """A background-subtracted page (negative values) measured every object's intensity_cv 0 and center_ratio 1;
    they are read above its background and match the same page shifted to positive values."""
    from ddrcore.objects.measure import measure_objects

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:60, :60]
    lab = np.zeros((60, 60), int)
    lab[(yy - 20) ** 2 + (xx - 20) ** 2 <= 64] = 1
    lab[(yy - 40) ** 2 + (xx - 40) ** 2 <= 64] = 2
    page = np.where(lab > 0, 300.0, 0.0) + rng.normal(0, 5, (60, 60))
    page[lab == 2] *= 1 + 0.5 * np.sin(xx[lab == 2])                  # a textured one
    cv, ratio = MEASUREMENTS.index("intensity_cv"), MEASUREMENTS.index("center_ratio")
    negative = measure_objects(page - 100.0, lab, [1, 2])             # background at -100
    assert (negative[:, cv] > 0.01).all() and negative[1, cv] > 2 * negative[0, cv]
    assert (negative[:, ratio] != 1.0).all()
    # Read above the background: as the same page with its background at zero.
    above = page - np.median(page[lab == 0])
    for k in (1, 2):
        v = above[lab == k]
        assert negative[k - 1, cv] == pytest.approx(v.std() / v.mean(), rel=1e-6)
    # A page whose background is positive is measured as before (ratios of the raw values), even with a dead
    # pixel below zero: one pixel must not change every object's texture.
    positive = page + 50.0 - min(0.0, page.min())
    dead = positive.copy()
    dead[0, 0] = -1.0
    for p in (positive, dead):
        v = p[lab == 1]
        assert measure_objects(p, lab, [1])[0, cv] == pytest.approx(v.std() / v.mean(), rel=1e-6)


def test_measurements_that_say_the_same_count_once():
    """Five measurements say size.  An object 4 sd off in size and one 4 sd off in its centre ratio alone
    (a hollow nucleus) are equally unusual; without the whitening the first is five axes away and scores
    far higher."""
    from ddrcore.model.cellscore import MeasureModel

    rng = np.random.default_rng(1)
    n = 60
    size = rng.normal(0, 1, n)
    normals = rng.normal(0, 1, (n, len(MEASUREMENTS)))
    scale = [0, 1, 4, 5, 8]                        # area, perimeter, both axes, integrated intensity
    for col in scale:
        normals[:, col] = size + rng.normal(0, 0.1, n)
    model = MeasureModel.fit(normals)
    mean, sd = normals.mean(0), normals.std(0)
    big, hollow = mean.copy(), mean.copy()
    big[scale] += 4 * sd[scale]
    hollow[10] += 4 * sd[10]
    s_big, s_hollow = model.score(np.array([big, hollow]))
    assert s_big / s_hollow < 1.2
    plain = MeasureModel(model.mean, model.std, (normals - model.mean) / model.std)   # the identity
    p_big, p_hollow = plain.score(np.array([big, hollow]))
    assert p_big / p_hollow > 1.4


def test_the_whitening_stretches_no_direction_more_than_a_bounded_amount():
    """Objects of even brightness: log integrated intensity = log mean + log area exactly, a direction the
    normals never vary in.  Whitening must not blow it up (at most sqrt(10) x the typical direction)."""
    from ddrcore.model.cellscore import whitening

    rng = np.random.default_rng(0)
    n = 2000
    f = rng.normal(0, 1, (n, len(MEASUREMENTS)))
    f[:, 8] = f[:, 0] + f[:, 6]
    z = (f - f.mean(0)) / f.std(0)
    stretch = np.linalg.svd(whitening(z), compute_uv=False)
    typical = 1 / np.sqrt(np.linalg.eigvalsh(np.cov(z.T)).mean())
    assert stretch.max() <= np.sqrt(10) * typical * 1.01
    assert stretch.max() > 1.5 * typical          # and it does whiten: the redundant direction is still raised


def test_the_whitening_is_kept_in_the_model_file_and_older_files_score_as_before(cell_model):
    import torch

    from ddrcore.errors import ModelFileError
    from ddrcore.model import modelfile
    from ddrcore.model.scoring import score_patches

    model, test, root = cell_model
    w = model.measure.whiten
    assert w.shape == (len(MEASUREMENTS),) * 2 and not np.allclose(w, np.eye(len(w)))
    path = modelfile.save(model, root / "w.ddrid")
    loaded = modelfile.load(path, "cpu")
    np.testing.assert_allclose(loaded.measure.whiten, w)
    # A file from before the whitening: no "whiten", training features in the plain standardised space.
    payload = torch.load(path, weights_only=True)
    del payload["measure"]["whiten"]
    plain = (model.measure.train @ np.linalg.inv(w))
    payload["measure"]["train"] = torch.as_tensor(plain)
    torch.save(payload, root / "old.ddrid")
    old = modelfile.load(root / "old.ddrid", "cpu")
    np.testing.assert_allclose(old.measure.whiten, np.eye(len(w)))
    from ddrcore.model.cellscore import feature_matrix

    features = feature_matrix(test.sources)
    standardised = (features - model.measure.mean) / model.measure.std
    expected = np.sort(np.sqrt(((standardised[:, None] - plain[None]) ** 2).sum(-1)), 1)[:, :5].mean(1)
    np.testing.assert_allclose(old.measure.score(features), expected, rtol=1e-9)
    assert np.isfinite(run_to_end(score_patches(old, test)).cell).all()
    payload["measure"]["whiten"] = torch.zeros(3, 3, dtype=torch.float64)
    torch.save(payload, root / "forged-w.ddrid")
    with pytest.raises(ModelFileError, match="whitening"):
        modelfile.load(root / "forged-w.ddrid", "cpu")


@pytest.mark.slow   # in CI's slow tier: the default tier stays under 90 s on 2 cores
def test_the_cell_rule_is_kept_in_the_model_file_and_older_files_keep_theirs(cell_model):
    """AS_cell joins AS_e and AS_m; a file from before the rule was stored joined AS_l too, and still does."""
    import torch

    from ddrcore.errors import ModelFileError
    from ddrcore.model import modelfile
    from ddrcore.model.cellscore import cell_score
    from ddrcore.model.combined import calibration
    from ddrcore.model.scoring import score_patches

    model, test, root = cell_model
    assert model.config.cell_rule == "residual+measure" and "AS_e and the objects'" in model.validation["score_rule"]
    s = run_to_end(score_patches(model, test))
    cal = calibration(model.validation_scores)
    z_e = np.log(np.maximum(s.residual, 1e-12)) - cal["residual"][0]
    z_m = np.log(np.maximum(s.measure, 1e-12)) - model.measure.calibration[0]
    np.testing.assert_allclose(s.cell, (z_e / cal["residual"][1] + z_m / model.measure.calibration[1]) / np.sqrt(2),
                               rtol=1e-4, atol=1e-4)
    path = modelfile.save(model, root / "rule.ddrid")
    assert modelfile.load(path, "cpu").config.cell_rule == "residual+measure"
    payload = torch.load(path, weights_only=True)
    # A file from before AS_m read intensities against the page keeps its raw intensities.
    assert payload["config"].pop("measure_intensity") == "page"
    torch.save(payload, root / "raw-intensities.ddrid")
    assert modelfile.load(root / "raw-intensities.ddrid", "cpu").config.measure_intensity == "raw"
    payload["config"]["measure_intensity"] = "log"
    torch.save(payload, root / "forged-intensity.ddrid")
    with pytest.raises(ModelFileError, match="measure_intensity"):
        modelfile.load(root / "forged-intensity.ddrid", "cpu")
    payload["config"]["measure_intensity"] = "page"
    del payload["config"]["cell_rule"]
    torch.save(payload, root / "older.ddrid")
    older = modelfile.load(root / "older.ddrid", "cpu")
    assert older.config.cell_rule == "latent+residual+measure"
    old_scores = run_to_end(score_patches(older, test))
    np.testing.assert_allclose(old_scores.cell, cell_score(s.latent, s.residual, s.measure, cal,
                                                           model.measure.calibration, "latent+residual+measure"),
                               rtol=1e-4, atol=1e-4)
    assert not np.allclose(old_scores.cell, s.cell)
    # The Detail view's line names the parts this model joins: AS_e or AS_m, never AS_c.
    from ddrcore.model.decomposition import explain

    odd = [src.object_id for src in test.sources].index(13)
    why = explain(model, test.images[odd], source=test.sources[odd]).why
    assert "AS_e and the objects' measurements" in why and "weigh" in why and "(AS_c)" not in why
    # ... on the normals' scale, said as such: the raw AS_e and AS_m beside it have units of their own.
    import re

    zs = re.search(r"\(z (-?[\d.]+) against (-?[\d.]+), in standard deviations of the normals\)", why)
    assert zs is not None and float(zs.group(1)) >= float(zs.group(2)), why
    assert "(AS_c)" in explain(older, test.images[odd], source=test.sources[odd]).why
    for forged in ("latent+latent+code", 7):
        payload["config"]["cell_rule"] = forged
        torch.save(payload, root / "forged-rule.ddrid")
        with pytest.raises(ModelFileError, match="cell_rule"):
            modelfile.load(root / "forged-rule.ddrid", "cpu")


def test_the_csv_names_the_measurements_and_the_threshold_false_positive_rate(cell_model, tmp_path):
    import csv

    from ddrcore.io.export import write_csv
    from ddrcore.model.scoring import score_patches

    model, test, _ = cell_model
    scores = run_to_end(score_patches(model, test))
    path = write_csv(tmp_path / "r.csv", scores, test.sources, model.stamp("m.ddrid"))
    rows = list(csv.DictReader(open(path)))
    assert rows[0]["score_type"] == "AS_cell" and rows[0]["score"] == rows[0]["score_cell"]
    val = model.validation_scores["cell"]
    assert float(rows[0]["threshold_fpr"]) == pytest.approx(np.mean(val >= model.threshold), abs=1e-3)
    assert all(r["solidity"] and r["intensity_max"] and r["touches_border"] == "0" for r in rows)
    assert {r["border"] for r in rows} == {"exclude"} and {r["neighbours"] for r in rows} == {"mask"}


def test_cells_policy_keeps_a_micronucleus_and_masks_the_neighbouring_nucleus(tmp_path):
    img = np.full((96, 96), 100, np.uint16)
    lab = np.zeros((96, 96), np.uint16)
    disc(img, lab, 48, 48, 6, 1000, 1)
    disc(img, lab, 48, 62, 6, 3000, 2)       # a whole nucleus beside it
    disc(img, lab, 38, 48, 1.5, 5000, 3)     # a micronucleus: a quarter of the nucleus's diameter
    cells = centre_patch(tmp_path, "cells", img, lab, neighbours="cells")
    masked = centre_patch(tmp_path, "mask", img, lab, neighbours="mask")
    # Under "cells" the micronucleus is part of the patch and the neighbour is not; "mask" hides both.
    assert 3000 < cells.max() <= 5000
    assert masked.max() <= 1000 + 1e-3
    assert (cells > 1000 + 1e-3).sum() < 60      # the neighbour alone would cover ~200 input pixels
