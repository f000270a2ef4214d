"""Instance label images from BBBC039's masks, for `ddrid bench real --mask`.

BBBC039 (U2OS nuclei, Hoechst, 200 fields of 520 x 696, 16-bit; Caicedo et
al. 2019, CC0) ships each field's nuclei as a PNG whose first channel holds
a few values only, given so that touching nuclei differ (a map colouring):
one nucleus is one connected region of one value.  This writes
``NAME-labels.tif`` (int32, 1..N) beside each ``NAME-mask.png``.

    python benchmarks/experiments/bbbc039_labels.py MASK.png [MASK.png ...]
"""
from __future__ import annotations

import sys

import numpy as np


def labels_from_colouring(mask: np.ndarray) -> np.ndarray:
    """(Y, X) int32 labels: every connected region of each non-zero value of ``mask`` its own object.

    >>> m = np.zeros((4, 7), np.uint8); m[1:3, 1:3] = 1; m[1:3, 3:5] = 2; m[1:3, 6] = 1
    >>> int(labels_from_colouring(m).max())
    3
    """
    from scipy import ndimage as ndi

    out = np.zeros(mask.shape, np.int32)
    count = 0
    for value in np.unique(mask):
        if value == 0:
            continue
        regions, n = ndi.label(mask == value)
        out[regions > 0] = regions[regions > 0] + count
        count += n
    return out


def main(paths) -> int:
    import tifffile
    from skimage.io import imread

    from ddrcore.io.atomic import atomic_path
    from ddrcore.io.outputs import check_output

    for path in paths:
        mask = imread(path)
        labels = labels_from_colouring(mask[..., 0] if mask.ndim == 3 else mask)
        out = path[: -len("-mask.png")] + "-labels.tif" if path.endswith("-mask.png") else path + "-labels.tif"
        # ddrid's output rule: never over an input (here: any of the masks given) or a file of another kind.
        target = check_output(out, "tiff", inputs=paths)
        with atomic_path(target, suffix=".tif") as tmp:
            tifffile.imwrite(tmp, labels)
        print(f"{target}: {int(labels.max())} nuclei")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
