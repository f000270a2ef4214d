"""Run the ddrid command line with more measurements than ddrid takes, for the measurement probes.

``install(names, measure)`` appends ``names`` to
``ddrcore.objects.measure.MEASUREMENTS`` and wraps ``measure_objects`` so
that every object also gets ``measure(grey, labels, ids)`` (an (N,) or (N, k)
array): AS_m, the CSV and the features baselines of ``ddrid bench real``
then all see the extra columns.  ``run(argv)`` is ddrid's command line.
"""
from __future__ import annotations

import numpy as np


def install(names, measure) -> None:
    import ddrcore.objects.measure as M

    original, eleven = M.measure_objects, M.MEASUREMENTS

    def measured(grey, labels, ids):
        # The original counts its columns from MEASUREMENTS: give it its own while it runs.
        M.MEASUREMENTS = eleven
        try:
            base = original(grey, labels, ids)
        finally:
            M.MEASUREMENTS = (*eleven, *names)
        return np.column_stack([base, measure(grey, labels, ids)])

    M.MEASUREMENTS = (*eleven, *names)
    M.measure_objects = measured


def run(argv) -> int:
    from ddrcore.cli import main

    return main(argv)
