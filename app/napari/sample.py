"""Sample data for napari's File ▸ Open Sample ▸ ddrid.

Two fields with nuclei-like objects, each small enough to train on in a minute:

* a synthetic field of ~60 nuclei with a few anomalies among them (crescents,
  puncta clusters, rods), with its label image, whose ``kind`` feature says
  which object is which, so a user can check what ddrid flags;
* the bundled demo field (ddrid_resources, ``demo/stacks/field_128x128.tif``):
  ten rings and one anomaly of each kind, no labels (use "detect").
"""
from __future__ import annotations

import numpy as np

#: The synthetic field: mostly normal nuclei, a few of the kinds a microscopist would call odd.
NUCLEI_WEIGHTS = {"blob": 0.88, "crescent": 0.04, "puncta": 0.04, "rod": 0.04}


def synthetic_nuclei(seed: int = 3):
    """A 384 x 384 field of ~60 nuclei-like objects and its labels (napari layer data tuples)."""
    import pandas as pd

    from ddrcore.objects.synthetic import make_field

    f = make_field((384, 384), tuple(NUCLEI_WEIGHTS), n=60, size=22, seed=seed, weights=NUCLEI_WEIGHTS,
                   gradient=0.3)
    ids = np.arange(1, len(f.kinds) + 1)
    features = pd.DataFrame({"index": ids, "kind": f.kinds,
                             "truth": ["normal" if k == "blob" else "anomaly" for k in f.kinds]})
    return [(f.image, {"name": "synthetic nuclei"}, "image"),
            (f.labels, {"name": "synthetic nuclei labels", "features": features, "opacity": 0.3}, "labels")]


def demo_field():
    """The bundled 128 x 128 demo field (rings are normal; every other kind is an anomaly)."""
    import tifffile

    from ddrcore.pipeline import bundled_demo_dir

    image = tifffile.imread(bundled_demo_dir() / "stacks" / "field_128x128.tif")
    return [(np.asarray(image), {"name": "ddrid demo field"}, "image")]
