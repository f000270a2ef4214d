"""Compare ways of scoring an object's measurements (AS_m) on runs kept by ``capture_dump.py``.

AS_m is the mean distance to the 5 nearest training normals over eleven
standardised measurements, whitened since 2026-12-06 (the rule before is
``knn5 unwhitened`` here).  A nucleus odd in one measurement only (a hollow
one: its centre ratio) moves one axis of eleven, and the k-NN distance
dilutes it among the normal spread of the other ten.  This prints, per run
and as means per field, the AUC of AS_m and of AS_cell = (z(AS_e) + z(AS_m))
/ sqrt(2) for each rule below; each rule's scale on normals comes from the
training normals left out one at a time, as ddrid's AS_m does.

    python benchmarks/experiments/measure_rules.py RUN.npz...
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def loo_z(train: np.ndarray, x: np.ndarray) -> tuple:
    """|z| of x against all normals, and of each normal against the others."""
    mean, std = train.mean(0), train.std(0)
    floor = 0.1 * float(np.median(std[std > 0]))
    z_x = np.abs(x - mean) / np.maximum(std, floor)
    n = len(train)
    z_t = np.empty_like(train)
    for i in range(n):
        rest = np.delete(train, i, 0)
        m, s = rest.mean(0), rest.std(0)
        z_t[i] = np.abs(train[i] - m) / np.maximum(s, floor)
    return z_x, z_t


def rules(train: np.ndarray, test: np.ndarray) -> dict:
    """{rule: (test scores, left-out normal scores)}, larger = more unusual."""
    from ddrcore.model.cellscore import MeasureModel, measure_calibration
    from ddrcore.model.combined import standardised

    m = MeasureModel.fit(train)
    knn = (m.score(test), m.score_left_out())
    # The rule before 2026-12-06: the same k-NN in the plain standardised space (no whitening).
    plain = MeasureModel(m.mean, m.std, (np.asarray(train, np.float64) - m.mean) / m.std)
    z_x, z_t = loo_z(train, test)
    # The scored objects moved onto the training normals' median, measurement by measurement: would taking
    # out a shift between the field the normals came from and the field scored (a plate effect) help?
    shift = np.median(test, 0) - np.median(train, 0)
    out = {"knn5 (shipped, whitened)": knn,
           "knn5 unwhitened": (plain.score(test), plain.score_left_out()),
           "knn5 recentred on the scored median": (m.score(test - shift), knn[1]),
           "max |z|": (z_x.max(1), z_t.max(1)),
           "top-2 |z| mean": (np.sort(z_x, 1)[:, -2:].mean(1), np.sort(z_t, 1)[:, -2:].mean(1)),
           "rms z": (np.sqrt((z_x ** 2).mean(1)), np.sqrt((z_t ** 2).mean(1)))}

    def lz(a, ref):
        return standardised(a, measure_calibration(ref))

    fused_x = (lz(knn[0], knn[1]) + lz(z_x.max(1), z_t.max(1))) / np.sqrt(2)
    fused_t = (lz(knn[1], knn[1]) + lz(z_t.max(1), z_t.max(1))) / np.sqrt(2)
    out["knn5 + max |z|"] = (np.exp(fused_x), np.exp(fused_t))
    return out


def main() -> int:
    from ddrcore.model.cellscore import measure_calibration
    from ddrcore.model.combined import calibration, standardised
    from ddrcore.model.scoring import roc_auc

    table = defaultdict(lambda: defaultdict(list))
    for path in sys.argv[1:]:
        d = np.load(path)
        kinds = d["kinds"]
        nor, odd = kinds == "normal", (kinds != "normal") & (kinds != "")
        on, y = nor | odd, odd[nor | odd].astype(int)
        cal = calibration({"latent": d["val_latent"], "residual": d["val_residual"]})
        z_e = standardised(d["residual"], cal["residual"])
        field = Path(path).stem.rsplit("-", 1)[0]
        line = [f"{Path(path).stem}: AS_e {roc_auc(z_e[on], y):.3f}, shipped AS_cell {roc_auc(d['cell'][on], y):.3f}"]
        table[field]["AS_e"].append(roc_auc(z_e[on], y))
        table[field]["AS_cell shipped"].append(roc_auc(d["cell"][on], y))
        for name, (s, ref) in rules(d["normal_features"], d["test_features"]).items():
            z_m = standardised(s, measure_calibration(ref))
            a_m, a_c = roc_auc(z_m[on], y), roc_auc(((z_e + z_m) / np.sqrt(2))[on], y)
            table[field][f"AS_m {name}"].append(a_m)
            table[field][f"AS_cell {name}"].append(a_c)
            line.append(f"{name} {a_m:.3f}/{a_c:.3f}")
        print("; ".join(line))
    print()
    names = list(next(iter(table.values())).keys())
    print("| rule | " + " | ".join(table) + " |")
    print("|---|" + "---|" * len(table))
    for n in names:
        print(f"| {n} | " + " | ".join(f"{np.mean(table[f][n]):.3f} ({len(table[f][n])})" for f in table) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
