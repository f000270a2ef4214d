"""The field map outlines the flagged cells, and follows the threshold (issue #26 item 6)."""
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import choose, drop, find, show_source  # noqa: E402

pytestmark = pytest.mark.gui


def _field_on_the_map(win, qtbot, tmp_path, wait_idle, side: int, n: int, size: int, seed: int):
    """A synthetic field of ``n`` blobs loaded as objects of ``size`` px; its page shown on the field map."""
    import tifffile

    from ddrcore.objects.synthetic import make_field

    tifffile.imwrite(tmp_path / "field.tif", make_field((side, side), ("blob",), n=n, size=size, seed=seed).image)
    choose(find(win, "patchingCombo"), "auto")
    find(win, "objectSizeSpin").setValue(size)
    drop(win, [tmp_path])
    wait_idle(win, timeout=30_000)
    return show_source(win, qtbot, 0, (side, side))


def test_flagged_cells_are_outlined_on_the_field(win, tmp_path, wait_idle, qtbot):
    from ddrcore.model.scoring import Scores

    view = _field_on_the_map(win, qtbot, tmp_path, wait_idle, 160, 9, 20, 4)
    doc, t = win.document, win.document.table
    scores = np.linspace(0, 1, len(t)).astype(np.float32)       # patch 0 (selected) lowest
    doc.set_scores(np.arange(len(t)), Scores(latent=scores, recon=scores, score_type="latent", threshold=0.5),
                   keep_threshold=0.5)
    qtbot.wait(50)
    assert view.outline_count("flagged") == int((scores >= doc.threshold).sum())
    find(win, "thresholdSlider").setValue(0.9)
    assert view.outline_count("flagged") == int((scores >= doc.threshold).sum()) < int((scores >= 0.5).sum())


def test_a_label_image_numbered_in_the_billions_is_drawn(win, tmp_path, wait_idle, qtbot):
    # The colour table was as long as the largest id: 2**31 asked for 8.6 GB, 10**12 failed outright.
    import tifffile

    from ddrcore.model.scoring import Scores
    from ddrcore.objects.synthetic import make_field

    f = make_field((160, 160), ("blob",), n=9, size=20, seed=4)
    labels = f.labels.astype(np.int64)
    labels[labels > 0] += 10**12
    tifffile.imwrite(tmp_path / "field.tif", f.image)
    tifffile.imwrite(tmp_path / "field_labels.tif", labels.astype(np.uint64))
    choose(find(win, "patchingCombo"), "labels")
    find(win, "objectSizeSpin").setValue(20)
    drop(win, [tmp_path])
    wait_idle(win, timeout=20_000)
    doc, t = win.document, win.document.table
    assert len(t) and min(s.object_id for s in t.sources) > 10**12
    view = show_source(win, qtbot, 0, (160, 160))
    scores = np.linspace(0, 1, len(t)).astype(np.float32)
    doc.set_scores(np.arange(len(t)), Scores(latent=scores, recon=scores, score_type="latent", threshold=0.5),
                   keep_threshold=0.5)
    qtbot.wait(50)
    assert view.outline_count("flagged") == int((scores >= 0.5).sum()) > 0


def test_a_field_replaced_since_it_was_loaded_says_so(win, tmp_path, wait_idle, qtbot):
    """A file replaced by another image after loading was shown as if it were the field its patches came
    from, with no word (the attack saw a 20 x 20 image under a 128 x 128 field's patches)."""
    import tifffile

    from ddrcore.objects.synthetic import make_field

    tifffile.imwrite(tmp_path / "field.tif", make_field((160, 160), ("blob",), n=9, size=20, seed=4).image)
    choose(find(win, "patchingCombo"), "auto")
    find(win, "objectSizeSpin").setValue(20)
    drop(win, [tmp_path])
    wait_idle(win, timeout=20_000)
    tifffile.imwrite(tmp_path / "field.tif", make_field((48, 48), ("blob",), n=1, size=20, seed=5).image)
    view = show_source(win, qtbot, len(win.document) - 1, (48, 48))
    qtbot.waitUntil(lambda: "changed since it was loaded" in find(view, "sourceTitle").text(), timeout=5000)


def test_the_title_says_how_many_of_the_pages_objects_became_patches(win, tmp_path, wait_idle, qtbot):
    """It said "N objects" over a gallery with fewer (border objects left out) and nothing said why."""
    import tifffile

    img = np.full((120, 120), 10, np.uint16)
    labels = np.zeros((120, 120), np.uint16)
    yy, xx = np.mgrid[:120, :120]
    for k, (cy, cx) in enumerate([(30, 30), (30, 80), (80, 40), (85, 85), (60, 2)], start=1):   # the last: on the edge
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 64
        labels[disc], img[disc] = k, 400 + 20 * k
    tifffile.imwrite(tmp_path / "field.tif", img)
    tifffile.imwrite(tmp_path / "field_labels.tif", labels)
    choose(find(win, "patchingCombo"), "labels")
    find(win, "objectSizeSpin").setValue(16)
    find(win, "borderBox").setCurrentIndex(find(win, "borderBox").findData("exclude"))
    drop(win, [tmp_path])
    wait_idle(win, timeout=20_000)
    assert len(win.document.table) == 4
    view = show_source(win, qtbot, 0, (120, 120))
    qtbot.waitUntil(lambda: "5 objects" in view.title.text(), timeout=5000)
    assert "5 objects (4 cut into patches; the others touch the image edge" in view.title.text()


def test_outlines_zoomed_out_keep_every_pixel_and_zoomed_in_are_full_resolution(win, tmp_path, wait_idle, qtbot):
    """At the fitted zoom of a large field a 1 px outline was drawn to fewer screen pixels and broke into dots."""
    view = _field_on_the_map(win, qtbot, tmp_path, wait_idle, 900, 40, 30, 3)
    qtbot.waitUntil(lambda: view.outline_image.image is not None, timeout=5000)
    view.box.autoRange(padding=0)
    qtbot.wait(50)
    shown = view.outline_image.image
    assert max(view.box.viewPixelSize()) > 1.5                       # the view is far smaller than the page
    assert shown.shape[0] < 900 and (shown[..., 3] > 0).any()
    # Every outline pixel of the page lies in a block that is drawn (none dropped).
    f = -(-900 // shown.shape[0])
    full = view._outlines[..., 3] > 0
    ys, xs = np.nonzero(full)
    assert (shown[ys // f, xs // f, 3] > 0).all()
    view.box.setRange(xRange=(400, 460), yRange=(400, 460), padding=0)
    qtbot.wait(50)
    assert view.outline_image.image.shape[:2] == (900, 900)


def test_an_outline_on_a_saturated_nucleus_is_drawn_dark(win, tmp_path, wait_idle, qtbot):
    """A yellow outline on a saturated (white) nucleus could not be seen; on white it is drawn dark."""
    import tifffile

    from ddrid_gui.views.source_view import COLOURS, DARK_SHADE, _hex

    img = np.full((120, 120), 100, np.uint16)
    labels = np.zeros((120, 120), np.uint16)
    yy, xx = np.mgrid[:120, :120]
    for k, (cy, cx, level) in enumerate([(30, 30, 800), (30, 85, 900), (85, 35, 850), (85, 85, 65535)], start=1):
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 100
        labels[disc], img[disc] = k, level
    tifffile.imwrite(tmp_path / "field.tif", img)
    tifffile.imwrite(tmp_path / "field_labels.tif", labels)
    choose(find(win, "patchingCombo"), "labels")
    find(win, "objectSizeSpin").setValue(20)
    drop(win, [tmp_path])
    wait_idle(win, timeout=20_000)
    view = show_source(win, qtbot, 0, (120, 120))
    qtbot.waitUntil(lambda: view._outlines is not None, timeout=5000)
    out = view._outlines
    yellow = np.array(_hex(COLOURS["objects"]))
    on_bright = out[(labels == 4) & (out[..., 3] > 0)][:, :3]
    on_dim = out[(labels == 2) & (out[..., 3] > 0)][:, :3]            # (1 is the selected patch)
    assert len(on_bright) and len(on_dim)
    assert (on_dim == yellow).all()                                   # on a dim nucleus: its own colour
    assert np.allclose(on_bright, (yellow * DARK_SHADE).astype(np.uint8), atol=1)   # on white: dark


def test_zoomed_out_a_flagged_outline_beside_another_keeps_its_colour():
    """Taking the maximum of each colour channel per block mixed outlines that meet: flagged red beside an
    unscored yellow one came out yellow, red beside green orange."""
    from ddrid_gui.views.source_view import COLOURS, _hex, block_pick

    img = np.zeros((4, 4, 4), np.uint8)
    img[0, :] = (*_hex(COLOURS["objects"]), 255)
    img[1, :] = (*_hex(COLOURS["flagged"]), 255)
    img[2, :] = (*_hex(COLOURS["normal"]), 255)
    img[3, :] = (*_hex(COLOURS["flagged"]), 255)
    rank = np.array([1, 3, 2, 3])[:, None] * np.ones((4, 4), int)
    small = block_pick(img, rank, 2)
    assert (small[..., :3] == _hex(COLOURS["flagged"])).all()        # red wins both blocks, unmixed
