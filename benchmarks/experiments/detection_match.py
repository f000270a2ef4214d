"""Detection against expert instance masks: whole, merged, split and missed nuclei, per field.

Each annotated nucleus is matched to the detection covering most of it:
*missed* when that covers under a fifth of it, *merged* when that detection
also covers a fifth or more of another nucleus, *split* when a second
detection covers a fifth or more of it, *whole* when none of these holds and
the detection covers at least 60 % of it.  ``--seed-scale S`` sets the blob
scale of the watershed seeds (object size / S; ddrid's is
``ddrcore.objects.detect.SEED_SCALE``), ``--neck R`` adds
``neck_split_probe.split_necks`` after the merge step.

    python benchmarks/experiments/detection_match.py [--seed-scale S]... [--neck R] IMAGE MASK [IMAGE MASK ...]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def match(mask: np.ndarray, labels: np.ndarray) -> dict:
    """Counts of whole, merged, split and missed nuclei of ``mask`` in the detection ``labels``.

    >>> m = np.zeros((6, 12), int); m[1:5, 1:5] = 1; m[1:5, 6:10] = 2
    >>> d = np.zeros((6, 12), int); d[1:5, 1:10] = 1          # one detection over both
    >>> match(m, d)["merged"]
    2
    """
    ov = np.zeros((int(mask.max()) + 1, int(labels.max()) + 1), np.int64)
    np.add.at(ov, (mask.ravel(), labels.ravel()), 1)
    area = ov.sum(1)
    out = {"whole": 0, "merged": 0, "split": 0, "missed": 0}
    for i in np.nonzero(area[1:])[0] + 1:
        row = ov[i, 1:]
        j = int(row.argmax()) + 1
        if row.max() < 0.2 * area[i]:
            out["missed"] += 1
            continue
        merged = int(((ov[1:, j] >= 0.2 * area[1:]) & (area[1:] > 0)).sum()) >= 2
        split = int((row >= 0.2 * area[i]).sum()) >= 2
        out["merged"] += merged
        out["split"] += split
        out["whole"] += int(not merged and not split and row.max() >= 0.6 * area[i])
    return out


def main(argv) -> int:
    import tifffile

    import ddrcore.objects.detect as detect
    from ddrcore.io.reading import read_planes

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed-scale", type=float, action="append")
    ap.add_argument("--neck", type=float)
    ap.add_argument("pairs", nargs="+")
    args = ap.parse_args(argv)
    if args.neck is not None:
        import neck_split_probe

        neck_split_probe.install(args.neck)
    fields = [(read_planes(i)[0].astype(np.float64).mean(-1), tifffile.imread(m))
              for i, m in zip(args.pairs[::2], args.pairs[1::2])]
    for scale in args.seed_scale or [detect.SEED_SCALE]:
        detect.SEED_SCALE = scale
        rows = [match(mask, detect.detect_objects(img, detect.estimate_object_size(img)).labels)
                for img, mask in fields]
        total = {k: sum(r[k] for r in rows) for k in rows[0]}
        print(f"seed scale {scale:g}{'' if args.neck is None else f', neck {args.neck:g}'}: {total}  per field "
              + " ".join(f"{r['whole']}/{r['merged']}/{r['split']}/{r['missed']}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
