"""`ddrid bench accuracy`: the paper's one-class benchmark.

accuracy — for each normal class k and round r: train on class k's training
images only, score the test set (class k = 0, others = 1), ROC AUC per method:

* ``ddrid``: ddrcore.model.training.train (Algorithm 1) + Algorithm 2's choice.  Also
  recorded (paper Table 6): AUC of AS_l, of AS_r, of AS_l + AS_r as a plain sum
  (as the paper; AS_l sums ~128 latent dimensions and AS_r 1024 pixels, so the
  sum is dominated by the larger-scaled one), of a z-scored sum (our extra:
  each score standardised with the mean/std of the validation normals that
  Algorithm 2 already holds out), and whether Algorithm 2 picked the worse one.
* ``deepsvdd``, ``softsvdd``, ``dcae``: ddrcore.bench.baselines (one autoencoder per
  class and round: DCAE's model and the Deep SVDD initialisation).

Protocols
* ``paper``: Section 4.1 unchanged — all training images of the class, the whole
  test set, 150 pretraining + 100 finetuning epochs, batch 256, lr 1e-4 -> 1e-5
  after 50 epochs, 10 rounds.  Meant for a GPU (days on two CPU cores).
* ``quick``: a short schedule that finishes all 10 MNIST classes for ddrid,
  deepsvdd and dcae in about an hour on 2 CPU cores and shows the trend:
  QUICK below — 600 seeded random training images per class (same subset for
  every method; DDR-ID holds 10 % of them out for validation as always), the
  whole 10,000-image test set, one round; DDR-ID 5 + 5 epochs at batch 64
  (~9 steps per epoch); baselines 30 + 30 epochs at batch 64 (their LeNets
  cost ~1/100 of DDR-ID per image, so they get more epochs for little time).
  On a shared machine run it with OMP_WAIT_POLICY=PASSIVE: with more busy
  threads than cores, OpenMP's spin-waiting made a training step ~3x slower.
  No learning-rate drop happens within the DDR-ID schedule (milestone 50).
  Numbers from it are *not* the paper's protocol; say "quick" when quoting.

Results and per-class test scores are written after every class, atomically,
so a long run that is stopped keeps what finished (``"complete": false``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..io.atomic import atomic_path
from ..errors import DdridError
from ..progress import Clock, Job, Progress, relay, run_to_end
from ..config import TrainConfig
from .record import hardware, write_json

METHODS = ("ddrid", "deepsvdd", "softsvdd", "dcae")
BASELINES = ("deepsvdd", "softsvdd", "dcae")
ABLATION = ("AS_l", "AS_r", "AS_e", "AS_c", "AS_l+AS_r", "AS_l+AS_r (z, val)", "synthetic choice", "selected")

# Published numbers (%): Table 2 means, Table 6 MNIST ablation, Deep SVDD per class.
PAPER = {
    "table2_mean": {
        "mnist": {"ddrid": 96.2, "deepsvdd": 94.8, "softsvdd": 93.5, "dcae": 91.4},
        "cifar10": {"ddrid": 65.4, "deepsvdd": 64.8, "softsvdd": 63.3, "dcae": 57.5},
    },
    "table6_mnist": {"AS_l": 95.6, "AS_r": 95.7, "AS_l+AS_r": 95.8, "selected": 96.2},
    "deepsvdd_per_class": {
        "mnist": [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5],
        "cifar10": [61.7, 65.9, 50.8, 59.1, 60.9, 65.7, 67.7, 67.3, 75.9, 73.1],
    },
}


@dataclass
class AccuracySettings:
    protocol: str = "quick"
    test_protocol: str = "all"
    rounds: int = 1
    max_train: Optional[int] = 600
    max_test: Optional[int] = None
    ddrid_pretrain_epochs: int = 5
    ddrid_finetune_epochs: int = 5
    ddrid_batch_size: int = 64
    base_pretrain_epochs: int = 30
    base_finetune_epochs: int = 30
    base_batch_size: int = 64
    precision: str = "fp32"
    device: str = "auto"
    seed: int = 0
    # DDR-ID's training profile (ddrcore.config.PROFILES); the engine's default unless given.
    profile: str = field(default_factory=lambda: TrainConfig().profile)
    # Where DDR-ID's X_C and AS_e come from (TrainConfig.x_c_source); the engine's default unless given.
    x_c_source: Optional[str] = None


def recorded_settings(settings: AccuracySettings) -> dict:
    """The settings as a JSON file records them: where X_C comes from resolved, not left to the profile.

    Examples
    --------
    >>> recorded_settings(AccuracySettings(profile="explain"))["x_c_source"]
    'pretrained'
    >>> recorded_settings(AccuracySettings(profile="paper"))["x_c_source"]
    'finetuned'
    """
    out = asdict(settings)
    out["x_c_source"] = TrainConfig(profile=settings.profile, x_c_source=settings.x_c_source).x_c_from()
    return out


QUICK = AccuracySettings()
PAPER_PROTOCOL = AccuracySettings(protocol="paper", rounds=10, max_train=None, ddrid_pretrain_epochs=150,
                                  ddrid_finetune_epochs=100, ddrid_batch_size=256, base_pretrain_epochs=150,
                                  base_finetune_epochs=100, base_batch_size=256)



# ----------------------------------------------------------------- accuracy --
def _relay(job, lo: float, hi: float, clock: Clock, label: str):
    """Re-yield a sub-job's progress mapped into [lo, hi] of the whole benchmark."""
    def place(p: Progress) -> Progress:
        overall = lo + (hi - lo) * p.overall
        return replace(p, overall=overall, elapsed=clock.elapsed(), eta=clock.eta(overall),
                       message=f"{label} {p.message}".strip())

    return relay(job, place)


def _zsum(lat, rec, val_lat, val_rec) -> np.ndarray:
    def z(a, v):
        return (a - v.mean()) / max(float(v.std()), 1e-12)
    return z(lat, val_lat) + z(rec, val_rec)


def ddrid_round(split, s: AccuracySettings, seed: int, clock: Clock, span, label: str):
    """Train DDR-ID on one split; returns (method scores, ablation AUCs, extra facts)."""
    from ..config import TrainConfig
    from ..model.scoring import roc_auc, score_patches
    from ..model.minibatch import split_indices
    from ..model.training import train

    cfg = TrainConfig(pretrain_epochs=s.ddrid_pretrain_epochs, finetune_epochs=s.ddrid_finetune_epochs,
                      batch_size=s.ddrid_batch_size, seed=seed, device=s.device, precision=s.precision,
                      profile=s.profile, x_c_source=s.x_c_source)
    lo, hi = span
    model = yield from _relay(train(split.train_x, cfg), lo, lo + 0.9 * (hi - lo), clock, label)
    # train() draws its 90/10 split first from default_rng(seed): redraw it to get the validation normals.
    _, val_idx = split_indices(len(split.train_x), cfg.val_fraction, np.random.default_rng(seed))
    if len(val_idx) != model.validation.get("n"):
        raise DdridError("internal: validation subset could not be reproduced")
    val = run_to_end(score_patches(model, split.train_x[val_idx]))
    test = yield from _relay(score_patches(model, split.test_x), lo + 0.9 * (hi - lo), hi, clock, label)
    y = split.test_labels
    # Which score synthetic anomalies made from the validation normals would pick (the explain
    # profile's rule), measured under every profile so the two rules can be compared.
    from ..model.quality import select_score_type_synthetic, synthetic_auc_by_score

    synthetic = model.validation.get("synthetic_auc_by_score") or synthetic_auc_by_score(
        model, split.train_x[val_idx], seed)
    synthetic_pick = select_score_type_synthetic(synthetic)
    combos = {
        "AS_l": test.latent, "AS_r": test.recon, "AS_e": test.residual, "AS_c": test.combined,
        "AS_l+AS_r": test.latent + test.recon,
        "AS_l+AS_r (z, val)": _zsum(test.latent, test.recon, val.latent, val.recon),
        "synthetic choice": test.of(synthetic_pick),
        "selected": test.score,
    }
    aucs = {k: roc_auc(v, y) for k, v in combos.items()}
    facts = {"picked": model.score_type, "synthetic_pick": synthetic_pick, "synthetic_auc_by_score": synthetic,
             # Worse than the best score the profile could have chosen (AS_e only under "explain").
             "picked_worse": bool(aucs["selected"] < max(aucs["AS_l"], aucs["AS_r"],
                                                         aucs["AS_e"] if s.profile != "paper" else 0.0)),
             "val_mean_latent": float(val.latent.mean()), "val_mean_recon": float(val.recon.mean()),
             "train_seconds": model.training.get("seconds")}
    # Every score of the test set and of the validation normals, so that other score rules can be
    # measured later from the saved scores without training again.
    return {"latent": test.latent, "recon": test.recon, "residual": test.residual, "ddrid": test.score,
            "val_latent": val.latent, "val_recon": val.recon, "val_residual": val.residual}, aucs, facts


def baseline_round(split, s: AccuracySettings, methods, seed: int, clock: Clock, span, label: str):
    from .baselines import BaselineConfig, score_baselines, train_baselines

    cfg = BaselineConfig(pretrain_epochs=s.base_pretrain_epochs, finetune_epochs=s.base_finetune_epochs,
                         batch_size=s.base_batch_size, seed=seed, device=s.device)
    models = yield from _relay(train_baselines(split.train_x, cfg, methods), span[0], span[1], clock, label)
    scores = score_baselines(models, split.test_x)
    return {m: scores[m] for m in methods}, models.seconds


def _mean_std(values) -> tuple:
    a = np.asarray([v for v in values if v is not None and np.isfinite(v)], np.float64)
    return (float(a.mean()), float(a.std())) if len(a) else (float("nan"), float("nan"))


def summarise(raw: dict, methods, class_names, settings: AccuracySettings, meta: dict, complete: bool) -> dict:
    """The result JSON from per-round AUCs: means over rounds per class, then over classes."""
    results, stds, means = {}, {}, {}
    for m in methods:
        per = raw["auc"].get(m, {})
        results[m] = {c: _mean_std(per[c])[0] for c in class_names if c in per}
        stds[m] = {c: _mean_std(per[c])[1] for c in class_names if c in per}
        means[m] = _mean_std(list(results[m].values()))[0] if results[m] else None
    out = {
        "dataset": meta["dataset"], "protocol": settings.protocol, "test_protocol": settings.test_protocol,
        "command": meta["command"], "hardware": meta["hardware"], "seconds": round(meta["seconds"], 1),
        "complete": complete, "settings": recorded_settings(settings), "classes": class_names,
        "dataset_classes": meta.get("dataset_classes", class_names),
        "results": results, "results_std": stds, "mean": means, "rounds": raw["auc"],
        "seconds_per_class": raw["seconds"],
    }
    if "ddrid" in methods:
        abl = {k: {c: _mean_std(v)[0] for c, v in raw["ablation"].get(k, {}).items()} for k in ABLATION}
        picks = raw["picked"]
        out["ddrid_ablation"] = {
            "auc": abl,
            "mean": {k: _mean_std(list(v.values()))[0] if v else None for k, v in abl.items()},
            "picked": picks,
            "picked_worse": {c: int(sum(v)) for c, v in raw["picked_worse"].items()},
            "picked_worse_total": int(sum(sum(v) for v in raw["picked_worse"].values())),
            "runs": int(sum(len(v) for v in raw["picked_worse"].values())),
            "synthetic_pick": raw.get("synthetic_pick", {}),
            "note": "AS_l+AS_r is the plain sum (paper); 'z, val' standardises each score with the "
                    "validation normals' mean/std before summing (our extra); AS_e is the peak of the smoothed "
                    "squared residual input - X_C (ours); AS_c is max(z(AS_l), z(AS_e) - 1.5) on the validation "
                    "normals' log scale (ours, the explain profile's score); 'synthetic choice' is the score with "
                    "the best AUC on synthetic anomalies made from the validation normals (measured, not used).",
        }
    out["paper"] = PAPER
    return out


def run_accuracy(ds, classes: List[int], methods: List[str], settings: AccuracySettings,
                 json_path: Optional[Path], command: str = "") -> Job[dict]:
    """The one-class benchmark as a job; writes JSON + scores after every class."""
    from .datasets import one_class_split
    from ..model.scoring import roc_auc

    clock = Clock()
    names = [ds.class_names[k] for k in classes]
    base = [m for m in methods if m in BASELINES]
    raw = {"auc": {m: {} for m in methods}, "seconds": {m: {} for m in methods},
           "ablation": {k: {} for k in ABLATION}, "picked": {}, "picked_worse": {}}
    meta = {"dataset": ds.name, "command": command, "hardware": hardware(), "seconds": 0.0,
            "dataset_classes": list(ds.class_names)}
    units = len(classes) * settings.rounds
    # Share of a unit's time: DDR-ID's networks cost ~100x the LeNets per image.
    w_ddrid = (0.85 if base else 1.0) if "ddrid" in methods else 0.0
    scores_dir = json_path.with_name(json_path.stem + "-scores") if json_path else None
    result = None
    for u, (k, r) in enumerate((k, r) for k in classes for r in range(settings.rounds)):
        name = ds.class_names[k]
        seed = settings.seed + r
        split = one_class_split(ds, k, settings.max_train, settings.test_protocol, settings.max_test, seed)
        label = f"class {name} round {r + 1}/{settings.rounds}:"
        lo, hi = u / units, (u + 1) / units
        yield Progress("prepare", overall=lo, elapsed=clock.elapsed(), eta=clock.eta(lo),
                       message=f"{label} {len(split.train_x)} training, {len(split.test_x)} test images")
        saved = {"labels": split.test_labels, "test_index": split.test_index}
        mid = lo + w_ddrid * (hi - lo)
        if "ddrid" in methods:
            t0 = clock.elapsed()
            sc, aucs, facts = yield from ddrid_round(split, settings, seed, clock, (lo, mid), label + " ddrid")
            raw["auc"]["ddrid"].setdefault(name, []).append(aucs["selected"])
            raw["seconds"]["ddrid"].setdefault(name, []).append(round(clock.elapsed() - t0, 1))
            for key, v in aucs.items():
                raw["ablation"][key].setdefault(name, []).append(v)
            raw["picked"].setdefault(name, []).append(facts["picked"])
            raw["picked_worse"].setdefault(name, []).append(facts["picked_worse"])
            raw.setdefault("synthetic_pick", {}).setdefault(name, []).append(facts["synthetic_pick"])
            saved.update({"ddrid": sc["ddrid"], "ddrid_latent": sc["latent"], "ddrid_recon": sc["recon"],
                          "ddrid_residual": sc["residual"], **{f"ddrid_{k}": sc[k] for k in
                                                               ("val_latent", "val_recon", "val_residual")}})
        if base:
            t0 = clock.elapsed()
            sc, secs = yield from baseline_round(split, settings, base, seed, clock, (mid, hi), label + " baselines")
            for m in base:
                raw["auc"][m].setdefault(name, []).append(roc_auc(sc[m], split.test_labels))
                # DCAE is the shared autoencoder: its time is the pretraining.
                raw["seconds"][m].setdefault(name, []).append(secs["pretrain"] if m == "dcae" else secs.get(m))
                saved[m] = sc[m]
            raw["seconds"].setdefault("baselines_total", {}).setdefault(name, []).append(round(clock.elapsed() - t0, 1))
        meta["seconds"] = clock.elapsed()
        done_names = [n for n in names if n in raw["auc"][methods[0]]]
        result = summarise(raw, methods, done_names, settings, meta, complete=False)
        if json_path is not None:
            scores_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(scores_dir / f"class-{name}-round{r + 1}.npz", suffix=".npz") as tmp:
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, **saved)
            write_json(json_path, result)
        line = "  ".join(f"{m} {raw['auc'][m][name][-1]:.3f}" for m in methods)
        yield Progress("class", overall=hi, elapsed=clock.elapsed(), eta=clock.eta(hi),
                       message=f"{label} AUC {line}")
    meta["seconds"] = clock.elapsed()
    result = summarise(raw, methods, names, settings, meta, complete=True)
    if json_path is not None:
        write_json(json_path, result)
    return result



def format_table(result: dict) -> str:
    """Per-class AUC table (%, mean ± std over rounds), means, and the paper's means."""
    methods = list(result["results"])
    classes = result["classes"]
    head = f"{'class':<12}" + "".join(f"{m:>16}" for m in methods)
    lines = [head, "-" * len(head)]
    for c in classes:
        row = f"{c:<12}"
        for m in methods:
            v, s = result["results"][m].get(c), result["results_std"][m].get(c)
            row += f"{100 * v:>10.1f} ± {100 * s:<3.1f}" if v is not None else f"{'':>16}"
        lines.append(row)
    lines.append(f"{'mean':<12}" + "".join(f"{100 * (result['mean'][m] or float('nan')):>16.1f}" for m in methods))
    paper = PAPER["table2_mean"].get(_paper_key(result["dataset"]), {})
    if paper:
        lines.append(f"{'paper':<12}" + "".join(f"{paper.get(m, float('nan')):>16.1f}" for m in methods))
    abl = result.get("ddrid_ablation")
    if abl:
        lines.append("DDR-ID ablation (mean AUC %): " + ", ".join(
            f"{k} {100 * v:.1f}" for k, v in abl["mean"].items() if v is not None))
        rule = ("Algorithm 2 picked" if result.get("settings", {}).get("profile", "paper") == "paper"
                else "The profile's score (AS_c) was")
        lines.append(f"{rule} the worse score in {abl['picked_worse_total']} of {abl['runs']} runs")
    return "\n".join(lines)


def _paper_key(name: str) -> str:
    n = name.lower().replace("-", "").replace("_", "")
    return "cifar10" if "cifar" in n else ("mnist" if "mnist" in n else n)


def markdown(result: dict) -> str:
    """A markdown report of one accuracy JSON, the paper's numbers beside ours."""
    methods = list(result["results"])
    key = _paper_key(result["dataset"])
    svdd_paper = PAPER["deepsvdd_per_class"].get(key)
    lines = [f"# `ddrid bench accuracy` — {result['dataset']} ({result['protocol']} protocol"
             f"{'' if result.get('complete') else ', INCOMPLETE: only the classes below finished'})", "",
             f"- command: `{result['command']}`",
             f"- hardware: {result['hardware'].get('cpu')} ({result['hardware'].get('cpu_count')} cores, "
             f"{result['hardware'].get('torch_threads')} torch threads), torch {result['hardware'].get('torch')}"
             + (f", GPU {result['hardware']['gpu']}" if result['hardware'].get('gpu') else ""),
             f"- wall time: {result['seconds'] / 60:.1f} min; test protocol: {result['test_protocol']}",
             f"- settings: `{json.dumps(result['settings'])}`", "",
             "AUC in %, mean over rounds (± std over rounds when rounds > 1).", "",
             "| class | " + " | ".join(methods) + (" | Deep SVDD (paper) |" if svdd_paper else " |"),
             "|---" * (len(methods) + 1 + (1 if svdd_paper else 0)) + "|"]
    for c in result["classes"]:
        cells = []
        for m in methods:
            v, s = result["results"][m].get(c), result["results_std"][m].get(c)
            cells.append("" if v is None else (f"{100 * v:.1f}" + (f" ± {100 * s:.1f}" if s else "")))
        extra = ""
        order = result.get("dataset_classes", result["classes"])
        if svdd_paper:  # the paper's classes are in label order, as our sorted class names
            idx = order.index(c) if c in order else -1
            extra = f" | {svdd_paper[idx]:.1f}" if 0 <= idx < len(svdd_paper) else " | "
        lines.append(f"| {c} | " + " | ".join(cells) + extra + " |")
    lines.append("| **mean** | " + " | ".join(f"**{100 * result['mean'][m]:.1f}**" if result['mean'][m] is not None
                                              else "" for m in methods)
                 + (f" | {np.mean(svdd_paper):.1f}" if svdd_paper else "") + " |")
    paper = PAPER["table2_mean"].get(key)
    if paper:
        lines.append("| paper (Table 2, 10 rounds, paper protocol) | " + " | ".join(
            f"{paper.get(m, float('nan')):.1f}" for m in methods) + (" | |" if svdd_paper else " |"))
    abl = result.get("ddrid_ablation")
    if abl:
        lines += ["", "## DDR-ID ablation (paper Table 6)", "",
                  "| class | " + " | ".join(ABLATION) + " | picked |", "|---" * (len(ABLATION) + 2) + "|"]
        for c in result["classes"]:
            lines.append(f"| {c} | " + " | ".join(f"{100 * abl['auc'][k][c]:.1f}" if c in abl['auc'].get(k, {})
                                                  else "—" for k in ABLATION)
                         + f" | {', '.join(abl['picked'][c])} |")
        lines.append("| **mean** | " + " | ".join(f"**{100 * abl['mean'][k]:.1f}**" if abl['mean'].get(k) is not None
                                                  else "—" for k in ABLATION) + " | |")
        if key == "mnist":
            t6 = PAPER["table6_mnist"]
            lines.append("| paper (Table 6) | " + " | ".join(
                f"{t6[k]:.1f}" if k in t6 else "—" for k in ABLATION) + " | AS_l 6 / AS_r 4 |")
        rule = ("Algorithm 2 picked the worse of AS_l / AS_r" if result["settings"].get("profile", "paper") == "paper"
                else "The profile's score (AS_c) was below the best of AS_l / AS_r / AS_e")
        lines += ["", f"{rule} in **{abl['picked_worse_total']} of {abl['runs']}** runs.  {abl['note']}"]
    return "\n".join(lines) + "\n"
