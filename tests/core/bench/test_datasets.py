"""Benchmark readers and the one-class split, on tiny synthetic files in tmp_path."""
import tarfile

import numpy as np
import pytest

from ddrcore.bench.datasets import DatasetError, load_dataset, one_class_split, read_idx, to_benchmark_size
from ddrcore.io.images import pad_to
from ddrcore.progress import run_to_end
from synthetic import make_idx_folder


def make_class_folders(root, n=4):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            d = root / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                iio.imwrite(d / f"{i:04d}.png", (rng.integers(0, 255, (32, 32, 3))).astype(np.uint8))
    return root


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_gz_and_plain(tmp_path, gz):
    ds = run_to_end(load_dataset(make_idx_folder(tmp_path / "idx", gz)))
    assert ds.train_x.shape == (30, 1, 32, 32) and ds.test_x.shape == (20, 1, 32, 32)
    assert ds.train_x.dtype == np.float32 and ds.class_names == ["0", "1", "2"]
    assert list(ds.train_y[:4]) == [0, 1, 2, 0]


def test_28_is_padded_by_repeating_edges(tmp_path):
    img = np.arange(28 * 28, dtype=np.float32).reshape(28, 28)
    out = to_benchmark_size(img[None, :, :, None])
    assert out.shape == (1, 1, 32, 32)
    np.testing.assert_array_equal(out[0, 0], pad_to(img[:, :, None], 32)[:, :, 0])
    assert out[0, 0, 0, 0] == img[0, 0] and out[0, 0, 31, 31] == img[27, 27]
    np.testing.assert_array_equal(out[0, 0, 2:30, 2:30], img)


def test_idx_errors(tmp_path):
    bad = tmp_path / "x-images-idx3-ubyte"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DatasetError, match="IDX"):
        read_idx(bad)
    with pytest.raises(DatasetError, match="no such"):
        run_to_end(load_dataset(tmp_path / "missing"))
    folder = make_idx_folder(tmp_path / "nolabels", gz=False)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match="labels"):
        run_to_end(load_dataset(folder))


def test_class_folders_and_archive(tmp_path):
    root = make_class_folders(tmp_path / "cf")
    ds = run_to_end(load_dataset(root))
    assert ds.class_names == ["cat", "dog"] and ds.train_x.shape == (8, 3, 32, 32)
    assert ds.train_x.max() > 1  # native 8-bit values, no scaling
    archive = tmp_path / "cf.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root / "train", arcname="train")
        tar.add(root / "test", arcname="test")
    ds2 = run_to_end(load_dataset(archive))
    assert ds2.name == "cf" and ds2.class_names == ds.class_names
    np.testing.assert_array_equal(ds2.train_x, ds.train_x)
    assert ds.parse_classes("dog") == [1] and ds.parse_classes("0-1") == [0, 1]
    with pytest.raises(DatasetError):
        ds.parse_classes("bird")


def test_one_class_split(tmp_path):
    ds = run_to_end(load_dataset(make_idx_folder(tmp_path / "idx")))
    s = one_class_split(ds, 1)
    assert len(s.train_x) == 10 and len(s.test_x) == 20
    np.testing.assert_array_equal(s.test_labels, (ds.test_y != 1).astype(int))
    s2 = one_class_split(ds, 1, max_train=4, max_test=7, seed=3)
    assert len(s2.train_x) == 4 and len(s2.test_x) == 7
    again = one_class_split(ds, 1, max_train=4, max_test=7, seed=3)
    np.testing.assert_array_equal(s2.test_index, again.test_index)
    np.testing.assert_array_equal(s2.test_labels, (ds.test_y[s2.test_index] != 1).astype(int))
    adgan = one_class_split(ds, 0, test_protocol="adgan")
    assert len(adgan.test_x) == 20  # fewer than 5000 test images: all of them
    with pytest.raises(DatasetError):
        one_class_split(ds, 0, test_protocol="nope")
