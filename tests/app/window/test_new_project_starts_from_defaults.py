"""File ▸ New Project forgets the last data set: object size, problems, Detail's contrast histogram (#24, items 2, 8)."""
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import action, choose, find, problems  # noqa: E402

pytestmark = pytest.mark.gui


def test_new_project_does_not_inherit_the_object_size(win):
    from ddrcore.io.images import BadFile, PatchSource

    choose(find(win, "patchingCombo"), "auto")
    find(win, "objectSizeSpin").setValue(85.4)
    win.document.add_problems([BadFile("old.tif", "an error of the last project")])
    assert problems(win)
    # Detail showed a patch of the last project: its contrast histogram holds data.
    win.detail.show_patch(0, PatchSource("old.tif", 0, 0, 0), np.random.default_rng(0).normal(500, 50, (1, 32, 32)))
    assert win.detail.lut.item.plot.getData()[0] is not None
    action(win, "new").trigger()
    s = win.document.patch_settings
    assert s.object_size is None and s.labels_dir is None and s.points is None
    assert find(win, "objectSizeSpin").value() == 0          # "auto": estimated from the new images
    assert problems(win) == [] and not win.problems_dock.isVisible()
    data = win.detail.lut.item.plot.getData()[0]
    assert data is None or len(data) == 0


def test_new_project_forgets_the_last_scores_name_and_loss_axes(win):
    """After New Project the histogram still said "AS_cell" and the loss plots kept the last run's ranges."""
    panel = win.threshold_panel
    panel.set_scores(np.arange(20.0), None, lambda _t: (0, 0), 5.0, "cell")
    assert "AS_cell" in panel.plot.getAxis("bottom").labelText
    train = win.train_panel
    train.ensure_plots()                                         # built when first shown
    for plot in train.family_plots.values():
        plot.setRange(xRange=(0, 500), yRange=(0, 9))           # as a long run leaves them
        assert not any(plot.getViewBox().autoRangeEnabled())
    action(win, "new").trigger()
    assert panel.plot.getAxis("bottom").labelText == "anomaly score"
    assert train.family_plots and all(all(p.getViewBox().autoRangeEnabled()) for p in train.family_plots.values())
