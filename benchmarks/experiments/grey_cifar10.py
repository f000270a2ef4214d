"""Make grey CIFAR-10: a third one-class data set (small grey natural images), from the CIFAR-10 JPEG archive.

Each JPEG becomes an 8-bit grey PNG (PIL's luminance), 600 training images per
class (the first by file name; the quick protocol trains on 600) and the whole
test set, in the ``train/<class>/``, ``test/<class>/`` layout that ``ddrid bench
accuracy --data`` reads.  Grey natural images are neither MNIST's strokes nor
CIFAR-10's colour: a check that the default profile was not chosen for either.

    python benchmarks/experiments/grey_cifar10.py CIFAR10_EXTRACTED_DIR OUT_DIR
"""
import sys
from pathlib import Path

from PIL import Image


def main(src, dst):
    src, dst = Path(src), Path(dst)
    n = 0
    for split, cap in (("train", 600), ("test", None)):
        for cdir in sorted(p for p in (src / split).iterdir() if p.is_dir()):
            out = dst / split / cdir.name
            out.mkdir(parents=True, exist_ok=True)
            files = sorted(cdir.glob("*.jpg"))
            for f in files[:cap] if cap else files:
                Image.open(f).convert("L").save(out / (f.stem + ".png"))
                n += 1
    print(f"wrote {n} grey PNGs under {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:])
