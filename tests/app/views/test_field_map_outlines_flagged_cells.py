"""The field map outlines the flagged cells, and follows the threshold (issue #26 item 6)."""
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import choose, drop, find, show_source  # noqa: E402

pytestmark = pytest.mark.gui


def test_flagged_cells_are_outlined_on_the_field(win, tmp_path, wait_idle, qtbot):
    import tifffile

    from ddrcore.model.scoring import Scores
    from ddrcore.objects.synthetic import make_field

    tifffile.imwrite(tmp_path / "field.tif", make_field((160, 160), ("blob",), n=9, size=20, seed=4).image)
    choose(find(win, "patchingCombo"), "auto")
    find(win, "objectSizeSpin").setValue(20)
    drop(win, [tmp_path])
    wait_idle(win, timeout=20_000)
    doc, t = win.document, win.document.table
    view = show_source(win, qtbot, 0, (160, 160))
    scores = np.linspace(0, 1, len(t)).astype(np.float32)       # patch 0 (selected) lowest
    doc.set_scores(np.arange(len(t)), Scores(latent=scores, recon=scores, score_type="latent", threshold=0.5),
                   keep_threshold=0.5)
    qtbot.wait(50)
    assert view.outline_count("flagged") == int((scores >= doc.threshold).sum())
    find(win, "thresholdSlider").setValue(0.9)
    assert view.outline_count("flagged") == int((scores >= doc.threshold).sum()) < int((scores >= 0.5).sum())
