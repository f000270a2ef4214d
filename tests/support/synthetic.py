"""Tiny synthetic microscopy-like patches: rings (the normal class in most tests) and blobs.

A plain module rather than part of conftest.py, so that tests can import it by name
(tests/support is on pytest's pythonpath).
"""
from __future__ import annotations

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
