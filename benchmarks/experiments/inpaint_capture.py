"""Needs the engine with AS_i: ``git apply benchmarks/experiments/inpaint_engine.diff`` on commit 81f60ec
(tried on 2026-12-07 and not kept; docs/benchmarks.md, "Real fields").

Keep the three parts of AS_cell (z of AS_e, AS_i and AS_m on the validation normals' scale) for one
`ddrid bench real` run, so that ways of joining them can be compared without training again
(``inpaint_rules.py`` reads these files).

    python benchmarks/experiments/inpaint_capture.py IMAGE MASK|- SEED OUT.npz
"""
from __future__ import annotations

import sys

import numpy as np


def main(argv) -> int:
    from real_capture import capture_from_argv

    from ddrcore.model.cellscore import feature_matrix
    from ddrcore.model.combined import calibration, standardised

    seen = capture_from_argv(argv[:3])
    model, test, scores, kinds = (seen[k] for k in ("model", "test", "scores", "kinds"))
    cal = calibration(model.validation_scores)
    m = model.measure
    np.savez(argv[3], z_e=standardised(scores.residual, cal["residual"]),
             z_i=standardised(scores.inpaint, cal["inpaint"]),
             z_m=standardised(m.score(feature_matrix(test.sources)), m.calibration),
             kinds=np.asarray(kinds, str), shipped=scores.score,
             seconds=seen["results"].get("seconds", np.nan) if isinstance(seen["results"], dict) else np.nan)
    print(f"{argv[3]}: AUC as shipped {seen['results']['methods']['ddrid']['auc']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
