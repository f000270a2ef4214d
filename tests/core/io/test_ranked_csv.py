import csv

import numpy as np

from ddrcore.io.export import COLUMNS, write_csv, write_decompositions
from ddrcore.io.images import PatchSource
from ddrcore.progress import run_to_end
from ddrcore.model.scoring import score_patches
from synthetic import blob_patch, ring_patch


def _scored(model, rng, decompose=False):
    x = np.stack([ring_patch(rng) for _ in range(4)] + [blob_patch(rng) for _ in range(4)]).astype(np.float32)[:, None]
    srcs = [PatchSource(f"/data/p{i}.tif", i % 2, 0, 32 * i) for i in range(8)]
    return run_to_end(score_patches(model, x, decompose=decompose)), srcs


def test_csv_is_ranked_and_complete(tiny_model, tmp_path, rng):
    scores, srcs = _scored(tiny_model, rng)
    out = write_csv(tmp_path / "out" / "ranked.csv", scores, srcs, tiny_model.stamp("m.ddrid"), threshold=None)
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0]) == COLUMNS
    assert len(rows) == 8
    assert [int(r["rank"]) for r in rows] == list(range(1, 9))
    vals = [float(r["score"]) for r in rows]
    assert vals == sorted(vals, reverse=True)
    tau = tiny_model.threshold
    for r in rows:
        assert r["is_anomaly"] == str(int(float(r["score"]) >= float(r["threshold"])))
        assert float(r["threshold"]) == float(f"{tau:.6g}")
        assert r["seed"] == "3" and r["model"] == "m.ddrid"
        assert r["score_type"] in ("AS_l", "AS_r", "AS_c")
    by_path = {r["path"]: r for r in rows}
    assert by_path["/data/p3.tif"]["page"] == "1" and by_path["/data/p3.tif"]["x"] == "96"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ranked.csv"]


def test_csv_threshold_override(tiny_model, tmp_path, rng):
    scores, srcs = _scored(tiny_model, rng)
    # AS_c is on the validation normals' z scale and can be below -1: a threshold below every score.
    out = write_csv(tmp_path / "r.csv", scores, srcs, tiny_model.stamp(), threshold=-1e9)
    rows = list(csv.DictReader(open(out)))
    assert all(r["is_anomaly"] == "1" for r in rows)


def test_decompositions(tiny_model, tmp_path, rng):
    import tifffile

    scores, srcs = _scored(tiny_model, rng, decompose=True)
    n = write_decompositions(tmp_path / "dec", scores, srcs, limit=3)
    files = sorted((tmp_path / "dec").glob("*.tif"))
    assert n == 3 and len(files) == 3 and files[0].name.startswith("rank000001_")
    arr = tifffile.imread(files[0])
    assert arr.shape == (3, 1, 32, 32) or arr.shape == (3, 32, 32)


def test_decompositions_never_write_through_a_link_to_an_input_nor_over_a_foreign_file(tiny_model, tmp_path, rng):
    import pytest

    from ddrcore.io.outputs import OutputError

    scores, srcs = _scored(tiny_model, rng, decompose=True)
    dec = tmp_path / "dec"
    write_decompositions(dec, scores, srcs, limit=2)
    first, second = sorted(dec.glob("*.tif"))
    # The folder is reused: one name now links to an input (the model in use), another is someone's notes.
    model = tmp_path / "in-use.ddrid"
    model.write_bytes(b"PK\x03\x04 a model")
    first.unlink()
    first.symlink_to(model)
    second.write_text("my notes\n")
    with pytest.raises(OutputError, match="input"):
        write_decompositions(dec, scores, srcs, limit=2, inputs=[model])
    assert model.read_bytes() == b"PK\x03\x04 a model" and second.read_text() == "my notes\n"
    first.unlink()
    with pytest.raises(OutputError, match="--force"):
        write_decompositions(dec, scores, srcs, limit=2, inputs=[model])
    assert second.read_text() == "my notes\n"
    assert write_decompositions(dec, scores, srcs, limit=2, inputs=[model], force=True) == 2
