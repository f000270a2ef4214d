"""Join `ddrid bench accuracy` JSON files (one run per CPU core) into one.

Classes: two runs of the same data, settings and seed, each over some of the
classes (e.g. ``--classes 0-4`` and ``--classes 5-9`` on two cores), give the
same per-class figures as one run over all of them.

Rounds (``--rounds``): runs of the same classes with ``--seed 0``, ``--seed 1``,
... are the rounds of one ``--rounds N --seed 0`` run (round r uses seed + r
for its split and training), so they join into per-class means and spreads.

Another method's figures (``--method-from FILE.json METHOD``): a method
that does not depend on a change to ddrid (Deep SVDD when only ddrid's
scoring changed) is taken over from an earlier file of the same experiment
(data, protocol, split, seeds, the baselines' schedule) rather than run
again; the command says where its figures came from.

Writes the joined JSON, in the format ``ddrid bench accuracy --json`` writes,
and its markdown beside.

    python benchmarks/experiments/merge_accuracy.py [--rounds] [--method-from FILE.json METHOD] OUT.json PART.json [PART.json ...]
"""
import json
import sys
from pathlib import Path

import numpy as np

from ddrcore.bench.accuracy import markdown
from ddrcore.io.atomic import write_text_atomic
from ddrcore.io.outputs import check_output

BY_CLASS = ("results", "results_std", "rounds")


def mean(values):
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else None


def same_experiment(parts: list, free=()) -> None:
    for key in ("dataset", "protocol", "test_protocol"):
        if any(p[key] != parts[0][key] for p in parts):
            raise SystemExit(f"the parts differ in {key}: not one experiment")
    strip = lambda d: {k: v for k, v in d.items() if k not in free}  # noqa: E731
    if any(strip(p["settings"]) != strip(parts[0]["settings"]) for p in parts):
        raise SystemExit("the parts differ in their settings: not one experiment")


def settings_rounds(part: dict) -> int:
    return int(part["settings"].get("rounds", 1) or 1)


def merge_rounds(parts: list) -> dict:
    """Runs of the same classes at seeds 0, 1, ...: their AUCs become rounds of one run."""
    same_experiment(parts, free=("seed", "rounds"))
    if any(settings_rounds(p) > 1 for p in parts):
        raise SystemExit("rounds are joined from parts of one round each (one seed per part)")
    seeds = sorted(p["settings"]["seed"] for p in parts)
    if seeds != list(range(seeds[0], seeds[0] + len(parts))):
        raise SystemExit(f"rounds need consecutive seeds, got {seeds}")
    parts = sorted(parts, key=lambda p: p["settings"]["seed"])
    out = json.loads(json.dumps(parts[0]))
    for m in out["rounds"]:
        for c in out["classes"]:
            out["rounds"][m][c] = [v for p in parts for v in p["rounds"][m][c]]
            vals = np.asarray(out["rounds"][m][c], float)
            out["results"][m][c], out["results_std"][m][c] = float(vals.mean()), float(vals.std())
    out["mean"] = {m: mean(per.values()) for m, per in out["results"].items()}
    # Each round's seconds, in the order of the rounds (None where a part did not keep them).
    def seconds(p, m, c):
        kept = p.get("seconds_per_class", {}).get(m, {}).get(c)
        return kept if kept else [None] * settings_rounds(p)

    methods = sorted({m for p in parts for m in p.get("seconds_per_class", {})})
    out["seconds_per_class"] = {m: {c: [v for p in parts for v in seconds(p, m, c)] for c in out["classes"]}
                                for m in methods}
    if "ddrid_ablation" in out:
        abl = out["ddrid_ablation"]
        # One round per part: the per-class ablation is the mean of the parts' own.
        for k in abl["auc"]:
            for c in abl["auc"][k]:
                abl["auc"][k][c] = mean([p["ddrid_ablation"]["auc"][k][c] for p in parts])
        abl["mean"] = {k: mean(v.values()) for k, v in abl["auc"].items()}
    out["settings"]["rounds"] = len(parts)
    out["seconds"] = round(sum(p["seconds"] for p in parts), 1)
    out["complete"] = all(p["complete"] for p in parts)
    out["command"] = " ; ".join(p["command"] for p in parts) + " (one seed each, run side by side; joined as " \
                     "rounds by benchmarks/experiments/merge_accuracy.py --rounds)"
    return out


def merge(parts: list) -> dict:
    out = json.loads(json.dumps(parts[0]))
    same_experiment(parts)
    for p in parts[1:]:
        for key in BY_CLASS:
            for m, per in p[key].items():
                out[key].setdefault(m, {}).update(per)
        # {method: {class: [seconds per round]}}: joined per method, as the AUCs are.
        for m, per in p.get("seconds_per_class", {}).items():
            out.setdefault("seconds_per_class", {}).setdefault(m, {}).update(per)
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
    out["command"] = " ; ".join(p["command"] for p in parts) + (
        " (run side by side, one per core; joined by benchmarks/experiments/merge_accuracy.py)" if len(parts) > 1 else "")
    return out


#: Settings that must agree for a method's figures to be taken from another file: what the baselines saw.
SHARED_SETTINGS = ("protocol", "test_protocol", "rounds", "max_train", "max_test", "base_pretrain_epochs",
                   "base_finetune_epochs", "base_batch_size", "precision", "seed")


def take_method(out: dict, source_path: str, method: str) -> dict:
    """``method``'s per-class figures from another file of the same experiment, added to ``out``."""
    src = json.loads(Path(source_path).read_text())
    for key in ("dataset", "protocol", "test_protocol"):
        if src[key] != out[key]:
            raise SystemExit(f"{source_path} differs in {key}: not the same experiment")
    for key in SHARED_SETTINGS:
        if src["settings"].get(key) != out["settings"].get(key):
            raise SystemExit(f"{source_path} differs in the setting {key}: not the same experiment")
    if sorted(src["classes"]) != sorted(out["classes"]) or method not in src["results"]:
        raise SystemExit(f"{source_path} does not hold {method} for the same classes")
    for key in BY_CLASS:
        out[key][method] = src[key][method]
    # Seconds too, where the source kept one per round of every class (files joined before 2026-12-07 kept
    # one class's only); else none, rather than the parts' seconds beside another file's AUCs.
    taken = src.get("seconds_per_class", {}).get(method, {})
    rounds = settings_rounds(out)
    if sorted(taken) == sorted(out["classes"]) and all(len(v) == rounds for v in taken.values()):
        out.setdefault("seconds_per_class", {})[method] = taken
    else:
        out.get("seconds_per_class", {}).pop(method, None)
    out["mean"][method] = src["mean"][method]
    out["command"] += f" ; {method}: taken from {Path(source_path).name} (same data, split, seeds and schedule)"
    out["complete"] = out["complete"] and src["complete"]
    return out


def resolve_x_c_source(part: dict) -> dict:
    """A part whose settings say ``x_c_source: null`` ran with the engine's default then: write it out.

    (Files from before the setting existed do not have the key; their X_C came from the finetuned R_C.)
    """
    from ddrcore.config import TrainConfig

    s = part["settings"]
    if "x_c_source" in s and s["x_c_source"] is None:
        s["x_c_source"] = TrainConfig(profile=s.get("profile", "explain")).x_c_from()
    return part


def main(*argv):
    argv = list(argv)
    rounds = argv[0] == "--rounds"
    if rounds:
        argv = argv[1:]
    source = None
    if argv[0] == "--method-from":
        source, argv = (argv[1], argv[2]), argv[3:]
    out_path, *part_paths = argv
    parts = [resolve_x_c_source(json.loads(Path(p).read_text())) for p in part_paths]
    out = merge_rounds(parts) if rounds else merge(parts)
    if source is not None:
        out = take_method(out, *source)
    md = str(out_path)[:-5] + ".md"
    # The rule every ddrid output follows: never over an input (a part) or a file of another kind.
    if str(Path(out_path).resolve()) in {str(Path(p).resolve()) for p in part_paths}:
        raise SystemExit(f"{out_path} is one of the parts; write the joined file elsewhere")
    check_output(out_path, "json")
    check_output(md, "text")
    write_text_atomic(out_path, json.dumps(out, indent=1) + "\n")
    write_text_atomic(md, markdown(out).replace("- wall time:", "- CPU time of the parts together:", 1))
    print(f"wrote {out_path} and {md}: mean " + ", ".join(f"{m} {100 * v:.1f}" for m, v in out["mean"].items()))


if __name__ == "__main__":
    main(*sys.argv[1:])
