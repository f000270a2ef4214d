"""Keep what one `ddrid bench real` run scored, so that score rules can be compared without training again.

Runs :func:`real_capture.run_capturing` for one field and seed and writes an
``.npz`` with, per test detection, AS_l, AS_e, the measurements and the truth
(``kinds``), and, for the training normals, their measurements and which
were held out for validation, plus the validation scores the model kept.
``measure_rules.py`` reads these files.

    python benchmarks/experiments/capture_dump.py IMAGE MASK|- SEED OUT.npz
"""
from __future__ import annotations

import sys

import numpy as np


def main() -> int:
    from real_capture import run_capturing, save_arrays

    from ddrcore.model.cellscore import feature_matrix

    image, mask, seed, out = sys.argv[1], (None if sys.argv[2] == "-" else sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    seen = run_capturing(image, mask, seed)
    model, scores, test, normal, kinds = (seen[k] for k in ("model", "scores", "test", "normal", "kinds"))
    v = model.validation_scores
    save_arrays(out, (image, mask),
                latent=scores.latent, residual=scores.residual, cell=scores.cell, kinds=np.asarray(kinds, str),
                test_features=feature_matrix(test.sources, model.config.measure_intensity == "page"),
                normal_features=feature_matrix(normal.sources, model.config.measure_intensity == "page"),
                val_indices=np.asarray(model.training.get("val_indices", []), int),
                val_latent=v["latent"], val_residual=v["residual"], val_cell=v["cell"],
                border=np.array([s.touches_border for s in test.sources]))
    print(f"{out}: {len(kinds)} test detections, AUC as shipped {seen['results']['methods']['ddrid']['auc']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
