"""Label images (Cellpose, StarDist, ilastik, CellProfiler, napari, MorphoLibJ) as object sources.

What other tools write, as checked in their code and documentation:

* Cellpose ``io.save_masks``: ``IMG_cp_masks.png`` (``.tif`` with ``tif=True``);
  its GUI's ``IMG_seg.npy`` is a pickled dict and is never read (data, not code).
* StarDist's scripts and the DSB 2018 layout it trains on: ``images/IMG.tif``
  beside ``masks/IMG.tif`` (same name, sibling folder); napari-stardist and
  many notebooks: ``IMG_labels.tif`` / ``IMG_label.tif``.
* napari's sample data and its label layers saved by hand: ``IMG-labels.tif``.
* ilastik's export, ``{nickname}_{result_type}``: ``IMG_Object Identities.tif``
  (object classification; instance ids) is a label image.  ``IMG_Simple
  Segmentation.tif`` (class per pixel, not objects) and ``IMG_Probabilities.tif``
  are not data but are not paired as labels either: a class image would make one
  "object" per class.
* Fiji MorphoLibJ (Connected Components Labeling): ``IMG-lbl.tif``.
* Masks saved beside an image: ``IMG_mask.tif``, ``IMG-mask.tif``,
  ``IMG-mask2d.tif`` (the DSB 2018 sample in napari's tutorials).  A binary
  mask (a single id) is split into connected components, one object each.

Pairing rule: the label image of ``cells/a01.tif`` is the file in the labels
folder (default: the image's own folder) whose stem is the image's stem plus
one of those endings; or, in a separate labels folder, the same stem alone
(``labels/a01.tif``); or the same name in a sibling folder called ``masks`` or
``labels`` of an ``images`` folder (the StarDist layout).  Files with such an
ending, and files in such ``masks``/``labels`` folders, are label images,
never data: :func:`ddrcore.io.images.find_images` skips them.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import ImageReadError
from .detect import Objects

#: Stem endings that mark a label image, most specific first (``_cp_masks`` before ``_masks``), separators included.
LABEL_SUFFIXES = ("_cp_masks", "_labels", "-labels", "_label", "-label", "_masks", "-masks",
                  "_object identities", "-lbl", "_lbl", "_mask", "-mask", "-mask2d", "_mask2d")

#: Stem endings of other tools' outputs that are neither data nor object labels (ilastik's class maps).
NOT_DATA_SUFFIXES = ("_simple segmentation", "_probabilities", "_cp_outlines", "_cp_output", "_flows")

#: Folder names that hold label images in the StarDist / DSB 2018 layout (beside a folder ``images``).
LABEL_FOLDERS = ("masks", "labels")

# Any "mask"/"label" word at the stem's end after a separator (``-mask2d``, ``_masks``, `` labels``),
# so that a name not in the list above (``_cp_masks3``?) is still never read as data.
_LABEL_WORD = re.compile(r"(?<=.)[-_ .](cp_)?(masks?|labels?|lbl)(\d*d|\d+)?$")


def _ending(stem: str) -> Optional[str]:
    """The label ending of a lower-case stem, or None."""
    for s in LABEL_SUFFIXES:
        if stem.endswith(s) and len(stem) > len(s):
            return s
    m = _LABEL_WORD.search(stem)
    return m.group(0) if m else None


def is_label_file(path: Union[str, os.PathLike]) -> bool:
    """True when the file name says it is a label image.

    Examples
    --------
    >>> is_label_file("well_a01_cp_masks.png"), is_label_file("a01_mask.tif"), is_label_file("mask.tif")
    (True, True, False)
    >>> is_label_file("cells3d-nuclei-z25-labels.tif"), is_label_file("dsb2018-nuclei-mask2d.tif")
    (True, True)
    >>> is_label_file("a01_Object Identities.tif"), is_label_file("masking.tif")
    (True, False)
    """
    return _ending(Path(path).stem.lower()) is not None


def is_label_image(path: Union[str, os.PathLike], root: Optional[Union[str, os.PathLike]] = None) -> bool:
    """True for a label image: by its name (:func:`is_label_file`), or, below the folder ``root`` searched,
    in a ``masks``/``labels`` folder beside an ``images`` folder (the StarDist layout).

    Examples
    --------
    >>> is_label_image("a01_cp_masks.png"), is_label_image("a_Probabilities.tif"), is_label_image("a.tif")
    (True, False, False)
    """
    p = Path(path)
    if is_label_file(p):
        return True
    if root is not None:
        try:
            parts = p.parent.relative_to(root).parts
        except ValueError:
            parts = ()
        if parts and parts[-1].lower() in LABEL_FOLDERS and (p.parent.parent / "images").is_dir():
            return True
    return False


def is_not_data(path: Union[str, os.PathLike], root: Optional[Union[str, os.PathLike]] = None) -> bool:
    """True for files other tools wrote about an image: label images, masks, class and probability maps.

    ``root``: the folder searched (see :func:`is_label_image`).

    Examples
    --------
    >>> is_not_data("a_Simple Segmentation.tif"), is_not_data("a_Probabilities.tif"), is_not_data("a.tif")
    (True, True, False)
    """
    stem = Path(path).stem.lower()
    return is_label_image(path, root) or any(stem.endswith(s) and len(stem) > len(s) for s in NOT_DATA_SUFFIXES)


def with_label_folders(paths) -> list:
    """``paths`` (None left out) plus the label folders and files that the images among them pair with.

    An output must never replace a label image being read.  Label files beside
    their images are inside the input folder, which the output rule already
    covers; in the StarDist / DSB 2018 layout (``images/`` read, ``masks/``
    or ``labels/`` beside it) they are not, so those folders count as inputs.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "images").mkdir(); (root / "masks").mkdir()
    >>> [Path(p).name for p in with_label_folders([root / "images", None])]
    ['images', 'masks']
    >>> (root / "a.tif").touch(); (root / "a_labels.tif").touch()
    >>> [Path(p).name for p in with_label_folders([root / "a.tif"])]
    ['a.tif', 'a_labels.tif']
    """
    from ..io.reading import IMAGE_SUFFIXES

    out = [p for p in paths if p is not None]
    for p in list(out):
        folder = Path(p)
        if folder.name.lower() == "images" and folder.is_dir():
            out.extend(folder.parent / name for name in LABEL_FOLDERS if (folder.parent / name).is_dir())
        elif folder.is_file() and folder.suffix.lower() in IMAGE_SUFFIXES:
            # One image given rather than its folder: the label image it pairs with (beside it, or in the
            # StarDist layout's masks/) is read too, and no folder rule covers it.
            paired = find_label_image(folder)
            if paired is not None:
                out.append(paired)
    return out


def find_label_image(image: Union[str, os.PathLike], labels_dir: Optional[Union[str, os.PathLike]] = None
                     ) -> Optional[Path]:
    """The label image paired with ``image`` (see the module docstring), or None."""
    from ..io.reading import IMAGE_SUFFIXES

    image = Path(image)
    folder = Path(labels_dir) if labels_dir else image.parent
    if not folder.is_dir():
        return None
    stem = image.stem.lower()
    # stem of the image it belongs to -> [(priority, file)]: the label file named most specifically wins.
    hits = []
    for f in folder.iterdir():
        if f.suffix.lower() not in IMAGE_SUFFIXES or not f.is_file():
            continue
        fstem = f.stem.lower()
        ending = _ending(fstem)
        if ending is not None and fstem[: -len(ending)] == stem:
            rank = LABEL_SUFFIXES.index(ending) if ending in LABEL_SUFFIXES else len(LABEL_SUFFIXES)
            hits.append((rank, IMAGE_SUFFIXES.index(f.suffix.lower()), f.name, f))
    if hits:
        return min(hits)[-1]
    if labels_dir and Path(os.path.abspath(folder)) != Path(os.path.abspath(image.parent)):
        return _same_name(folder, image)
    if not labels_dir and image.parent.name.lower() == "images":
        # The StarDist / DSB 2018 layout: images/IMG.tif and masks/IMG.tif (or labels/IMG.tif).
        for name in LABEL_FOLDERS:
            hit = _same_name(image.parent.parent / name, image)
            if hit is not None:
                return hit
    return None


def _same_name(folder: Path, image: Path) -> Optional[Path]:
    """The image file in ``folder`` with ``image``'s stem (any image suffix), or None."""
    from ..io.reading import IMAGE_SUFFIXES

    if not folder.is_dir():
        return None
    for ext in (image.suffix.lower(),) + IMAGE_SUFFIXES:
        for cand in (folder / f"{image.stem}{ext}", folder / f"{image.stem}{ext.upper()}"):
            if cand.is_file():
                return cand
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
    return np.stack([split_binary(page) for page in planes]) if len(planes) else planes


def split_binary(page: np.ndarray) -> np.ndarray:
    """A mask with one value (0/1, 0/255) as one object per connected piece; a label image as it is.

    A tool that writes masks (``IMG-mask.tif``) marks every object with the same
    value; read as labels, that would be a single object made of every nucleus.

    Examples
    --------
    >>> m = np.zeros((5, 5), np.uint8); m[0, 0] = m[4, 4] = 255
    >>> split_binary(m)[[0, 4], [0, 4]].tolist()
    [1, 2]
    """
    values = np.unique(page)
    values = values[values > 0]
    if values.size != 1:
        return page
    from scipy import ndimage as ndi

    pieces, n = ndi.label(page > 0)
    return pieces.astype(page.dtype if n <= np.iinfo(page.dtype).max else np.int64) if n > 1 else page


#: Label images whose largest id is at most this, or at most their number of pixels, are renumbered through
#: a lookup table (one pass); beyond, through a sorted search (memory follows the objects, not the largest id).
_TABLE_IDS = 2**16


def dense_labels(labels: np.ndarray) -> tuple:
    """The label image renumbered 1..N in the order of its ids, and those ids (0 stays background).

    scikit-image's ``regionprops`` and ndimage's ``find_objects`` and
    per-label sums reserve room for every id up to the largest, so a label
    image of 14 objects one of which is numbered 2**31 asks for gigabytes.
    Work on the dense image, and map back through the ids.

    Examples
    --------
    >>> lab = np.zeros((2, 3), np.uint32); lab[0, 0] = 4_000_000_000; lab[1, 2] = 7
    >>> dense, ids = dense_labels(lab)
    >>> dense.tolist(), ids.tolist()
    ([[2, 0, 0], [0, 0, 1]], [7, 4000000000])
    >>> dense_labels(np.array([[2**60, 2**60 + 1]], np.uint64))[0].tolist()
    [[1, 2]]
    """
    lab = np.asarray(labels)
    top = int(lab.max()) if lab.size else 0
    if 0 <= int(lab.min() if lab.size else 0) and top <= max(_TABLE_IDS, lab.size):
        # The usual case, ids no more than the pixels: counted and looked up in one pass each (the table
        # costs what a copy of the image does).
        ids = np.flatnonzero(np.bincount(lab.ravel().astype(np.int64, copy=False), minlength=1))
        ids = ids[ids > 0].astype(np.int64)
        if ids.size == top:                    # already 1..N (ddrid's own detections): nothing to renumber
            return lab.astype(np.int32, copy=False), ids
        table = np.zeros(top + 1, np.int32)
        table[ids] = np.arange(1, ids.size + 1, dtype=np.int32)
        return table[lab], ids
    ids = np.unique(lab)
    ids = ids[ids > 0].astype(np.int64)
    # Both sides int64: a uint64 image against int64 ids would be compared as floats, and 2**60 and
    # 2**60 + 1 would become one object (ids above int64 are refused when read).
    dense = (np.searchsorted(ids, lab.astype(np.int64, copy=False)) + 1).astype(
        np.int32 if ids.size < 2**31 - 1 else np.int64)
    dense[lab == 0] = 0
    return dense, ids


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
    dense, ids = dense_labels(lab)
    if ids.size == 0:
        return Objects(np.zeros((0, 2)), ids, np.zeros(0), labels=lab.astype(np.int32, copy=False))
    index = np.arange(1, ids.size + 1)
    centers = np.array(ndi.center_of_mass(np.ones(lab.shape), dense, index), float).reshape(-1, 2)
    areas = np.bincount(dense.ravel(), minlength=ids.size + 1)[1:].astype(float)
    out = lab.astype(np.int64) if lab.max() > np.iinfo(np.int32).max else lab.astype(np.int32)
    return Objects(centers=centers, ids=ids, areas=areas, labels=out)
