"""A project's patches and scores kept beside it, so that reopening it reads no image and runs no model.

``screen.ddridproj`` gets ``screen.ddridcache``: the patches (float32, as cut),
where each came from (:class:`~ddrcore.io.images.PatchSource` fields, measurements
and pixel size included) and their scores, with a fingerprint of everything they
were made from: every file under the project's inputs (path, size, modification
time; label images and points files included), the model file, and the settings
(how patches were cut, channel, network input).  When anything differs, the cache
is not used and the images are read and scored again, as without it.

The file is data, never code: a NumPy ``.npz`` read with ``allow_pickle=False``;
every array's name, dtype, shape and range is checked, and a file that fails any
check is ignored (it is only a cache) — :func:`load` returns None, never raises
for its content.  Written atomically.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from .atomic import atomic_path
from .images import PatchSource

SUFFIX = ".ddridcache"
#: 2: AS_m and AS_cell kept too (version 1 lacked them, so a reopened project of objects ranked by AS_cell
#: had every score empty; such a cache is now ignored and the project scored again).
#: 3: what AS_m reads each object's intensities against kept too (PatchSource.against_page); a version 2
#: cache is ignored the same way.
VERSION = 3
#: Score arrays kept: every score column of the GUI's table.
SCORE_NAMES = ("latent", "recon", "residual", "combined", "measure", "cell")
#: Limits on what a cache may hold before it is even read (a forged file is ignored).
MAX_PATCHES = 10_000_000
MAX_BYTES = 8 * 2**30
MAX_MEASUREMENTS = 64

PathLike = Union[str, os.PathLike]
_OWN_SUFFIXES = (SUFFIX, ".ddridproj", ".tmp")


def cache_path(project: PathLike) -> Path:
    """``screen.ddridproj`` -> ``screen.ddridcache``."""
    return Path(project).with_suffix(SUFFIX)


def _files_under(paths: Iterable[Optional[PathLike]]) -> List[str]:
    out = []
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                # A project, its cache and ddrid's temp files may lie among the inputs: they change at every
                # save and say nothing about the patches.
                out.extend(os.path.join(root, f) for f in sorted(files)
                           if not f.startswith(".") and not f.endswith(_OWN_SUFFIXES))
        else:
            out.append(str(p))
    return out


def fingerprint(inputs: Sequence[PathLike], extra: Sequence[Optional[PathLike]] = (), settings: Optional[dict] = None
                ) -> str:
    """A digest of the files under ``inputs`` and ``extra`` (path, size, mtime) and of ``settings`` (JSON)."""
    h = hashlib.sha256()
    for f in _files_under([*inputs, *extra]):
        try:
            st = os.stat(f)
            h.update(f"{os.path.abspath(f)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        except OSError:
            h.update(f"{f}\0missing\n".encode("utf-8", "surrogateescape"))
    h.update(json.dumps(settings or {}, sort_keys=True, default=str).encode())
    return h.hexdigest()


@dataclass
class Cached:
    """What a valid cache holds."""

    images: np.ndarray                 # (N, C, S, S) float32
    sources: List[PatchSource]
    scores: Optional[Dict[str, np.ndarray]]   # SCORE_NAMES -> (N,) float, or None when unscored
    score_type: Optional[str]


def save(path: PathLike, images: np.ndarray, sources: Sequence[PatchSource], scores: Optional[Dict[str, np.ndarray]],
         score_type: Optional[str], digest: str) -> Path:
    """Write the cache atomically (no output rule: it is ddrid's own file beside the project)."""
    n = len(sources)
    paths = sorted({s.path for s in sources})
    where = {p: i for i, p in enumerate(paths)}
    n_meas = max((len(s.measurements) for s in sources), default=0)
    meas = np.full((n, n_meas), np.nan)
    has_meas = np.zeros(n, bool)
    for i, s in enumerate(sources):
        if s.measurements:
            meas[i, :len(s.measurements)] = s.measurements
            has_meas[i] = True
    arrays = {
        "version": np.array(VERSION, np.int64), "fingerprint": np.array(digest),
        "images": np.ascontiguousarray(images, np.float32), "paths": np.array(paths, dtype=str),
        "path_index": np.array([where[s.path] for s in sources], np.int64),
        "ints": np.array([[s.page, s.y, s.x, s.object_id, s.size] for s in sources], np.int64).reshape(n, 5),
        "floats": np.array([[s.center_y, s.center_x, s.area, s.mean_intensity] for s in sources], float).reshape(n, 4),
        "touches_border": np.array([s.touches_border for s in sources], bool),
        "measurements": meas, "has_measurements": has_meas,
        "pixel_size": np.array([s.pixel_size if s.pixel_size else (np.nan, np.nan) for s in sources], float
                               ).reshape(n, 2),
        "against_page": np.array([s.against_page if len(s.against_page) == 4 else (np.nan,) * 4
                                  for s in sources], float).reshape(n, 4),
        "score_type": np.array(score_type or ""),
    }
    if scores is not None:
        for name in SCORE_NAMES:
            arrays[f"score_{name}"] = np.asarray(scores[name], np.float64).reshape(n)
    path = Path(path)
    if path.exists() and not _is_cache(path):
        # Never replace a file of another kind that happens to have the cache's name.
        raise ValueError(f"{path} exists and is not a ddrid patch cache; not replaced")
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return path


def _is_cache(path: Path) -> bool:
    """Whether an existing file is one of these caches (a zip holding this module's arrays), by its index only."""
    try:
        if not path.is_file():
            return False
        with zipfile.ZipFile(path) as zf:
            return {"fingerprint.npy", "version.npy", "images.npy"} <= set(zf.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def _check(cond: bool) -> None:
    if not cond:
        raise ValueError("malformed cache")


def load(path: PathLike, digest: str) -> Optional[Cached]:
    """The cache at ``path`` if it exists, is well formed and was made from what ``digest`` describes; else None."""
    path = Path(path)
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES or not _sizes_fit(path):
            return None
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if "fingerprint" not in names or "version" not in names:
                return None
            if int(z["version"]) != VERSION or str(z["fingerprint"]) != digest:
                return None
            return _read(z, names)
    except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile, EOFError, MemoryError,
            OverflowError, zlib.error, RuntimeError, NotImplementedError):
        # RuntimeError: a member marked encrypted; NotImplementedError: a compression zipfile does not know.
        return None


#: The few-byte members (version, fingerprint, score type) may unpack to this much at most.
SMALL_MEMBER_BYTES = 1 << 16


def _sizes_fit(path: Path) -> bool:
    """Whether every array in the cache claims no more bytes than its zip member unpacks to, and the members
    no more than :data:`MAX_BYTES` together (small ones :data:`SMALL_MEMBER_BYTES`): checked from the
    headers before anything is unpacked, so a forged cache cannot make numpy allocate terabytes or a
    megabyte of deflated zeros unpack to a gigabyte (a cache beside a shared project is anyone's file)."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > MAX_BYTES:
            return False
        for info in infos:
            small = info.filename in ("version.npy", "fingerprint.npy", "score_type.npy")
            if small and info.file_size > SMALL_MEMBER_BYTES:
                return False
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version not in ((1, 0), (2, 0)):
                    return False                # numpy.savez writes 1.0 (2.0 for huge headers)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(fh)
                if dtype.hasobject or math.prod(shape) * dtype.itemsize > info.file_size:
                    return False
    return True


def _read(z, names) -> Cached:
    images = z["images"]
    _check(images.dtype == np.float32 and images.ndim == 4 and images.shape[0] <= MAX_PATCHES
           and images.shape[2] == images.shape[3])
    n = images.shape[0]
    paths, index = z["paths"], z["path_index"]
    _check(paths.dtype.kind == "U" and paths.ndim == 1 and all(os.path.isabs(p) and "\x00" not in p for p in paths))
    _check(index.dtype == np.int64 and index.shape == (n,) and (n == 0 or (index.min() >= 0 and index.max() < len(paths))))
    ints, floats = z["ints"], z["floats"]
    _check(ints.dtype == np.int64 and ints.shape == (n, 5) and floats.dtype == np.float64 and floats.shape == (n, 4))
    border, meas, has_meas, pixel = z["touches_border"], z["measurements"], z["has_measurements"], z["pixel_size"]
    _check(border.dtype == bool and border.shape == (n,) and has_meas.dtype == bool and has_meas.shape == (n,))
    _check(meas.dtype == np.float64 and meas.ndim == 2 and meas.shape[0] == n and meas.shape[1] <= MAX_MEASUREMENTS)
    _check(pixel.dtype == np.float64 and pixel.shape == (n, 2))
    page = z["against_page"]
    _check(page.dtype == np.float64 and page.shape == (n, 4))
    _check(n == 0 or (ints[:, 0].min() >= 0 and ints[:, 4].min() >= 0))
    sources = []
    for i in range(n):
        p, y, x, oid, size = (int(v) for v in ints[i])
        ps = None if np.isnan(pixel[i]).any() else (float(pixel[i, 0]), float(pixel[i, 1]))
        # Four finite numbers, the typical object above the background (as against_page gives them), or none.
        ap = tuple(float(v) for v in page[i]) if np.isfinite(page[i]).all() and page[i, 1] > page[i, 0] else ()
        sources.append(PatchSource(str(paths[index[i]]), p, y, x, object_id=oid, center_y=float(floats[i, 0]),
                                   center_x=float(floats[i, 1]), size=size, area=float(floats[i, 2]),
                                   mean_intensity=float(floats[i, 3]), touches_border=bool(border[i]),
                                   measurements=tuple(float(v) for v in meas[i]) if has_meas[i] else (),
                                   pixel_size=ps, against_page=ap))
    score_type = str(z["score_type"]) or None
    scores = None
    if all(f"score_{k}" in names for k in SCORE_NAMES):
        scores = {k: z[f"score_{k}"] for k in SCORE_NAMES}
        _check(all(v.dtype == np.float64 and v.shape == (n,) for v in scores.values()))
        _check(score_type in ("latent", "recon", "residual", "combined", "measure", "cell"))
    return Cached(images, sources, scores, score_type)
