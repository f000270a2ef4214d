"""Detection against expert instance masks: whole, merged, split and missed nuclei, per field.

Each annotated nucleus is matched to the detection covering most of it:
*missed* when that covers under a fifth of it, *merged* when that detection
also covers a fifth or more of another nucleus, *split* when a second
detection covers a fifth or more of it, *whole* when none of these holds and
the detection covers at least 60 % of it.  ``--seed-scale S`` sets the blob
scale of the watershed seeds (object size / S; ddrid's is
``ddrcore.objects.detect.SEED_SCALE``), ``--neck R`` adds
``neck_split_probe.split_necks`` after the merge step.  ``--merge-step``
also says, per field, how many merged detections were one watershed piece
before the merge step (one seed for two nuclei) and how many the merge step
joined, and lists every pair of pieces the merge step's seam rule joins
(pieces mostly on one annotated nucleus only): right (one nucleus) or wrong
(two), with the smoothed intensity along their contact over the dimmer
piece's peak and over its mean.

    python benchmarks/experiments/detection_match.py [--seed-scale S]... [--neck R] [--merge-step] IMAGE MASK [IMAGE MASK ...]
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


def merge_step(img: np.ndarray, mask: np.ndarray) -> tuple:
    """(one-piece merged detections, merged detections the merge step joined, [(right, contact/peak, contact/mean)])."""
    from scipy import ndimage as ndi

    import ddrcore.objects.detect as detect

    seen = {}
    merge = detect.merge_pieces

    def spy(labels, ridge, intensity, object_size, *a, **k):
        seen.update(pieces=np.asarray(labels).copy(), ridge=ridge, intensity=intensity)
        return merge(labels, ridge, intensity, object_size, *a, **k)

    detect.merge_pieces = spy
    try:
        final = detect.detect_objects(img, detect.estimate_object_size(img)).labels
    finally:
        detect.merge_pieces = merge
    pieces, ridge, inten = seen["pieces"], seen["ridge"], seen["intensity"]
    ov = np.zeros((int(mask.max()) + 1, int(final.max()) + 1), np.int64)
    np.add.at(ov, (mask.ravel(), final.ravel()), 1)
    area = ov.sum(1)
    one = joined = 0
    for j in range(1, int(final.max()) + 1):
        if int(((ov[1:, j] >= 0.2 * area[1:]) & (area[1:] > 0)).sum()) >= 2:
            n_pieces = np.unique(pieces[final == j])
            if (n_pieces > 0).sum() >= 2:
                joined += 1
            else:
                one += 1
    # The seam rule's joins (merge_pieces' defaults), each pair labelled by the annotated nuclei under it.
    n = int(pieces.max())
    pairs, _, c_ridge = detect._adjacency(pieces, ridge)
    _, _, c_int = detect._adjacency(pieces, inten)
    inside = pieces > 0
    count = np.bincount(pieces[inside], minlength=n + 1).astype(float)
    r_mean = np.bincount(pieces[inside], weights=ridge[inside], minlength=n + 1) / np.maximum(count, 1)
    r_peak = np.asarray(ndi.maximum(ridge[inside], pieces[inside], np.arange(n + 1)), float)
    i_mean = np.bincount(pieces[inside], weights=inten[inside], minlength=n + 1) / np.maximum(count, 1)
    i_peak = np.asarray(ndi.maximum(inten[inside], pieces[inside], np.arange(n + 1)), float)
    po = np.zeros((n + 1, int(mask.max()) + 1), np.int64)
    np.add.at(po, (pieces.ravel(), mask.ravel()), 1)
    owner = po[:, 1:].argmax(1) + 1
    share = po[:, 1:].max(1) / np.maximum(po.sum(1), 1)
    import inspect

    # The seam rule's own constants, read from merge_pieces, so this count follows any change to them.
    defaults = inspect.signature(merge).parameters
    seam, seam_peak = defaults["seam"].default, defaults["seam_peak"].default
    joins = []
    for (a, b), cr, ci in zip(pairs, c_ridge, c_int):
        dimmer = min(r_mean[a], r_mean[b])
        if not (dimmer > 0 and cr >= seam * dimmer and cr >= seam_peak * min(r_peak[a], r_peak[b])):
            continue
        if min(share[a], share[b]) < 0.5:
            continue
        joins.append((bool(owner[a] == owner[b]), ci / min(i_peak[a], i_peak[b]), ci / min(i_mean[a], i_mean[b])))
    return one, joined, joins


def main(argv) -> int:
    import tifffile

    import ddrcore.objects.detect as detect
    from ddrcore.io.reading import read_planes

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed-scale", type=float, action="append")
    ap.add_argument("--neck", type=float)
    ap.add_argument("--merge-step", action="store_true")
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
    if args.merge_step:
        joins = []
        for k, (img, mask) in enumerate(fields):
            one, joined, j = merge_step(img, mask)
            joins += j
            print(f"field {k + 1}: merged detections of one watershed piece {one}, joined by the merge step {joined}")
        for right in (True, False):
            v = np.array([(p, m) for r, p, m in joins if r == right])
            if len(v):
                print(f"seam-rule joins, {'one nucleus' if right else 'two nuclei'}: {len(v)}; contact over the dimmer "
                      f"piece's peak {v[:, 0].min():.2f}-{v[:, 0].max():.2f}, over its mean {v[:, 1].min():.2f}-"
                      f"{v[:, 1].max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
