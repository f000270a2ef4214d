"""Ranked CSV export (atomic) and decomposition images.

Every row carries what is needed to reproduce the ranking: the score used,
the threshold, the model's seed and preprocessing constants, and the model
file's name — so a CSV separated from its model still says how it was made.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .atomic import atomic_path, write_text_atomic
from .images import PatchSource
from .model import DDRIDModel, score_name
from .scoring import Scores

COLUMNS = [
    "rank", "path", "page", "y", "x", "score", "score_latent", "score_recon", "score_type",
    "threshold", "is_anomaly", "model", "seed", "preprocess_min", "preprocess_max",
]


def ranked_rows(scores: Scores, sources: Sequence[PatchSource], model: DDRIDModel, model_name: str = "",
                threshold: Optional[float] = None) -> list[dict]:
    """One dict per patch, most anomalous first."""
    if len(scores) != len(sources):
        raise ValueError(f"{len(scores)} scores for {len(sources)} patches")
    tau = scores.threshold if threshold is None else float(threshold)
    flagged = scores.flagged(tau)
    chosen = scores.score
    rows = []
    for rank, i in enumerate(scores.ranking(), 1):
        s = sources[i]
        rows.append({
            "rank": rank, "path": s.path, "page": s.page, "y": s.y, "x": s.x,
            "score": f"{chosen[i]:.6g}", "score_latent": f"{scores.latent[i]:.6g}",
            "score_recon": f"{scores.recon[i]:.6g}", "score_type": score_name(scores.score_type),
            "threshold": f"{tau:.6g}", "is_anomaly": int(flagged[i]), "model": model_name,
            "seed": model.config.seed, "preprocess_min": f"{model.preprocessor.minimum:.8g}",
            "preprocess_max": f"{model.preprocessor.maximum:.8g}",
        })
    return rows


def write_csv(path: Union[str, os.PathLike], scores: Scores, sources: Sequence[PatchSource], model: DDRIDModel,
              model_name: str = "", threshold: Optional[float] = None) -> Path:
    """Write the ranked CSV atomically; returns the path."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(ranked_rows(scores, sources, model, model_name, threshold))
    write_text_atomic(path, buf.getvalue())
    return Path(path)


def write_decompositions(folder: Union[str, os.PathLike], scores: Scores, sources: Sequence[PatchSource],
                         limit: Optional[int] = None) -> int:
    """Write input | X_C | X_N of each patch as a 3-plane float32 TIFF, named by rank.

    Planes hold (preprocessed input, R_C(X), R_N(X)) for every channel, in the
    model's normalised units.  Returns the number of files written.
    """
    import tifffile

    if scores.x_c is None or scores.x_n is None or scores.x is None:
        raise ValueError("scores were computed without decompositions")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    order = scores.ranking()[: limit or None]
    for rank, i in enumerate(order, 1):
        stack = np.stack([scores.x[i], scores.x_c[i], scores.x_n[i]]).astype(np.float32)  # (3, C, S, S)
        src = sources[i]
        name = f"rank{rank:06d}_{Path(src.path).stem}_p{src.page}_y{src.y}_x{src.x}.tif"
        with atomic_path(folder / name, suffix=".tif") as tmp:
            tifffile.imwrite(tmp, stack, photometric="minisblack", metadata={"axes": "QCYX",
                             "Labels": ["input", "X_C", "X_N"]})
    return len(order)
