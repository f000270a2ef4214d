"""Benchmark data sets: readers for labelled image collections, and the one-class split.

Two layouts are read; no data set name is hard-coded.

* **IDX folder** (the MNIST format): a folder holding ``*-images-idx3-ubyte``
  and ``*-labels-idx1-ubyte`` files, each optionally gzipped.  Files whose name
  starts with ``train`` are the training set; ``t10k`` or ``test`` the test
  set.  Class names are the label values as text ("0", "1", ...).
* **Class folders**: ``train/<class>/<image>`` and ``test/<class>/<image>``,
  either as a folder or as a ``.tar.gz``/``.tgz``/``.tar`` archive of that
  layout (members are decoded straight from the archive; nothing is
  extracted).  Images are read at their stored depth (8/16-bit, float);
  class names are the folder names, sorted.  A grey image in a colour set is
  repeated over the channels; a colour set whose images are all grey stored as
  RGB keeps one channel.

Every reader returns raw float32 arrays ``(N, C, 32, 32)`` at native
intensity (no scaling: preprocessing is fitted later, per normal class).
Images smaller than 32x32 (MNIST's 28x28) are padded symmetrically to 32x32
by repeating their edge pixels — the same rule as :func:`ddrcore.io.images.pad_to`
— so the Table 1 networks see the paper's 32x32 input and no invented
structure; larger images are resized to 32x32 (anti-aliased).

One-class protocol (Deep SVDD, adopted by DDR-ID): for normal class k, train
on class k's training images only; test on the whole test set with label 0 for
class k and 1 for every other class.  The ADGAN protocol instead tests on 5000
test images drawn at random (seeded).
"""
from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from ..errors import DdridError, first_line
from ..io.images import pad_to, resize_patches
from ..io.reading import IMAGE_SUFFIXES, TIFF_SUFFIXES
from ..progress import Clock, Job, Progress

SIZE = 32                 # network input side of the benchmarks (paper: 32x32)
ADGAN_TEST_SIZE = 5000    # ADGAN protocol: this many random test images
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


class DatasetError(DdridError):
    """A benchmark data set is missing, malformed or empty."""


@dataclass
class Dataset:
    """A labelled benchmark set: raw float32 (N, C, 32, 32) arrays and int labels."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    class_names: List[str]

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    def class_index(self, token: str) -> int:
        """A class given by name (preferred) or by index."""
        if token in self.class_names:
            return self.class_names.index(token)
        try:
            k = int(token)
        except ValueError:
            raise DatasetError(f"no class {token!r} in {self.name}; classes are {', '.join(self.class_names)}") from None
        if not 0 <= k < len(self.class_names):
            raise DatasetError(f"class index {k} out of range 0-{len(self.class_names) - 1} for {self.name}")
        return k

    def parse_classes(self, spec: str) -> List[int]:
        """'0-9', '0,3,5', 'cat,dog' or 'all' -> sorted unique class indices."""
        if spec.strip().lower() == "all":
            return list(range(len(self.class_names)))
        out: List[int] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            m = re.fullmatch(r"(\d+)-(\d+)", part)
            if m and part not in self.class_names:
                lo, hi = self.class_index(m.group(1)), self.class_index(m.group(2))
                out.extend(range(min(lo, hi), max(lo, hi) + 1))
            else:
                out.append(self.class_index(part))
        if not out:
            raise DatasetError(f"no classes selected by {spec!r}")
        return sorted(set(out))


# ------------------------------------------------------------------ shaping --
def to_benchmark_size(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) images -> float32 (N, C, 32, 32): edge-padded if smaller, resized if larger."""
    images = np.asarray(images, np.float32)
    n, h, w, c = images.shape
    if h < SIZE or w < SIZE:
        py, px = max(0, SIZE - h), max(0, SIZE - w)
        # Same symmetric edge rule as images.pad_to, applied to the whole stack at once.
        images = np.pad(images, ((0, 0), (py // 2, py - py // 2), (px // 2, px - px // 2), (0, 0)), mode="edge")
    out = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    if out.shape[-2:] != (SIZE, SIZE):
        if out.shape[-1] != out.shape[-2]:
            side = max(out.shape[-2:])
            out = np.stack([pad_to(im.transpose(1, 2, 0), side).transpose(2, 0, 1) for im in out])
        out = resize_patches(out, SIZE)
    return out


# --------------------------------------------------------------------- IDX --
def read_idx(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read one IDX file (optionally .gz) into a numpy array of its stored type."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(path=path, reason=f"cannot read ({exc}); is the file truncated?") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DatasetError(path=path, reason="not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(path=path, reason="IDX header is truncated")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    count = int(np.prod(shape)) if shape else 0
    if len(data) - header < count * dtype.itemsize:
        raise DatasetError(path=path, reason=f"IDX data is truncated ({len(data) - header} bytes for shape {shape})")
    return np.frombuffer(data, dtype, count, header).reshape(shape)


def _idx_split(folder: Path, kind: str) -> Tuple[Path, Path]:
    prefixes = ("train",) if kind == "train" else ("t10k", "test")
    images = sorted(f for f in folder.iterdir()
                    if re.search(r"images-idx3-ubyte(\.gz)?$", f.name) and f.name.startswith(prefixes))
    if not images:
        raise DatasetError(path=folder, reason=f"no {kind} images file (*-images-idx3-ubyte[.gz] starting with "
                           f"{' or '.join(prefixes)})")
    img = images[0]
    labels = img.with_name(img.name.replace("images-idx3", "labels-idx1"))
    if not labels.exists():
        raise DatasetError(path=folder, reason=f"{img.name} has no matching labels file {labels.name}")
    return img, labels


def is_idx_folder(path: Path) -> bool:
    return path.is_dir() and any(re.search(r"images-idx3-ubyte(\.gz)?$", f.name) for f in path.iterdir())


def load_idx_folder(folder: Union[str, os.PathLike]) -> Job[Dataset]:
    folder = Path(folder)
    clock = Clock()
    parts = {}
    for i, kind in enumerate(("train", "test")):
        img_path, lab_path = _idx_split(folder, kind)
        images, labels = read_idx(img_path), read_idx(lab_path)
        if images.ndim != 3:
            raise DatasetError(path=img_path, reason=f"expected (N, rows, cols) images, got shape {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DatasetError(path=lab_path, reason=f"{len(labels)} labels for {len(images)} images")
        parts[kind] = (to_benchmark_size(images[..., None]), labels.astype(np.int64))
        yield Progress("load", step=i + 1, steps=2, overall=(i + 1) / 2, elapsed=clock.elapsed(),
                       message=f"{kind}: {len(images)} images from {img_path.name}")
    values = sorted(set(parts["train"][1].tolist()) | set(parts["test"][1].tolist()))
    remap = {v: i for i, v in enumerate(values)}
    relabel = np.vectorize(remap.__getitem__, otypes=[np.int64])
    return Dataset(folder.name, parts["train"][0], relabel(parts["train"][1]),
                   parts["test"][0], relabel(parts["test"][1]), [str(v) for v in values])


# ------------------------------------------------------------ class folders --
def _decode(data: bytes, name: str) -> np.ndarray:
    """Decode image bytes as (Y, X, C) at native depth; first plane of a stack."""
    suffix = PurePosixPath(name).suffix.lower()
    try:
        if suffix in TIFF_SUFFIXES:
            import tifffile

            arr = np.asarray(tifffile.imread(io.BytesIO(data)))
        else:
            import imageio.v3 as iio

            arr = np.asarray(iio.imread(data, extension=suffix))
    except Exception as exc:  # any decoder failure: name the member, one line
        raise DatasetError(path=name, reason=f"not a readable image ({first_line(exc)})") from None
    if arr.ndim == 2:
        arr = arr[..., None]
    while arr.ndim > 3:  # stacks: the benchmark uses the first plane
        arr = arr[0]
    if arr.shape[-1] == 4:
        arr = arr[..., :3]  # alpha carries no image content
    return arr


def _members(path: Path):
    """(split, class, name, bytes) for every image under train/ or test/ of a folder or archive."""
    def classify(rel: PurePosixPath):
        parts = [p for p in rel.parts if p not in (".", "")]
        # Accept an extra top folder inside archives (name/train/<class>/file).
        for i in range(len(parts) - 2):
            if parts[i] in ("train", "test") and rel.suffix.lower() in IMAGE_SUFFIXES:
                if len(parts) - i == 3 and not parts[-1].startswith("."):
                    return parts[i], parts[i + 1]
        return None

    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                key = classify(PurePosixPath(f.relative_to(path).as_posix()))
                if key:
                    yield key[0], key[1], str(f), f.read_bytes()
        return
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:  # sequential: a .tar.gz is read in one pass
                if m.isfile():
                    key = classify(PurePosixPath(m.name))
                    if key:
                        yield key[0], key[1], f"{path.name}:{m.name}", tar.extractfile(m).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(path=path, reason=f"not a readable tar archive ({exc})") from None


def load_class_folders(path: Union[str, os.PathLike]) -> Job[Dataset]:
    path = Path(path)
    clock = Clock()
    found: Dict[str, Dict[str, List[Tuple[str, np.ndarray]]]] = {"train": {}, "test": {}}
    n = 0
    for split, cls, name, data in _members(path):
        found[split].setdefault(cls, []).append((name, _decode(data, name)))
        n += 1
        if n % 2000 == 0:
            yield Progress("load", step=n, steps=0, overall=0.0, elapsed=clock.elapsed(), message=f"{n} images read")
    for split in ("train", "test"):
        if not found[split]:
            raise DatasetError(path=path, reason=f"no images under {split}/<class>/; expected train/<class>/* and test/<class>/*")
    names = sorted(set(found["train"]) | set(found["test"]))
    all_imgs = [im for split in found.values() for items in split.values() for _, im in items]
    channels = max(im.shape[-1] for im in all_imgs)
    if channels > 1 and all(im.shape[-1] == 1 or (im == im[..., :1]).all() for im in all_imgs):
        channels = 1  # grey saved as RGB everywhere: nothing is lost by keeping one channel
    arrays = {}
    for split in ("train", "test"):
        xs, ys = [], []
        for k, cls in enumerate(names):
            for name, im in sorted(found[split].get(cls, []), key=lambda t: t[0]):
                im = im[..., :1] if channels == 1 else (np.repeat(im, channels, -1) if im.shape[-1] == 1 else im)
                if im.shape[-1] != channels:
                    raise DatasetError(path=name, reason=f"has {im.shape[-1]} channels, the rest of the set {channels}")
                xs.append(to_benchmark_size(im[None])[0])
                ys.append(k)
        arrays[split] = (np.stack(xs).astype(np.float32), np.asarray(ys, np.int64))
    yield Progress("load", step=n, steps=n, overall=1.0, elapsed=clock.elapsed(), message=f"{n} images read")
    stem = path.name
    for suf in ARCHIVE_SUFFIXES:
        if stem.endswith(suf):
            stem = stem[: -len(suf)]
    return Dataset(stem, arrays["train"][0], arrays["train"][1], arrays["test"][0], arrays["test"][1], names)


def load_dataset(path: Union[str, os.PathLike]) -> Job[Dataset]:
    """Read an IDX folder, a class-folder tree or its archive (a job yielding "load")."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(path=path, reason="no such file or folder; pass the data set's folder or archive with --data")
    if is_idx_folder(path):
        return (yield from load_idx_folder(path))
    if path.is_dir() or path.name.endswith(ARCHIVE_SUFFIXES):
        return (yield from load_class_folders(path))
    raise DatasetError(path=path, reason="neither an IDX folder, a train/<class>/ test/<class>/ folder, nor a .tar.gz of one")


# --------------------------------------------------------- one-class split --
@dataclass
class OneClassSplit:
    """Normal-class training images and a labelled test set (0 normal, 1 anomalous)."""

    normal_class: int
    train_x: np.ndarray
    test_x: np.ndarray
    test_labels: np.ndarray
    test_index: np.ndarray      # indices into Dataset.test_x (for figures)


def one_class_split(ds: Dataset, k: int, max_train: Optional[int] = None, test_protocol: str = "all",
                    max_test: Optional[int] = None, seed: int = 0) -> OneClassSplit:
    """Train on class ``k`` only; test on the test set with class k as normal.

    ``max_train`` keeps a seeded random subset of class k's training images;
    ``test_protocol="adgan"`` draws 5000 random test images (seeded);
    ``max_test`` further keeps a seeded random subset of the test set.
    """
    if test_protocol not in ("all", "adgan"):
        raise DatasetError(f"test protocol must be 'all' or 'adgan', got {test_protocol!r}")
    rng = np.random.default_rng(seed)
    train_idx = np.flatnonzero(ds.train_y == k)
    if len(train_idx) < 4:
        raise DatasetError(f"class {ds.class_names[k]!r} has only {len(train_idx)} training images")
    if max_train is not None and len(train_idx) > max_train:
        train_idx = np.sort(rng.choice(train_idx, max_train, replace=False))
    test_idx = np.arange(len(ds.test_y))
    limit = ADGAN_TEST_SIZE if test_protocol == "adgan" else None
    if max_test is not None:
        limit = max_test if limit is None else min(limit, max_test)
    if limit is not None and len(test_idx) > limit:
        # A separate stream: the test subset must not depend on max_train.
        test_idx = np.sort(np.random.default_rng([seed, 1]).choice(test_idx, limit, replace=False))
    labels = (ds.test_y[test_idx] != k).astype(np.int64)
    return OneClassSplit(k, ds.train_x[train_idx], ds.test_x[test_idx], labels, test_idx)


__all__ = ["Dataset", "DatasetError", "OneClassSplit", "load_dataset", "load_idx_folder",
           "load_class_folders", "one_class_split", "read_idx", "to_benchmark_size", "SIZE"]
