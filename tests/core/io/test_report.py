"""PNG/PDF report: written atomically, readable, refuses bad input."""
import numpy as np
import pytest

from ddrcore.io.images import PatchSource
from ddrcore.io.report import display_u8, montage, write_report


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(1000, 50, (n, 1, 32, 32)).astype(np.float32)
    scores = rng.gamma(2.0, 1.0, n)
    sources = [PatchSource(f"/data/img_{i:03d}.tif", 0, 0, 0) for i in range(n)]
    normal = np.arange(n) < n // 2
    return scores, images, sources, normal


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_report_written(tmp_path, suffix, magic):
    scores, images, sources, normal = _data()
    out = write_report(tmp_path / f"report{suffix}", scores, 2.0, images, sources, normal,
                       settings={"model": "m.ddrid", "seed": 0}, score_label="AS_l")
    assert out.read_bytes()[:4] == magic
    assert [p.name for p in tmp_path.iterdir()] == [f"report{suffix}"]


def test_report_refuses_unknown_suffix_and_mismatch(tmp_path):
    scores, images, sources, normal = _data()
    with pytest.raises(ValueError, match=".png or .pdf"):
        write_report(tmp_path / "r.txt", scores, 1.0, images, sources)
    with pytest.raises(ValueError, match="do not match"):
        write_report(tmp_path / "r.png", scores[:-1], 1.0, images, sources)
    assert list(tmp_path.iterdir()) == []


def test_report_few_patches_and_infinite_threshold(tmp_path):
    scores, images, sources, _ = _data(n=3)
    out = write_report(tmp_path / "r.png", scores, float("inf"), images, sources)
    assert out.stat().st_size > 1000


def test_display_u8_per_patch_contrast():
    dim = np.linspace(0, 10, 32 * 32, dtype=np.float32).reshape(1, 1, 32, 32)
    bright = dim * 1000 + 60000
    out = display_u8(np.concatenate([dim, bright]))
    assert out.shape == (2, 32, 32) and out.dtype == np.uint8
    # Both patches use the full display range despite very different intensities.
    assert out[0].min() == 0 and out[0].max() == 255
    np.testing.assert_array_equal(out[0], out[1])
    assert display_u8(np.ones((32, 32))).max() == 0  # constant patch: no division by zero
    assert display_u8(np.zeros((2, 3, 8, 8))).shape == (2, 8, 8, 3)


def test_montage_shape():
    tiles = np.zeros((5, 8, 8), np.uint8)
    assert montage(tiles, 4, gap=2).shape == (8 * 2 + 2, 8 * 4 + 6)


def test_scale_bar_only_when_every_shown_patch_knows_its_pixel_size():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddrcore.io.report import _scale_bar

    known = [PatchSource("/d/a.tif", 0, 0, 0, size=64, pixel_size=(0.5, 0.5)) for _ in range(3)]
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((32, 32)))
    assert _scale_bar(ax, known, 32, 32)
    # 32 tile px = 64 image px = 32 µm: the bar is 10 µm (the longest 1-2-5 length within 40 %).
    assert any(t.get_text() == "10 µm" for t in ax.texts)
    assert not _scale_bar(ax, known + [PatchSource("/d/b.tif", 0, 0, 0, size=64)], 32, 32)
    plt.close(fig)


def test_report_with_pixel_sizes_is_written(tmp_path):
    scores, images, sources, normal = _data()
    sources = [PatchSource(s.path, 0, 0, 0, size=32, pixel_size=(0.2, 0.2)) for s in sources]
    out = write_report(tmp_path / "r.png", scores, 2.0, images, sources, normal, score_label="AS_l")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_few_scored_patches_are_split_between_the_montages_not_shown_twice(tmp_path):
    from ddrcore.io.report import montage_rows

    for n in (1, 2, 6, 23, 24, 100):
        top, bottom = montage_rows(np.arange(n)[::-1], 12)
        assert not set(top.tolist()) & set(bottom.tolist())
        assert len(top) == min(12, (n + 1) // 2 if n < 24 else 12) and len(bottom) == min(len(top), n - len(top))
    scores, images, sources, _ = _data(n=1)
    assert write_report(tmp_path / "one.png", scores, 0.5, images, sources).stat().st_size > 1000
