"""The top 20 of a real field, as a biologist would look at them: no implants, nothing labelled.

Trains ddrid with default settings (``--objects auto``) on one half of a real
field and scores the other half, then draws the 20 highest-ranked objects
twice: the crop from the image at native resolution (the object outlined),
and the patch as the model saw it (neighbours masked, resized to the
network's input).  Whether each is an odd cell or a crop artefact is for the
eye to judge.

    python benchmarks/experiments/real_top20.py IMAGE OUT.png [--epochs 10] [--seed 0]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def train_and_screen(image: str, epochs: int, seed: int, decompose: bool = False):
    """Train ddrid (default settings, ``--objects auto``) on one half of a real field and score the other half.

    Returns the model, the training patches, the screened half's patches and
    their scores, the screened half's pixels and its object labels.
    """
    import tifffile

    from ddrcore.config import TrainConfig
    from ddrcore.io.images import load_patches
    from ddrcore.io.reading import read_planes
    from ddrcore.model.scoring import score_patches
    from ddrcore.model.training import train
    from ddrcore.objects import Patching, page_objects
    from ddrcore.progress import run_to_end

    page = read_planes(image)[0]
    grey = page.mean(-1).astype(page.dtype) if page.shape[-1] > 1 else page[..., 0]
    h, w = grey.shape
    halves = (grey[:, : w // 2], grey[:, w // 2:]) if w >= h else (grey[: h // 2], grey[h // 2:])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "train").mkdir()
        (tmp / "screen").mkdir()
        tifffile.imwrite(tmp / "train" / "half.tif", np.ascontiguousarray(halves[0]))
        screen_path = tmp / "screen" / "half.tif"
        tifffile.imwrite(screen_path, np.ascontiguousarray(halves[1]))
        normal = run_to_end(load_patches(tmp / "train", patching=Patching("auto")))
        cfg = TrainConfig(pretrain_epochs=epochs, finetune_epochs=epochs, seed=seed, device="cpu")
        cfg.set_patching(normal.patching)
        cfg.input_size = int(normal.images.shape[-1])
        model = run_to_end(train(normal, cfg))
        screen = run_to_end(load_patches(tmp / "screen", patching=model.config.patching(),
                                         input_size=model.input_size))
        scores = run_to_end(score_patches(model, screen, decompose=decompose))
        labels = page_objects(halves[1][..., None], model.config.patching(), screen_path).labels
    return model, normal, screen, scores, halves[1], labels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("--epochs", type=int, default=10, help="pretraining and finetuning epochs each (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddrcore.io.outputs import check_output

    check_output(args.out, "report", [args.image])
    model, normal, screen, scores, field, labels = train_and_screen(args.image, args.epochs, args.seed)
    order = scores.ranking()[:20]
    flagged = scores.flagged()
    fig, axes = plt.subplots(4, 10, figsize=(16, 7.2))
    lo, hi = np.percentile(field, [1, 99.5])
    for k, i in enumerate(order):
        s = screen.sources[i]
        y0, x0, side = s.y, s.x, s.size
        ya, xa = max(0, y0), max(0, x0)
        crop = field[ya: y0 + side, xa: x0 + side]
        own = labels[ya: y0 + side, xa: x0 + side] == s.object_id
        top, bottom = axes[2 * (k // 10), k % 10], axes[2 * (k // 10) + 1, k % 10]
        top.imshow(crop, cmap="gray", vmin=lo, vmax=hi)
        top.contour(own, [0.5], colors="yellow", linewidths=0.6)
        top.set_title(f"#{k + 1} {scores.score[i]:.2f}{' *' if flagged[i] else ''}", fontsize=8)
        bottom.imshow(screen.images[i].mean(0), cmap="gray")
        for ax in (top, bottom):
            ax.axis("off")
    fig.suptitle(f"{Path(args.image).name}: top 20 of the screened half ({len(screen)} objects; trained on "
                 f"{len(normal)} of the other half, {args.epochs}+{args.epochs} epochs). Rows: the object in the "
                 f"image (outlined) / the patch the model saw. * = above the default threshold", fontsize=9)
    from ddrcore.io.atomic import atomic_path
    from ddrcore.io.outputs import REPORT_CREATOR

    with atomic_path(args.out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=80, bbox_inches="tight", format="png", metadata={"Software": REPORT_CREATOR})
    print(f"wrote {args.out}; AS_cell threshold {model.threshold:.3g}, {int(flagged.sum())} of {len(screen)} flagged; "
          f"quality check: {model.validation.get('cell_auc')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
