"""A model that ranks by AS_cell, end to end in the window: objects → train → ranked by AS_cell → CSV and report
(issue #26 item 6; #24 item 11: objects named by id and centre, a CSV before saving names a lasting model)."""
import csv

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import action, answer_save_dialog, choose, drop, export_csv, find  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_train_on_objects_rank_by_cell_score_and_export(win, tmp_path, wait_idle, monkeypatch, qtbot):
    import tifffile

    from ddrcore.model.cellscore import cell_score
    from ddrcore.model.combined import calibration
    from ddrcore.objects.synthetic import make_field
    from ddrid_gui.document import NORMAL

    folder = tmp_path / "fields"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"f{i}.tif", make_field((192, 192), ("blob",), n=14, size=20, seed=i).image)
    choose(find(win, "patchingCombo"), "auto")
    find(win, "objectSizeSpin").setValue(20)
    drop(win, [folder])
    wait_idle(win, timeout=30_000)
    doc = win.document
    doc.mark(np.arange(len(doc) - 6), NORMAL)          # most objects normal; a few left to screen
    p = win.train_panel
    p.pretrain.setValue(1)
    p.finetune.setValue(1)
    p.batch.setValue(8)
    find(win, "trainButton").click()
    wait_idle(win, timeout=240_000)
    model, t = doc.model, doc.table
    assert model is not None and model.score_type == "cell" and t.score_type == "cell"
    shown = doc.view_order("score")
    assert len(shown) and np.isfinite(t.cell[shown]).all() and np.isfinite(t.measure[shown]).all()
    assert list(shown) == sorted(shown, key=lambda i: -t.cell[i])               # ranked by AS_cell
    # The app's AS_cell is ddrcore's: the model's parts (AS_e and AS_m) on its validation scale.
    np.testing.assert_allclose(t.cell[shown], cell_score(t.latent[shown], t.residual[shown], t.measure[shown],
                                                         calibration(model.validation_scores),
                                                         model.measure.calibration, model.config.cell_rule),
                               rtol=1e-4, atol=1e-4)
    tip = win.gallery.model().data(win.gallery.model().index(0), 3)
    assert "AS_cell" in tip and "(ranks the patches)" in tip and "AS_c " in tip and "AS_m " in tip
    fpr_text = find(win, "thresholdFprLabel").text()
    n_val = len(model.training["val_indices"])
    assert "% of validation normals above" in fpr_text and (f"({n_val})" in fpr_text
                                                            or f"({n_val} in 8 views each)" in fpr_text), fpr_text

    out = tmp_path / "out" / "ranked.csv"
    out.parent.mkdir()
    export_csv(win, out, monkeypatch)
    rows = list(csv.DictReader(out.open()))
    assert rows and rows[0]["score_type"] == "AS_cell" and rows[0]["score_cell"] and rows[0]["score_measure"]
    assert all(r["object_id"] and r["center_y"] for r in rows)
    # Unsaved project: the model lives in the autosave folder; the CSV names a copy beside it instead.
    assert {r["model"] for r in rows} == {"ranked.ddrid"} and (out.parent / "ranked.ddrid").is_file()

    from ddrcore.io.report import patch_label
    src = t.sources[int(shown[0])]
    assert "#" in patch_label(src, "", objects=True) and f"y {src.center_y:.0f}" in patch_label(src, "", True)
    answer_save_dialog(monkeypatch, tmp_path / "out" / "report.png")
    action(win, "export_report").trigger()
    wait_idle(win)
    assert (tmp_path / "out" / "report.png").is_file()

    # Saved and reopened from the patches and scores kept beside the project: ranked by AS_cell as before
    # (the cache used to keep four of the six score columns, and the reopened project ranked nothing).
    from ddrcore.io import patchcache
    from gui import open_window

    project = tmp_path / "out" / "screen.ddridproj"
    assert win.projects.save_to(str(project)) and patchcache.cache_path(project).is_file()
    before = t.cell.copy()
    again = open_window(qtbot)
    again.projects.open_project(str(project))
    wait_idle(again)
    t2 = again.document.table
    assert again.document.scored and t2.score_type == "cell"
    np.testing.assert_array_equal(t2.cell, before)
    assert list(again.document.view_order("score")) == list(shown)
    again.close()
