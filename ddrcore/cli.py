"""`ddrid`: the headless command line over ddrcore.

Every long job is a ddrcore generator; this module only parses arguments,
draws a progress bar on stderr and prints one-line errors (a traceback only
with --debug).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import __version__
from .config import PROFILES, TrainConfig
from .io.atomic import cleanup_on_signals
from .base import DEVICE_CHOICES
from .errors import DdridError
from .model.score_type import SCORE_TYPES, ScoreType
from .io.names import shown   # an output named in bytes that are not UTF-8 must not fail the final print
from .io.outputs import check_output
from .objects.patching import object_size_arg
from .console import missing_folder, plural, report_bad, run_job, say_created


def _channel(value: Optional[str]):
    if value is None or value == "all":
        return value
    try:
        index = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("channel must be an index (0, 1, ...) or 'all'") from None
    # Refused here for every command alike: -1 would otherwise count from the end in one command
    # (objects) and be refused deep inside another (train), in words naming no option.
    if index < 0:
        raise argparse.ArgumentTypeError(f"channel must be an index (0, 1, ...) or 'all', got {value}")
    return index


def _int_in(lo: int, hi: int, what: str):
    """An argparse type: an integer in lo..hi, refused at parse time otherwise."""
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {value!r}") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be {lo}..{hi}, got {n}")
        return n
    return parse


def _float_in(what: str, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False):
    """An argparse type: a finite number in [lo, hi] ((lo, hi] with lo_open); nan and inf are refused."""
    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {value!r}") from None
        if not math.isfinite(x):
            raise argparse.ArgumentTypeError(f"{what} must be a finite number, got {value!r}")
        if x < lo or x > hi or (lo_open and x == lo):
            raise argparse.ArgumentTypeError(f"{what} must be {'>' if lo_open else '>='} {lo:g}"
                                             + (f" and <= {hi:g}" if math.isfinite(hi) else "") + f", got {x:g}")
        return x
    return parse


def _threshold_arg(value: str):
    """``--threshold``: a finite number, or ``robust`` (from the run's own scores, :mod:`ddrcore.model.thresholds`)."""
    if value.strip().lower() == "robust":
        return "robust"
    return _float_in("threshold")(value)


def _input_size(value: str) -> int:
    from .base import MAX_INPUT_SIZE

    n = _int_in(32, MAX_INPUT_SIZE, "input size")(value)
    if n & (n - 1):
        raise argparse.ArgumentTypeError(f"input size must be a power of two (32, 64, ..., {MAX_INPUT_SIZE}), got {n}")
    return n


def _cluster(value: str) -> str:
    """An argparse type for --cluster, checked at parse time (Dask itself is imported only to run)."""
    from .cluster.connect import parse_cluster

    try:
        parse_cluster(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


_epochs = _int_in(0, 100_000, "epochs")
_seed = _int_in(0, 2**32 - 1, "seed")


def add_output_options(p: argparse.ArgumentParser, images: bool = True) -> None:
    """--force (and --max-pixels for commands that read images)."""
    p.add_argument("--force", action="store_true",
                   help="replace an existing output file even if it is not of the kind written (never an input)")
    if images:
        p.add_argument("--max-pixels", type=_int_in(1, 2**40, "max pixels"), metavar="N",
                       help="largest image page read, in pixels (default 89478485 as Pillow's; refused beyond)")


def add_patching_options(p: argparse.ArgumentParser, defaults_from: str = "") -> None:
    """The patch-source options shared by train, score and objects."""
    from .objects import SOURCES

    g = p.add_argument_group("patches", "how patches are cut from each image" + defaults_from)
    g.add_argument("--objects", choices=SOURCES,
                   help="grid: square tiles (default); auto: one patch centred on each detected bright object; "
                        "labels: one per object of a label image; points: one per centre in --points")
    g.add_argument("--object-size", type=object_size_arg, metavar="PX",
                   help="typical object diameter in pixels, for every image (auto: estimated per image when not given; "
                        "images at one magnification share one size)")
    g.add_argument("--patch-size", type=_int_in(4, 4096, "patch size"), metavar="PX",
                   help="patch side in pixels (grid default 32; objects: twice the object size)")
    g.add_argument("--stride", type=_int_in(1, 4096, "stride"), metavar="PX",
                   help="grid: step between tiles (default: the patch size)")
    g.add_argument("--labels", metavar="DIR",
                   help="labels: folder of label images (default: beside the images; names IMAGE_masks.tif, "
                        "_cp_masks, _labels, -labels, _label, _mask, -mask, _Object Identities, -lbl, masks/IMAGE "
                        "beside images/, or the image's own name in DIR)")
    g.add_argument("--points", metavar="CSV", help="points: CSV of centres, columns path,y,x or file,cy,cx (or napari's "
                                                   "axis-0,axis-1, CellProfiler's Location_Center_Y/X, TrackMate's "
                                                   "spot table)")
    g.add_argument("--border", choices=("exclude", "flag", "include"),
                   help="objects touching the image border: exclude (default: half a nucleus cannot be judged), "
                        "flag (scored and marked touches_border, never trained on) or include")
    g.add_argument("--neighbours", choices=("cells", "mask", "keep"),
                   help="other objects inside a patch: cells masks them to the local background but keeps bodies "
                        "under a third of the object's diameter (a micronucleus); mask masks all; keep keeps all")


def patching_from_args(args, base=None):
    """Patching from the command line; options not given keep ``base``'s values (a model's settings)."""
    from dataclasses import replace

    from .objects import Patching

    p = base or Patching()
    if args.objects is None and (getattr(args, "labels", None) or getattr(args, "points", None)):
        # --labels DIR or --points CSV alone say which source is meant (as in ddrid-gui).
        args.objects = "labels" if args.labels else "points"
    if args.objects is not None and args.objects != p.source:
        # Another source: the model's crop side still holds (the network needs it), its object size does not.
        p = replace(p, source=args.objects, stride=None if args.objects != "grid" else p.stride,
                    object_size=None if base is None else p.object_size)
    for name, attr in (("object_size", "object_size"), ("patch_size", "patch_size"), ("stride", "stride"),
                       ("labels", "labels_dir"), ("points", "points"), ("border", "border"),
                       ("neighbours", "neighbours")):
        value = getattr(args, name, None)
        if value is not None:
            p = replace(p, **{attr: value})
    if getattr(args, "object_size", None) is not None or getattr(args, "patch_size", None) is not None:
        # A size the user types holds for every image (no per-image estimate overrides it).
        p = replace(p, per_image=False)
    try:
        return p.validate()
    except ValueError as exc:
        raise DdridError(str(exc)) from None


def _say_patching(p, where, sources=None) -> None:
    if p.is_grid:
        return
    from .objects.patching import sizes_in_words

    # Images at another magnification are cut at their own size: each is named, not just the folder's median.
    line = f"objects: {p.source}, {sizes_in_words(p, sources or ())} ({where})"
    border = {"exclude": "objects touching the border left out", "flag": "border objects scored, not trained on",
              "include": "border objects included"}[p.border]
    print(f"{line}; {border}", file=sys.stderr)


# ----------------------------------------------------------------- commands --
def cmd_train(args) -> int:
    from .base import default_input_size
    from .config import TrainConfig
    from .pipeline import train_folder

    cfg = TrainConfig()
    for name in ("pretrain_epochs", "finetune_epochs", "batch_size", "lr", "seed", "device",
                 "input_size", "latent_sigma", "threshold_quantile", "min_steps_per_epoch",
                 "precision", "profile"):
        value = getattr(args, name, None)
        if value is not None:
            setattr(cfg, name, value)
    cfg.channel = args.channel
    patching = patching_from_args(args)
    try:
        cfg.set_patching(patching if patching.is_grid or patching.object_size or patching.patch_size
                         else patching.with_object_size(16))   # a stand-in until the folder says
        if args.input_size is None:
            cfg.input_size = default_input_size(cfg.patch_size)
        cfg.validate()
    except ValueError as exc:
        raise DdridError(str(exc)) from None
    new_folder = missing_folder(args.output)
    from .model import ranks as process_ranks

    # Under torchrun (RANK, WORLD_SIZE set): join the other processes; rank 0 alone prints and writes.
    ranks = process_ranks.init_from_env(cfg.device)
    if not ranks.is_main:
        args.quiet = True
    try:
        result = run_job(train_folder(args.normal_dir, args.output, cfg, patching, input_size=args.input_size,
                                      labels=args.labels, points=args.points, force=args.force), args)
    finally:
        process_ranks.finish()
    if not ranks.is_main:
        return 0
    report_bad(result.bad)
    model = result.model
    _say_patching(result.patches.patching, "estimated from the images" if patching.object_size is None else "as given",
                  result.patches.sources)
    print(f"{plural(len(result.patches), 'normal patch', 'normal patches')} from {args.normal_dir}", file=sys.stderr)
    say_created(new_folder)
    print(f"saved {shown(args.output)}: score {model.score_type}, threshold {model.threshold:.6g}, "
          f"{model.training['seconds']:.0f}s on {model.training['device']}")
    from .model.quality import describe

    check = describe(model.validation)
    if check:
        print(check, file=sys.stderr if "Warning:" in check else sys.stdout)
    return 0


def cmd_score(args) -> int:
    from .model.modelfile import load
    from .pipeline import score_folder

    overrides = any(getattr(args, n, None) is not None
                    for n in ("objects", "object_size", "patch_size", "stride", "labels", "points"))
    patching = patching_from_args(args, load(args.model, "cpu").config.patching()) if overrides else None
    new_folders = [missing_folder(args.csv),
                   missing_folder(Path(args.decompositions) / "x") if args.decompositions else None,
                   missing_folder(Path(args.labels_out) / "x") if args.labels_out else None]
    from .io.outputs import distinct_outputs
    from .objects.labels import with_label_folders
    from .pipeline import check_exchange_outputs, write_exchange

    # Two outputs of one run never name the same file: the second would silently replace the first.
    distinct_outputs(csv=args.csv, rois=args.rois, labels_out=args.labels_out, decompositions=args.decompositions)
    # The ROI set and the label folder are checked before any image is read, like the CSV.
    exchange_inputs = with_label_folders([args.model, args.test_dir, args.labels, args.points])
    check_exchange_outputs(args.rois, args.labels_out, exchange_inputs, args.force)
    if args.labels_out and (patching or load(args.model, "cpu").config.patching()).is_grid:
        raise DdridError("--labels-out writes objects, and this model cuts grid tiles (they overlap at the edge): "
                         "score with --objects auto, labels or points, or leave out --labels-out")
    if args.threshold == "robust" and args.cluster is not None:
        raise DdridError("--threshold robust is taken from all of the run's scores, which a cluster run writes file "
                         "by file; score without --cluster, or give the threshold as a number")
    options = dict(decompositions=args.decompositions, device=args.device, threshold=args.threshold,
                   score_type=args.score, patching=patching, labels=args.labels, points=args.points, force=args.force)
    if args.cluster is not None:
        from .cluster import score_on_cluster

        job = score_on_cluster(args.model, args.test_dir, args.csv, cluster=args.cluster,
                               files_per_task=args.files_per_task, timeout=args.connect_timeout, **options)
    else:
        job = score_folder(args.model, args.test_dir, args.csv, **options)
    result = run_job(job, args)
    report_bad(result.bad)
    for folder in dict.fromkeys(new_folders):    # once each: the CSV and the label folder may share a new parent
        say_created(folder)
    scores, model = result.scores, result.model
    robust = args.threshold == "robust" and result.threshold is not None
    if args.threshold == "robust" and not robust:
        from .model.thresholds import MIN_ROBUST

        print(f"--threshold robust needs at least {MIN_ROBUST} scored objects to read their spread from; "
              f"{plural(len(scores), 'was', 'were')} scored, so the model's threshold is used", file=sys.stderr)
    tau = result.threshold if robust else model.threshold if args.threshold in (None, "robust") else args.threshold
    n_flag = int(scores.flagged(tau).sum())
    rule = " (robust: from this run's scores)" if robust else ""
    print(f"wrote {shown(args.csv)}: {plural(len(scores), 'patch')}, {n_flag} flagged "
          f"({100 * n_flag / max(1, len(scores)):.1f} %) at threshold {tau:.6g}{rule} ({model.score_type} score)")
    if args.rois or args.labels_out:
        done = write_exchange(scores, result.patches.sources, result.patches.patching, model.config.channel,
                              threshold=None if args.threshold is None else tau, rois=args.rois,
                              labels_out=args.labels_out,
                              inputs=exchange_inputs, force=args.force)
        if args.rois:
            print(f"wrote {args.rois}: {plural(done['rois'], 'ROI')} (the flagged objects, for Fiji's ROI Manager)")
        if args.labels_out:
            print(f"wrote {plural(len(done['labels']), 'label image')} to {args.labels_out} (ids = the CSV's object_id)")
        report_bad(done["skipped"])
    return 0


def cmd_info(args) -> int:
    from .model.modelfile import load

    model = load(args.model, "cpu")
    info = model.summary()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"model file      {args.model}")
    print(f"score           {info['score_type']} ({ScoreType.label_of(info['score_type'])})")
    print(f"threshold       {info['threshold']:.6g}  ({info['validation'].get('threshold_rule', '')})")
    print(f"seed            {info['seed']}")
    print(f"profile         {model.config.profile}")
    print(f"preprocessing   {info['preprocess']}")
    print(f"input           {info['channels']} channel(s), {info['input_size']}x{info['input_size']}, "
          f"patches {info['patch_size']} px, channel {info['channel']}")
    pt = info["patching"]
    print(f"patch source    {pt['source']}" + (f", object size {pt['object_size']:g} px" if pt["object_size"] else "")
          + (f", stride {pt['stride']} px" if pt["stride"] else "") + f", crops {info['patch_size']} px")
    from .model.quality import describe

    val = {k: v for k, v in info["validation"].items() if not k.startswith("synthetic")}
    tr = {k: v for k, v in info["training"].items() if k != "val_indices"}
    print(f"validation      {val}")
    check = describe(info["validation"])
    print(f"quality check   {check.split(': ', 1)[1] if check else 'none (model trained before ddrid had one)'}")
    print(f"training        {tr}")
    return 0


def cmd_objects(args) -> int:
    from .io.export import write_objects_csv
    from .io.images import load_patches

    if args.objects is None and not (args.labels or args.points):
        args.objects = "auto"
    patching = patching_from_args(args)
    if patching.is_grid:
        raise DdridError("ddrid objects finds objects: choose --objects auto, labels or points")
    from .objects.labels import with_label_folders

    inputs = with_label_folders([args.folder, args.labels, args.points])
    new_folder = missing_folder(args.csv) if args.csv else None
    if args.csv:
        check_output(args.csv, "csv", inputs, args.force)
    patches = run_job(load_patches(args.folder, channel=args.channel, patching=patching), args)
    report_bad(patches.bad)
    _say_patching(patches.patching, "estimated from the images" if patching.object_size is None else "as given",
                  patches.sources)
    n_files = len({s.path for s in patches.sources})
    if args.csv:
        write_objects_csv(args.csv, patches.sources, patches.patching, inputs, args.force)
        say_created(new_folder)
        print(f"wrote {shown(args.csv)}: {plural(len(patches), 'object')} in {plural(n_files, 'file')}")
    else:
        print(f"{plural(len(patches), 'object')} in {plural(n_files, 'file')}")
    return 0


def cmd_demo(args) -> int:
    from .pipeline import run_demo

    r = run_job(run_demo(args.out, args.data, pretrain_epochs=args.pretrain_epochs,
                         finetune_epochs=args.finetune_epochs, device=args.device, seed=args.seed,
                         profile=args.profile,
                         force=bool(getattr(args, "force", False))), args)
    print(f"demo: {r.n_train} normal training patches; model {r.model_path} "
          f"({r.score_type} score chosen, threshold {r.threshold:.4g})")
    print(f"demo: ranked CSV {r.csv_path} ({r.n_test} test patches, {r.n_flagged} flagged)")
    print(f"demo: AUC {r.auc:.3f} (AS_l {r.auc_latent:.3f}, AS_r {r.auc_recon:.3f}); "
          f"at the default threshold: {100 * r.flagged_anomalies:.0f} % of anomalies and "
          f"{100 * r.flagged_normals:.0f} % of normals flagged")
    print(f"demo: finished in {r.seconds:.0f} s")
    return 0


# ------------------------------------------------------------------- parser --
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ddrid", description="DDR-ID anomaly detection for microscopy patches.")
    p.add_argument("--version", action="version", version=f"ddrid {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model on a folder of normal patches",
                       description="Train DDR-ID on the images under NORMAL_DIR (all treated as normal).")
    t.add_argument("normal_dir", metavar="NORMAL_DIR", help="folder of normal images (searched recursively)")
    t.add_argument("-o", "--output", required=True, metavar="MODEL", help="model file to write (e.g. model.ddrid)")
    t.add_argument("--pretrain-epochs", type=_epochs, help="pretraining epochs (default 150, the paper's)")
    t.add_argument("--finetune-epochs", type=_epochs, help="finetuning epochs (default 100, the paper's)")
    t.add_argument("--batch-size", type=_int_in(2, 65536, "batch size"),
                   help="batch size (default 256; shrunk for small sets, see docs/method.md)")
    t.add_argument("--min-steps-per-epoch", type=_int_in(0, 1_000_000, "min steps per epoch"),
                   help="shrink the batch until an epoch has this many steps (default 8; 0 = off)")
    t.add_argument("--lr", type=_float_in("learning rate", 0.0, 10.0, lo_open=True),
                   help="learning rate (default 1e-4, x0.1 after 50 epochs)")
    t.add_argument("--latent-sigma", type=_float_in("latent sigma", 0.0, lo_open=True),
                   help="sigma of N(Z_C, sigma^2 I) for D_L (default 0.1)")
    t.add_argument("--threshold-quantile", type=_float_in("threshold quantile", 0.0, 1.0, lo_open=True),
                   help="default threshold quantile of validation scores (0.95)")
    add_patching_options(t)
    t.add_argument("--input-size", type=_input_size, help="network input side, power of two 32..512 "
                                                          "(default: the patch size if 32/64/128/256, else 32)")
    t.add_argument("--channel", type=_channel, help="channel index for multichannel images, or 'all'")
    t.add_argument("--device", choices=DEVICE_CHOICES, help="default auto: CUDA, MPS, else CPU")
    t.add_argument("--seed", type=_seed, help="random seed, 0..4294967295 (default 0)")
    t.add_argument("--precision", choices=["fp32", "bf16"],
                   help="fp32 (default) or bf16 autocast: faster on recent CPUs/GPUs, ~1 AUC point on MNIST (benchmarks/)")
    t.add_argument("--profile", choices=list(PROFILES),
                   help=f"explain: a decomposition whose X_C shows the patch and whose residual shows the "
                        f"anomaly, ranked by AS_c; paper: the paper's losses and Algorithm 2, for reproduction "
                        f"(docs/method.md, Profiles). Default {TrainConfig().profile}")
    add_output_options(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("score", help="score a folder and write a ranked CSV",
                       description="Score every patch under TEST_DIR with MODEL; write a ranked CSV.")
    s.add_argument("model", metavar="MODEL", help="model file written by `ddrid train` (.ddrid)")
    s.add_argument("test_dir", metavar="TEST_DIR", help="folder (searched recursively) or image file to score")
    s.add_argument("--csv", required=True, metavar="RANKED.csv",
                   help="ranked CSV to write, most anomalous first (one row per patch)")
    s.add_argument("--decompositions", metavar="DIR", help="also write input|X_C|X_N TIFFs per patch here")
    s.add_argument("--rois", metavar="FLAGGED.zip",
                   help="also write the flagged objects as a Fiji ROI set (one polygon per object, named "
                        "rank{rank}_score{score}_obj{object_id})")
    s.add_argument("--labels-out", metavar="DIR",
                   help="also write one label image per input image here (IMAGE_labels.tif) whose ids are the CSV's "
                        "object_id, for napari and CellProfiler")
    s.add_argument("--threshold", type=_threshold_arg, metavar="T|robust",
                   help="override the model's threshold: a finite number, or 'robust' for one from this run's own "
                        "scores (their median plus 1.645 robust standard deviations: about 5 %% of normal objects "
                        "above it while most scored objects are normal)")
    s.add_argument("--score", choices=["auto", *SCORE_TYPES], default="auto",
                   help="auto: the model's choice (AS_c under the explain profile, Algorithm 2 under paper); "
                        "latent (AS_l), recon (AS_r), residual (AS_e) or combined (AS_c) to override it, "
                        "with the threshold re-derived from the validation scores")
    s.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="where to run the model (default auto: CUDA, MPS, else CPU)")
    add_patching_options(s, " (default: as the model's training patches were cut)")
    c = s.add_argument_group("cluster", "score the files on a Dask cluster (needs pip install \"ddrid[cluster]\"; "
                                        "the workers must see the same file system; docs/cluster.md)")
    c.add_argument("--cluster", type=_cluster, metavar="SPEC",
                   help="local:N (N worker processes here), tcp://HOST:PORT (a running scheduler) "
                        "or a scheduler file (.json)")
    c.add_argument("--files-per-task", type=_int_in(1, 1_000_000, "files per task"), metavar="N",
                   help="files per Dask task (default: from the files' sizes, up to 8 MiB per task)")
    c.add_argument("--connect-timeout", type=_float_in("connect timeout", 0.0, 3600.0, lo_open=True), default=10.0,
                   metavar="S", help="seconds to wait for the scheduler before giving up (default 10)")
    add_output_options(s)
    s.set_defaults(func=cmd_score)

    o = sub.add_parser("objects", help="find the objects in images and list them in a CSV",
                       description="Find objects (auto detection, label images or points) in every image under "
                                   "FOLDER; print how many, and with --csv list each with its centre and size.")
    o.add_argument("folder", metavar="FOLDER", help="folder (searched recursively) or image file")
    o.add_argument("--csv", metavar="OUT.csv", help="write one row per object: path, page, crop y/x, object_id, "
                                                    "center_y, center_x, size, area, mean_intensity")
    o.add_argument("--channel", type=_channel, help="channel index for multichannel images, or 'all'")
    add_patching_options(o)
    add_output_options(o)
    o.set_defaults(func=cmd_objects)

    i = sub.add_parser("info", help="describe a model file",
                       description="Print how a model file was trained: score, threshold, patches, quality check.")
    i.add_argument("model", metavar="MODEL", help="model file (.ddrid)")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_info)

    d = sub.add_parser("demo", help="run the whole pipeline on the bundled demo data",
                       description="Train on the bundled demo patches, score the demo test set, write the CSV, "
                                   "print the AUC.")
    d.add_argument("--out", default="ddrid-demo", metavar="DIR", help="output folder (default ./ddrid-demo)")
    d.add_argument("--data", metavar="DIR", help="demo data folder (default: the bundled one)")
    d.add_argument("--pretrain-epochs", type=_epochs, default=None, help="default: the demo schedule (docs/cli.md)")
    d.add_argument("--finetune-epochs", type=_epochs, default=None, help="default: the demo schedule (docs/cli.md)")
    d.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="where to train and score (default auto: CUDA, MPS, else CPU)")
    d.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    d.add_argument("--profile", choices=list(PROFILES), default=None,
                   help=f"training profile (default {TrainConfig().profile}; see `ddrid train --profile`)")
    add_output_options(d)
    d.set_defaults(func=cmd_demo)

    try:
        from .bench import add_parser as add_bench  # the benchmark commands, when present
    except ImportError:
        add_bench = None
    if add_bench is not None:
        add_bench(sub)
    return p


def _rank_label() -> str:
    """" (rank k of K)" in the error lines of torchrun's ranks other than 0 (each rank reports its own)."""
    rank, world = os.environ.get("RANK", "0"), os.environ.get("WORLD_SIZE", "1")
    return f" (rank {rank} of {world})" if rank not in ("", "0") else ""


def _say(line: str) -> None:
    # One write of the whole line: the ranks of a torchrun job share one stderr (unbuffered there), and
    # print's separate write of the newline let two ranks' lines run into each other.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def quiet_libraries() -> None:
    """Keep the readers' own chatter off the screen: every bad file already gets ddrid's one line.

    tifffile logs what it finds wrong in a damaged file ("invalid page offset",
    "incorrect StripByteCounts"), and Pillow warns of a "decompression bomb"
    over its pixel limit, which ddrid checks itself from the header
    (``--max-pixels``).  ``--debug`` shows them again.
    """
    import logging
    import warnings

    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    try:
        from PIL import Image

        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    except ImportError:       # Pillow comes with scikit-image and matplotlib; without it there is nothing to hush
        pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)   # recorded by commands that log how they were run
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    cleanup_on_signals()   # SIGTERM/SIGHUP unwind like Ctrl+C: no temp file is left behind
    if not args.debug:
        quiet_libraries()
    try:
        if getattr(args, "max_pixels", None) is not None:
            from .io.reading import set_max_pixels

            set_max_pixels(args.max_pixels)
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        _say(str(exc) or "ddrid: interrupted; nothing half-written was left behind")
        return 130
    except (DdridError, ValueError, OSError) as exc:
        if args.debug:
            raise
        from .io.names import printable

        path = getattr(exc, "path", None)
        if path is not None and str(exc) == f"{path}: {exc.reason}":
            # The path as it is (a line break in a name must not cut the line), the reason's first line.
            reason = exc.reason.strip().splitlines()[0] if exc.reason.strip() else type(exc).__name__
            msg = f"{path}: {reason}"
        else:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _say(f"ddrid: error{_rank_label()}: {printable(msg)}")
        return 1
    except Exception as exc:  # unexpected: still one line unless --debug
        if args.debug:
            raise
        _say(f"ddrid: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
