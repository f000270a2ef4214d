"""Microscope formats (Zeiss CZI, Nikon ND2, Leica LIF) through bioio, when installed.

bioio and its readers are an optional extra (``pip install "ddrid[formats]"``):
they are large, and most users save TIFFs.  Without them a CZI/ND2/LIF file is
still found in a folder and reported with one line that says which extra to
install, instead of being silently left out.

Each scene of a file becomes one group of pages, as a TIFF series does: every
T and Z plane is a page, channels stay channels, and the reader's physical
pixel size (µm) is kept for the measurements (:mod:`ddrcore.io.metadata`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from ..errors import ImageReadError

#: Suffixes read through bioio, and the reader plugin each needs.
BIOIO_READERS = {".czi": "bioio-czi", ".nd2": "bioio-nd2", ".lif": "bioio-lif"}
BIOIO_SUFFIXES = tuple(BIOIO_READERS)

INSTALL_HINT = 'pip install "ddrid[formats]"'


def is_bioio_file(path: Union[str, os.PathLike]) -> bool:
    return Path(path).suffix.lower() in BIOIO_SUFFIXES


def _open(path: Path):
    """A bioio BioImage, or ImageReadError with the one line that says what to install."""
    try:
        from bioio import BioImage
    except ImportError:
        raise ImageReadError(path=path, reason=f"{path.suffix.lower()} files are read through bioio, which is not "
                             f"installed; install the formats extra: {INSTALL_HINT}") from None
    try:
        return BioImage(path)
    except ImportError as exc:
        raise ImageReadError(path=path, reason=f"bioio has no reader for {path.suffix.lower()} here ({exc}); "
                             f"install the formats extra: {INSTALL_HINT}") from None
    except Exception as exc:  # noqa: BLE001 - bioio raises its own types per reader
        plugin = BIOIO_READERS.get(path.suffix.lower(), "a bioio reader")
        text = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        if "plugin" in text.lower() or "reader" in text.lower():
            raise ImageReadError(path=path, reason=f"no bioio reader could open it ({text}); install {plugin} "
                                 f"(part of {INSTALL_HINT})") from None
        raise ImageReadError(path=path, reason=f"not a readable image ({text}); is the file truncated or corrupt?") from None


def read_bioio_groups(path: Union[str, os.PathLike], check_size=None) -> List[np.ndarray]:
    """Every scene of a CZI/ND2/LIF file as (planes, Y, X, C) at its native dtype.

    ``check_size(path, height, width, planes, itemsize, channels)`` refuses a
    page or file too large before any pixel is decoded (the readers' dims come
    from the header).
    """
    path = Path(path)
    img = _open(path)
    groups = []
    for scene in img.scenes:
        img.set_scene(scene)
        d = img.dims
        t, c, z, h, w = (int(getattr(d, a, 1) or 1) for a in "TCZYX")
        if check_size is not None:
            check_size(path, h, w, t * z, np.dtype(img.dtype).itemsize, c)
        data = np.asarray(img.get_image_data("TZYXC"))      # (T, Z, Y, X, C)
        groups.append(data.reshape((t * z, h, w, c)))
    if not groups:
        raise ImageReadError(path=path, reason="holds no image scene")
    return groups


def bioio_pixel_size(path: Union[str, os.PathLike]) -> Optional[Tuple[float, float]]:
    """(y, x) in µm from the reader's physical pixel sizes, or None (also when bioio is not installed)."""
    try:
        sizes = _open(Path(path)).physical_pixel_sizes
    except ImageReadError:
        return None
    y, x = _um(sizes.Y), _um(sizes.X)
    if x is None and y is None:
        return None
    return (y or x, x or y)


def _um(value) -> Optional[float]:
    """bioio's sizes are in µm already; None where a reader has none (or a broken one)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if 1e-6 <= v <= 1e6 else None
