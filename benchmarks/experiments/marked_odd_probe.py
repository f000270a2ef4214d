"""`ddrid bench real` with nuclei a person marked as odd counted as the field's own odd ones.

The benchmark counts a nucleus of the test half as odd as it stands
(``natural``) only by a rule: 5 robust standard deviations brighter or
smaller than the field's median.  Mitotic figures (bright bars, anaphase
pairs) and condensed nuclei that a microscopist calls odd at a glance can
fall short of it and are then scored as *normals*, so a model that ranks
them high is counted wrong.

Here the nuclei whose ids in the field's instance mask are listed (marked by
eye on a montage of every nucleus of the field, before looking at any
score) are relabelled ``natural`` after the implants are drawn: the implants
and every score stay what ``ddrid bench real`` gives with the same seed, and
the JSON's "AUC, implanted only" is then the AUC with the marked nuclei left
out of the normals, its AUC the one with them counted as anomalies.  Only
for a field given with its own mask (the ids must be the mask's)::

    python benchmarks/experiments/marked_odd_probe.py 3,7,47 bench real --image FIELD --mask MASK --seed S ...
"""
import sys

import numpy as np


def install(marked: set) -> None:
    import ddrcore.bench.real as real

    plain = real.truth_of

    def truth_of(sources, truth):
        kinds, crowded = plain(sources, truth)
        kinds = kinds.astype(object)
        for k, s in enumerate(sources):
            lab = truth[s.path][0]
            y = int(np.clip(round(s.center_y), 0, lab.shape[0] - 1))
            x = int(np.clip(round(s.center_x), 0, lab.shape[1] - 1))
            if kinds[k] == "normal" and int(lab[y, x]) in marked:
                kinds[k] = "natural"
        print(f"marked nuclei relabelled: {int((kinds == 'natural').sum())} detections", file=sys.stderr)
        return kinds.astype(str), crowded

    real.truth_of = truth_of


if __name__ == "__main__":
    install({int(v) for v in sys.argv[1].split(",")})
    from ddrcore.cli import main

    sys.exit(main(sys.argv[2:]))
