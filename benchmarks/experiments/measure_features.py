"""Which measurements should AS_m weigh? (issue #26) — no training, seconds per field.

Cuts the real fields of `ddrid bench real` exactly as it does (same halves,
same implants for a seed), and scores the test detections with AS_m (the
k-NN measurement score of ddrcore.model.cellscore) over several subsets of
the measurements.  Prints AUC, AUC by kind and anomalies among the top 20.

    python benchmarks/experiments/measure_features.py IMAGE[:MASK] [IMAGE[:MASK] ...] --seeds 0,1
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from ddrcore.bench.real import figures, prepare, read_field, truth_of
from ddrcore.io.images import load_patches
from ddrcore.model.cellscore import MeasureModel, feature_matrix
from ddrcore.objects import Patching
from ddrcore.objects.measure import MEASUREMENTS
from ddrcore.progress import run_to_end

SUBSETS = {
    "all 11 (as shipped)": list(MEASUREMENTS),
    "one of each (7)": ["area", "eccentricity", "solidity", "intensity_mean", "intensity_max", "intensity_cv",
                        "center_ratio"],
    "no integrated (10)": [m for m in MEASUREMENTS if m != "intensity_integrated"],
    "size once (8)": ["area", "eccentricity", "solidity", "intensity_mean", "intensity_max", "intensity_integrated",
                      "intensity_cv", "center_ratio"],
}


def field(spec, seed, workdir):
    image_path, _, mask_path = spec.partition(":")
    image, labels = read_field(image_path, mask_path)
    truth, *_ = prepare(image, labels, workdir, None, 0.2, seed)
    normal = run_to_end(load_patches(workdir / "train", patching=Patching("auto")))
    test = run_to_end(load_patches(workdir / "test", normal.patching.crop_side(), normal.images.shape[-1],
                                   patching=normal.patching))
    kinds, crowded = truth_of(test.sources, truth)
    border = np.array([s.touches_border for s in test.sources])
    return feature_matrix(normal.sources), feature_matrix(test.sources), kinds, border, crowded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fields", nargs="+")
    ap.add_argument("--seeds", default="0,1")
    args = ap.parse_args()
    for spec in args.fields:
        for seed in [int(s) for s in args.seeds.split(",")]:
            with tempfile.TemporaryDirectory() as tmp:
                f_train, f_test, kinds, border, crowded = field(spec, seed, Path(tmp))
            for name, cols in SUBSETS.items():
                idx = [MEASUREMENTS.index(c) for c in cols]
                m = MeasureModel.fit(f_train[:, idx])
                r = figures(m.score(f_test[:, idx]), kinds, border, crowded, np.inf)
                by = " ".join(f"{k[:5]} {v:.2f}" for k, v in r["auc_by_kind"].items())
                print(f"{Path(spec.split(':')[0]).stem[:12]:12s} seed {seed} {name:22s} AUC {r['auc']:.3f} "
                      f"top20 {r['anomalies_in_top20']:2d} | {by}", flush=True)


if __name__ == "__main__":
    main()
