"""The napari plugin's Qt-free half: cutting a page, the results table, colours, the decomposition picture.

These need neither napari nor Qt, so they run wherever the engine runs.
"""
import numpy as np
import pytest

from ddrcore.objects import Patching
from ddrcore.objects.measure import MEASUREMENTS
from ddrcore.objects.synthetic import make_field
from ddrcore.progress import run_to_end
from ddrid_gui.napari import session as ses


@pytest.fixture(scope="module")
def field():
    return make_field((192, 192), ("blob",), n=14, size=20, seed=2)


def test_a_page_is_cut_from_labels_points_or_detection(field):
    by_labels = ses.cut(ses.Page(field.image, labels=field.labels))
    assert by_labels.patches.patching.source == "labels" and len(by_labels.ids) >= 10
    assert np.array_equal(by_labels.label_image(), field.labels)
    by_points = ses.cut(ses.Page(field.image, points=field.centers, object_size=20))
    assert by_points.patches.patching.object_size == 20
    # Points have no extent: the scores layer shows a disc of the object size around each.
    assert set(np.unique(by_points.label_image())) - {0} <= set(by_points.objects.ids.tolist())
    detected = ses.cut(ses.Page(field.image))
    assert detected.objects.labels is not None and len(detected.ids) >= 10


def test_rgb_with_equal_channels_is_grey_and_colour_is_all_channels(field):
    grey = np.repeat(field.image[..., None], 3, axis=-1)
    assert ses.Page(grey).grey_or_channels()[1] is None
    colour = grey.copy()
    colour[..., 1] //= 2
    assert ses.Page(colour).grey_or_channels()[1] == "all"


def test_normal_rows_follow_the_marked_ids(field):
    c = ses.cut(ses.Page(field.image, labels=field.labels))
    assert len(ses.normal_rows(c)) == len(c.ids)
    assert c.ids[ses.normal_rows(c, [c.ids[0], c.ids[2], 999])].tolist() == [c.ids[0], c.ids[2]]


def test_results_table_has_one_row_per_label(field):
    from types import SimpleNamespace

    lab = field.labels.copy()
    lab[0:3, 0:3] = 99                  # an object at the image edge: left out, so not scored
    c = ses.cut(ses.Page(field.image, labels=lab))
    assert 99 not in c.ids
    scores = SimpleNamespace(score=np.arange(len(c.ids), dtype=float))
    outcome = ses.Outcome(c, model=None, scores=scores, trained=True, normal_ids=c.ids[:3])
    table = ses.results_table(outcome, threshold=len(c.ids) - 2.5)
    assert table["index"].tolist() == sorted(set(np.unique(lab).tolist()) - {0})
    edge = table["index"] == 99
    assert np.isnan(table["score"][edge]).all() and table["rank"][edge].tolist() == [0]
    assert table["is_anomaly"].sum() == 2 and table["rank"][table["score"] == table["score"][~edge].max()] == 1
    assert set(MEASUREMENTS) <= set(table)
    assert (table["role"] == "trained on (normal)").sum() == 3
    colors = ses.score_colors(table)
    assert set(colors) == set(table["index"].tolist()) and colors[99][3] < 1      # unscored: faint grey


def test_an_object_left_out_for_its_pixels_says_so_not_the_image_edge(field):
    from types import SimpleNamespace

    image = field.image.astype(np.float32)
    from ddrcore.objects.measure import touches_border

    inner = [k for k in np.unique(field.labels) if k and not touches_border(field.labels, [k])[0]]
    image[field.labels == inner[0]] = np.inf                   # e.g. a layer after a division by zero
    c = ses.cut(ses.Page(image, labels=field.labels))
    assert inner[0] not in c.ids
    table = ses.results_table(ses.Outcome(c, None, SimpleNamespace(score=np.zeros(len(c.ids)))), 0.5)
    assert table["role"][table["index"] == inner[0]].tolist() == ["not scored (NaN or infinite pixels)"]
    # With edge objects cut (border "include"), one left out at the edge was left out for its pixels too.
    labels, edge = field.labels.copy(), 999
    labels[0:5, 80:95] = edge
    image[labels == edge] = np.inf
    c = ses.cut(ses.Page(image, labels=labels), Patching("labels", object_size=20, border="include"))
    table = ses.results_table(ses.Outcome(c, None, SimpleNamespace(score=np.zeros(len(c.ids)))), 0.5)
    assert table["role"][table["index"] == edge].tolist() == ["not scored (NaN or infinite pixels)"]


def test_label_ids_past_int64_are_refused_in_one_line(field):
    """napari allows uint64 labels; ids of 2**63 or more failed deep in the measurements (IndexError)."""
    from ddrcore.errors import DdridError

    lab = field.labels.astype(np.uint64)
    lab[lab > 0] += np.uint64(2 ** 63)
    with pytest.raises(DdridError, match="above 2\\*\\*63 - 1"):
        ses.cut(ses.Page(field.image, labels=lab))


def test_decomposition_panels_and_colorbar_are_rgb():
    raw = np.random.default_rng(0).normal(100, 10, (1, 32, 32))
    panels = ses.decomposition_panels(raw, raw * 0.9, raw * 0.1, scale=2)
    assert len(panels) == len(ses.PANELS) and all(p.shape == (64, 64, 3) and p.dtype == np.uint8 for p in panels)
    # A residual of noise alone stays pale; one as strong as the object is full colour.
    faint = ses.decomposition_panels(raw, raw, np.full_like(raw, 0.5), scale=1)[2]
    strong = ses.decomposition_panels(raw, raw, np.full_like(raw, 40.0), scale=1)[2]
    assert faint.min() > 200 and strong[..., 1].max() < 100
    assert ses.colorbar(width=50, height=4).shape == (4, 50, 3)


def test_throttled_keeps_every_stage_and_the_result():
    from ddrcore.progress import Progress

    def job():
        for stage in ("a", "a", "a", "b"):
            yield Progress(stage)
        return 7

    seen = []
    assert run_to_end(ses.throttled(job(), interval=60), seen.append) == 7
    assert [p.stage for p in seen] == ["a", "b"]


@pytest.mark.slow
def test_train_then_score_with_the_saved_model(field, tmp_path):
    from ddrcore.model import modelfile

    page = ses.Page(field.image, labels=field.labels)
    trained = run_to_end(ses.train_job(page, ses.MIN_EPOCHS))
    assert trained.trained and len(trained.normal_ids) == len(trained.cut.ids)
    path = modelfile.save(trained.model, tmp_path / "m.ddrid")
    again = run_to_end(ses.score_job(page, modelfile.load(path, device="cpu")))
    np.testing.assert_allclose(again.scores.score, trained.scores.score, rtol=1e-4, atol=1e-5)
    ex = ses.explain_object(trained, int(trained.cut.ids[0]))
    assert ex.raw.shape == ex.x_c.shape == ex.x_n.shape
