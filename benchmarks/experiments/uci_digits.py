"""Make a fourth one-class data set from scikit-learn's bundled UCI hand-written digits (8 x 8 grey).

1797 digits scanned at 8 x 8 with 17 grey levels (``sklearn.datasets.load_digits``,
shipped inside scikit-learn, so no download) are scaled to 28 x 28 (bilinear)
and written as 8-bit grey PNGs, each class split in half by a seeded draw into
``train/<digit>/`` and ``test/<digit>/``: about 90 training and 90 test images
per class, the layout ``ddrid bench accuracy --data`` reads.  Blurred, coarse
digits from another scanner and far fewer training images than MNIST: a check
that the default profile was not chosen for MNIST or CIFAR-10.

    python benchmarks/experiments/uci_digits.py OUT_DIR
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main(dst):
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(0)
    dst = Path(dst)
    if dst.exists() and any(dst.iterdir()):
        raise SystemExit(f"{dst} is not empty: give a new folder (nothing there is replaced)")
    n = 0
    for c in range(10):
        idx = np.flatnonzero(d.target == c)
        rng.shuffle(idx)
        half = len(idx) // 2
        for split, part in (("train", idx[:half]), ("test", idx[half:])):
            out = dst / split / str(c)
            out.mkdir(parents=True, exist_ok=True)
            for i in part:
                img = Image.fromarray((d.images[i] * (255 / 16)).astype(np.uint8)).resize((28, 28), Image.BILINEAR)
                img.save(out / f"{i:04d}.png")
                n += 1
    print(f"wrote {n} grey PNGs under {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:])
