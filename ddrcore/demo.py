"""`ddrid demo`: the whole pipeline on the bundled demo patches.

Train on ``demo/train/normal`` with the demo schedule, score ``demo/test``
(``normal/`` and ``anomaly/`` folders give the labels for the AUC), write the
model, the ranked CSV and a few decompositions.  The demo schedule is shorter
than the paper's (150 + 100 epochs) so that it finishes in a few minutes on
two CPU cores; `ddrid train` uses the paper's schedule by default.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

DEMO_PRETRAIN_EPOCHS = 25
DEMO_FINETUNE_EPOCHS = 25


def bundled_demo_dir() -> Path:
    """The demo data folder, installed (ddrid_resources) or in a source checkout."""
    try:
        import ddrid_resources  # installed wheel / editable install

        return Path(ddrid_resources.DEMO)
    except ImportError:
        return Path(__file__).resolve().parent.parent / "resources" / "demo"


def labels_from_folders(sources, anomaly_names=("anomaly", "anomalous", "abnormal")) -> np.ndarray:
    """1 for patches whose path has a folder named like 'anomaly', else 0."""
    names = set(anomaly_names)
    return np.array([int(any(part.lower() in names for part in Path(s.path).parts[:-1])) for s in sources])


def run_demo(args, run) -> int:
    from .config import TrainConfig
    from .export import write_csv, write_decompositions
    from .images import load_patches
    from .modelfile import save
    from .scoring import roc_auc, score_patches
    from .training import train

    from .outputs import check_output

    data = Path(args.data) if args.data else bundled_demo_dir()
    force = bool(getattr(args, "force", False))
    # Every output is checked before training starts (never the demo data, never a foreign file).
    out = check_output(args.out, "folder", [data])
    check_output(out / "demo-model.ddrid", "model", [data], force)
    check_output(out / "demo-ranked.csv", "csv", [data], force)
    check_output(out / "decompositions", "folder", [data])
    t0 = time.perf_counter()
    cfg = TrainConfig(
        pretrain_epochs=args.pretrain_epochs if args.pretrain_epochs is not None else DEMO_PRETRAIN_EPOCHS,
        finetune_epochs=args.finetune_epochs if args.finetune_epochs is not None else DEMO_FINETUNE_EPOCHS,
        device=args.device, seed=args.seed,
    )
    normal = run(load_patches(data / "train" / "normal", cfg.patch_size, cfg.input_size), args)
    print(f"demo: {len(normal)} normal training patches from {data / 'train' / 'normal'}", file=sys.stderr)
    model = run(train(normal, cfg), args)
    model_path = save(model, out / "demo-model.ddrid", inputs=[data], force=force)
    test = run(load_patches(data / "test", cfg.patch_size, cfg.input_size), args)
    scores = run(score_patches(model, test, decompose=True), args)
    csv_path = write_csv(out / "demo-ranked.csv", scores, test.sources, model, model_path.name,
                         inputs=[data], force=force)
    write_decompositions(out / "decompositions", scores, test.sources, limit=20, inputs=[data])
    labels = labels_from_folders(test.sources)
    auc = roc_auc(scores.score, labels)
    auc_l, auc_r = roc_auc(scores.latent, labels), roc_auc(scores.recon, labels)
    flagged = scores.flagged()
    seconds = time.perf_counter() - t0
    print(f"demo: model {model_path} ({model.score_type} score chosen, threshold {model.threshold:.4g})")
    print(f"demo: ranked CSV {csv_path} ({len(test)} test patches, {int(flagged.sum())} flagged)")
    print(f"demo: AUC {auc:.3f} (AS_l {auc_l:.3f}, AS_r {auc_r:.3f}); "
          f"at the default threshold: {100 * flagged[labels == 1].mean():.0f} % of anomalies and "
          f"{100 * flagged[labels == 0].mean():.0f} % of normals flagged")
    print(f"demo: finished in {seconds:.0f} s")
    return 0
