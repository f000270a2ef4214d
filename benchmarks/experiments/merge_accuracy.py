"""Join `ddrid bench accuracy` JSON files of disjoint classes (one run per CPU core) into one.

Two runs of the same data, settings and seed, each over some of the classes
(e.g. ``--classes 0-4`` and ``--classes 5-9`` on two cores), give the same
per-class figures as one run over all of them; this writes the joined JSON,
in the format ``ddrid bench accuracy --json`` writes, and its markdown beside.

    python benchmarks/experiments/merge_accuracy.py OUT.json PART.json [PART.json ...]
"""
import json
import sys
from pathlib import Path

import numpy as np

from ddrcore.bench.accuracy import markdown

BY_CLASS = ("results", "results_std", "rounds")


def mean(values):
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else None


def merge(parts: list) -> dict:
    out = json.loads(json.dumps(parts[0]))
    for key in ("settings", "dataset", "protocol", "test_protocol"):
        if any(p[key] != out[key] for p in parts):
            raise SystemExit(f"the parts differ in {key}: not one experiment")
    for p in parts[1:]:
        for key in BY_CLASS:
            for m, per in p[key].items():
                out[key].setdefault(m, {}).update(per)
        out["seconds_per_class"] = {**out.get("seconds_per_class", {}), **p.get("seconds_per_class", {})}
        out["classes"] = out["classes"] + [c for c in p["classes"] if c not in out["classes"]]
        if "ddrid_ablation" in p:
            abl = out["ddrid_ablation"]
            for k, per in p["ddrid_ablation"]["auc"].items():
                abl["auc"].setdefault(k, {}).update(per)
            for k in ("picked", "picked_worse", "synthetic_pick"):
                abl[k] = {**abl.get(k, {}), **p["ddrid_ablation"].get(k, {})}
            abl["picked_worse_total"] += p["ddrid_ablation"]["picked_worse_total"]
            abl["runs"] += p["ddrid_ablation"]["runs"]
    out["mean"] = {m: mean(per.values()) for m, per in out["results"].items()}
    if "ddrid_ablation" in out:
        abl = out["ddrid_ablation"]
        abl["mean"] = {k: mean(v.values()) for k, v in abl["auc"].items()}
    out["seconds"] = round(sum(p["seconds"] for p in parts), 1)
    out["complete"] = all(p["complete"] for p in parts)
    out["command"] = " ; ".join(p["command"] for p in parts) + " (run side by side, one per core; joined by " \
                     "benchmarks/experiments/merge_accuracy.py)"
    return out


def main(out_path, *part_paths):
    parts = [json.loads(Path(p).read_text()) for p in part_paths]
    out = merge(parts)
    Path(out_path).write_text(json.dumps(out, indent=1) + "\n")
    md = str(out_path)[:-5] + ".md"
    Path(md).write_text(markdown(out).replace("- wall time:", "- CPU time of the parts together:", 1))
    print(f"wrote {out_path} and {md}: mean " + ", ".join(f"{m} {100 * v:.1f}" for m, v in out["mean"].items()))


if __name__ == "__main__":
    main(*sys.argv[1:])
