"""The ddrid dock in a headless napari viewer (napari's make_napari_viewer fixture, offscreen Qt).

Skipped, with the reason, where the napari extra is not installed.
"""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("napari", reason="napari is not installed; pip install -e '.[napari]' to test the plugin")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (the gui-test extra)")

from ddrcore.objects.synthetic import make_field


@pytest.fixture
def field():
    return make_field((192, 192), ("blob",), n=14, size=20, seed=2)


@pytest.fixture
def opengl(qapp):
    """napari draws with OpenGL: skip, saying how to get it, where Qt cannot make a context."""
    from qtpy.QtGui import QOffscreenSurface, QOpenGLContext

    context, surface = QOpenGLContext(), QOffscreenSurface()
    surface.create()
    ok = context.create() and context.makeCurrent(surface)
    if ok:
        context.doneCurrent()
    else:
        pytest.skip("no OpenGL context for napari's canvas (Qt's offscreen platform needs an X display for it: "
                    "run under xvfb-run, or set DISPLAY to an Xvfb server)")


@pytest.fixture
def viewer(opengl, make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def dock(viewer, field):
    from ddrid_gui.napari.widget import DdridWidget

    viewer.add_image(field.image, name="nuclei")
    viewer.add_labels(field.labels, name="nuclei labels")
    widget = DdridWidget(viewer)
    viewer.window.add_dock_widget(widget, name="ddrid")
    return viewer, widget


def wait_done(qtbot, widget, seconds=300):
    qtbot.waitUntil(lambda: not widget.busy, timeout=seconds * 1000)


def test_manifest_declares_the_dock_and_the_samples():
    import npe2

    from ddrid_gui.napari import sample

    manifest = npe2.PluginManifest.from_distribution("ddrid")
    assert manifest.name == "ddrid"
    assert [w.command for w in manifest.contributions.widgets] == ["ddrid.dock"]
    assert {s.key for s in manifest.contributions.sample_data} == {"synthetic_nuclei", "demo_field"}
    (image, _meta, kind), (labels, meta, kind2) = sample.synthetic_nuclei()
    assert (kind, kind2) == ("image", "labels") and labels.shape == image.shape
    assert set(meta["features"]["truth"]) == {"normal", "anomaly"}
    assert sample.demo_field()[0][0].shape == (128, 128)


@pytest.mark.slow   # a napari viewer each (an X display, ~2 s): the slow tier, which CI runs under Xvfb
def test_dock_lists_layers_and_names_its_widgets(dock):
    viewer, w = dock
    from qtpy.QtWidgets import QPushButton, QSlider, QSpinBox

    assert w.image_combo.objectName() == "imageLayerCombo" and w.image_combo.currentText() == "nuclei"
    items = [w.objects_combo.itemText(i) for i in range(w.objects_combo.count())]
    assert w.objects_combo.objectName() == "objectsLayerCombo" and items == ["nuclei labels", "detect"]
    for name in ("trainButton", "scoreButton", "cancelButton", "saveModelButton", "loadModelButton"):
        assert w.findChild(QPushButton, name) is not None, name
    assert w.findChild(QSlider, "thresholdSlider") is not None
    assert "epoch" in w.findChild(QSpinBox, "epochSpin").objectName().lower()
    viewer.add_points(np.array([[10.0, 10.0]]), name="centres")
    assert "centres" in [w.objects_combo.itemText(i) for i in range(w.objects_combo.count())]


@pytest.mark.slow   # a napari viewer each (an X display, ~2 s): the slow tier, which CI runs under Xvfb
def test_nothing_to_train_on_is_said_in_one_line(viewer):
    from ddrid_gui.napari.widget import DdridWidget

    w = DdridWidget(viewer)
    w.train_button.click()
    assert "add an image layer" in w.status.text() and not w.busy


@pytest.mark.slow
def test_train_score_threshold_and_model_files(dock, qtbot, field, tmp_path):
    viewer, w = dock
    w.objects_combo.setCurrentText("nuclei labels")
    w.epoch_spin.setValue(w.epoch_spin.minimum())         # the shortest schedule
    w.train_button.click()
    assert w.busy and w.cancel_button.isEnabled()
    wait_done(qtbot, w)
    assert "Trained on" in w.status.text(), w.status.text()

    layer = viewer.layers["ddrid scores"]
    features = layer.features
    labels = sorted(set(np.unique(field.labels).tolist()) - {0})
    assert features["index"].tolist() == labels                 # one row per label ...
    assert np.isfinite(features["score"]).all()                 # ... each with its score (none at the edge here)
    assert sorted(features["rank"]) == list(range(1, len(labels) + 1))
    assert {"is_anomaly", "area", "solidity", "intensity_mean"} <= set(features.columns)
    flagged = viewer.layers["ddrid anomalies"]
    assert set(np.unique(flagged.data)) - {0} == set(features["index"][features["is_anomaly"]])

    # The threshold slider at its lowest flags every object; at its highest the top one only, or none
    # where the model's own threshold lies above every score (the slider's range includes it).
    w.threshold_slider.setValue(0)
    assert layer.features["is_anomaly"].all()
    w.threshold_slider.setValue(w.threshold_slider.maximum())
    top_only = int(features["score"].max() >= w.threshold)
    assert layer.features["is_anomaly"].sum() == top_only

    # Robust z: the threshold from these objects' own scores (median + 1.645 robust sd), flags as it says.
    from ddrcore.model.thresholds import robust_threshold

    if w.robust_button.isEnabled():
        w.robust_button.click()
        expected = robust_threshold(layer.features["score"].to_numpy())
        assert w.threshold == pytest.approx(expected)
        assert (layer.features["is_anomaly"] == (layer.features["score"] >= expected)).all()
    else:
        assert np.isfinite(features["score"]).sum() < 10

    # Selecting an object shows its input | X_C | X_N (| input - X_C) and circles it in the field.
    top = int(features["index"][features["rank"] == 1].iloc[0])
    layer.selected_label = top
    assert all(not panel.pixmap().isNull() for panel in w.panels) and f"Object {top}" in w.object_title.text()
    centre = features[features["index"] == top][["center_y", "center_x"]].to_numpy()
    np.testing.assert_allclose(viewer.layers["ddrid selected object"].data[:, -2:], centre)

    # The model file is the app's and the CLI's; a loaded model scores the same.
    path = w.save_model(tmp_path / "dock")
    assert path.suffix == ".ddrid" and path.is_file()
    before = layer.features["score"].to_numpy()
    w.model = None
    w.load_model(path)
    w.score_button.click()
    wait_done(qtbot, w)
    np.testing.assert_allclose(viewer.layers["ddrid scores"].features["score"].to_numpy(), before, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.slow
def test_cancel_keeps_the_previous_state(dock, qtbot):
    viewer, w = dock
    w.objects_combo.setCurrentText("detect")
    w.epoch_spin.setValue(50)
    w.train_button.click()
    qtbot.waitUntil(lambda: w._bar is not None and w._bar.n > 0, timeout=120_000)
    w.cancel_button.click()
    wait_done(qtbot, w)
    assert w.model is None and "ddrid scores" not in viewer.layers
    assert "Cancel" in w.status.text()


@pytest.mark.slow   # a napari viewer each (an X display, ~2 s): the slow tier, which CI runs under Xvfb
def test_marking_normals_takes_the_selected_label(dock):
    viewer, w = dock
    w.objects_combo.setCurrentText("nuclei labels")
    viewer.layers["nuclei labels"].selected_label = 3
    w.mark_button.click()
    viewer.layers["nuclei labels"].selected_label = 5
    w.mark_button.click()
    assert w.marked == {3, 5} and w.only_marked.isChecked() and "3, 5" in w.marks_label.text()
    w.clear_marks.click()
    assert not w.marked and not w.only_marked.isChecked()
