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
    from object_residual_probe import captured_residuals, print_rule

    from ddrcore.model.scoring import roc_auc

    seen = captured_residuals(sys.argv[1:4])
    on, y, z, z_m = seen["on"], seen["y"], seen["z"], seen["z_m"]
    test_maps, val_maps = seen["test_maps"], seen["val_maps"]
    s = test_maps.shape[-1]
    reg_t = {"full": np.ones_like(test_maps, bool), **regions(seen["test_in"])}
    reg_v = {"full": np.ones_like(val_maps, bool), **regions(seen["val_in"])}
    k_on = np.asarray(seen["kinds"])[on]
    yy, xx = np.mgrid[:s, :s]
    rr = np.hypot(yy - (s - 1) / 2, xx - (s - 1) / 2) / (s / 2)
    at = rr.ravel()[test_maps.reshape(len(test_maps), -1).argmax(1)][on]
    print(f"{Path(seen['image']).stem} seed {seen['seed']}: {int(on.sum())} objects, AS_cell as shipped "
          f"{roc_auc(seen['scores'].cell[on], y):.3f}; peak at r = {np.median(at[y == 0]):.2f} (normals), "
          f"{np.median(at[y == 1]):.2f} (anomalies); normals peaking beyond 0.7: {np.mean(at[y == 0] > 0.7):.2f}",
          flush=True)
    for name in reg_t:
        pt = np.where(reg_t[name], test_maps, 0).reshape(len(test_maps), -1).max(1)
        pv = np.where(reg_v[name], val_maps, 0).reshape(len(val_maps), -1).max(1)
        z_e = z(pt, pv)
        for label, sc in ((f"{name}: AS_cell", (z_e + z_m) / np.sqrt(2)), (f"{name}: AS_e alone", z_e)):
            print_rule(label, sc[on], y, k_on)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
