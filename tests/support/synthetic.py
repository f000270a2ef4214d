"""Tiny synthetic data for the tests: microscopy-like patches (rings, the normal class in most tests,
and blobs) and MNIST-style IDX files for the benchmark readers.

A plain module rather than part of conftest.py, so that tests can import it by name
(tests/support is on pytest's pythonpath).
"""
from __future__ import annotations

import gzip

import numpy as np


def ring_patch(rng: np.random.Generator, size: int = 32, dtype=np.uint16) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    c = size / 2 + rng.normal(0, 1, 2)
    r = size / 4 + rng.normal(0, 0.7)
    d = np.hypot(yy - c[0], xx - c[1])
    img = 200 + 1500 * np.exp(-((d - r) ** 2) / 3.0) + rng.normal(0, 25, (size, size))
    return np.clip(img, 0, np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else None).astype(dtype)


def blob_patch(rng: np.random.Generator, size: int = 32, dtype=np.uint16) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    c = size / 2 + rng.normal(0, 1, 2)
    d = np.hypot(yy - c[0], xx - c[1])
    img = 200 + 1500 * np.exp(-(d**2) / 20.0) + rng.normal(0, 25, (size, size))
    return np.clip(img, 0, None).astype(dtype)


def write_idx(path, arr, gz):
    arr = np.asarray(arr)
    code = {np.dtype(np.uint8): 0x08}[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def make_idx_folder(root, gz=True, n_train=30, n_test=20, side=28):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 3).astype(np.uint8)
        images = (rng.integers(0, 50, (n, side, side)) + 60 * labels[:, None, None]).astype(np.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, gz)
    return root
