"""`ddrid bench ...`: the benchmark subcommands (parsing and printing only)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..config import PROFILES, X_C_SOURCES, TrainConfig
from ..console import run_job
from ..base import DEVICE_CHOICES
from ..errors import DdridError
from ..io.atomic import write_text_atomic
from dataclasses import replace

from .accuracy import METHODS, PAPER_PROTOCOL, QUICK, AccuracySettings, format_table, markdown, run_accuracy
from .record import command_line, hardware, write_json
from .speed import measure_speed


def _settings_from_args(args) -> AccuracySettings:
    s = replace(PAPER_PROTOCOL if args.protocol == "paper" else QUICK)
    s.test_protocol = args.test_protocol
    if args.rounds is not None:
        s.rounds = args.rounds
    if args.max_train is not None:
        s.max_train = args.max_train if args.max_train > 0 else None
    if args.max_test is not None:
        s.max_test = args.max_test if args.max_test > 0 else None
    if args.pretrain_epochs is not None:
        s.ddrid_pretrain_epochs = s.base_pretrain_epochs = args.pretrain_epochs
    if args.finetune_epochs is not None:
        s.ddrid_finetune_epochs = s.base_finetune_epochs = args.finetune_epochs
    if args.batch_size is not None:
        s.ddrid_batch_size = s.base_batch_size = args.batch_size
    s.device, s.seed, s.precision = args.device, args.seed, args.precision
    if getattr(args, "profile", None):
        s.profile = args.profile
    if getattr(args, "x_c_source", None):
        s.x_c_source = args.x_c_source
    if s.rounds < 1:
        raise DdridError("--rounds must be at least 1")
    if min(s.ddrid_batch_size, s.base_batch_size) < 2:
        raise DdridError("--batch-size must be at least 2 (BatchNorm needs two samples)")
    return s


def cmd_accuracy(args) -> int:
    from .datasets import load_dataset

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise DdridError(f"unknown method(s) {', '.join(bad) or '(none)'}; choose from {', '.join(METHODS)}")
    settings = _settings_from_args(args)
    from ..base import select_device

    select_device(settings.device)
    ds = run_job(load_dataset(args.data), args)
    classes = ds.parse_classes(args.classes)
    json_path = Path(args.json)
    result = run_job(run_accuracy(ds, classes, methods, settings, json_path, command_line(args)), args)
    write_text_atomic(json_path.with_suffix(".md"), markdown(result))
    if not args.no_figures:
        from .figures import make_figures

        for f in make_figures(json_path, ds):
            print(f"wrote {f}", file=sys.stderr)
    print(format_table(result))
    print(f"wrote {json_path} and {json_path.with_suffix('.md')} ({result['seconds'] / 60:.1f} min)")
    return 0


def cmd_speed(args) -> int:
    import torch

    from ..base import select_device

    device = select_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    main = measure_speed(device, args.batch_size, args.precision, args.channels, args.channels_last, args.repeats,
                         args.matmul_size)
    out = dict(main)
    if args.compare:
        # Every speed-up is measured, not assumed: both precisions x both memory layouts.
        out["variants"] = []
        for prec in ("fp32", "bf16"):
            for cl in (False, True):
                if (prec, cl) == (args.precision, args.channels_last):
                    v = main
                else:
                    print(f"measuring {prec}{' channels_last' if cl else ''} ...", file=sys.stderr)
                    v = measure_speed(device, args.batch_size, prec, args.channels, cl, args.repeats, args.matmul_size)
                out["variants"].append({k: v[k] for k in ("precision", "channels_last", "train_images_per_s",
                                                          "score_patches_per_s", "train_gflops", "peak_gflops")})
    out.update({"command": command_line(args), "hardware": hardware()})
    print(f"{device} {args.precision}{' channels_last' if args.channels_last else ''}, {out['threads']} threads, "
          f"batch {args.batch_size}: training {out['train_images_per_s']:.1f} images/s "
          f"({out['train_gflops']:.1f} GFLOP/s = {100 * out['train_fraction_of_peak']:.0f} % of the measured "
          f"{out['peak_gflops']:.1f} GFLOP/s fp32 matmul), scoring {out['score_patches_per_s']:.1f} patches/s")
    for v in out.get("variants", []):
        print(f"  {v['precision']:<5} {'channels_last' if v['channels_last'] else 'contiguous':<14}"
              f" train {v['train_images_per_s']:8.1f} img/s  score {v['score_patches_per_s']:8.1f} patches/s")
    if args.json:
        write_json(Path(args.json), out)
        print(f"wrote {args.json}")
    return 0


def cmd_scale(args) -> int:
    from .scale import format_scale, measure_scale

    try:
        workers = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    except ValueError:
        workers = []
    if not workers or min(workers) < 1:
        raise DdridError(f"--workers must list worker counts such as 1,2, got {args.workers!r}")
    if args.json:
        from ..io.outputs import check_output

        check_output(args.json, "json", [], args.force)
    print(f"scoring {args.files} fields with {', '.join(f'local:{w}' for w in workers)} ...", file=sys.stderr)
    out = measure_scale(workers, args.files, args.side)
    out.update({"command": command_line(args), "hardware": hardware()})
    print(format_scale(out))
    if args.json:
        write_json(Path(args.json), out)
        print(f"wrote {args.json}")
    return 0


def cmd_figures(args) -> int:
    from .figures import make_figures
    from .datasets import load_dataset

    ds = run_job(load_dataset(args.data), args) if args.data else None
    for f in make_figures(Path(args.json), ds):
        print(f"wrote {f}")
    return 0


def add_parser(subparsers) -> None:
    b = subparsers.add_parser("bench", help="benchmarks: one-class accuracy (paper Table 2) and speed",
                              description="Reproduce the paper's one-class benchmark or measure speed.")
    sub = b.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    dev = DEVICE_CHOICES

    a = sub.add_parser("accuracy", help="one-class AUCs per class for DDR-ID and baselines",
                       description="For each class: train on that class only, test on the test set "
                                   "(that class normal, others anomalous), ROC AUC per method.")
    a.add_argument("--data", required=True, metavar="DIR",
                   help="IDX folder (MNIST format) or train/<class>/ test/<class>/ folder or .tar.gz")
    a.add_argument("--classes", default="all", help="e.g. 0-9, 0,3,5 or class names (default all)")
    a.add_argument("--methods", default="ddrid,deepsvdd,softsvdd,dcae", help=f"comma list of {', '.join(METHODS)}")
    a.add_argument("--protocol", choices=["quick", "paper"], default="quick",
                   help="quick: short CPU schedule (see bench.py); paper: Section 4.1 unchanged (GPU)")
    a.add_argument("--test-protocol", choices=["all", "adgan"], default="all",
                   help="all: whole test set (Deep SVDD); adgan: 5000 random test images")
    a.add_argument("--rounds", type=int, help="rounds per class (quick 1, paper 10)")
    a.add_argument("--max-train", type=int, help="training images per class (quick 600; 0 = all)")
    a.add_argument("--max-test", type=int, help="seeded random test subset (0 = all)")
    a.add_argument("--pretrain-epochs", type=int, help="override pretraining epochs of every method")
    a.add_argument("--finetune-epochs", type=int, help="override finetuning epochs of every method")
    a.add_argument("--batch-size", type=int, help="override the batch size of every method")
    a.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="DDR-ID precision (default fp32)")
    a.add_argument("--profile", choices=list(PROFILES),
                   help=f"DDR-ID training profile (default {TrainConfig().profile}; see `ddrid train --profile`)")
    a.add_argument("--x-c-source", choices=list(X_C_SOURCES),
                   help="where DDR-ID's X_C and AS_e come from (default: the profile's; pretrained under explain)")
    a.add_argument("--device", default="auto", choices=dev)
    a.add_argument("--seed", type=int, default=0, help="round r uses seed + r")
    a.add_argument("--json", required=True, metavar="OUT.json", help="results; OUT.md, OUT-scores/ and figures beside")
    a.add_argument("--no-figures", action="store_true", help="skip the figures")
    a.set_defaults(func=cmd_accuracy)

    s = sub.add_parser("speed", help="training/scoring throughput of the Table 1 networks",
                       description="Time one DDR-ID pretraining and finetuning step and scoring at a batch size, "
                                   "count FLOPs, and measure fp32 matmul GFLOP/s on the same machine.")
    s.add_argument("--json", metavar="OUT.json")
    s.add_argument("--device", default="auto", choices=dev)
    s.add_argument("--batch-size", type=int, default=256)
    s.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    s.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    s.add_argument("--channels", type=int, default=1, choices=[1, 3], help="1 (MNIST-type) or 3 (CIFAR-type)")
    s.add_argument("--threads", type=int, help="torch.set_num_threads before measuring")
    s.add_argument("--repeats", type=int, default=3, help="timed steps per measurement (median)")
    s.add_argument("--matmul-size", type=int, default=2048, help="side of the fp32 torch.mm for peak GFLOP/s")
    s.add_argument("--compare", action="store_true", help="also measure fp32/bf16 x contiguous/channels_last")
    s.set_defaults(func=cmd_speed)

    sc = sub.add_parser("scale", help="scoring patches/s on 1, 2, ... local Dask workers (needs ddrid[cluster])",
                        description="Score synthetic fields with ddrid score --cluster local:N's tasks for each N "
                                    "(one torch thread per worker), print patches/s and the scaling efficiency.")
    sc.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated (default 1,2)")
    sc.add_argument("--files", type=int, default=64, help="synthetic fields to score (default 64)")
    sc.add_argument("--side", type=int, default=256, help="field side in pixels (default 256: 64 patches)")
    sc.add_argument("--json", metavar="OUT.json")
    sc.add_argument("--force", action="store_true", help="replace an existing --json file of another kind")
    sc.set_defaults(func=cmd_scale)

    f = sub.add_parser("figures", help="(re)draw the figures of an accuracy run",
                       description="ROC curves, score histograms and (with --data) most normal/anomalous images.")
    f.add_argument("--json", required=True, metavar="OUT.json")
    f.add_argument("--data", metavar="DIR", help="the data set, for the image figures")
    f.set_defaults(func=cmd_figures)

    from .rings import add_parser as add_rings_parser

    add_rings_parser(sub)

    from .objects import add_parsers as add_object_parsers

    add_object_parsers(sub)

    from .real import add_parser as add_real_parser

    add_real_parser(sub)
