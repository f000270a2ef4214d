"""What a `ddrid bench real` run misses: the lowest-ranked anomalies beside the highest-ranked normals.

Runs the benchmark's pipeline for one field and seed (``real_capture.py``)
and draws two rows of patches as the model saw them: the ``N`` anomalies
(implanted kinds) with the lowest AS_cell, captioned with their kind and
rank, above the ``N`` highest-ranked test normals.  A person can then say
whether the missed anomalies are visible at all at the field's resolution.

    python benchmarks/experiments/missed_montage.py IMAGE MASK|- SEED OUT.png [N]
"""
from __future__ import annotations

import sys

import numpy as np


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from real_capture import capture_from_argv

    from ddrcore.io.atomic import atomic_path
    from ddrcore.io.outputs import check_output

    out, n = sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 12
    # Like every output: never over an input or a file of another kind (checked before the training), and
    # whole or not at all.
    check_output(out, "report", [p for p in sys.argv[1:3] if p != "-"])
    seen = capture_from_argv(sys.argv[1:4])
    score = np.asarray(seen["scores"].score, float)
    kinds = np.asarray(seen["kinds"], str)
    images = seen["test"].images
    rank = np.empty(len(score), int)
    rank[np.argsort(-score, kind="stable")] = np.arange(1, len(score) + 1)
    implanted = np.nonzero((kinds != "normal") & (kinds != "") & (kinds != "natural"))[0]
    normals = np.nonzero(kinds == "normal")[0]
    missed = implanted[np.argsort(score[implanted])][:n]
    high = normals[np.argsort(-score[normals])][:n]
    fig, axes = plt.subplots(2, n, figsize=(1.5 * n, 3.6))
    for row, picked in enumerate((missed, high)):
        for ax, i in zip(axes[row], picked):
            patch = images[i].mean(0)
            lo, hi = np.percentile(patch, [1, 99.5])
            ax.imshow(patch, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
            ax.set_title(f"{kinds[i]} #{rank[i]}", fontsize=7)
        for ax in axes[row]:
            ax.axis("off")
    fig.suptitle(f"{sys.argv[1].rsplit('/', 1)[-1]} seed {sys.argv[3]}: lowest-ranked anomalies (top row), "
                 f"highest-ranked normals (bottom); {len(implanted)} implanted, {len(normals)} normals", fontsize=9)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    print(f"{out}: anomalies' ranks of the lowest {n}: {sorted(rank[missed].tolist())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
