"""Would several trainings, averaged, rank real fields better and steadier than one?

On a real half-field ddrid trains on 17-41 objects, and its AS_cell AUC moves
by up to 0.15 from one seed to the next (docs/benchmarks.md, "Real fields").
This runs ``ddrid bench real``'s pipeline for one field and seed (the same
test fields and implants), trains ``M`` models whose training seeds differ
(seed, seed + 1000, ...), scores the same test detections with each, and
prints the AUC, anomalies and border/crowded normals in the top 20 of each
member alone and of the members' mean AS_cell (each member's AS_cell is
already on the scale of its own validation normals, so they add).

    python benchmarks/experiments/ensemble_probe.py IMAGE MASK|- SEED M
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np


def main() -> int:
    import torch

    from ddrcore.bench import real
    from ddrcore.config import TrainConfig
    from ddrcore.console import run_to_end as run
    from ddrcore.io.images import load_patches
    from ddrcore.io.reading import read_planes
    from ddrcore.model.scoring import score_patches
    from ddrcore.model.training import train
    from ddrcore.objects import Patching

    torch.set_num_threads(1)
    image_path, mask_path, seed, m = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    page = read_planes(image_path)[0]
    image = page[..., 0] if page.shape[-1] == 1 else page.mean(-1).astype(page.dtype)
    if mask_path != "-":
        labels = np.asarray(read_planes(mask_path)[0][..., 0]).astype(np.int64)
    else:
        from ddrcore.objects import detect_objects, estimate_object_size
        labels = detect_objects(image, estimate_object_size(image)).labels.astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        truth, *_ = real.prepare(image, labels, work, None, 0.2, seed)
        normal = run(load_patches(work / "train", patching=Patching("auto")))
        cfg = TrainConfig(pretrain_epochs=10, finetune_epochs=10, seed=seed, device="cpu")
        cfg.set_patching(normal.patching)
        cfg.input_size = int(normal.images.shape[-1])
        test = None
        members = []
        for k in range(m):
            model = run(train(normal, replace(cfg, seed=seed + 1000 * k)))
            if test is None:
                test = run(load_patches(work / "test", model.config.patch_size, model.input_size,
                                        patching=model.config.patching()))
            members.append(np.asarray(run(score_patches(model, test)).score, float))
        kinds, crowded = real.truth_of(test.sources, truth)
    border = np.array([s.touches_border for s in test.sources])
    name = Path(image_path).name
    for k, s in enumerate(members):
        f = real.figures(s, kinds, border, crowded, np.inf)
        print(f"{name} seed {seed} member {k}: AUC {f['auc']:.3f} top20 {f['anomalies_in_top20']} "
              f"crowded {f['border_or_crowded_normals_in_top20']}")
    for j in range(2, m + 1):
        f = real.figures(np.mean(members[:j], 0), kinds, border, crowded, np.inf)
        print(f"{name} seed {seed} mean of {j}: AUC {f['auc']:.3f} top20 {f['anomalies_in_top20']} "
              f"crowded {f['border_or_crowded_normals_in_top20']} by kind "
              + " ".join(f"{k[:5]} {v:.2f}" for k, v in f["auc_by_kind"].items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
