"""Does a quality check made from the *scored* objects predict the real ranking better? (issue #26)

The quality check of object models makes odd cells from the validation
normals (a handful on a half-field) and asks how well AS_cell ranks them.
Over 16 runs of `ddrid bench real` it came within 0.17 of the real AUC but
did not order the runs (Spearman about 0).  This probe trains as `bench
real` does and computes, beside the shipped check, the same check made from
a sample of the test objects themselves (unlabelled: about one in five is
an implanted anomaly), which sees the fields being scored rather than the
few held-out normals.  Prints one line per run and the Spearman of each
check against the real AUC.

    python benchmarks/experiments/qc_probe.py --seeds 0,1,2,3 IMAGE[:MASK] ...

Result (2026-12-06, DSB, U2OS, HT29, Kc167, seeds 0-3, input 32): the
shipped check Spearman -0.04 (mean -0.023, largest 0.174), the check from
scored objects -0.07 (mean -0.095, largest 0.214).  Not kept.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from ddrcore.bench.real import prepare, read_field, truth_of
from ddrcore.config import TrainConfig
from ddrcore.io.images import load_patches
from ddrcore.model.cellquality import check_cells
from ddrcore.model.scoring import roc_auc, score_patches
from ddrcore.model.training import train
from ddrcore.objects import Patching
from ddrcore.progress import run_to_end


def one(spec: str, seed: int, sample: int):
    image_path, _, mask_path = spec.partition(":")
    image, labels = read_field(image_path, mask_path)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        truth, *_ = prepare(image, labels, work, None, 0.2, seed)
        normal = run_to_end(load_patches(work / "train", patching=Patching("auto")))
        cfg = TrainConfig(pretrain_epochs=10, finetune_epochs=10, seed=seed, device="cpu")
        cfg.set_patching(normal.patching)
        cfg.input_size = int(normal.images.shape[-1])
        model = run_to_end(train(normal, cfg))
        test = run_to_end(load_patches(work / "test", model.config.patch_size, model.input_size,
                                       patching=model.config.patching()))
        scores = run_to_end(score_patches(model, test))
        kinds, _ = truth_of(test.sources, truth)
    keep = kinds != ""
    real = roc_auc(np.asarray(scores.score)[keep], (kinds[keep] != "normal").astype(int))
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(test.sources))[:sample]
    sides = [test.sources[i].size for i in idx]
    on_test = check_cells(model, np.asarray(test.images)[idx], sides, seed)["cell_auc"]
    return real, model.validation.get("cell_auc"), on_test


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fields", nargs="+")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--sample", type=int, default=200)
    args = ap.parse_args()
    rows = []
    for spec in args.fields:
        for seed in [int(s) for s in args.seeds.split(",")]:
            real, shipped, on_test = one(spec, seed, args.sample)
            rows.append((real, shipped, on_test))
            print(f"{Path(spec.split(':')[0]).stem[:14]:14s} seed {seed}: real {real:.3f}  check (validation) "
                  f"{shipped}  check (scored objects) {on_test}", flush=True)
    from scipy.stats import spearmanr

    r = np.asarray(rows, float)
    for j, name in ((1, "validation"), (2, "scored objects")):
        ok = np.isfinite(r[:, j])
        print(f"check from {name}: Spearman {spearmanr(r[ok, 0], r[ok, j])[0]:.2f}, "
              f"mean difference {np.mean(r[ok, j] - r[ok, 0]):+.3f}, largest {np.abs(r[ok, j] - r[ok, 0]).max():.3f}")


if __name__ == "__main__":
    main()
