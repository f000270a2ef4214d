import os

import numpy as np
import pytest
import tifffile

from ddrcore.errors import ImageReadError, NoUsableImagesError
from ddrcore.io.images import find_images, load_patches, pad_to, read_file_patches, tile_origins
from ddrcore.io.reading import read_planes, select_channels
from ddrcore.progress import Progress, run_to_end


def test_native_bit_depth_is_kept(tmp_path):
    for dtype, value in [(np.uint8, 200), (np.uint16, 60000), (np.float32, 3.25), (np.int16, -1200)]:
        img = np.zeros((32, 32), dtype)
        img[3, 4] = value
        p = tmp_path / f"img_{np.dtype(dtype).name}.tif"
        tifffile.imwrite(p, img)
        planes = read_planes(p)
        assert planes.dtype == np.dtype(dtype)
        assert planes.shape == (1, 32, 32, 1)
        arr, src, _ = read_file_patches(p)
        assert arr.dtype == np.float32 and arr[0, 0, 3, 4] == pytest.approx(float(value))


def test_multipage_each_page_is_a_patch(tmp_path, rng):
    stack = rng.integers(0, 4000, (5, 32, 32)).astype(np.uint16)
    p = tmp_path / "stack.tif"
    tifffile.imwrite(p, stack)
    arr, src, _ = read_file_patches(p)
    assert arr.shape == (5, 1, 32, 32)
    assert [s.page for s in src] == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(arr[3, 0], stack[3])


def test_large_image_is_tiled_and_covers_everything(tmp_path, rng):
    img = rng.integers(0, 1000, (70, 100)).astype(np.uint16)
    p = tmp_path / "big.tif"
    tifffile.imwrite(p, img)
    arr, src, _ = read_file_patches(p, patch_size=32)
    ys = sorted({s.y for s in src})
    xs = sorted({s.x for s in src})
    assert ys == [0, 32, 38] and xs == [0, 32, 64, 68]
    assert len(src) == 12
    k = [i for i, s in enumerate(src) if (s.y, s.x) == (38, 68)][0]
    np.testing.assert_array_equal(arr[k, 0], img[38:70, 68:100])


def test_small_image_is_edge_padded():
    img = np.arange(28 * 28, dtype=np.float32).reshape(28, 28, 1)
    out = pad_to(img, 32)
    assert out.shape == (32, 32, 1)
    np.testing.assert_array_equal(out[2:30, 2:30], img)
    assert out[0, 5, 0] == img[0, 3, 0]
    assert tile_origins(28, 32) == [0]


def test_patch_size_resized_to_input_size(tmp_path, rng):
    img = rng.integers(0, 1000, (64, 64)).astype(np.uint16)
    p = tmp_path / "a.tif"
    tifffile.imwrite(p, img)
    arr, src, _ = read_file_patches(p, patch_size=64, input_size=32)
    assert arr.shape == (1, 1, 32, 32)


def test_channels(tmp_path, rng):
    rgb = rng.integers(0, 255, (32, 32, 3)).astype(np.uint8)
    p = tmp_path / "rgb.tif"
    tifffile.imwrite(p, rgb, photometric="rgb")
    with pytest.raises(ImageReadError, match="choose one"):
        read_file_patches(p)
    arr, _, _ = read_file_patches(p, channel=1)
    np.testing.assert_array_equal(arr[0, 0], rgb[..., 1])
    arr, _, _ = read_file_patches(p, channel="all")
    assert arr.shape == (1, 3, 32, 32)
    grey = np.repeat(rgb[..., :1], 3, axis=2)
    assert select_channels(grey[None], None).shape == (1, 32, 32, 1)
    with pytest.raises(ImageReadError, match="does not exist"):
        read_file_patches(p, channel=5)


def test_multichannel_tiff_with_channel_axis(tmp_path, rng):
    data = rng.integers(0, 5000, (2, 3, 32, 32)).astype(np.uint16)  # pages, channels, y, x
    p = tmp_path / "zc.tif"
    tifffile.imwrite(p, data, metadata={"axes": "ZCYX"}, imagej=True)
    arr, src, _ = read_file_patches(p, channel=2)
    assert arr.shape == (2, 1, 32, 32)
    np.testing.assert_array_equal(arr[1, 0], data[1, 2])


def test_png_read(tmp_path, rng):
    import imageio.v3 as iio

    img = rng.integers(0, 65535, (32, 32)).astype(np.uint16)
    p = tmp_path / "a.png"
    iio.imwrite(p, img)
    arr, _, _ = read_file_patches(p)
    np.testing.assert_array_equal(arr[0, 0], img)


def test_bad_files_are_skipped_and_reported(tmp_path, rng):
    d = tmp_path / "mixed"
    d.mkdir()
    tifffile.imwrite(d / "good.tif", rng.integers(0, 1000, (32, 32)).astype(np.uint16))
    (d / "empty.tif").write_bytes(b"")
    (d / "notimage.tif").write_text("hello, I am text")
    good = (d / "good.tif").read_bytes()
    (d / "truncated.tif").write_bytes(good[: len(good) // 3])
    tifffile.imwrite(d / "nan.tif", np.full((32, 32), np.nan, np.float32))
    tifffile.imwrite(d / "const.tif", np.full((32, 32), 7, np.uint16))
    partial = rng.random((32, 64)).astype(np.float32)
    partial[0, 0] = np.nan
    tifffile.imwrite(d / "partial_nan.tif", partial)
    records = []
    ps = run_to_end(load_patches(d), records.append)
    assert all(isinstance(r, Progress) and r.stage == "load" for r in records)
    assert len(records) == 7
    reasons = {os.path.basename(b.path): b.reason for b in ps.bad}
    assert set(reasons) == {"empty.tif", "notimage.tif", "truncated.tif", "nan.tif", "const.tif", "partial_nan.tif"}
    assert "empty" in reasons["empty.tif"]
    assert "NaN" in reasons["nan.tif"]
    assert "constant" in reasons["const.tif"]
    assert "1 patch" in reasons["partial_nan.tif"]
    assert {os.path.basename(s.path) for s in ps.sources} == {"good.tif", "partial_nan.tif"}
    assert len(ps) == 2
    assert all(str(b).startswith(b.path) for b in ps.bad)


def test_a_field_with_nan_pixels_gives_one_line_that_says_it_was_used_in_part(tmp_path, capfd):
    # Objects holding NaN pixels printed numpy's two-line warning, and a line "skipped FILE" for a file used.
    from ddrcore.cli import main
    from ddrcore.objects.synthetic import make_field

    a = make_field((160, 160), ("blob",), n=10, size=14, seed=1).image.astype(np.float32)
    a[10:20, 10:20] = np.nan
    a[50, 50] = np.inf
    tifffile.imwrite(tmp_path / "nan_field.tif", a)
    assert main(["--quiet", "objects", str(tmp_path / "nan_field.tif")]) == 0
    err = capfd.readouterr().err.splitlines()
    notes = [ln for ln in err if "nan_field.tif" in ln]
    assert len(notes) == 1 and notes[0].startswith("used in part:") and "NaN" in notes[0], err
    assert not any("Warning" in ln for ln in err), err


def test_a_nan_background_and_scattered_nan_pixels_cost_no_object(tmp_path):
    """Fiji's NaN Background leaves NaN outside every object: the size could not be estimated and, given,
    every patch held NaN ("every patch contains NaN or infinite values", 0 of 10 nuclei); 0.1 % of NaN pixels
    scattered over a field cost 34 of its 40 nuclei."""
    from ddrcore.objects import Patching
    from ddrcore.objects.synthetic import make_field

    f = make_field((192, 192), ("blob",), n=10, size=16, seed=2)
    clean = run_to_end(load_patches(_write(tmp_path / "clean", f.image), patching=Patching("auto")))
    background = f.image.astype(np.float32)
    background[f.labels == 0] = np.nan
    rng = np.random.default_rng(0)
    scattered = f.image.astype(np.float32)
    scattered.ravel()[rng.choice(scattered.size, scattered.size // 500, replace=False)] = np.nan
    for name, page in (("background", background), ("scattered", scattered)):
        ps = run_to_end(load_patches(_write(tmp_path / name, page), patching=Patching("auto")))
        assert len(ps) == len(clean), name
        assert np.isfinite(ps.images).all()
        assert any("NaN" in b.reason and b.partial for b in ps.bad), name


def _write(folder, page):
    folder.mkdir()
    tifffile.imwrite(folder / "f.tif", page)
    return folder


@pytest.mark.parametrize("scale, says", [(1e300, "past the"), (1e-300, "under the")])
def test_a_float_image_beyond_what_patches_hold_says_so_and_detection_still_finds_its_objects(tmp_path, scale, says):
    from ddrcore.objects import detect_objects, estimate_object_size
    from ddrcore.objects.synthetic import make_field

    f = make_field((128, 128), ("blob",), n=8, size=14, seed=1)
    page = f.image.astype(np.float64) * scale
    # Detection reads relative intensities: the same objects at any scale (before: none at 1e300 or 1e-300).
    assert round(estimate_object_size(page), 3) == round(estimate_object_size(f.image), 3)
    assert len(detect_objects(page, 14)) == len(detect_objects(f.image, 14)) == 8
    tifffile.imwrite(tmp_path / "x.tif", page)
    with pytest.raises(ImageReadError, match=f"{says} .* rescale the image"):
        read_file_patches(tmp_path / "x.tif", 32, 32)


def test_one_pixel_past_float32_costs_its_patch_only(tmp_path, rng):
    page = rng.random((64, 64))
    page[5, 5] = 1e39
    tifffile.imwrite(tmp_path / "x.tif", page)
    arr, _, note = read_file_patches(tmp_path / "x.tif", 32, 32)
    assert len(arr) == 3 and "1 patch(es)" in note


@pytest.mark.parametrize("objects", [False, True])
def test_a_folder_of_label_images_only_says_so(tmp_path, objects):
    """Pointed at a folder of masks, the error names them, rather than "no .tif files" or (objects) a failed
    estimate of the object size."""
    from ddrcore.objects import Patching

    d = tmp_path / "masks"
    d.mkdir()
    for name in ("a01_mask.tif", "b_labels.tif", "c_cp_masks.tif"):
        tifffile.imwrite(d / name, np.zeros((64, 64), np.uint16))
    patching = Patching("auto") if objects else None
    with pytest.raises(NoUsableImagesError) as err:
        run_to_end(load_patches(d, patching=patching))
    assert "3 file(s) here are named like label images" in str(err.value)
    assert "a01_mask.tif, b_labels.tif and 1 more" in str(err.value)


def test_no_usable_images_is_a_clear_error(tmp_path):
    d = tmp_path / "nothing"
    d.mkdir()
    (d / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(NoUsableImagesError, match="no usable image"):
        run_to_end(load_patches(d))
    with pytest.raises(NoUsableImagesError, match="no such file"):
        find_images(tmp_path / "missing")


def test_unreadable_file_is_reported(tmp_path, rng):
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    p = tmp_path / "locked.tif"
    tifffile.imwrite(p, rng.integers(0, 9, (32, 32)).astype(np.uint16))
    p.chmod(0)
    with pytest.raises(ImageReadError):
        read_file_patches(p)


def test_input_files_are_not_modified(normal_dir):
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in normal_dir.rglob("*.tif")}
    run_to_end(load_patches(normal_dir))
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in normal_dir.rglob("*.tif")}
    assert before == after


def test_find_images_recursive_sorted(normal_dir):
    files = find_images(normal_dir)
    assert len(files) == 24
    assert files == sorted(files)


def test_channel_count_majority_and_expected(tmp_path, rng):
    d = tmp_path / "mixed_channels"
    d.mkdir()
    tifffile.imwrite(d / "a_grey.tif", rng.integers(0, 999, (32, 32)).astype(np.uint16))
    for i in range(3):
        tifffile.imwrite(d / f"rgb_{i}.tif", rng.integers(0, 255, (32, 32, 3)).astype(np.uint8), photometric="rgb")
    ps = run_to_end(load_patches(d, channel="all"))
    assert ps.images.shape == (3, 3, 32, 32)
    assert [os.path.basename(b.path) for b in ps.bad] == ["a_grey.tif"]
    ps1 = run_to_end(load_patches(d, channel="all", expected_channels=1))
    assert ps1.images.shape == (1, 1, 32, 32) and len(ps1.bad) == 3


def test_all_series_of_a_tiff_are_read(tmp_path, rng):
    p = tmp_path / "positions.tif"
    a = rng.integers(0, 999, (40, 50)).astype(np.uint16)
    b = rng.integers(0, 999, (60, 70)).astype(np.uint16)
    with tifffile.TiffWriter(p) as tw:
        tw.write(a)
        tw.write(b)
    arr, src, _ = read_file_patches(p)
    assert {s.page for s in src} == {0, 1}
    assert len([s for s in src if s.page == 1]) == 6  # 60x70 -> y 0, 28 and x 0, 32, 38


def test_alpha_is_dropped(tmp_path, rng):
    import imageio.v3 as iio

    la = np.stack([rng.integers(0, 255, (32, 32)), np.full((32, 32), 255)], -1).astype(np.uint8)
    iio.imwrite(tmp_path / "la.png", la)
    arr, _, _ = read_file_patches(tmp_path / "la.png")
    np.testing.assert_array_equal(arr[0, 0], la[..., 0])
    rgba = rng.integers(0, 255, (32, 32, 4)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    arr, _, _ = read_file_patches(tmp_path / "rgba.tif", channel="all")
    assert arr.shape == (1, 3, 32, 32)


def test_hidden_folders_are_skipped(tmp_path, rng):
    (tmp_path / ".ipynb_checkpoints").mkdir()
    tifffile.imwrite(tmp_path / ".ipynb_checkpoints" / "x.tif", rng.integers(0, 9, (32, 32)).astype(np.uint16))
    tifffile.imwrite(tmp_path / "y.tif", rng.integers(0, 9, (32, 32)).astype(np.uint16))
    assert [f.name for f in find_images(tmp_path)] == ["y.tif"]


@pytest.mark.parametrize("compression", ["lzw", "zstd", "deflate", "packbits", "jpeg"])
def test_compressed_tiffs_are_read_losslessly(tmp_path, rng, compression):
    # Microscopes and exports often write LZW (or Zstd, JPEG) TIFFs; imagecodecs decodes them.
    lossy = compression == "jpeg"
    img = rng.integers(0, 256 if lossy else 60000, (32, 32)).astype(np.uint8 if lossy else np.uint16)
    p = tmp_path / f"c_{compression}.tif"
    tifffile.imwrite(p, img, compression=compression)
    planes = read_planes(p)
    assert planes.dtype == img.dtype and planes.shape == (1, 32, 32, 1)
    if not lossy:
        np.testing.assert_array_equal(planes[0, :, :, 0], img)


def test_read_page_matches_the_patches_cut_from_it(tmp_path, rng):
    from ddrcore.io.reading import read_page

    # Two series (2 pages + 1 page), 2 channels: pages are numbered across series.
    a = rng.integers(0, 4000, (2, 70, 40, 2)).astype(np.uint16)
    b = rng.integers(0, 4000, (1, 70, 40, 2)).astype(np.uint16)
    p = tmp_path / "two_series.tif"
    with tifffile.TiffWriter(p) as tw:
        tw.write(a, photometric="minisblack", planarconfig="contig")
        tw.write(b, photometric="minisblack", planarconfig="contig")
    arr, sources, _ = read_file_patches(p, patch_size=32, channel=1)
    for k in (0, len(sources) - 1):
        s = sources[k]
        page = read_page(p, s.page, channel=1)
        assert page.shape == (70, 40, 1) and page.dtype == np.uint16
        np.testing.assert_array_equal(page[s.y : s.y + 32, s.x : s.x + 32, 0], arr[k, 0])
    np.testing.assert_array_equal(read_page(p, 2, channel="all"), b[0])
    with pytest.raises(ImageReadError, match="page 3 does not exist"):
        read_page(p, 3, channel=1)


def test_an_image_reached_twice_through_a_link_is_read_once(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "a.tif", np.zeros((8, 8), np.uint16))
    (tmp_path / "dup.tif").symlink_to(tmp_path / "a.tif")
    assert [f.name for f in find_images(tmp_path)] == ["a.tif"]
    assert [f.name for f in find_images([tmp_path / "dup.tif", tmp_path])] == ["dup.tif"]
