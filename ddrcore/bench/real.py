"""`ddrid bench real`: the ranking on real fields, with anomalies implanted in place.

One real field (and its instance mask, where there is one; else ddrid's own
detection gives the nuclei to change) is cut in two halves (:func:`prepare`):
one is the training field, as it is; each of several test rounds shows the
other half, turned or mirrored at random, with about one in five of its
interior nuclei changed into one of the five kinds of
:mod:`ddrcore.objects.oddities`.  No nucleus is both trained on and scored;
border nuclei are never changed.

ddrid then runs as a user would: ``--objects auto`` with default settings on
the training field, scoring the test fields.  Each detection takes the
truth under its centre (an anomaly's footprint, a normal nucleus, or nothing).
The features baselines — what a CellProfiler Analyst user gets in minutes —
score the same detections from their regionprops measurements (the CSV's
columns), trained on the same training detections: Ledoit-Wolf Mahalanobis
distance, mean distance to the 5 nearest training objects, and an isolation
forest (scikit-learn).

Figures per method: ROC AUC over objects on a nucleus, AUC by kind,
anomalies among the top 20, border or crowded normals and empty detections
among the top 20, and the share of anomalies and normals flagged at the
method's default threshold (ddrid: the model's; baselines: the same 95 %
quantile of their scores on the validation normals).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..config import X_C_SOURCES
from ..errors import DdridError
from ..io.atomic import write_text_atomic
from ..io.outputs import check_output
from ..objects.oddities import KINDS, implant_field

#: A normal whose crop holds at least this share of other objects' pixels is "crowded".
CROWDED = 0.10
TOP = 20
#: A nucleus whose mean intensity lies this many robust standard deviations above the field's (on a log
#: scale) is odd as it stands: bright, condensed (the U2OS field has five at 6-12, the next at 3.1;
#: the DSB field none above 4.5); so is an interior object whose area lies as far below (a body a
#: fraction of a nucleus across: a micronucleus, an apoptotic body, debris; U2OS has three at -5.4 to
#: -6.1 on ddrid's detection, the next at -3.9; DSB's mask four at -6.0 to -10.7, the next at -4.3).
#: Such objects are scored as the kind "natural", never implanted.
NATURAL_Z = 5.0
#: The kinds scored: the five implanted ones and the field's own odd nuclei.
SCORED_KINDS = (*KINDS, "natural")


def natural_odd(image: np.ndarray, labels: np.ndarray, z: float = NATURAL_Z) -> np.ndarray:
    """Ids of the objects odd as they stand: bright, or small.

    Bright: the log mean intensity ``z`` robust standard deviations above the
    median object's.  Small: an object not touching the field's border whose
    log area lies ``z`` robust standard deviations below the median interior
    object's (a border object is small because the border cuts it: an
    artefact, not a cell).  Medians and median absolute deviations (times
    1.4826) are robust to the few odd ones being sought.

    Examples
    --------
    >>> lab = np.zeros((4, 40), int); img = np.full((4, 40), 10.0)
    >>> for k in range(10): lab[1:3, 4 * k: 4 * k + 3] = k + 1; img[1:3, 4 * k: 4 * k + 3] = 100 + k
    >>> img[lab == 7] = 400.0
    >>> natural_odd(img, lab).tolist()
    [7]
    """
    from scipy import ndimage as ndi

    from ..objects.measure import touches_border

    labels = np.asarray(labels).astype(np.int64)
    ids = np.unique(labels)
    ids = ids[ids != 0]
    if len(ids) < 3:
        return np.zeros(0, np.int64)
    odd = _robust_z(np.log(np.maximum(ndi.mean(np.asarray(image, np.float64), labels, ids), 1e-9))) >= z
    interior = ~touches_border(labels, ids)
    if interior.sum() >= 3:
        area = np.bincount(np.asarray(labels).ravel(), minlength=int(ids.max()) + 1)[ids].astype(float)
        # Spread floored at 0.1 (10 % in area): in a field of near-identical objects a slightly small one is
        # not odd.
        odd[interior] |= _robust_z(np.log(area[interior]), floor=0.1) <= -z
    return ids[odd].astype(np.int64)


def _robust_z(v: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """(v - median) / max(1.4826 MAD, floor); zeros where that is 0 (no spread: nothing stands out)."""
    med = np.median(v)
    mad = max(1.4826 * float(np.median(np.abs(v - med))), floor)
    return (v - med) / mad if mad > 0 else np.zeros_like(v)


def prepare(image: np.ndarray, labels: np.ndarray, workdir: Path, rounds: Optional[int], fraction: float, seed: int):
    """Write the training half-field and the implanted test half-fields; returns (truth, rounds, nuclei per half).

    The field is cut in two across its longer side; the seed says which half
    is the training field (left as it is).  Each test round shows the other
    half, turned or mirrored at random, with ``fraction`` of its interior
    nuclei changed.  No nucleus is both trained on and scored; nuclei cut by
    the seam or touching the border are never changed.  ``truth`` is
    {test path: (labels, anomaly footprints, {id: kind})}.

    (Two other splits were tried and left: a grid of sub-fields loses most
    nuclei to the sub-fields' borders (16 training nuclei were left of the
    U2OS field's 63), and erasing half of the nuclei from each copy of the
    field leaves ghosts and glow that the detector cuts into slivers.)
    """
    import tifffile

    from ..objects.measure import touches_border

    rng = np.random.default_rng(seed)
    h, w = labels.shape
    halves = ((slice(None), slice(0, w // 2)), (slice(None), slice(w // 2, w))) if w >= h else \
        ((slice(0, h // 2), slice(None)), (slice(h // 2, h), slice(None)))
    first = int(rng.integers(2))
    train_win, test_win = halves[first], halves[1 - first]
    (workdir / "train").mkdir(parents=True, exist_ok=True)
    (workdir / "test").mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(workdir / "train" / "field.tif", np.ascontiguousarray(image[train_win]))
    test_image, test_labels = image[test_win], labels[test_win]

    def interior(lab):
        ids = np.unique(lab)
        ids = ids[ids != 0]
        return int((~touches_border(lab, ids)).sum())

    n_test = interior(test_labels)
    natural = natural_odd(test_image, test_labels)
    if rounds is None:
        # Enough rounds for about 40 anomalies in all (2 to 10).
        rounds = int(np.clip(np.ceil(40 / max(1.0, fraction * n_test)), 2, 10))
    truth = {}
    for r in range(rounds):
        turn, flip = int(rng.integers(4)), bool(rng.integers(2))
        img, lab = np.rot90(test_image, turn), np.rot90(test_labels, turn)
        if flip:
            img, lab = img[:, ::-1], lab[:, ::-1]
        img, lab = np.ascontiguousarray(img), np.ascontiguousarray(lab)
        changed, kinds, footprint = implant_field(img, lab, fraction, rng, exclude=natural)
        for oid in natural:
            kinds[int(oid)] = "natural"
            footprint[lab == oid] = oid
        path = workdir / "test" / f"round{r:02d}.tif"
        tifffile.imwrite(path, changed)
        truth[str(path)] = (lab, footprint, kinds)
    return truth, rounds, interior(labels[train_win]), n_test


def truth_of(sources, truth: dict) -> tuple:
    """Per patch: kind ('normal', an anomaly kind, or '' on no nucleus) and whether it is crowded."""
    kinds, crowded = [], []
    for s in sources:
        lab, footprint, kind_of = truth[s.path]
        y = int(np.clip(round(s.center_y), 0, lab.shape[0] - 1))
        x = int(np.clip(round(s.center_x), 0, lab.shape[1] - 1))
        a = int(footprint[y, x])
        oid = int(lab[y, x])
        if a:
            kinds.append(kind_of[a])
        elif oid:
            kinds.append("normal")
        else:
            kinds.append("")
        y0, x0, side = s.y, s.x, s.size
        win = lab[max(0, y0): y0 + side, max(0, x0): x0 + side]
        crowded.append(bool(win.size and ((win != 0) & (win != oid)).mean() >= CROWDED))
    return np.array(kinds), np.array(crowded)


def baseline_scores(train_f: np.ndarray, val_f: np.ndarray, test_f: np.ndarray, seed: int) -> dict:
    """{method: (test scores, validation scores)} for the features baselines (scikit-learn)."""
    from sklearn.covariance import LedoitWolf
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import NearestNeighbors

    mu, sd = train_f.mean(0), train_f.std(0) + 1e-9
    tr, va, te = (train_f - mu) / sd, (val_f - mu) / sd, (test_f - mu) / sd
    out = {}
    lw = LedoitWolf().fit(tr)
    out["features_mahalanobis"] = (lw.mahalanobis(te), lw.mahalanobis(va))
    nn = NearestNeighbors(n_neighbors=min(5, len(tr))).fit(tr)
    out["features_knn5"] = (nn.kneighbors(te)[0].mean(1), nn.kneighbors(va)[0].mean(1))
    forest = IsolationForest(n_estimators=300, random_state=seed).fit(tr)
    out["features_iforest"] = (-forest.score_samples(te), -forest.score_samples(va))
    return out


def rule_alternatives(model, scores, kinds, border, crowded) -> dict:
    """Other ways to join AS_l, AS_e and AS_m, each with its own validation-quantile threshold."""
    from ..model.combined import calibration, standardised
    from ..model.scoring import default_threshold

    v = model.validation_scores
    if scores.measure is None or "measure" not in v:
        return {}
    cal = calibration(v)
    mcal = model.measure.calibration

    def z(kind, test):
        return (standardised(test, mcal) if kind == "measure" else standardised(test, cal[kind]))

    t = {"latent": scores.latent, "residual": scores.residual, "measure": scores.measure}
    val = {k: z(k, v[k]) for k in t}
    test = {k: z(k, t[k]) for k in t}
    rules = {
        "max(AS_c, z_m)": lambda d: np.maximum(np.maximum(d["latent"], d["residual"] - 1.5), d["measure"]),
        # AS_cell before 2026-12-06 (and in older model files); ddrid's AS_cell is now (z_e + z_m)/sqrt(2).
        "(z_l + z_e + z_m)/3": lambda d: (d["latent"] + d["residual"] + d["measure"]) / 3,
        "(AS_c + z_m)/2": lambda d: (np.maximum(d["latent"], d["residual"] - 1.5) + d["measure"]) / 2,
        "max(z_l, z_e, z_m)": lambda d: np.maximum(np.maximum(d["latent"], d["residual"]), d["measure"]),
    }
    return {f"rule {name}": figures(rule(test), kinds, border, crowded, default_threshold(rule(val)))
            for name, rule in rules.items()}


def threshold_alternatives(model, scores: np.ndarray, kinds: np.ndarray) -> dict:
    """Shares of anomalies and normals flagged by other rules for the default threshold, from the same
    validation normals: {rule: {"threshold", "flagged_anomalies", "flagged_normals"}}."""
    from scipy import stats

    from ..model.thresholds import robust_threshold

    val = np.asarray(model.validation_scores.get(model.score_type, []), np.float64)
    n_obj = max(2, int(model.training.get("n_val", len(val))))
    normal, anomalous = kinds == "normal", (kinds != "normal") & (kinds != "")
    if val.size < 2 or not normal.any() or not anomalous.any():
        return {}
    mu, sd = float(val.mean()), float(val.std(ddof=1))
    rules = {
        "quantile 0.95": float(np.quantile(val, 0.95)),
        "mean + 1.645 sd": mu + 1.645 * sd,
        # A one-sided 95 % prediction bound for one more normal, from n_val objects (Student's t).
        "prediction bound": mu + float(stats.t.ppf(0.95, n_obj - 1)) * sd * np.sqrt(1 + 1 / n_obj),
    }
    # From the scored objects themselves, no labels (a screen's robust z, per plate): their median and
    # robust spread, which see the scored fields' own variation where a few held-out normals cannot.
    rules["scored: robust z 1.645"] = robust_threshold(scores, 1.645)
    rules["scored: robust z 3"] = robust_threshold(scores, 3.0)
    return {name: {"threshold": round(t, 4), "flagged_anomalies": round(float((scores[anomalous] >= t).mean()), 4),
                   "flagged_normals": round(float((scores[normal] >= t).mean()), 4)} for name, t in rules.items()}


def figures(scores: np.ndarray, kinds: np.ndarray, border: np.ndarray, crowded: np.ndarray,
            threshold: float) -> dict:
    """The benchmark's figures for one method's scores over the test detections."""
    from ..model.scoring import roc_auc

    on = kinds != ""
    y = (kinds[on] != "normal").astype(int)
    order = np.argsort(-scores, kind="stable")[:TOP]
    top = kinds[order]
    normal = kinds == "normal"
    anomalous = on & ~normal
    flagged = scores >= threshold
    implanted = on & (kinds != "natural")
    return {
        "auc": round(roc_auc(scores[on], y), 4),
        "auc_implanted": round(roc_auc(scores[implanted], (kinds[implanted] != "normal").astype(int)), 4),
        "auc_by_kind": {k: round(roc_auc(scores[normal | (kinds == k)], (kinds[normal | (kinds == k)] == k)
                                         .astype(int)), 4) for k in SCORED_KINDS if (kinds == k).any()},
        "anomalies_in_top20": int(((top != "normal") & (top != "")).sum()),
        "natural_in_top20": int((top == "natural").sum()),
        "border_or_crowded_normals_in_top20": int((normal[order] & (border[order] | crowded[order])).sum()),
        "empty_detections_in_top20": int((top == "").sum()),
        "flagged_anomalies": round(float(flagged[anomalous].mean()), 4),
        "flagged_normals": round(float(flagged[normal].mean()), 4),
        # What the ranking allows: the share of anomalies above the test normals' own 95 % quantile.  A
        # threshold set without the test normals can flag ~5 % of them and catch no more than this.
        "anomalies_above_test_normals_q95": round(float(
            (scores[anomalous] > np.quantile(scores[normal], 0.95)).mean()), 4) if normal.any() and anomalous.any()
        else float("nan"),
    }


def top_montage(path, images: np.ndarray, kinds: np.ndarray, scores: np.ndarray, title: str) -> None:
    """A PNG of the 20 highest-scoring patches (as the model saw them), each captioned with its truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(-scores, kind="stable")[:TOP]
    fig, axes = plt.subplots(2, 10, figsize=(15, 3.6))
    for ax, i in zip(axes.ravel(), order):
        patch = images[i].mean(0)
        lo, hi = np.percentile(patch, [1, 99.5])
        ax.imshow(patch, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
        ax.set_title(kinds[i] or "no nucleus", fontsize=8, color="black" if kinds[i] == "normal" else "darkred")
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    # Like every output: never over an input or a file of another kind, and whole or not at all.
    from ..io.atomic import atomic_path
    from ..io.outputs import REPORT_CREATOR

    check_output(path, "report")
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=80, bbox_inches="tight", format="png", metadata={"Software": REPORT_CREATOR})
    plt.close(fig)


def read_field(image_path, mask_path: Optional[str] = None):
    """A real field as (grey image at native depth, instance labels): the mask's, else ddrid's detection."""
    from ..io.reading import read_planes
    from ..objects import detect_objects, estimate_object_size

    page = read_planes(image_path)[0]
    image = page[..., 0] if page.shape[-1] == 1 else page.mean(-1).astype(page.dtype)
    if not mask_path:
        return image, detect_objects(image, estimate_object_size(image)).labels.astype(np.int64)
    labels = np.asarray(read_planes(mask_path)[0][..., 0]).astype(np.int64)
    if labels.shape != image.shape:
        raise DdridError(path=mask_path, reason=f"is {labels.shape[1]} x {labels.shape[0]} px where the image is "
                         f"{image.shape[1]} x {image.shape[0]}; give the mask made for this image")
    return image, labels


def run_real(image_path, mask_path: Optional[str], workdir: Path, pretrain: int, finetune: int, seed: int,
             rounds: Optional[int], fraction: float, run, patching_overrides: Optional[dict] = None,
             montage: Optional[Path] = None, input_size: Optional[int] = None,
             x_c_source: Optional[str] = None) -> dict:
    """The whole benchmark on one real field (see the module docstring); returns the results."""
    from dataclasses import replace

    from ..config import TrainConfig
    from ..io.images import load_patches
    from ..model.scoring import default_threshold, score_patches
    from ..model.training import train
    from ..objects import Patching

    t0 = time.perf_counter()
    image, labels = read_field(image_path, mask_path)
    truth, rounds, n_train_nuclei, n_test_nuclei = prepare(image, labels, workdir, rounds, fraction, seed)

    patching = Patching("auto")
    if patching_overrides:
        patching = replace(patching, **patching_overrides)
    normal = run(load_patches(workdir / "train", patching=patching, input_size=input_size))
    cfg = TrainConfig(pretrain_epochs=pretrain, finetune_epochs=finetune, seed=seed, device="cpu")
    if x_c_source is not None:
        cfg.x_c_source = x_c_source
    cfg.set_patching(normal.patching)
    cfg.input_size = int(normal.images.shape[-1])
    t_train = time.perf_counter()
    model = run(train(normal, cfg))
    t_train = time.perf_counter() - t_train
    test = run(load_patches(workdir / "test", model.config.patch_size, model.input_size,
                            patching=model.config.patching()))
    scores = run(score_patches(model, test))
    kinds, crowded = truth_of(test.sources, truth)
    border = np.array([s.touches_border for s in test.sources])

    methods = {}
    for name in ("latent", "residual", "combined", "measure", "cell"):
        try:
            s = scores.of(name)
        except ValueError:
            continue
        val = model.validation_scores.get(name)
        thr = model.threshold if name == model.score_type else default_threshold(val) if val is not None else np.inf
        methods[f"ddrid_{name}"] = figures(np.asarray(s, float), kinds, border, crowded, thr)
    methods["ddrid"] = figures(np.asarray(scores.score, float), kinds, border, crowded, model.threshold)
    thresholds = threshold_alternatives(model, np.asarray(scores.score, float), kinds)
    methods.update(rule_alternatives(model, scores, kinds, border, crowded))
    val_idx = np.asarray(model.training.get("val_indices", []), int)
    train_mask = np.ones(len(normal), bool)
    train_mask[val_idx] = False
    from ..model.cellscore import feature_matrix

    f_all = feature_matrix(normal.sources)
    f_test = feature_matrix(test.sources)
    if np.isfinite(f_all).all() and np.isfinite(f_test).all():
        for name, (s, v) in baseline_scores(f_all[train_mask], f_all[~train_mask], f_test, seed).items():
            methods[name] = figures(np.asarray(s, float), kinds, border, crowded, default_threshold(v))
    if montage is not None:
        for name in ("ddrid", "features_knn5"):
            s = scores.score if name == "ddrid" else baseline_scores(
                f_all[train_mask], f_all[~train_mask], f_test, seed)[name][0]
            top_montage(montage / f"{Path(image_path).stem}-top20-{name}.png", test.images, kinds,
                        np.asarray(s, float), f"{Path(image_path).name}: top 20 by {name}")
    return {
        "image": str(image_path), "mask": mask_path,
        "patching": model.config.patching().to_dict(), "input_size": model.input_size,
        "train_nuclei": n_train_nuclei, "test_nuclei": n_test_nuclei, "rounds": rounds, "fraction": fraction,
        "train_objects": len(normal), "test_objects": len(test),
        "test_normals": int((kinds == "normal").sum()), "test_anomalies": int(((kinds != "normal") & (kinds != "")).sum()),
        "test_natural": int((kinds == "natural").sum()),
        "test_on_no_nucleus": int((kinds == "").sum()), "test_touching_border": int(border.sum()),
        "pretrain_epochs": pretrain, "finetune_epochs": finetune, "seed": seed, "score_type": model.score_type,
        "quality_auc": model.validation.get("synthetic_auc"),
        "cell_quality_auc": model.validation.get("cell_auc"),
        "methods": methods, "thresholds": thresholds,
        "train_seconds": round(t_train, 1), "seconds": round(time.perf_counter() - t0, 1),
    }


def markdown(results: list) -> str:
    """The results as a markdown table, one block per field."""
    lines = ["# `ddrid bench real`", ""]
    for r in results:
        lines += [f"## {Path(r['image']).name}", "",
                  f"{r['train_objects']} training objects (of {r['train_nuclei']} interior nuclei in the training "
                  f"half); {r['test_objects']} test "
                  f"detections ({r['test_anomalies']} anomalous, of them {r.get('test_natural', 0)} the field's own odd "
                  f"nuclei; {r['test_normals']} normal, {r['test_on_no_nucleus']} on "
                  f"no nucleus, {r['test_touching_border']} touching the border) over {r['rounds']} rounds of "
                  f"the other half ({r['test_nuclei']} interior nuclei); "
                  f"{r['pretrain_epochs']}+{r['finetune_epochs']} epochs, seed {r['seed']}, "
                  f"{r['seconds']:.0f} s. Quality check (no labels): odd cells made from the validation objects "
                  f"{r.get('cell_quality_auc')}, pixel-level synthetic anomalies {r['quality_auc']}.", "",
                  "| method | AUC | AUC, implanted only | " + " | ".join(SCORED_KINDS)
                  + " | anomalies in top 20 | border/crowded normals in top 20 "
                  "| empty in top 20 | anomalies flagged | normals flagged | anomalies above the test normals' q95 |",
                  "|---|---|---|" + "---|" * len(SCORED_KINDS) + "---|---|---|---|---|---|"]
        for name, m in r["methods"].items():
            by = " | ".join(f"{m['auc_by_kind'].get(k, float('nan')):.3f}" for k in SCORED_KINDS)
            natural = f" ({m['natural_in_top20']} natural)" if m.get("natural_in_top20") else ""
            lines.append(f"| {name} | {m['auc']:.3f} | {m.get('auc_implanted', float('nan')):.3f} | {by} | "
                         f"{m['anomalies_in_top20']}{natural} | "
                         f"{m['border_or_crowded_normals_in_top20']} | {m['empty_detections_in_top20']} | "
                         f"{m['flagged_anomalies']:.2f} | {m['flagged_normals']:.2f} | "
                         f"{m.get('anomalies_above_test_normals_q95', float('nan')):.2f} |")
        lines.append("")
    return "\n".join(lines)


def cmd_real(args) -> int:
    import tempfile

    import torch

    from ..console import run_job
    from .record import command_line, hardware

    images = args.image
    masks = args.mask or []
    if len(masks) > len(images):
        raise DdridError("give at most one --mask per --image")
    for out, kind in ((args.json, "json"), (args.markdown, "text"), (args.montage, "folder")):
        if out:
            check_output(out, kind, [*images, *masks])
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {}
    if args.border:
        overrides["border"] = args.border
    if args.neighbours:
        overrides["neighbours"] = args.neighbours
    results = []
    for i, image in enumerate(images):
        mask = masks[i] if i < len(masks) and masks[i] not in ("", "-") else None
        with tempfile.TemporaryDirectory(prefix="ddrid-real-") as tmp:
            r = run_real(image, mask, Path(tmp), args.pretrain_epochs, args.finetune_epochs, args.seed, args.rounds,
                         args.fraction, lambda job: run_job(job, args), overrides,
                         Path(args.montage) if args.montage else None, args.input_size, args.x_c_source)
        r.update(command=command_line(args), hardware=hardware())
        results.append(r)
        print(f"{Path(image).name}: {r['train_objects']} training objects, {r['test_objects']} test detections "
              f"({r['test_anomalies']} anomalous), {r['seconds']:.0f} s; quality check: odd cells {r['cell_quality_auc']}, "
              f"pixel-level {r['quality_auc']}")
        for name, m in r["methods"].items():
            print(f"  {name:<22} AUC {m['auc']:.3f}  top20 {m['anomalies_in_top20']:>2} anomalies "
                  f"({m['natural_in_top20']} natural), "
                  f"{m['border_or_crowded_normals_in_top20']} border/crowded, {m['empty_detections_in_top20']} empty; "
                  f"flagged {m['flagged_anomalies']:.2f} of anomalies, {m['flagged_normals']:.2f} of normals "
                  f"(ranking allows {m['anomalies_above_test_normals_q95']:.2f})  "
                  + " ".join(f"{k[:5]} {v:.2f}" for k, v in m["auc_by_kind"].items()))
    if args.json:
        write_text_atomic(args.json, json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.markdown:
        write_text_atomic(args.markdown, markdown(results) + "\n")
        print(f"wrote {args.markdown}")
    return 0


def add_parser(sub) -> None:
    """`ddrid bench real`."""
    p = sub.add_parser("real", help="ranking on real fields with implanted anomalies, against features baselines",
                       description="Cut real fields into training and test sub-fields, implant condensed, fragmented, "
                                   "hollow, micronucleus and textured nuclei into the test fields, train ddrid with "
                                   "default settings and score; compare with regionprops-features baselines.")
    p.add_argument("--image", action="append", required=True, metavar="IMG", help="a real field (repeat for several)")
    p.add_argument("--mask", action="append", metavar="MASK",
                   help="its instance mask, in the order of --image ('-' for none: ddrid's detection is used)")
    p.add_argument("--pretrain-epochs", type=int, default=10)
    p.add_argument("--finetune-epochs", type=int, default=10)
    p.add_argument("--rounds", type=int, help="implant rounds over the test fields (default: about 40 anomalies)")
    p.add_argument("--fraction", type=float, default=0.2, help="share of interior test nuclei changed (default 0.2)")
    p.add_argument("--border", choices=["exclude", "flag", "include"], help="border policy (default: ddrid's)")
    p.add_argument("--neighbours", choices=["cells", "mask", "keep"], help="neighbour policy (default: ddrid's)")
    p.add_argument("--input-size", type=int, choices=(32, 64, 128), help="network input side (default: ddrid's)")
    p.add_argument("--x-c-source", choices=list(X_C_SOURCES),
                   help="where X_C and AS_e come from (default: ddrid's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch threads")
    p.add_argument("--json", metavar="OUT.json")
    p.add_argument("--markdown", metavar="OUT.md")
    p.add_argument("--montage", metavar="DIR", help="write PNGs of the top 20 (ddrid and the k-NN baseline) there")
    p.set_defaults(func=cmd_real)
