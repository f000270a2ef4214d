"""AS_e averaged over the eight turns and mirrors of each object (test-time augmentation): steadier, better?

Objects under a microscope have no up or down, and ddrid trains on all
eight turns and mirrors.  A normal object's residual peak may move from
view to view where an odd one's stays high; averaging log AS_e over the
eight views would then part them further.  This runs one ``ddrid bench
real`` field and seed (``real_capture.py``), scores every test object in its
eight views, and writes them with the shipped scores; ``eval`` prints the
AUC of AS_e and of AS_cell = (z(AS_e) + z(AS_m)) / sqrt(2) with AS_e as
shipped (one view) and averaged (mean of the eight logs, on the scale of the
validation objects' own eight-view means).

    python benchmarks/experiments/tta_probe.py run IMAGE MASK|- SEED OUT.npz
    python benchmarks/experiments/tta_probe.py eval OUT.npz...
"""
from __future__ import annotations

import sys

import numpy as np


def run(argv) -> int:
    from real_capture import capture_from_argv, save_arrays

    from ddrcore.console import run_to_end
    from ddrcore.model.minibatch import dihedral_views
    from ddrcore.model.scoring import score_patches

    seen = capture_from_argv(argv[:3])
    model, test = seen["model"], seen["test"]
    views = run_to_end(score_patches(model, dihedral_views(test.images))).residual.reshape(8, len(test))
    assert np.allclose(views[0], seen["scores"].residual, rtol=1e-4), "the first view must be the patch as shipped"
    save_arrays(argv[3], argv[:2], kinds=np.asarray(seen["kinds"], str), shipped=seen["scores"].cell,
             residual=seen["scores"].residual, views=views,
             val_residual=np.asarray(model.validation_scores["residual"]), measure=seen["scores"].measure,
             mcal=np.asarray(model.measure.calibration))
    print(f"{argv[3]}: {len(test)} test patches in 8 views")
    return 0


def evaluate(paths) -> int:
    from real_capture import residual_variants_line

    for path in paths:
        d = np.load(path)
        val = np.log(d["val_residual"])
        # Validation scores are view by view (dihedral_views) where the model took eight views of them.
        per_object = val.reshape(8, -1).mean(0) if len(val) % 8 == 0 else val
        variants = [(name, (test - ref.mean()) / ref.std())
                    for name, test, ref in (("one view", np.log(d["residual"]), val),
                                            ("eight views", np.log(d["views"]).mean(0), per_object))]
        print(residual_variants_line(path, d, variants))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    mode, rest = sys.argv[1], sys.argv[2:]
    sys.exit(run(rest) if mode == "run" else evaluate(rest))
