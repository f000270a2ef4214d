"""`ddrid bench real`'s pieces: odd nuclei implanted in place, the train/test halves, the figures."""
import numpy as np
import pytest
import tifffile

from ddrcore.bench.real import figures, natural_odd, prepare, truth_of
from ddrcore.objects.measure import touches_border
from ddrcore.objects.oddities import KINDS, implant, implant_field
from ddrcore.objects.synthetic import make_field


@pytest.fixture
def field():
    return make_field((192, 256), ("blob",), n=24, size=20, seed=3)


def test_implants_change_interior_nuclei_only(field):
    lab = field.labels.astype(np.int64)
    out, kinds, footprint = implant_field(field.image, lab, 0.5, np.random.default_rng(0))
    ids = np.unique(lab)[1:]
    border = set(ids[touches_border(lab, ids)].tolist())
    assert kinds and not (set(kinds) & border)
    assert abs(len(kinds) - 0.5 * (len(ids) - len(border))) <= 1
    changed = out.astype(float) != field.image.astype(float)
    # Nothing outside the changed nuclei's footprints moves; each changed nucleus did change.
    assert not (changed & (footprint == 0)).any()
    assert all(changed[footprint == oid].any() for oid in kinds)
    assert out.dtype == field.image.dtype


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_what_it_says(kind):
    yy, xx = np.mgrid[:64, :64]
    lab = ((yy - 32) ** 2 + (xx - 32) ** 2 <= 144).astype(int)
    img = np.where(lab > 0, 1000.0, 100.0)
    before = img.copy()
    implant(img, lab, 1, kind, np.random.default_rng(1), 100.0)
    inside = lab > 0
    if kind == "condensed":
        assert img.max() > 1500 and (img > 550).sum() < inside.sum()
    elif kind == "hollow":
        assert img[32, 32] < 0.5 * before[32, 32] and img[32, 21] > 0.9 * before[32, 21]
    elif kind == "micronucleus":
        assert (img[~inside] > 300).any() and np.allclose(img[inside & (np.hypot(yy - 32, xx - 32) < 6)], 1000, atol=1)
    elif kind == "fragmented":
        from scipy import ndimage as ndi

        assert ndi.label(img > 550)[1] >= 3      # apart, not one clump
    else:   # textured
        assert img[inside].std() > 100 and abs(img[inside].mean() - 1000) < 300


@pytest.mark.parametrize("kind", ["condensed", "fragmented"])
def test_a_vacated_nucleus_leaves_no_ring_and_no_flat_patch(kind):
    """The glow beyond the mask goes with the nucleus, and vacated pixels carry the background's noise."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:96, :96]
    lab = ((yy - 48) ** 2 + (xx - 48) ** 2 <= 15 ** 2).astype(int)
    # A blurred nucleus (its glow reaches past the mask) on a noisy background.
    img = ndi.gaussian_filter(np.where(lab > 0, 1000.0, 100.0), 1.5) + rng.normal(0, 10, lab.shape)
    implant(img, lab, 1, kind, np.random.default_rng(1), 100.0)
    r = np.hypot(yy - 48, xx - 48)
    ring = (r > 15.5) & (r <= 17)            # just outside the old outline
    assert abs(np.median(img[ring]) - 100) < 40   # before: ~190, the old glow (a fragment may lie on part of it)
    vacated = (r > 13) & (r <= 15) & (img < 300)
    assert vacated.sum() > 20 and img[vacated].std() > 5   # noise like the background's (10), not a flat fill


def test_a_nucleus_in_a_field_tiled_by_labels_is_vacated_to_the_given_background():
    """Whole-cell masks can leave no unlabelled pixel near a nucleus: its old place gets the level passed in."""
    lab = np.ones((12, 12), int)
    lab[:, 8:] = 2                                   # a neighbour; not one free pixel in the window
    img = np.where(lab == 1, 500.0, 300.0)
    implant(img, lab, 1, "condensed", np.random.default_rng(0), 100.0)
    assert (np.abs(img[lab == 1] - 100) < 10).sum() > 0.3 * (lab == 1).sum()   # vacated: about the given 100
    assert np.allclose(img[lab == 2], 300.0)                                    # the neighbour untouched


def test_a_micronucleus_lies_beside_its_nucleus_and_its_footprint_never_claims_a_neighbour():
    """Packed nuclei: the body goes where there is room; a neighbour under its blur stays a normal nucleus."""
    yy, xx = np.mgrid[:60, :80]
    lab = np.zeros((60, 80), int)
    lab[(yy - 30) ** 2 + (xx - 30) ** 2 <= 10 ** 2] = 1
    lab[(yy - 30) ** 2 + (xx - 53) ** 2 <= 10 ** 2] = 2          # 3 px gap on the right
    lab[(yy - 8) ** 2 + (xx - 30) ** 2 <= 7 ** 2] = 3             # and one above
    for seed in range(8):
        start = np.where(lab > 0, 1000.0, 100.0)
        img, kinds, footprint = implant_field(start, lab, 1.0, np.random.default_rng(seed), kinds=("micronucleus",),
                                            exclude=(2, 3))
        assert kinds == {1: "micronucleus"}
        body = (img > 300) & (lab == 0)
        assert body.sum() >= 3                                    # the body is there, on free pixels
        assert (img[lab > 1] < 1000 + 200).all()                 # not on a neighbour (it would brighten it)
        assert not (footprint[lab > 1]).any()                     # before: the blur's tail claimed neighbours


def test_a_thin_nucleus_still_breaks_into_several_fragments():
    from scipy import ndimage as ndi

    yy, xx = np.mgrid[:40, :80]
    lab = ((((yy - 20) / 3.0) ** 2 + ((xx - 40) / 30.0) ** 2) <= 1).astype(int)   # 6 x 60 px
    counts = []
    for seed in range(5):
        img = np.where(lab > 0, 1000.0, 100.0)
        implant(img, lab, 1, "fragmented", np.random.default_rng(seed), 100.0)
        counts.append(ndi.label(img > 400)[1])
    assert min(counts) >= 2


def test_halves_never_share_a_nucleus_and_truth_follows_each_turn(tmp_path, field):
    lab = field.labels.astype(np.int64)
    truth, rounds, n_train, n_test = prepare(field.image, lab, tmp_path, 3, 0.3, seed=1)
    assert rounds == 3 and len(truth) == 3 and n_train > 0 and n_test > 0
    train = tifffile.imread(tmp_path / "train" / "field.tif")
    assert train.shape == (192, 128)
    for path, (tlab, footprint, kinds) in truth.items():
        img = tifffile.imread(path)
        assert img.shape == tlab.shape and set(tlab.shape) == {128, 192}
        # Each anomaly's footprint covers its nucleus, in the turned test field's own coordinates.
        for oid in kinds:
            assert ((tlab == oid) <= (footprint == oid)).all()


def test_a_small_interior_body_is_natural_and_a_small_border_piece_is_not():
    yy, xx = np.mgrid[:100, :130]
    lab = np.zeros(yy.shape, np.int64)
    rng = np.random.default_rng(0)
    centres = [(6 + 20 * i, 10 + 20 * j) for i in range(5) for j in range(6)]       # the first row touches the top
    for k, (cy, cx) in enumerate(centres, 1):
        lab[np.hypot(yy - cy, xx - cx) <= rng.uniform(6.5, 8.0)] = k
    small, cut = 15, 3          # an interior one and one on the top border, each cut to a tenth of its area
    for oid, cy in ((small, centres[small - 1][0]), (cut, 0)):
        lab[(lab == oid) & (np.hypot(yy - cy, xx - centres[oid - 1][1]) > 2.4)] = 0
    img = np.where(lab > 0, 100.0, 10.0)
    assert natural_odd(img, lab).tolist() == [small]


def test_a_field_s_own_bright_nucleus_is_scored_as_natural_and_never_implanted(tmp_path, field):
    lab = field.labels.astype(np.int64)
    img = field.image.copy()
    ids = np.unique(lab)[1:]
    assert natural_odd(img, lab).size == 0        # the synthetic field has none of its own
    # Make one interior nucleus of the right half (the test half at seed 1) four times as bright.
    interior = ids[~touches_border(lab, ids)]
    right = [i for i in interior if np.nonzero(lab == i)[1].min() > 140]
    odd = int(right[0])
    img[lab == odd] = np.clip(img[lab == odd].astype(float) * 4, 0, np.iinfo(img.dtype).max).astype(img.dtype)
    assert natural_odd(img, lab).tolist() == [odd]
    truth, *_ = prepare(img, lab, tmp_path, 3, 0.9, seed=1)
    for path, (tlab, footprint, kinds) in truth.items():
        assert kinds.get(odd) == "natural" and ((tlab == odd) <= (footprint == odd)).all()
        # Never implanted: its pixels are as they were (up to the round's turn).
        assert np.sort(tifffile.imread(path)[tlab == odd]).tolist() == np.sort(img[lab == odd]).tolist()


def test_figures_count_the_top_twenty():
    kinds = np.array(["condensed"] * 15 + ["normal"] * 30 + [""] * 2)
    scores = np.r_[np.arange(15) + 100.0, np.arange(30) * 1.0, [99.0, 98.0]]
    border = np.zeros(47, bool)
    border[15] = True                   # a border normal, scored low
    crowded = np.zeros(47, bool)
    crowded[44] = True                  # the highest-scoring normal is crowded
    f = figures(scores, kinds, border, crowded, threshold=50.0)
    assert f["anomalies_in_top20"] == 15 and f["empty_detections_in_top20"] == 2
    assert f["border_or_crowded_normals_in_top20"] == 1
    assert f["auc"] == 1.0 and f["flagged_anomalies"] == 1.0 and f["flagged_normals"] == 0.0
    # The field's own odd nuclei count as anomalies in the AUC, and are left out of the implanted-only AUC.
    kinds[44] = "natural"
    f = figures(scores, kinds, border, crowded, threshold=50.0)
    assert f["auc_by_kind"]["natural"] == 1.0 and f["auc"] == 1.0 and f["auc_implanted"] == 1.0
    assert f["natural_in_top20"] == 1 and f["anomalies_in_top20"] == 16
    kinds[44], kinds[15] = "normal", "natural"   # a natural one scored lowest of all
    f = figures(scores, kinds, border, crowded, threshold=50.0)
    assert f["auc_implanted"] == 1.0 and f["auc"] < 1.0


def test_truth_of_reads_the_kind_under_each_centre(field):
    from types import SimpleNamespace as S

    lab = field.labels.astype(np.int64)
    oid = int(np.unique(lab)[1])
    footprint = np.where(lab == oid, oid, 0)
    cy, cx = np.argwhere(lab == oid).mean(0)
    truth = {"f.tif": (lab, footprint, {oid: "hollow"})}
    empty = np.argwhere(lab == 0)[0]
    sources = [S(path="f.tif", center_y=cy, center_x=cx, y=int(cy) - 20, x=int(cx) - 20, size=40),
               S(path="f.tif", center_y=float(empty[0]), center_x=float(empty[1]), y=0, x=0, size=40)]
    kinds, _ = truth_of(sources, truth)
    assert kinds.tolist() == ["hollow", ""]


def test_threshold_rules_flag_what_they_say():
    from types import SimpleNamespace

    from ddrcore.bench.real import threshold_alternatives

    val = np.linspace(-1.0, 1.0, 40)
    model = SimpleNamespace(validation_scores={"cell": val}, score_type="cell", training={"n_val": 5})
    kinds = np.array(["normal"] * 100 + ["condensed"] * 10)
    scores = np.r_[np.linspace(-1.0, 1.0, 100), np.full(10, 5.0)]
    rules = threshold_alternatives(model, scores, kinds)
    assert set(rules) == {"quantile 0.95", "mean + 1.645 sd", "prediction bound", "scored: robust z 1.645",
                          "scored: robust z 3"}
    assert abs(rules["quantile 0.95"]["threshold"] - 0.9) < 1e-9
    # Five validation objects make the prediction bound the most cautious of the three.
    assert rules["prediction bound"]["threshold"] > rules["mean + 1.645 sd"]["threshold"] > 0.9
    assert rules["quantile 0.95"]["flagged_anomalies"] == 1.0
    assert 0.04 <= rules["quantile 0.95"]["flagged_normals"] <= 0.06
    assert rules["prediction bound"]["flagged_normals"] == 0.0
    # From the scored objects alone (median and MAD, the anomalies included): Gaussian normals of any scale,
    # whatever the validation normals said, are flagged near 5 % at robust z 1.645 (3.5 % here: the anomalies
    # lift the median) and near 0.1 % at 3.
    from scipy import stats

    normals = 7.0 + 3.0 * stats.norm.ppf(np.linspace(0.0005, 0.9995, 1000))
    kinds = np.array(["normal"] * 1000 + ["condensed"] * 50)
    rules = threshold_alternatives(model, np.r_[normals, np.full(50, 30.0)], kinds)
    assert 0.03 <= rules["scored: robust z 1.645"]["flagged_normals"] <= 0.08
    assert rules["scored: robust z 3"]["flagged_normals"] <= 0.005
    assert rules["scored: robust z 3"]["flagged_anomalies"] == 1.0
    assert rules["quantile 0.95"]["flagged_normals"] > 0.9       # the validation scale was another one
