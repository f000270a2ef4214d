"""Fuzz tests (hypothesis): every input to a reader either loads or raises ddrid's own
error type with a one-line message; nothing else escapes.

Covered: the image readers (TIFF, PNG, JPEG: random bytes and mutated valid
files), the model loader (random bytes, mutated fields of a real model), the
project loader (random JSON in every field, random text) and the points CSV
reader.  Profiles "ci" (default) and "long": see tests/conftest.py
(``python -m pytest tests/core/test_readers_fuzzed.py --hypothesis-profile long``).
"""
from __future__ import annotations

import atexit
import copy
import io
import json
import shutil
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes, arrays

from ddrcore.model import modelfile
from ddrcore.io import project as pj
from ddrcore.config import TrainConfig
from ddrcore.errors import DdridError
from ddrcore.io.images import read_file_patches
from ddrcore.io.reading import read_image_groups

_DIR = Path(tempfile.mkdtemp(prefix="ddrid-fuzz-"))
atexit.register(shutil.rmtree, _DIR, True)


def _one_line(exc: BaseException) -> None:
    msg = str(exc)
    assert msg and "\n" not in msg, repr(msg)


def _write(name: str, data: bytes) -> Path:
    p = _DIR / name
    p.write_bytes(data)
    return p


def _loads_or_refuses(fn, *args):
    try:
        return fn(*args)
    except DdridError as exc:
        _one_line(exc)
        return None


def _valid_tiff(arr) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric="minisblack")
    return buf.getvalue()


def _valid_png(arr) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _mutate(data: bytes, edits) -> bytes:
    b = bytearray(data)
    for pos, value in edits:
        if b:
            b[pos % len(b)] = value
    return bytes(b)


_edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8)
_images = arrays(st.sampled_from([np.uint8, np.uint16, np.float32]), array_shapes(min_dims=2, max_dims=3, min_side=1,
                                                                                  max_side=12))


# ------------------------------------------------------------------------------------------- images --
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".tif", ".png", ".jpg"]))
def test_random_bytes_as_images(data, suffix):
    _loads_or_refuses(read_image_groups, _write("rand" + suffix, data))


@given(arr=_images, edits=_edits, truncate=st.integers(0, 400))
def test_mutated_tiffs(arr, edits, truncate):
    data = _mutate(_valid_tiff(arr), edits)
    data = data[: len(data) - truncate] if truncate < len(data) else data
    p = _write("mut.tif", data)
    _loads_or_refuses(read_image_groups, p)
    _loads_or_refuses(read_file_patches, p, 8)


@given(arr=arrays(np.uint8, array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12)), edits=_edits)
def test_mutated_pngs(arr, edits):
    p = _write("mut.png", _mutate(_valid_png(arr), edits))
    _loads_or_refuses(read_image_groups, p)


# -------------------------------------------------------------------------------------------- model --
_values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=8), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                                              st.integers(), max_size=2))
_FIELDS = [("format",), ("version",), ("threshold",), ("score_type",), ("preprocess", "minimum"),
           ("preprocess", "maximum"), ("architecture", "channels"), ("architecture", "latent_dim"),
           ("architecture", "input_size"), ("config", "patch_size"), ("config", "input_size"), ("config", "seed"),
           ("config", "batch_size"), ("config", "channel"), ("config", "latent_dim"), ("config", "objects"),
           ("config", "object_size"), ("config", "stride"), ("config", "lr"), ("config", "cell_rule"),
           ("validation",), ("training",),
           ("validation_scores",), ("z_c",), ("state",), ("config",), ("architecture",), ("preprocess",)]


# Each model example saves and loads a real (tiny) model file: fewer of them (the "long" profile runs many).
_model_settings = settings(max_examples=max(10, settings.default.max_examples // 4))


@pytest.fixture(scope="module")
def payload(tiny_model):
    return copy.deepcopy(modelfile.to_payload(tiny_model))


@pytest.mark.slow   # hundreds of forged model files
@_model_settings
@given(field=st.sampled_from(_FIELDS), value=_values)
def test_model_fields(payload, field, value):
    doc = copy.deepcopy(payload)
    node = doc
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    p = _DIR / "f.ddrid"
    torch.save(doc, p)
    _loads_or_refuses(modelfile.load, p, "cpu")


@pytest.mark.slow   # hundreds of forged model files
@_model_settings
@given(tensor=st.sampled_from(["z_c", "latent", "weight"]),
       value=st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e38]))
def test_model_tensors(payload, tensor, value):
    doc = copy.deepcopy(payload)
    t = doc["z_c"] if tensor == "z_c" else (doc["validation_scores"]["latent"] if tensor == "latent"
                                           else next(iter(doc["state"]["r_n"].values())))
    t.view(-1)[0] = value
    p = _DIR / "t.ddrid"
    torch.save(doc, p)
    _loads_or_refuses(modelfile.load, p, "cpu")


@pytest.fixture(scope="module")
def payload_bytes(payload):
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


@_model_settings
@given(data=st.binary(max_size=4096), edits=_edits)
def test_model_bytes(payload_bytes, data, edits):
    _loads_or_refuses(modelfile.load, _write("b.ddrid", data), "cpu")
    _loads_or_refuses(modelfile.load, _write("m.ddrid", _mutate(payload_bytes, edits)), "cpu")


# ------------------------------------------------------------------------------------------ project --
_json = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**100, 2**100), st.floats(allow_nan=False),
                               st.text(max_size=10)),
                     lambda children: st.one_of(st.lists(children, max_size=4),
                                                st.dictionaries(st.text(max_size=6), children, max_size=4)),
                     max_leaves=12)
_PROJECT = {"format": "ddrid-project", "version": 1, "inputs": ["data"], "patch_size": 32, "channel": None,
            "model": "m.ddrid", "threshold": 1.5, "training": {"pretrain_epochs": 3},
            "annotations": [{"path": "data/a.tif", "normal": [[0, 0, 0]], "excluded": [[1, -4, 8]]}]}


@given(key=st.sampled_from(sorted(_PROJECT) + ["annotations.0", "annotations.0.normal", "training.seed",
                                                "training.patch_size", "annotations.0.path"]), value=_json)
def test_project_fields(key, value):
    doc = copy.deepcopy(_PROJECT)
    node, parts = doc, key.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    load = partial(pj.load, check_training=TrainConfig.check_settings)
    _loads_or_refuses(load, _write("p.ddridproj", json.dumps(doc).encode()))


@given(text=st.text(max_size=300), bom=st.booleans())
def test_project_text(text, bom):
    _loads_or_refuses(pj.load, _write("t.ddridproj", (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8",
                                                                                                     "surrogatepass")))


@given(data=st.binary(max_size=300))
def test_project_bytes(data):
    _loads_or_refuses(pj.load, _write("b.ddridproj", data))


# ------------------------------------------------------------------------------------------- points --
def _points_or_refuses(path):
    from ddrcore.objects import read_points

    return _loads_or_refuses(read_points, path)


_cell = st.one_of(st.text(max_size=6), st.sampled_from(["1e999", "nan", "-1", "3.5", "", "a.tif", "-inf", "1e308"]))


@given(header=st.sampled_from(["path,y,x", "path,page,y,x", "index,axis-0,axis-1", "axis-0,axis-1,axis-2", "y,x",
                               ""]),
       rows=st.lists(st.lists(_cell, min_size=0, max_size=4), max_size=5))
def test_points_csv(header, rows):
    import csv as _csv

    buf = io.StringIO()
    w = _csv.writer(buf)
    for r in rows:
        w.writerow(r)
    p = _write("pts.csv", (header + "\n" + buf.getvalue()).encode("utf-8", "surrogatepass"))
    _points_or_refuses(p)


@given(data=st.binary(max_size=300))
def test_points_bytes(data):
    _points_or_refuses(_write("pb.csv", data))


def test_points_page_overflow_is_refused():
    from ddrcore.objects import read_points

    _loads_or_refuses(read_points, _write("ovf.csv", b"path,page,y,x\na.tif,1e999,1,2\n"))


# ------------------------------------------------------------------------- the bounds of issue 22 --
@given(cap=st.integers(1, 6), n_rows=st.integers(0, 12), long_line=st.booleans())
def test_points_row_and_line_caps(monkeypatch, cap, n_rows, long_line):
    """Under any row cap, a points file either loads at most ``cap`` points or is refused in one line."""
    from ddrcore.objects.points import MAX_LINE

    monkeypatch.setenv("DDRID_MAX_POINTS", str(cap))
    body = "".join(f"a.tif,{i},{i}\n" for i in range(n_rows))
    if long_line:
        body += "b.tif," + "1" * (MAX_LINE + 10) + ",2\n"
    got = _points_or_refuses(_write("capped.csv", ("path,y,x\n" + body).encode()))
    if got is not None:
        assert sum(len(v) for v in got.values()) <= cap and not long_line


_label_dtypes = st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.uint64, np.float32])


@given(arr=arrays(_label_dtypes, array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=10)),
       huge=st.sampled_from([None, 2**63 - 1, 2**63, 2**64 - 1]))
def test_label_images(arr, huge):
    """Any label image (ids up to 2**64 - 1, negative, fractional) gives objects or one ImageReadError line."""
    from ddrcore.objects import objects_from_labels
    from ddrcore.objects.labels import read_label_pages

    if huge is not None and arr.dtype == np.uint64:
        arr = arr.copy()
        arr.flat[0] = huge
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr)
    pages = _loads_or_refuses(read_label_pages, _write("lab.tif", buf.getvalue()))
    if pages is not None:
        objects = objects_from_labels(pages[0])
        assert (objects.ids >= 1).all() and len(objects.ids) == len(np.unique(pages[0][pages[0] > 0]))


# Each example writes and reads a whole model file (tens of MB): a few suffice, the sizes are what vary.
@settings(max_examples=6)
@given(where=st.sampled_from(["z_c", "latent", "weight"]), size=st.integers(2, 10**12), kind=st.sampled_from(
    ["expand", "overlap"]))
def test_model_tensor_views(payload, where, size, kind):
    """A tensor stored as a view (stride 0, overlapping) of any claimed size is refused before it is computed on."""
    doc = copy.deepcopy(payload)
    view = torch.zeros(1).expand(size) if kind == "expand" else torch.zeros(3).as_strided((2, 2), (1, 1))
    if where == "z_c":
        doc["z_c"] = view
    elif where == "latent":
        doc["validation_scores"]["latent"] = view
    else:
        part = doc["state"]["r_n"]
        part[next(iter(part))] = view
    p = _DIR / "v.ddrid"
    torch.save(doc, p)
    with pytest.raises(DdridError):
        modelfile.load(p, "cpu")
