"""`ddrid bench real` with a twelfth measurement: the share of an object's outline that touches another object.

Objects cut from a neighbour by a segmentation line (touching nuclei) rank
high on real fields.  CellProfiler's MeasureObjectNeighbors gives each object
its PercentTouching; with it among AS_m's measurements, a cut nucleus would
find its nearest training normals among other cut nuclei.  This runs the
benchmark unchanged except for that column (in every object's measurements,
so the features baselines get it too):

    python benchmarks/experiments/touching_feature_probe.py bench real --image ... --seed S --json OUT.json

Result (2026-12-07, four seeds, four fields; docs/benchmarks.md): not kept.
"""
import sys

import numpy as np


def percent_touching(labels, ids):
    """Per object of ``ids``: the share of its outline pixels with a 4-neighbour in another object."""
    lab = np.asarray(labels)
    pad = np.pad(lab, 1)
    edge = np.zeros(lab.shape, bool)
    touch = np.zeros(lab.shape, bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        nb = pad[dy:dy + lab.shape[0], dx:dx + lab.shape[1]]
        diff = (nb != lab) & (lab > 0)
        edge |= diff
        touch |= diff & (nb > 0)
    n = int(lab.max()) + 1
    e = np.bincount(lab[edge], minlength=n)
    t = np.bincount(lab[touch], minlength=n)
    ids = np.asarray(ids, np.int64)
    ok = (ids >= 0) & (ids < n)
    out = np.full(len(ids), np.nan)
    out[ok] = np.where(e[ids[ok]] > 0, t[ids[ok]] / np.maximum(e[ids[ok]], 1), np.nan)
    return out


if __name__ == "__main__":
    from extra_columns import install, run

    install(("percent_touching",), lambda grey, labels, ids: percent_touching(labels, ids))
    sys.exit(run(sys.argv[1:]))
