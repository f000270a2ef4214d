"""Thumbnail contrast: a few saturated nuclei do not darken the rest; the choice is kept with the project (#24 item 14)."""
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import choose, find, save_project  # noqa: E402

pytestmark = pytest.mark.gui


def nuclei(n_dim=30, n_bright=2, size=32):
    """Crops of dim nuclei (peak ~1000 over 200) and a few saturated ones (65535)."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    disc = np.hypot(yy, xx) < size / 4
    out = []
    for k in range(n_dim + n_bright):
        peak = 65535 if k >= n_dim else 1000
        out.append(np.where(disc, peak, 200).astype(np.float32))
    return np.stack(out)[:, None]


def test_per_file_range_follows_most_objects_not_the_saturated_few():
    from ddrid_gui.views.gallery import robust_range, stretch_u8

    images = nuclei()
    lo, hi = robust_range(images, objects=True)
    assert hi[0] <= 1000 * 1.01 and lo[0] == pytest.approx(200)
    # A dim nucleus is drawn bright, not nearly black.
    assert stretch_u8(images[0], lo, hi).max() >= 250
    # Over all pixels (the old rule), the saturated two set the white point and the rest go dark.
    flat_hi = np.percentile(images, 99)
    assert stretch_u8(images[0], lo, [flat_hi]).max() < 20


def test_the_chosen_contrast_is_saved_and_restored(win, qtbot, tmp_path, monkeypatch):
    from ddrcore.io.images import PatchSet, PatchSource
    from ddrid_gui.document import PatchTable
    from gui import open_window

    t = PatchTable(patch_size=32)
    t.add(PatchSet(nuclei(4, 0), [PatchSource(str(tmp_path / "a.tif"), 0, 32 * i, 0) for i in range(4)]))
    win.document.replace_table(t)
    choose(find(win, "contrastBox"), "patch")
    save_project(win, tmp_path / "p.ddridproj", monkeypatch)
    w2 = open_window(qtbot)
    w2.projects.open_project(str(tmp_path / "p.ddridproj"))
    assert find(w2, "contrastBox").currentData() == "patch"
    assert w2.gallery.cache.mode == "patch"
