"""A project's saved patches and scores: used only when they still match, and only as data."""
import numpy as np
import pytest

from ddrcore.io import patchcache
from ddrcore.io.images import PatchSource


def _sources(tmp_path, n=5):
    return [PatchSource(str(tmp_path / "a.tif"), 0, i, 2 * i, object_id=i + 1, center_y=i + 0.5, center_x=1.5,
                        size=16, area=30.0, mean_intensity=7.0, touches_border=bool(i % 2),
                        measurements=tuple(float(i) for i in range(11)) if i else (),
                        pixel_size=(0.5, 0.5) if i else None,
                        against_page=(10.0, 110.0 + i, 0.2, 1.1) if i else ()) for i in range(n)]


def test_round_trip_and_fingerprint(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.tif").write_bytes(b"x")
    fp = patchcache.fingerprint([tmp_path / "imgs"], [], {"patch_size": 16})
    src = _sources(tmp_path)
    images = np.random.default_rng(0).normal(size=(5, 1, 16, 16)).astype(np.float32)
    scores = {k: np.arange(5.0) for k in patchcache.SCORE_NAMES}
    path = patchcache.save(tmp_path / "p.ddridcache", images, src, scores, "combined", fp)
    got = patchcache.load(path, fp)
    assert got is not None and got.score_type == "combined"
    np.testing.assert_array_equal(got.images, images)
    assert [(s, s.measurements, s.pixel_size, s.touches_border, s.object_id, s.against_page) for s in got.sources] == \
        [(s, s.measurements, s.pixel_size, s.touches_border, s.object_id, s.against_page) for s in src]
    # The project's own files among the inputs do not change the fingerprint; an image does.
    (tmp_path / "imgs" / "p.ddridproj").write_text("{}")
    assert patchcache.fingerprint([tmp_path / "imgs"], [], {"patch_size": 16}) == fp
    (tmp_path / "imgs" / "b.tif").write_bytes(b"y")
    assert patchcache.load(path, patchcache.fingerprint([tmp_path / "imgs"], [], {"patch_size": 16})) is None
    assert patchcache.load(path, patchcache.fingerprint([tmp_path / "imgs"], [], {"patch_size": 32})) is None


@pytest.mark.parametrize("forge", ["not a zip", "pickle", "bad index", "wrong shape"])
def test_a_forged_or_broken_cache_is_ignored(tmp_path, forge):
    src = _sources(tmp_path)
    images = np.zeros((5, 1, 16, 16), np.float32)
    path = patchcache.save(tmp_path / "p.ddridcache", images, src, None, None, "fp")
    if forge == "not a zip":
        path.write_bytes(b"garbage")
    else:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if forge == "pickle":
            arrays["images"] = np.array([{"a": 1}], dtype=object)
        elif forge == "bad index":
            arrays["path_index"] = np.full(5, 9, np.int64)
        else:
            arrays["ints"] = np.zeros((4, 5), np.int64)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
    assert patchcache.load(path, "fp") is None


def _npy_header(shape, descr="<f8"):
    import io

    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def test_a_cache_claiming_more_than_it_holds_is_ignored_unread(tmp_path, monkeypatch):
    """A cache beside a shared project is anyone's file: a 100-byte one whose header claimed 80 TB raised
    MemoryError out of load (the project then opened empty), and a megabyte of deflated zeros in version.npy
    took a gigabyte of memory before the fingerprint refused it.  Both are refused from their headers."""
    import zipfile

    huge = tmp_path / "huge.ddridcache"
    with zipfile.ZipFile(huge, "w") as z:
        z.writestr("version.npy", _npy_header((10 ** 13,)))
        z.writestr("fingerprint.npy", _npy_header((), "<U64") + b"\0" * 256)
        z.writestr("images.npy", _npy_header((0, 1, 2, 2), "<f4"))
    inflated = tmp_path / "inflated.ddridcache"
    with zipfile.ZipFile(inflated, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("version.npy", "w", force_zip64=True) as fh:
            fh.write(_npy_header((2 ** 23,)))                 # 64 MiB of float64 zeros in a few kB
            for _ in range(4):
                fh.write(bytes(2 ** 24))
        z.writestr("fingerprint.npy", _npy_header((), "<U64") + b"\0" * 256)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("unpacked a cache that claims more than it holds"))
    assert patchcache.load(huge, "x" * 64) is None
    assert patchcache.load(inflated, "x" * 64) is None


@pytest.mark.parametrize("flag_offsets", [(6, 8, 1, "or"), (8, 10, 99, "set")], ids=["encrypted", "method 99"])
def test_a_cache_zip_python_cannot_open_is_ignored(tmp_path, flag_offsets):
    """A member marked encrypted (RuntimeError) or packed by an unknown method (NotImplementedError) came
    out of load, and the project opened empty."""
    import zipfile

    local, central, value, how = flag_offsets
    path = tmp_path / "odd.ddridcache"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("version.npy", _npy_header(()) + bytes(8))
        z.writestr("fingerprint.npy", _npy_header((), "<U64") + b"\0" * 256)
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        i = data.find(signature)
        while i >= 0:
            data[i + offset] = (data[i + offset] | value) if how == "or" else value
            i = data.find(signature, i + 4)
    path.write_bytes(bytes(data))
    assert patchcache.load(path, "x" * 64) is None


def test_a_file_of_another_kind_is_never_replaced(tmp_path):
    other = tmp_path / "p.ddridcache"
    other.write_text("my notes")
    with pytest.raises(ValueError):
        patchcache.save(other, np.zeros((1, 1, 4, 4), np.float32), _sources(tmp_path, 1), None, None, "fp")
    assert other.read_text() == "my notes"
    path = patchcache.save(tmp_path / "q.ddridcache", np.zeros((1, 1, 4, 4), np.float32), _sources(tmp_path, 1),
                           None, None, "fp")
    patchcache.save(path, np.zeros((1, 1, 4, 4), np.float32), _sources(tmp_path, 1), None, None, "fp2")   # its own
    assert patchcache.load(path, "fp2") is not None


def test_every_score_column_is_kept_and_a_cache_without_the_cell_score_is_not_used(tmp_path):
    """Version 1 kept four of the six score columns: a project of objects ranked by AS_cell reopened from
    it with every AS_cell empty, so nothing was ranked (and "every patch is already scored")."""
    fp = patchcache.fingerprint([], [], {"patch_size": 16})
    images = np.zeros((5, 1, 16, 16), np.float32)
    scores = {k: np.arange(5.0) + i for i, k in enumerate(patchcache.SCORE_NAMES)}
    assert {"measure", "cell"} <= set(patchcache.SCORE_NAMES)
    path = patchcache.save(tmp_path / "p.ddridcache", images, _sources(tmp_path), scores, "cell", fp)
    got = patchcache.load(path, fp)
    assert got.score_type == "cell" and set(got.scores) == set(scores)
    for k in scores:
        np.testing.assert_array_equal(got.scores[k], scores[k])
    # A cache written before: same arrays, version 1, no AS_m or AS_cell; ignored (the project is scored again).
    with np.load(path, allow_pickle=False) as z:
        old = {k: z[k] for k in z.files if k not in ("score_measure", "score_cell")}
    old["version"] = np.array(1, np.int64)
    with open(tmp_path / "old.ddridcache", "wb") as fh:
        np.savez(fh, **old)
    assert patchcache.load(tmp_path / "old.ddridcache", fp) is None
