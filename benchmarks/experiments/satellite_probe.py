"""`ddrid bench real` with one more measurement: a bright body just outside the object (a micronucleus).

The micronucleus is the weakest kind on every real field measured (AUC
0.76-0.96 by kind, docs/benchmarks.md "Real fields"), and its detections are
the parent nuclei: the body itself is almost never a detection of its own (1
of 56 over DSB and U2OS seeds 0-3), so the parent's outline and measurements
are those of a normal nucleus, and only the crop shows the body.  This
measures it on the page, at the object's own scale:

- ``satellite``: in the ring from 1.5 px to 0.6 diameters outside the
  object's outline, on pixels that belong to no object (nor lie within a
  pixel of one), the peak of the page smoothed by sigma = 1 px above the
  ring's median, over the object's own mean above that median; log(1 + x).

Everything else runs as ``ddrid bench real`` does (the features baselines
get the column too):

    python benchmarks/experiments/satellite_probe.py bench real --image ... --seed S --json OUT.json

``check IMAGE MASK [ROUNDS]`` asks the question without training: it
implants one kind at a time into a quarter of the field's interior nuclei
(the bench's recipe), detects objects as ddrid does, and prints, per kind,
the AUC (implanted against the field's other nuclei) of ``satellite`` and
of three shape measures beside it: solidity (as shipped), a protrusion
(the share of the outline an opening with a disc of a fifth of the
diameter removes, beyond the largest remaining part) and a rim peak (the
brightest smoothed pixel of the outer 40 % of the object's depth over the
brightest of its core); and, for micronuclei, whether the body ended in
its parent's detection, in one of its own, or in none.
"""
import sys

import numpy as np

NEW = ("satellite",)

#: The ring: from INNER px to OUTER object diameters outside the outline.
INNER, OUTER = 1.5, 0.6


def satellite(grey, labels, ids):
    from scipy import ndimage as ndi

    grey = np.asarray(grey, np.float64)
    lab = np.asarray(labels)
    n = int(lab.max()) + 1
    slices = ndi.find_objects(lab)
    occupied = ndi.binary_dilation(lab > 0)
    out = np.full(len(ids), np.nan)
    for k, oid in enumerate(np.asarray(ids, np.int64)):
        if not (0 < oid < n) or slices[oid - 1] is None:
            continue
        sy, sx = slices[oid - 1]
        d = 2 * np.sqrt((lab[sy, sx] == oid).sum() / np.pi)
        pad = int(np.ceil(OUTER * d)) + 3
        y0, y1 = max(0, sy.start - pad), min(lab.shape[0], sy.stop + pad)
        x0, x1 = max(0, sx.start - pad), min(lab.shape[1], sx.stop + pad)
        win, lw = grey[y0:y1, x0:x1], lab[y0:y1, x0:x1]
        own = lw == oid
        dist = ndi.distance_transform_edt(~own)
        ring = (dist > INNER) & (dist <= OUTER * d) & ~occupied[y0:y1, x0:x1]
        if ring.sum() < 8:
            out[k] = 0.0
            continue
        smooth = ndi.gaussian_filter(win, 1.0)
        level = float(np.median(win[ring]))
        signal = max(float(win[own].mean()) - level, 1e-6)
        out[k] = np.log1p(max(float(smooth[ring].max()) - level, 0.0) / signal)
    return out


def shape_measures(grey, labels, ids) -> dict:
    """{name: (N,) larger = odder} of the three measures ``check`` compares with ``satellite``."""
    from scipy import ndimage as ndi
    from skimage.morphology import disk

    from ddrcore.objects.measure import measure_objects

    grey = np.asarray(grey, np.float64)
    smooth = ndi.gaussian_filter(grey, 1.0)
    low = float(np.percentile(grey, 20))
    slices = ndi.find_objects(labels)
    protrusion, rim = [], []
    for oid in ids:
        sy, sx = slices[oid - 1]
        y0, x0 = max(0, sy.start - 3), max(0, sx.start - 3)
        own = labels[y0: sy.stop + 3, x0: sx.stop + 3] == oid
        d = 2 * np.sqrt(own.sum() / np.pi)
        opened = ndi.binary_opening(own, structure=disk(max(1, int(round(d / 5)))))
        parts, n = ndi.label(opened)
        if n > 1:
            opened = parts == np.argmax(np.bincount(parts.ravel())[1:]) + 1
        protrusion.append((own & ~opened).sum() / own.sum())
        depth = ndi.distance_transform_edt(np.pad(own, 1))[1:-1, 1:-1]
        depth /= depth.max()
        win = smooth[y0: sy.stop + 3, x0: sx.stop + 3]
        outer, core = own & (depth <= 0.4), own & (depth > 0.4)
        rim.append((win[outer].max() - low) / max(win[core].max() - low, 1e-6) if outer.any() and core.any() else 1.0)
    m = measure_objects(grey, labels, ids)
    return {"solidity (as shipped)": -m[:, 3], "protrusion": np.array(protrusion), "rim peak": np.array(rim)}


def check(image: str, mask: str, rounds: int = 3) -> int:
    from ddrcore.io.reading import read_page
    from ddrcore.model.scoring import roc_auc
    from ddrcore.objects.detect import detect_objects, estimate_object_size
    from ddrcore.objects.oddities import KINDS, implant_field

    img, lab = np.squeeze(read_page(image, 0)), np.squeeze(read_page(mask, 0)).astype(np.int64)
    where = {"in its parent's detection": 0, "a detection of its own": 0, "no detection": 0}
    for kind in KINDS:
        aucs: dict = {}
        for seed in range(rounds):
            out, kinds, footprint = implant_field(img, lab, 0.25, np.random.default_rng(seed), kinds=(kind,))
            grey = out if out.ndim == 2 else out.mean(-1)
            found = detect_objects(out, estimate_object_size(out))
            cy = np.clip(np.round(found.centers[:, 0]).astype(int), 0, lab.shape[0] - 1)
            cx = np.clip(np.round(found.centers[:, 1]).astype(int), 0, lab.shape[1] - 1)
            odd, nucleus = footprint[cy, cx] > 0, lab[cy, cx] > 0
            on = odd | nucleus
            measures = {"satellite": satellite(grey, found.labels, found.ids),
                        **shape_measures(grey, found.labels, found.ids)}
            for name, v in measures.items():
                aucs.setdefault(name, []).append(roc_auc(v[on], odd[on].astype(int)))
            if kind == "micronucleus":
                changed = np.abs(out.astype(np.float64) - img.astype(np.float64))
                for oid in kinds:
                    mark = footprint == oid
                    body = mark & (lab != oid) & (changed > 0.3 * changed[mark].max())
                    under = found.labels[body]
                    parent = np.bincount(found.labels[lab == oid]).argmax()
                    if (under == 0).mean() > 0.5:
                        where["no detection"] += 1
                    elif parent and (under == parent).mean() > 0.5:
                        where["in its parent's detection"] += 1
                    else:
                        where["a detection of its own"] += 1
        print(f"{kind}: " + ", ".join(f"{n} {np.mean(a):.3f}" for n, a in aucs.items()))
    print("micronucleus bodies: " + ", ".join(f"{n} {c}" for n, c in where.items()))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    if sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], *(int(a) for a in sys.argv[4:5])))
    from extra_columns import install, run

    install(NEW, satellite)
    sys.exit(run(sys.argv[1:]))
