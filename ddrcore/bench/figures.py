"""Figures of a `ddrid bench accuracy` run, drawn from its saved per-class scores.

* ``<stem>-roc-mean.png``: ROC per method averaged over normal classes (paper Fig. 3);
* ``<stem>-roc-classes.png``: ROC per method for every normal class (Fig. 4);
* ``<stem>-hist-<method>.png``: score histograms, normal vs anomalous, per class;
* ``<stem>-extremes-<method>.png`` (needs the data set): the most normal and the
  most anomalous test images per class (Fig. 6).

Only round 1 of each class is drawn (the paper averages ROC curves over rounds;
with one round on the quick protocol there is nothing to average).
"""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from ..io.atomic import atomic_path

TITLES = {"ddrid": "DDR-ID", "deepsvdd": "One-Class Deep SVDD", "softsvdd": "Soft-Bound Deep SVDD",
          "dcae": "DCAE", "ddrid_latent": "DDR-ID AS_l", "ddrid_recon": "DDR-ID AS_r"}
GRID = np.linspace(0, 1, 201)


def roc_curve(scores: np.ndarray, labels: np.ndarray):
    """(fpr, tpr) with anomalies (1) as positives, one point per distinct threshold."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp, fp = np.cumsum(y), np.cumsum(~y)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # ties: keep the end of each run
    tpr = np.r_[0.0, tp[last] / max(1, y.sum())]
    fpr = np.r_[0.0, fp[last] / max(1, (~y).sum())]
    return fpr, tpr


def _load(json_path: Path) -> dict:
    """{class name: npz contents} of round 1, in the run's class order."""
    import json

    result = json.loads(json_path.read_text())
    folder = json_path.with_name(json_path.stem + "-scores")
    out = {}
    for c in result["classes"]:
        f = folder / f"class-{c}-round1.npz"
        if f.exists():
            with np.load(f) as z:
                out[c] = {k: z[k] for k in z.files}
    return out


def _methods(data: dict) -> List[str]:
    first = next(iter(data.values()))
    return [m for m in ("ddrid", "deepsvdd", "softsvdd", "dcae") if m in first]


def _save(fig, path: Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return path


def make_figures(json_path, ds=None) -> List[Path]:
    """Draw every figure beside ``json_path``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    json_path = Path(json_path)
    data = _load(json_path)
    if not data:
        return []
    methods = _methods(data)
    stem = json_path.with_suffix("")
    written = []

    # Mean ROC over classes (tpr interpolated on a common fpr grid).
    fig, ax = plt.subplots(figsize=(5, 5))
    for m in methods:
        tprs = [np.interp(GRID, *roc_curve(d[m], d["labels"])) for d in data.values()]
        ax.plot(GRID, np.mean(tprs, 0), label=TITLES[m])
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"mean ROC over {len(data)} classes")
    ax.legend(loc="lower right")
    written.append(_save(fig, Path(f"{stem}-roc-mean.png")))
    plt.close(fig)

    # ROC per class.
    cols = min(5, len(data))
    rows = int(np.ceil(len(data) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax, (c, d) in zip(axes.flat, data.items()):
        for m in methods:
            ax.plot(*roc_curve(d[m], d["labels"]), label=TITLES[m], lw=1)
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_title(f"normal class {c}", fontsize=9)
    for ax in axes.flat[len(data):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    written.append(_save(fig, Path(f"{stem}-roc-classes.png")))
    plt.close(fig)

    # Score histograms, normal vs anomalous.
    for m in methods + [k for k in ("ddrid_latent", "ddrid_recon") if k in next(iter(data.values()))]:
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
        for ax, (c, d) in zip(axes.flat, data.items()):
            s, y = d[m], d["labels"].astype(bool)
            bins = np.linspace(*np.quantile(s, [0.0, 0.995]), 40)  # the far tail would squash the rest
            ax.hist(s[~y], bins, alpha=0.6, density=True, label="normal")
            ax.hist(s[y], bins, alpha=0.6, density=True, label="anomalous")
            ax.set_title(f"class {c}", fontsize=9)
            ax.tick_params(labelsize=7)
        for ax in axes.flat[len(data):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"{TITLES[m]} scores")
        written.append(_save(fig, Path(f"{stem}-hist-{m}.png")))
        plt.close(fig)

    # Most normal / most anomalous test images per class.
    if ds is not None:
        k = 8
        for m in methods:
            fig, axes = plt.subplots(len(data), 2 * k, figsize=(2 * k * 0.7, len(data) * 0.8), squeeze=False)
            for row, (c, d) in zip(axes, data.items()):
                order = np.argsort(d[m], kind="stable")
                picks = list(order[:k]) + list(order[-k:][::-1])
                for ax, i in zip(row, picks):
                    img = ds.test_x[int(d["test_index"][i])]
                    img = img[0] if img.shape[0] == 1 else np.clip(img.transpose(1, 2, 0) / max(1.0, img.max()), 0, 1)
                    ax.imshow(img, cmap="gray")
                    ax.set_xticks([])
                    ax.set_yticks([])
                row[0].set_ylabel(c, rotation=0, labelpad=12, fontsize=8)
            axes[0, 0].set_title("most normal →", fontsize=8, loc="left")
            axes[0, k].set_title("most anomalous →", fontsize=8, loc="left")
            fig.suptitle(f"{TITLES[m]}: {k} most normal | {k} most anomalous test images per normal class",
                         fontsize=9, y=1.0 + 0.25 / len(data))  # above the column labels
            written.append(_save(fig, Path(f"{stem}-extremes-{m}.png")))
            plt.close(fig)
    return written


__all__ = ["make_figures", "roc_curve"]
