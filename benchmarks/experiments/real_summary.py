"""Join the JSON of several `ddrid bench real` runs (one per seed) into the tables of docs/benchmarks.md.

    python benchmarks/experiments/real_summary.py real-fields-seed0.json real-fields-seed1.json ...

Prints, per field, one row per seed (AS_cell's figures, the best features
baseline, AUC by kind, the quality check) and the mean; then, per field, the
mean AUC of each single view and of the other joining rules; then the
threshold rules; then how well the quality check orders the runs.
"""
import argparse
import json
from pathlib import Path

import numpy as np

KINDS = ("condensed", "fragmented", "hollow", "micronucleus", "textured", "natural")
BASELINES = {"features_mahalanobis": "Mahalanobis", "features_knn5": "5-NN", "features_iforest": "isolation forest"}


def short(image: str) -> str:
    stem = Path(image).stem
    return {"dsb2018-nuclei-img2d": "DSB", "u2os-nuclei": "U2OS", "AS_09125_050116030001_D03f00d0": "HT29",
            "01_POS002_D": "Kc167"}.get(stem, stem)


def fmt(v, digits=2):
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    by_field: dict = {}
    for path in args.runs:
        for run in json.loads(Path(path).read_text()):
            by_field.setdefault(short(run["image"]), []).append(run)
    print("| field | seed | ddrid AS_cell AUC | AUC, implanted only | best features baseline | anomalies in top 20 "
          "| border/crowded normals in top 20 | anomalies / normals flagged | ranking allows | AUC by kind "
          "| quality check (odd cells) | training objects |")
    print("|" + "---|" * 12)
    qc, real = [], []
    for field, runs in by_field.items():
        rows = []
        for k, run in enumerate(sorted(runs, key=lambda r: r["seed"])):
            m = run["methods"]["ddrid"]
            best = max(BASELINES, key=lambda b: run["methods"].get(b, {}).get("auc", -1))
            top = m["anomalies_in_top20"]
            nat = m.get("natural_in_top20", 0)
            kinds = " / ".join(fmt(m["auc_by_kind"].get(kd)) for kd in KINDS)
            print(f"| {field if k == 0 else ''} | {run['seed']} | {m['auc']:.3f} | {m['auc_implanted']:.3f} | "
                  f"{run['methods'][best]['auc']:.3f} ({BASELINES[best]}) | {top}{f' ({nat} natural)' if nat else ''} | "
                  f"{m['border_or_crowded_normals_in_top20']} | {m['flagged_anomalies']:.2f} / "
                  f"{m['flagged_normals']:.2f} | {m['anomalies_above_test_normals_q95']:.2f} | {kinds} | "
                  f"{fmt(run.get('cell_quality_auc'))} | {run['train_objects']} |")
            rows.append((m["auc"], m["auc_implanted"], run["methods"][best]["auc"], top,
                         m["border_or_crowded_normals_in_top20"], m["flagged_anomalies"], m["flagged_normals"],
                         m["anomalies_above_test_normals_q95"]))
            if run.get("cell_quality_auc") is not None:
                qc.append(run["cell_quality_auc"])
                real.append(m["auc"])
        r = np.mean(rows, axis=0)
        ahead = sum(a > b for a, _, b, *_ in rows)
        print(f"| | mean | **{r[0]:.3f}** | {r[1]:.3f} | {r[2]:.3f} (ahead in {ahead} of {len(rows)}) | {r[3]:.1f} | "
              f"{r[4]:.1f} | {r[5]:.2f} / {r[6]:.2f} | {r[7]:.2f} | | | |")
    print("\nMean AUC of each view and rule (per field):")
    names = sorted({n for runs in by_field.values() for run in runs for n in run["methods"]})
    for field, runs in by_field.items():
        parts = []
        for n in names:
            v = [run["methods"][n]["auc"] for run in runs if n in run["methods"]]
            if v:
                parts.append(f"{n} {np.mean(v):.3f}")
        print(f"  {field}: " + "; ".join(parts))
    print("\nThreshold rules, mean anomalies / normals flagged:")
    for field, runs in by_field.items():
        rules = {}
        for run in runs:
            for name, t in run.get("thresholds", {}).items():
                rules.setdefault(name, []).append((t["flagged_anomalies"], t["flagged_normals"]))
        print(f"  {field}: " + "; ".join(f"{n} {np.mean(v, 0)[0]:.2f} / {np.mean(v, 0)[1]:.2f}"
                                         for n, v in rules.items()))
    if len(qc) > 2:
        from scipy.stats import spearmanr

        d = np.asarray(qc) - np.asarray(real)
        print(f"\nQuality check vs real AUC over {len(qc)} runs: mean difference {d.mean():+.3f}, "
              f"largest {np.abs(d).max():.3f}, Spearman {spearmanr(qc, real)[0]:.2f}")


if __name__ == "__main__":
    main()
