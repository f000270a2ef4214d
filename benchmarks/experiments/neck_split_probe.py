"""Would splitting detections at a narrow neck (shape declumping) fix merged touching nuclei?

Measured on BBBC039 fields against their expert masks (and on DSB 2018), a
tenth of the nuclei end in a detection that covers two or more of them;
most of those pairs never had two seeds (one blob-response peak at a quarter
of the object size for both).  Many show a neck a microscopist splits at
once.  This adds one step after the merge: in every object over 1.2 times
the median object's area, the maxima of its distance transform at least half
a typical radius deep seed a watershed of the distance transform, and two
pieces stay apart only where the neck between them (the largest distance
value on their contact) is under ``RATIO`` times the shallower piece's
depth, and each piece keeps at least 0.3 of a typical object's area
(CellProfiler's "shape" declumping, with a neck test).

    python benchmarks/experiments/neck_split_probe.py [RATIO] -- ddrid ...

``detection_match.py --neck RATIO`` counts what it changes against a mask.
Result (2026-12-07, not kept): nothing on the merged pairs, whose union has
one distance-transform peak (they touch along a wide, straight contact; what
separates them is the dark seam, not the outline).
"""
from __future__ import annotations

import sys

import numpy as np

RATIO = 0.7


def split_necks(labels: np.ndarray, object_size: float, ratio: float = RATIO) -> np.ndarray:
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    labels = np.asarray(labels).astype(np.int32)
    n = int(labels.max())
    if n == 0:
        return labels
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    median = float(np.median(areas[1:][areas[1:] > 0]))
    typical_r = max(1.0, float(object_size) / 2)
    out = labels.copy()
    next_id = n + 1
    slices = ndi.find_objects(labels)
    for oid in range(1, n + 1):
        sl = slices[oid - 1]
        if sl is None or areas[oid] < 1.2 * median:
            continue
        sy, sx = sl
        y0, x0 = max(0, sy.start - 1), max(0, sx.start - 1)
        y1, x1 = min(labels.shape[0], sy.stop + 1), min(labels.shape[1], sx.stop + 1)
        obj = labels[y0:y1, x0:x1] == oid
        dist = ndi.gaussian_filter(ndi.distance_transform_edt(obj), 1.0) * obj
        win = 2 * max(1, int(typical_r / 2)) + 1
        peak = (dist == ndi.maximum_filter(dist, size=win)) & obj & (dist >= 0.5 * typical_r)
        markers, k = ndi.label(peak)
        if k < 2:
            continue
        pieces = watershed(-dist, markers, mask=obj)
        depth = np.asarray(ndi.maximum(dist, pieces, np.arange(1, k + 1)), float)
        # Join pieces whose contact is not a neck, or that are too small to be an object.
        parent = list(range(k + 1))

        def find(i, parent=parent):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        pairs = {}
        for a_, b_ in ((pieces[:, :-1], pieces[:, 1:]), (pieces[:-1, :], pieces[1:, :])):
            da = dist[:, :-1] if a_.shape[1] != pieces.shape[1] else dist[:-1, :]
            db = dist[:, 1:] if a_.shape[1] != pieces.shape[1] else dist[1:, :]
            touch = (a_ != b_) & (a_ > 0) & (b_ > 0)
            for p, q, v in zip(a_[touch], b_[touch], np.minimum(da[touch], db[touch])):
                key = (min(p, q), max(p, q))
                pairs[key] = max(pairs.get(key, 0.0), float(v))
        for (p, q), neck in pairs.items():
            if neck >= ratio * min(depth[p - 1], depth[q - 1]):
                parent[find(p)] = find(q)
        piece_area = np.bincount(pieces.ravel(), minlength=k + 1)
        for (p, q), _neck in sorted(pairs.items(), key=lambda t: -t[1]):
            rp, rq = find(p), find(q)
            if rp == rq:
                continue
            area_p = sum(piece_area[i] for i in range(1, k + 1) if find(i) == rp)
            area_q = sum(piece_area[i] for i in range(1, k + 1) if find(i) == rq)
            if min(area_p, area_q) < 0.3 * np.pi * typical_r ** 2:
                parent[rp] = rq
        roots = sorted({find(i) for i in range(1, k + 1)})
        if len(roots) < 2:
            continue
        sub = out[y0:y1, x0:x1]
        for root in roots[1:]:
            members = [i for i in range(1, k + 1) if find(i) == root]
            sub[np.isin(pieces, members)] = next_id
            next_id += 1
    # Ids 1..N again.
    _, new = np.unique(out, return_inverse=True)
    return new.reshape(out.shape).astype(np.int32)


def install(ratio: float = RATIO) -> None:
    import ddrcore.objects.detect as detect

    merge = detect.merge_pieces

    def merge_then_split(labels, ridge, intensity, object_size, *a, **k):
        return split_necks(merge(labels, ridge, intensity, object_size, *a, **k), object_size, ratio)

    detect.merge_pieces = merge_then_split


if __name__ == "__main__":
    args = sys.argv[1:]
    ratio = RATIO
    if args and args[0] != "--":
        ratio = float(args.pop(0))
    if args and args[0] == "--":
        args.pop(0)
    install(ratio)
    from ddrcore.cli import main

    sys.exit(main(args))
