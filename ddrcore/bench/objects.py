"""`ddrid bench objects` and `ddrid bench fields`: object detection and end-to-end anomaly ranking on fields.

objects — detection quality and speed:

* on a real image with an instance mask (``--image``, ``--mask``): recall and
  precision of the detections against the mask's object centroids, a
  detection matching at most one object within ``--tolerance`` pixels
  (8 by default; optimal one-to-one matching), at ``--object-size`` values
  given and with the size estimated from the image;
* on synthetic fields of each object kind (blobs, rings, rods, crescents,
  puncta clusters, rings with a spot), isolated and touching;
* speed: detection on a 2048 x 2048 16-bit synthetic field (median of 3).

fields — the whole pipeline on whole fields of view: train with
``--objects auto`` on fields of normal objects (rings), score fields that mix
normal and anomalous objects (blobs, crescents, rings with an extra spot),
and report the ROC AUC over the detected objects (each detection takes the
kind of the true object under its centre; detections on no object are left
out and counted).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..io.atomic import write_text_atomic
from ..errors import DdridError
from ..io.outputs import check_output


def match_centers(found: np.ndarray, truth: np.ndarray, tolerance: float = 8.0) -> tuple[int, float, float]:
    """(matches, recall, precision) of found centres against true centres, one-to-one within ``tolerance``.

    Examples
    --------
    >>> match_centers(np.array([[0, 0], [10, 10], [50, 50]]), np.array([[1, 1], [11, 9]]))
    (2, 1.0, 0.6666666666666666)
    """
    from scipy.optimize import linear_sum_assignment

    found = np.asarray(found, float).reshape(-1, 2)
    truth = np.asarray(truth, float).reshape(-1, 2)
    if len(found) == 0 or len(truth) == 0:
        return 0, 0.0, 0.0
    d = np.linalg.norm(found[:, None] - truth[None], axis=-1)
    cost = np.where(d <= tolerance, d, 1e9)
    rows, cols = linear_sum_assignment(cost)
    tp = int((cost[rows, cols] <= tolerance).sum())
    return tp, tp / len(truth), tp / len(found)


def _centroids(labels: np.ndarray) -> np.ndarray:
    from ..objects import objects_from_labels

    return objects_from_labels(labels).centers


def detection_on(image: np.ndarray, truth: np.ndarray, sizes: Sequence[Optional[float]], tolerance: float) -> list:
    """Rows of (object size, estimated?, found, recall, precision, seconds) for one image."""
    from ..objects import detect_objects, estimate_object_size

    rows = []
    for size in sizes:
        estimated = size is None
        t0 = time.perf_counter()
        if estimated:
            size = estimate_object_size(image)
        found = detect_objects(image, size)
        seconds = time.perf_counter() - t0
        _, recall, precision = match_centers(found.centers, truth, tolerance)
        rows.append({"object_size": round(float(size), 1), "estimated": estimated, "objects": int(len(truth)),
                     "found": int(len(found)), "recall": round(recall, 3), "precision": round(precision, 3),
                     "seconds": round(seconds, 3)})
    return rows


def synthetic_detection(size: float = 22, seeds: int = 3, tolerance: float = 8.0) -> list:
    """Recall/precision per object kind on synthetic 256 x 256 fields, isolated and touching."""
    from ..objects import detect_objects
    from ..objects.synthetic import KINDS, make_field

    rows = []
    for kind in KINDS:
        for touching in (False, True):
            tp = n_true = n_found = 0
            for seed in range(seeds):
                f = make_field((256, 256), (kind,), n=14, size=size, seed=seed, touching=touching)
                found = detect_objects(f.image, size)
                k, _, _ = match_centers(found.centers, f.centers, tolerance)
                tp, n_true, n_found = tp + k, n_true + len(f.centers), n_found + len(found)
            rows.append({"kind": kind, "touching": touching, "objects": n_true, "found": n_found,
                         "recall": round(tp / max(n_true, 1), 3), "precision": round(tp / max(n_found, 1), 3)})
    return rows


def detection_speed(side: int = 2048, size: float = 20, repeats: int = 3) -> dict:
    """Seconds to detect the objects of a ``side`` x ``side`` 16-bit synthetic field (median of ``repeats``)."""
    from ..objects import detect_objects
    from ..objects.synthetic import make_field

    n = int(0.25 * side * side / (size * size))      # about a quarter of the field covered
    f = make_field((side, side), ("blob", "ring", "rod"), n=n, size=size, seed=0)
    times, found = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        found = len(detect_objects(f.image, size))
        times.append(time.perf_counter() - t0)
    return {"side": side, "dtype": str(f.image.dtype), "objects": len(f.centers), "found": found,
            "seconds_median": round(float(np.median(times)), 3), "seconds": [round(t, 3) for t in times]}


def cmd_objects(args) -> int:
    import tifffile

    from .record import command_line, hardware

    if args.json:   # checked before the work: never an input, never a file of another kind
        check_output(args.json, "json", [args.image, args.mask])
    result = {"command": command_line(args), "hardware": hardware(), "tolerance": args.tolerance}
    if args.image:
        from ..io.reading import read_planes

        if not args.mask:
            raise DdridError("--image needs --mask (the instance label image with the true objects)")
        image = read_planes(args.image)[0]
        truth = _centroids(np.asarray(tifffile.imread(args.mask)) if args.mask.lower().endswith((".tif", ".tiff"))
                           else read_planes(args.mask)[0][..., 0])
        sizes = [float(s) for s in args.object_size] + [None]
        result["image"] = {"path": args.image, "mask": args.mask,
                           "rows": detection_on(image, truth, sizes, args.tolerance)}
        print(f"{Path(args.image).name}: {len(truth)} objects in the mask")
        print(f"  {'object size':>12}  {'found':>5}  {'recall':>6}  {'precision':>9}  {'seconds':>7}")
        for r in result["image"]["rows"]:
            label = f"{r['object_size']:g}" + (" (est.)" if r["estimated"] else "")
            print(f"  {label:>12}  {r['found']:>5}  {r['recall']:>6.3f}  {r['precision']:>9.3f}  {r['seconds']:>7.3f}")
    if not args.no_synthetic:
        rows = synthetic_detection(tolerance=args.tolerance)
        result["synthetic"] = rows
        print("synthetic fields (object size 22 px, 3 fields of 256 x 256 each):")
        for r in rows:
            print(f"  {r['kind']:<10} {'touching' if r['touching'] else 'isolated':<9} objects {r['objects']:>3}  "
                  f"found {r['found']:>3}  recall {r['recall']:.3f}  precision {r['precision']:.3f}")
    if not args.no_speed:
        sp = detection_speed(args.speed_side)
        result["speed"] = sp
        print(f"speed: {sp['side']} x {sp['side']} {sp['dtype']} field, {sp['objects']} objects: "
              f"{sp['seconds_median']:.2f} s (median of {len(sp['seconds'])}), {sp['found']} found")
    if args.json:
        write_text_atomic(args.json, json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


# ------------------------------------------------------------------ fields --
NORMAL_KIND = "ring"
ANOMALY_KINDS = ("blob", "crescent", "spot_ring")


def write_fields(folder: Path, count: int, kinds, seed: int, size: float, n: int, weights=None):
    """Write ``count`` synthetic fields as TIFFs; returns {path: Field}."""
    import tifffile

    from ..objects.synthetic import make_field

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i in range(count):
        f = make_field((256, 256), kinds, n=n, size=size, seed=seed + i, gradient=0.3, weights=weights)
        path = folder / f"field_{i:03d}.tif"
        tifffile.imwrite(path, f.image)
        out[str(path)] = f
    return out


def truth_kinds(sources, fields: dict) -> list:
    """The true kind under each patch's object centre ('' where the centre lies on no object)."""
    out = []
    for src in sources:
        f = fields[src.path]
        y = int(np.clip(round(src.center_y), 0, f.labels.shape[0] - 1))
        x = int(np.clip(round(src.center_x), 0, f.labels.shape[1] - 1))
        k = int(f.labels[y, x])
        out.append(f.kinds[k - 1] if k else "")
    return out


def run_fields(workdir: Path, pretrain: int, finetune: int, seed: int, object_size: Optional[float], n_train: int,
               n_test: int, run) -> dict:
    """Train on normal fields with ``--objects auto``, score mixed fields; AUC over detected objects."""
    from ..config import TrainConfig
    from ..io.images import load_patches
    from ..objects import Patching
    from ..model.scoring import roc_auc, score_patches
    from ..model.training import train

    t0 = time.perf_counter()
    train_fields = write_fields(workdir / "train", n_train, (NORMAL_KIND,), seed, 20, 14)
    weights = {NORMAL_KIND: 0.7, **{k: 0.1 for k in ANOMALY_KINDS}}
    test_fields = write_fields(workdir / "test", n_test, (NORMAL_KIND,) + ANOMALY_KINDS, seed + 1000, 20, 14,
                               weights)
    normal = run(load_patches(workdir / "train", patching=Patching("auto", object_size=object_size)))
    cfg = TrainConfig(pretrain_epochs=pretrain, finetune_epochs=finetune, seed=seed, device="cpu")
    cfg.set_patching(normal.patching)
    cfg.input_size = int(normal.images.shape[-1])
    train_kinds = truth_kinds(normal.sources, train_fields)
    t_train = time.perf_counter()
    model = run(train(normal, cfg))
    t_train = time.perf_counter() - t_train
    test = run(load_patches(workdir / "test", model.config.patch_size, model.input_size, patching=normal.patching))
    scores = run(score_patches(model, test))
    kinds = np.array(truth_kinds(test.sources, test_fields))
    on_object = kinds != ""
    labels = (kinds[on_object] != NORMAL_KIND).astype(int)
    n_objects = sum(len(f.kinds) for f in test_fields.values())
    per_kind = {}
    for k in ANOMALY_KINDS:
        keep = (kinds == NORMAL_KIND) | (kinds == k)
        per_kind[k] = round(roc_auc(scores.score[keep], (kinds[keep] == k).astype(int)), 3)
    return {
        "object_size": normal.patching.object_size, "patch_size": normal.patching.crop_side(),
        "train_fields": n_train, "train_objects_true": sum(len(f.kinds) for f in train_fields.values()),
        "train_patches": len(normal), "train_patches_on_no_object": int(sum(k == "" for k in train_kinds)),
        "test_fields": n_test, "test_objects_true": n_objects, "test_patches": len(test),
        "test_patches_on_no_object": int((~on_object).sum()),
        "anomalies": int(labels.sum()), "normals": int((labels == 0).sum()),
        "score_type": model.score_type, "pretrain_epochs": pretrain, "finetune_epochs": finetune, "seed": seed,
        "auc": round(roc_auc(scores.score[on_object], labels), 3),
        "auc_latent": round(roc_auc(scores.latent[on_object], labels), 3),
        "auc_recon": round(roc_auc(scores.recon[on_object], labels), 3),
        "auc_per_anomaly_kind": per_kind,
        "train_seconds": round(t_train, 1), "seconds": round(time.perf_counter() - t0, 1),
    }


def cmd_fields(args) -> int:
    import tempfile

    import torch

    from .record import command_line, hardware
    from ..console import run_job

    if args.json:
        check_output(args.json, "json")
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="ddrid-fields-") as tmp:
        r = run_fields(Path(tmp), args.pretrain_epochs, args.finetune_epochs, args.seed, args.object_size,
                       args.train_fields, args.test_fields, lambda job: run_job(job, args))
    r.update(command=command_line(args), hardware=hardware())
    print(f"object size {r['object_size']:g} px, patches {r['patch_size']} px; trained on {r['train_patches']} "
          f"objects from {r['train_fields']} ring fields ({r['pretrain_epochs']}+{r['finetune_epochs']} epochs, "
          f"{r['train_seconds']:.0f} s)")
    print(f"test: {r['test_patches']} objects detected ({r['test_objects_true']} true, "
          f"{r['test_patches_on_no_object']} on no object), {r['anomalies']} anomalous, {r['normals']} normal")
    print(f"AUC over objects: {r['auc']:.3f} ({r['score_type']} score chosen; AS_l {r['auc_latent']:.3f}, "
          f"AS_r {r['auc_recon']:.3f}); per anomaly kind: "
          + ", ".join(f"{k} {v:.3f}" for k, v in r["auc_per_anomaly_kind"].items()))
    if args.json:
        write_text_atomic(args.json, json.dumps(r, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def add_parsers(sub) -> None:
    """`ddrid bench objects` and `ddrid bench fields`."""
    o = sub.add_parser("objects", help="object detection: recall/precision against a mask, synthetic kinds, speed",
                       description="Detection quality on a real image with an instance mask and on synthetic "
                                   "fields, and detection speed on a 2048 x 2048 16-bit field.")
    o.add_argument("--image", metavar="IMG", help="an image with a known instance mask")
    o.add_argument("--mask", metavar="MASK", help="its instance label image (one id per object)")
    o.add_argument("--object-size", type=float, nargs="*", default=[], metavar="PX",
                   help="object sizes to try (the size estimated from the image is always tried too)")
    o.add_argument("--tolerance", type=float, default=8.0, help="match distance in pixels (default 8)")
    o.add_argument("--no-synthetic", action="store_true", help="skip the synthetic fields")
    o.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    o.add_argument("--speed-side", type=int, default=2048, help="side of the speed field (default 2048)")
    o.add_argument("--json", metavar="OUT.json")
    o.set_defaults(func=cmd_objects)

    f = sub.add_parser("fields", help="end to end on whole fields: train on normal objects, AUC over objects",
                       description="Train with --objects auto on synthetic fields of rings, score fields mixing "
                                   "rings with blobs, crescents and rings with a spot; ROC AUC over objects.")
    f.add_argument("--pretrain-epochs", type=int, default=10)
    f.add_argument("--finetune-epochs", type=int, default=10)
    f.add_argument("--train-fields", type=int, default=16)
    f.add_argument("--test-fields", type=int, default=8)
    f.add_argument("--object-size", type=float, help="default: estimated from the training fields")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--threads", type=int, help="torch threads")
    f.add_argument("--json", metavar="OUT.json")
    f.set_defaults(func=cmd_fields)
