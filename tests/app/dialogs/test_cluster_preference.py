"""Scoring from the desktop app on a Dask cluster: the preference, and the job it runs."""
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


@pytest.mark.slow   # in CI's slow tier: the default tier stays near 90 s
def test_preference_refuses_a_bad_address_and_keeps_a_good_one(qtbot):
    from ddrid_gui.dialogs.preferences import PreferencesDialog, scoring_cluster

    dlg = PreferencesDialog()
    qtbot.addWidget(dlg)
    dlg.scheduler.setText("tcp://node7")           # no port
    dlg.accept()
    assert dlg.result() == 0 and "HOST:PORT" in dlg.problem.text()
    assert scoring_cluster() == ""
    dlg.scheduler.setText("node7:8786")
    dlg.accept()
    assert dlg.problem.text() == "" and scoring_cluster() == "node7:8786"


def test_preferences_action_is_in_the_edit_menu(win):
    titles = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    entries = [a.text().replace("&", "") for a in titles["Edit"].actions()]
    assert "Preferences…" in entries


@pytest.mark.slow   # starts a local Dask cluster
def test_cluster_job_gives_the_local_scores_of_the_chosen_patches(tiny_model, test_dir, tmp_path):
    pytest.importorskip("distributed")
    from ddrcore.io.images import load_patches
    from ddrcore.model import modelfile
    from ddrcore.model.scoring import score_patches
    from ddrcore.progress import run_to_end

    from ddrid_gui.jobs.tasks import score_indices_on_cluster

    path = tmp_path / "m.ddrid"
    modelfile.save(tiny_model, path)
    patches = run_to_end(load_patches(test_dir, tiny_model.config.patch_size, tiny_model.input_size))
    todo = np.array([1, 4, 7, 10])
    local = run_to_end(score_patches(tiny_model, patches.images[todo]))
    result = run_to_end(score_indices_on_cluster(tiny_model, str(path), patches.sources, todo,
                                                 tiny_model.config.patching(), "local:1"))
    order = np.argsort(result.indices)
    assert result.indices[order].tolist() == todo.tolist()
    assert np.allclose(result.scores.latent[order], local.latent, rtol=1e-5)
    assert np.allclose(result.scores.recon[order], local.recon, rtol=1e-5)
    assert result.problems == []
