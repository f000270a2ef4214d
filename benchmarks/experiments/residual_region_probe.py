"""Would AS_e rank real odd nuclei better read near the object only?

AS_e is the peak of the smoothed squared residual over the whole crop.  A
crop is about 2.4 object diameters across, so most of it is background,
masked neighbours and the crop's edge, where a normal's residual can peak
as high as an odd nucleus's.  This reads the same peak over a region round
the object only, each on the validation normals' scale (log, mean and
spread over their eight turns and mirrors, as AS_e's is), in AS_cell =
(z(AS_e) + z(AS_m)) / sqrt(2):

- ``full``: the whole crop (as shipped; reproduces AS_cell);
- ``disk F``: a centred disk of radius F times half the crop's side;
- ``object +D``: the object found again in the patch
  (:func:`ddrcore.model.cellquality.object_mask`), grown by D times its
  equivalent radius (a micronucleus lies within about 1.5 radii).

It also says where the test normals' and the anomalies' peaks sit (the
peak's distance from the centre over half the side, median).

    python benchmarks/experiments/residual_region_probe.py IMAGE MASK|- SEED
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def regions(inputs: np.ndarray) -> dict:
    """Boolean (N, S, S) masks per region name."""
    from scipy import ndimage as ndi

    from ddrcore.model.cellquality import object_mask

    n, s = inputs.shape[0], inputs.shape[-1]
    yy, xx = np.mgrid[:s, :s]
    r = np.hypot(yy - (s - 1) / 2, xx - (s - 1) / 2) / (s / 2)
    out = {f"disk {f}": np.broadcast_to(r <= f, (n, s, s)) for f in (0.5, 0.7, 1.0)}
    for d in (0.5, 1.0, 1.5):
        m = np.empty((n, s, s), bool)
        for i, x in enumerate(inputs):
            o = object_mask(x)
            if o is None or not o.any():
                m[i] = r <= 0.7
                continue
            radius = np.sqrt(o.sum() / np.pi)
            grown = ndi.distance_transform_edt(~o) <= d * radius
            m[i] = grown
        out[f"object +{d}"] = m
    return out


def main() -> int:
    from object_residual_probe import residuals_and_inputs
    from real_capture import capture_from_argv

    from ddrcore.model.cellscore import feature_matrix
    from ddrcore.model.combined import standardised
    from ddrcore.model.minibatch import dihedral_views
    from ddrcore.model.scoring import roc_auc

    seen = capture_from_argv(sys.argv[1:4])
    model, scores, test, normal, on, y, image, seed, kinds = (
        seen[k] for k in ("model", "scores", "test", "normal", "on", "y", "image", "seed", "kinds"))
    val_idx = np.asarray(model.training["val_indices"], int)
    val_maps, val_in = residuals_and_inputs(model, dihedral_views(normal.images[val_idx]))
    test_maps, test_in = residuals_and_inputs(model, test.images)
    page = model.config.measure_intensity == "page"
    z_m = standardised(model.measure.score(feature_matrix(test.sources, page)), model.measure.calibration)

    def z(test_v, val_v):
        logs = np.log(np.maximum(val_v, 1e-12))
        return standardised(np.maximum(test_v, 1e-12), (float(logs.mean()), float(logs.std())))

    s = test_maps.shape[-1]
    full_t = np.ones_like(test_maps, bool)
    reg_t, reg_v = {"full": full_t, **regions(test_in)}, {"full": np.ones_like(val_maps, bool), **regions(val_in)}
    k_on = np.asarray(kinds)[on]
    yy, xx = np.mgrid[:s, :s]
    rr = np.hypot(yy - (s - 1) / 2, xx - (s - 1) / 2) / (s / 2)
    at = rr.ravel()[test_maps.reshape(len(test_maps), -1).argmax(1)][on]
    print(f"{Path(image).stem} seed {seed}: {int(on.sum())} objects, AS_cell as shipped "
          f"{roc_auc(scores.cell[on], y):.3f}; peak at r = {np.median(at[y == 0]):.2f} (normals), "
          f"{np.median(at[y == 1]):.2f} (anomalies); normals peaking beyond 0.7: {np.mean(at[y == 0] > 0.7):.2f}",
          flush=True)
    for name in reg_t:
        pt = np.where(reg_t[name], test_maps, 0).reshape(len(test_maps), -1).max(1)
        pv = np.where(reg_v[name], val_maps, 0).reshape(len(val_maps), -1).max(1)
        z_e = z(pt, pv)
        for label, sc in ((f"{name}: AS_cell", (z_e + z_m) / np.sqrt(2)), (f"{name}: AS_e alone", z_e)):
            s_on = sc[on]
            by_kind = []
            for kind in sorted(set(k_on) - {"normal"}):
                sel = (k_on == kind) | (k_on == "normal")
                by_kind.append(f"{kind[:5]} {roc_auc(s_on[sel], (k_on[sel] == kind).astype(int)):.3f}")
            top = np.argsort(-s_on)[:20]
            print(f"  {label:28s} AUC {roc_auc(s_on, y):.3f}, top20 {int(y[top].sum())}; " + ", ".join(by_kind),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
