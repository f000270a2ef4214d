"""Detail shows the object as it is in the image (native resolution) beside the network's input (#24 item 4)."""
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gui import choose, drop, find  # noqa: E402

pytestmark = pytest.mark.gui


def test_detail_shows_the_native_crop_and_names_the_network_input_size(win, tmp_path, wait_idle, qtbot):
    import tifffile

    from ddrcore.objects.synthetic import make_field

    f = make_field((160, 160), ("blob",), n=8, size=24, seed=3)
    tifffile.imwrite(tmp_path / "field.tif", f.image)
    choose(find(win, "patchingCombo"), "auto")
    find(win, "objectSizeSpin").setValue(24)
    drop(win, [tmp_path])
    wait_idle(win, timeout=20_000)
    t = win.document.table
    assert len(t) and t.patch_size == 48 and t.images.shape[-1] == 64     # a crop over 32 px goes to 64
    win.views.show_detail(0)
    detail = find(win, "detailView")
    qtbot.waitUntil(lambda: detail.native_item.image is not None, timeout=10_000)
    assert detail.native_item.image.shape == (48, 48)              # the crop, not the 64 px input
    src = t.sources[0]
    page = f.image.astype(float)
    y0, x0 = max(src.y, 0), max(src.x, 0)
    assert detail.native_item.image[y0 - src.y, x0 - src.x] == pytest.approx(page[y0, x0])
    assert "native 48 px" in detail.native_label.text
    assert "model input 64 px (masked)" in detail.labels[3].text


def test_a_crop_past_the_image_edge_is_blank_there_not_black(win, qtbot):
    """Past the edge the native crop was drawn at its darkest level, which read as dark image."""
    import numpy as np

    detail = find(win, "detailView")
    crop = np.full((20, 20), 500.0, np.float32)
    crop[:, :6] = np.nan                                   # the object lies at the left edge of its image
    detail.show_native(crop, 20)
    item = detail.native_item
    item.render()
    q = item.qimage
    assert (q.pixel(2, 10) >> 24) & 0xFF == 0 and (q.pixel(12, 10) >> 24) & 0xFF == 255   # transparent / opaque
    assert "past the image's edge" in detail.native_label.toolTip()
