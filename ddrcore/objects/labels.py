"""Label images (Cellpose, StarDist, ilastik, CellProfiler) as object sources.

Pairing rule: the label image of ``cells/a01.tif`` is the file in the labels
folder (default: the image's own folder) whose name is the image's stem plus
one of :data:`LABEL_SUFFIXES` (``a01_masks.tif``, ``a01_cp_masks.png``, ...),
or, in a separate labels folder, the same stem alone (``labels/a01.tif``).
Files whose stem ends with one of those suffixes are label images, never
data: :func:`ddrcore.io.images.find_images` skips them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import ImageReadError
from .detect import Objects

#: Stem endings that mark a label image (longest first, so ``_cp_masks`` wins over ``_masks``).
LABEL_SUFFIXES = ("_cp_masks", "_labels", "_label", "_masks", "_mask")


def is_label_file(path: Union[str, os.PathLike]) -> bool:
    """True when the file name says it is a label image.

    Examples
    --------
    >>> is_label_file("well_a01_cp_masks.png"), is_label_file("a01_mask.tif"), is_label_file("mask.tif")
    (True, True, False)
    """
    stem = Path(path).stem.lower()
    return any(stem.endswith(s) and len(stem) > len(s) for s in LABEL_SUFFIXES)


def find_label_image(image: Union[str, os.PathLike], labels_dir: Optional[Union[str, os.PathLike]] = None
                     ) -> Optional[Path]:
    """The label image paired with ``image`` (see the module docstring), or None."""
    from ..io.reading import IMAGE_SUFFIXES

    image = Path(image)
    folder = Path(labels_dir) if labels_dir else image.parent
    if not folder.is_dir():
        return None
    by_name = {f.name.lower(): f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()}
    stem = image.stem.lower()
    for suffix in LABEL_SUFFIXES:
        for ext in IMAGE_SUFFIXES:
            hit = by_name.get(f"{stem}{suffix}{ext}")
            if hit is not None:
                return hit
    if labels_dir and Path(os.path.abspath(folder)) != Path(os.path.abspath(image.parent)):
        for ext in IMAGE_SUFFIXES:
            hit = by_name.get(f"{stem}{ext}")
            if hit is not None:
                return hit
    return None


def read_label_pages(path: Union[str, os.PathLike]) -> np.ndarray:
    """A label image as (pages, Y, X) integers; raises :class:`ImageReadError` with one line."""
    from ..io.reading import read_image_groups

    groups = read_image_groups(path)
    planes = np.concatenate([g for g in groups if g.shape[1:3] == groups[0].shape[1:3]])
    if planes.shape[-1] != 1:
        first = planes[..., :1]
        if not np.array_equal(np.broadcast_to(first, planes.shape), planes):
            raise ImageReadError(path=path, reason=f"a label image must have one channel, this has {planes.shape[-1]}")
    planes = planes[..., 0]
    if planes.dtype.kind == "f":
        if not np.isfinite(planes).all() or not np.array_equal(planes, np.round(planes)):
            raise ImageReadError(path=path, reason="a label image must hold whole numbers (object ids), not intensities")
        planes = planes.astype(np.int64)
    if planes.dtype.kind not in "iu":
        raise ImageReadError(path=path, reason="a label image must hold integer object ids")
    if planes.dtype == np.uint64 and planes.size and int(planes.max()) > np.iinfo(np.int64).max:
        # Object ids travel as int64 (CSV, project files): an id of 2**63 or more would turn negative and
        # break the object count.  This image is refused; the other images of the run go on.
        raise ImageReadError(path=path, reason=f"holds object id {int(planes.max())}, above 2**63 - 1; "
                             "number the objects 1, 2, 3 ... (e.g. skimage.segmentation.relabel_sequential)")
    if (planes < 0).any():
        raise ImageReadError(path=path, reason="a label image must not hold negative ids")
    return planes


def objects_from_labels(labels: np.ndarray) -> Objects:
    """One object per label id of a (Y, X) label image (0 is background).

    Examples
    --------
    >>> lab = np.zeros((8, 8), np.uint16); lab[1:3, 1:3] = 7; lab[5:8, 4:8] = 2
    >>> o = objects_from_labels(lab)
    >>> o.ids.tolist(), o.areas.tolist(), o.centers.tolist()
    ([2, 7], [12.0, 4.0], [[6.0, 5.5], [1.5, 1.5]])
    """
    from scipy import ndimage as ndi

    lab = np.asarray(labels)
    ids = np.unique(lab)
    ids = ids[ids > 0].astype(np.int64)
    if ids.size == 0:
        return Objects(np.zeros((0, 2)), ids, np.zeros(0), labels=lab.astype(np.int32, copy=False))
    # Relabel to 1..N first: ndimage's per-label sums cost memory proportional to the largest id.
    dense = np.searchsorted(ids, lab) + 1
    dense[lab == 0] = 0
    index = np.arange(1, ids.size + 1)
    centers = np.array(ndi.center_of_mass(np.ones(lab.shape), dense, index), float).reshape(-1, 2)
    areas = np.bincount(dense.ravel(), minlength=ids.size + 1)[1:].astype(float)
    out = lab.astype(np.int64) if lab.max() > np.iinfo(np.int32).max else lab.astype(np.int32)
    return Objects(centers=centers, ids=ids, areas=areas, labels=out)
