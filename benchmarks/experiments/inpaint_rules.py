"""Compare ways of joining AS_e, AS_i and AS_m on runs kept by ``inpaint_capture.py`` (which needs the engine
of ``inpaint_engine.diff``; tried on 2026-12-07 and not kept).

Prints, per run and as means per field, the AUC, the anomalies in the top
20 and the share of anomalies above the test normals' 95 % quantile for
each rule (every part on the validation normals' scale, z).

    python benchmarks/experiments/inpaint_rules.py RUN.npz...
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

RULES = {
    "(e+m)/r2 (before)": lambda e, i, m: (e + m) / np.sqrt(2),
    "(e+i+m)/r3": lambda e, i, m: (e + i + m) / np.sqrt(3),
    "((e+i)/2+m)/r2": lambda e, i, m: ((e + i) / 2 + m) / np.sqrt(2),
    "(i+m)/r2": lambda e, i, m: (i + m) / np.sqrt(2),
    "AS_e": lambda e, i, m: e,
    "AS_i": lambda e, i, m: i,
    "AS_m": lambda e, i, m: m,
}


def main(paths) -> int:
    from ddrcore.model.scoring import roc_auc

    means = defaultdict(lambda: defaultdict(list))
    for p in paths:
        d = np.load(p)
        kinds = d["kinds"]
        on = kinds != ""
        y = (kinds != "normal")[on]
        field = Path(p).stem.rstrip("0123456789")
        row = [Path(p).stem]
        for name, rule in RULES.items():
            s = rule(d["z_e"], d["z_i"], d["z_m"])[on]
            auc = roc_auc(s, y)
            top = int(y[np.argsort(-s)[:20]].sum())
            allows = float((s[y] > np.quantile(s[~y], 0.95)).mean())
            means[field][name].append((auc, top, allows))
            row.append(f"{name} {auc:.3f}/{top}")
        print("  ".join(row))
    print()
    for field, rules in means.items():
        print(field, "  ".join(f"{name} {np.mean([v[0] for v in vals]):.3f} (top20 {np.mean([v[1] for v in vals]):.1f}, "
                               f"allows {np.mean([v[2] for v in vals]):.2f}, n={len(vals)})"
                               for name, vals in rules.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
