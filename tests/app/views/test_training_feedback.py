"""Training feedback: ETA on one line, labelled loss plots, a reopened model shown as finished (#24 item 12)."""
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import find  # noqa: E402

pytestmark = pytest.mark.gui


def test_eta_never_wraps_between_its_minutes_and_seconds(win):
    from ddrcore.progress import Progress
    from ddrid_gui.views.training_panel import _fmt_seconds

    assert " " not in _fmt_seconds(70) and " " not in _fmt_seconds(4000)
    panel = find(win, "trainPanel")
    panel.add_progress([Progress("pretrain", epoch=1, epochs=3, step=2, steps=10, overall=0.1, elapsed=5.0,
                                 eta=70.0, losses={"L_R": 1.0})])
    text = find(win, "trainStatus").text()
    assert "ETA\u00a01m\u00a010s" in text and "elapsed\u00a00m\u00a005s" in text


def test_every_loss_plot_names_its_x_axis(win):
    panel = find(win, "trainPanel")
    for plot in panel.family_plots.values():
        assert plot.getAxis("bottom").labelText == "training step"


def test_a_loaded_model_shows_a_finished_run_not_empty_bars(win):
    panel = find(win, "trainPanel")
    panel.show_model("Model m.ddrid loaded")
    assert find(win, "stageBar").value() == 100 and find(win, "overallBar").value() == 100
    assert find(win, "stageBar").format() == "trained"
    assert "model file does not keep them" in find(win, "lossHoverLabel").text()


def test_opening_a_project_reads_its_model_in_a_job_not_on_the_gui_thread(win, tmp_path, wait_idle):
    from ddrcore.io import project as projectfile
    from gui import problems

    (tmp_path / "m.ddrid").write_bytes(b"not a model")
    proj = tmp_path / "p.ddridproj"
    projectfile.save(projectfile.Project(inputs=[], model_path=str(tmp_path / "m.ddrid")), str(proj))
    win.open_paths([str(proj)])
    # open_paths returned at once: the model is read by the runner, with a title in the status bar.
    assert win.runner.busy and win.runner.current.kind == "model"
    wait_idle(win, timeout=30_000)
    assert any("m.ddrid" in p and "train again" in p for p in problems(win))
