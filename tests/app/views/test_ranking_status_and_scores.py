"""Ranking, counts, histogram, tiles and scores as a biologist reads them (issue #24 items 6, 7, 9, 10; #26).

A table with scores is injected with a stand-in model, so no training runs here.
"""
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import find  # noqa: E402

pytestmark = pytest.mark.gui


def object_table(n=8, border=(), scored=True, used=()):
    from ddrcore.io.images import PatchSet, PatchSource
    from ddrcore.model.scoring import Scores
    from ddrcore.objects import Patching
    from ddrid_gui.document import PatchTable

    t = PatchTable(patch_size=40)
    t.set_patching(Patching("auto", object_size=20.0, border="flag"))
    images = np.random.default_rng(0).normal(100, 10, (n, 1, 32, 32)).astype(np.float32)
    sources = [PatchSource("/data/field_long_name_01.tif", 0, 40 * i, 0, object_id=i + 1, center_y=40 * i + 20.0,
                           center_x=20.0, size=40, touches_border=i in border) for i in range(n)]
    t.add(PatchSet(images, sources))
    if scored:
        v = np.arange(n, dtype=np.float32)     # patch n-1 scores highest
        t.set_scores(np.arange(n), Scores(latent=v, recon=v, combined=v / 2, measure=v / 3, cell=v,
                                          score_type="cell", threshold=5.0))
    if len(used):
        t.set_used(np.asarray(used), [])
    return t


def stand_in_model(threshold=5.0, validation=(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)):
    return SimpleNamespace(threshold=threshold, score_type="cell", validation_scores={"cell": np.asarray(validation)},
                           incompatibility=lambda *a, **k: "")


def install(win, table, model=True):
    if model:
        win.document.set_model(stand_in_model(), None)
    win.document.replace_table(table)
    win.show_gallery()


def test_an_excluded_patch_never_ranks_counts_or_is_called_flagged(win, qtbot):
    from ddrid_gui.document import EXCLUDED

    install(win, object_table())
    top = 7                                       # the highest score
    win.document.mark([top], EXCLUDED)
    qtbot.wait(200)                               # the debounced re-filter
    order = win.document.view_order("score")
    assert order[0] != top and order[-1] == top   # after every ranked patch
    assert win.document.counts()["flagged"] == 2  # 5 and 6 at threshold 5, not the excluded 7
    win.views.show_detail(top)
    text = win.detail.scores.text()
    assert "excluded: not ranked" in text and "flagged" not in text
    tip = win.gallery.model().data(win.gallery.model().index(len(order) - 1), 3)
    assert "excluded" in tip


def test_after_training_on_everything_loaded_the_panels_say_so(win):
    install(win, object_table(used=range(8)))
    label = find(win, "flaggedLabel").text()
    assert "No scores yet" not in label and "used to train or validate" in label
    counts = find(win, "countsLabel").text()
    assert "0 flagged of 0 scored" not in counts.replace("<b>", "").replace("</b>", "")
    assert "used in training" in counts


def test_status_counts_flagged_of_scored(win):
    install(win, object_table())
    counts = find(win, "countsLabel").text()
    assert "<b>3</b> flagged</span> of 8 scored" in counts       # 5, 6, 7 at threshold 5


def test_the_histogram_legend_is_outside_the_plot_and_the_y_axis_has_room(win):
    install(win, object_table())
    panel = find(win, "thresholdPanel")
    assert panel.plot.getPlotItem().legend is None                 # nothing drawn over the bars
    assert "marked normal" in find(win, "histogramLegend").text()
    assert panel.plot.getAxis("left").width() >= 40


def test_tiles_show_id_and_file_before_scoring_and_tooltips_give_the_ranking_score(win):
    from ddrid_gui.views.gallery import TileDelegate

    t = object_table(scored=False)
    install(win, t, model=False)
    top, bottom = TileDelegate.tile_texts(t, 2)
    assert top == "#3" and bottom == "field_long_name_01"        # both lines, nothing cut to "…"
    t2 = object_table()
    install(win, t2)
    top, bottom = TileDelegate.tile_texts(t2, 7)
    assert top == "7" and bottom.startswith("#8")
    m = win.gallery.model()
    tip = m.data(m.index(0), 3)
    assert tip.splitlines()[2].startswith("AS_cell 7 (ranks the patches)")
    assert "AS_c 3.5" in tip and "AS_m 2.333" in tip


def test_the_threshold_shows_its_false_positive_rate_on_validation_normals(win):
    install(win, object_table())
    panel = find(win, "thresholdPanel")
    panel.set_threshold(5.0)
    # validation cell scores 0..9: 5 of 10 at or above 5 (as the ranked CSV's threshold_fpr)
    assert find(win, "thresholdFprLabel").text().startswith("50.0 %")
    panel.set_threshold(6.5)
    assert find(win, "thresholdFprLabel").text().startswith("30.0 %")
    # Validation objects scored in several views: the label says over how many objects, and in how many views
    # ("12.5 %" of two objects is no whole number of them).
    panel.set_validation(0.625 * np.arange(16.0), objects=2)
    panel.set_threshold(8.75)
    share = float(np.mean(0.625 * np.arange(16.0) >= panel.threshold()))
    assert 0 < share < 1
    assert find(win, "thresholdFprLabel").text() == \
        f"{100 * share:.1f} % of validation normals above (2 in 8 views each)"
    panel.set_validation(np.arange(10.0), objects=10)
    share = float(np.mean(np.arange(10.0) >= panel.threshold()))
    assert find(win, "thresholdFprLabel").text() == f"{100 * share:.1f} % of validation normals above (10)"


def test_robust_z_sets_the_threshold_from_the_scored_patches_themselves(win):
    from ddrcore.model.scoring import Scores

    table = object_table(n=40, scored=False)
    v = np.r_[np.linspace(0.0, 10.0, 36), [30.0, 35.0, 40.0, 45.0]].astype(np.float32)   # 36 normal, 4 odd
    table.set_scores(np.arange(40), Scores(latent=v, recon=v, combined=v, measure=v, cell=v, score_type="cell",
                                           threshold=5.0))
    install(win, table)
    button = find(win, "robustThresholdButton")
    assert button.isEnabled()
    button.click()
    med = float(np.median(v))
    expected = med + 1.645 * 1.4826 * float(np.median(np.abs(v - med)))
    assert 10.0 < expected < 30.0
    assert find(win, "thresholdPanel").threshold() == pytest.approx(expected, abs=0.01)
    assert find(win, "flaggedLabel").text().startswith("<b>4</b> of 40")
    find(win, "thresholdPanel").default_button.click()
    assert find(win, "thresholdPanel").threshold() == pytest.approx(5.0, abs=0.01)


def test_robust_z_waits_for_ten_scored_patches(win):
    install(win, object_table(n=8))
    button = find(win, "robustThresholdButton")
    assert not button.isEnabled()
    assert button.toolTip().startswith("Not available: it needs at least 10 scored patches")   # says why


def test_border_objects_are_marked_in_tooltip_and_detail(win):
    install(win, object_table(border=(7,)))
    m = win.gallery.model()
    assert "touches the image border" in m.data(m.index(0), 3)    # patch 7 ranks first
    win.views.show_detail(7)
    assert "touches the image border" in win.detail.title.text()
    assert "AS_cell" in win.detail.scores.text() and "AS_m" in win.detail.scores.text()
