"""How many objects that touch another object (cut from it by a segmentation line) reach the top 20 of a real field?

On the real DSB field without implants, once the few odd nuclei are ranked,
the next places go to nuclei cut by a straight watershed line where they
touch a neighbour: a segmentation artefact, not an odd cell.  This trains
ddrid as ``real_top20.py`` does (one half of the field, default settings),
scores the other half, and counts, among the top 20 and among the flagged
objects, those that touch another object, for AS_cell as shipped and with
AS_m scored in the plain standardised space (no whitening), the same model
and AS_e otherwise; and, for AS_e, how often an object's residual peak lies
within 3 px of a masked neighbour's flat fill (the fill is found as the
patch's most common value where it covers over 3 % of the patch).

    python benchmarks/experiments/touching_top20.py IMAGE [IMAGE ...] [--epochs 10] [--seed 0]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def touching(labels: np.ndarray, ids) -> np.ndarray:
    """Whether each object of ``ids`` shares an edge (8-connected) with another object."""
    from scipy import ndimage as ndi

    out = []
    for i in ids:
        own = labels == i
        ring = ndi.binary_dilation(own, np.ones((3, 3), bool)) & ~own
        out.append(bool(((labels[ring] != 0) & (labels[ring] != i)).any()))
    return np.array(out)


def peak_near_fill(images: np.ndarray, scores, distance: float = 3.0) -> np.ndarray:
    """Whether each patch's smoothed-residual peak (AS_e's pixel) lies within ``distance`` px of a flat fill."""
    import torch
    from scipy import ndimage as ndi

    from ddrcore.model.scoring import residual_map

    r = residual_map(torch.as_tensor(scores.x), torch.as_tensor(scores.x_c))[:, 0].numpy()
    out = []
    for patch, res in zip(images.mean(1), r):
        values, counts = np.unique(patch, return_counts=True)
        fill = patch == values[np.argmax(counts)]
        if counts.max() <= 0.03 * patch.size:
            out.append(False)
            continue
        py, px = np.unravel_index(np.argmax(res), res.shape)
        out.append(bool(ndi.distance_transform_edt(~fill)[py, px] <= distance))
    return np.array(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="+")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    from real_top20 import train_and_screen

    from ddrcore.model.cellscore import MeasureModel, cell_score, feature_matrix
    from ddrcore.model.combined import calibration

    torch.set_num_threads(1)
    for image in args.images:
        model, normal, screen, scores, field, labels = train_and_screen(image, args.epochs, args.seed, decompose=True)
        touch = touching(labels, [s.object_id for s in screen.sources])
        m = model.measure
        plain = MeasureModel(m.mean, m.std, m.train @ np.linalg.inv(m.whiten))
        features = feature_matrix(screen.sources, model.config.measure_intensity == "page")
        cal = calibration(model.validation_scores)
        val_idx = np.asarray(model.training["val_indices"], int)
        views = len(model.validation_scores["residual"]) // max(len(val_idx), 1)
        rows = {"shipped (whitened AS_m)": (scores.cell, model.threshold)}
        v = model.validation_scores
        val_plain = np.tile(plain.score_left_out()[val_idx], views)
        cell_plain = cell_score(scores.latent, scores.residual, plain.score(features), cal, plain.calibration,
                                model.config.cell_rule)
        val_cell = cell_score(v["latent"], v["residual"], val_plain, cal, plain.calibration, model.config.cell_rule)
        rows["plain AS_m"] = (cell_plain, float(np.quantile(val_cell, model.config.threshold_quantile)))
        print(f"{Path(image).name}: {len(screen)} objects, {int(touch.sum())} touching another")
        from ddrcore.model.combined import standardised
        from ddrcore.model.scoring import roc_auc

        z_e = standardised(scores.residual, cal["residual"])
        z_m = standardised(scores.measure, m.calibration)
        z_p = standardised(plain.score(features), plain.calibration)
        print(f"  how well each part tells touching objects from the others (AUC; 0.5: not at all): "
              f"AS_e {roc_auc(z_e, touch):.2f}, AS_m {roc_auc(z_m, touch):.2f} (plain {roc_auc(z_p, touch):.2f})")
        near = peak_near_fill(screen.images, scores)
        print(f"  residual peak within 3 px of a flat fill: {int(near[touch].sum())} of {int(touch.sum())} touching, "
              f"{int(near[~touch].sum())} of {int((~touch).sum())} others")
        for name, (s, thr) in rows.items():
            top = np.argsort(-s)[:20]
            flagged = s >= thr
            print(f"  {name:24s} touching in top 20: {int(touch[top].sum()):2d}; flagged {int(flagged.sum())}, "
                  f"of them touching {int((flagged & touch).sum())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
