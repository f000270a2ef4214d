"""`ddrid bench real` with each training batch also turned by any angle, scaled and shifted a little.

ddrid augments object patches by the eight turns and mirrors (``dihedral``
in ``ddrcore/model/minibatch.py``).  With 17-173 training nuclei the networks
still see few shapes, and test normals leave more residual than validation
normals.  Here every batch is, after its turn and mirror, also turned by a
random angle in [-45, 45) degrees, scaled by a random factor in
[1 - SCALE, 1 + SCALE] and shifted by up to SHIFT pixels of the network's
input (one bilinear resampling, edges reflected).  Everything else runs as
``ddrid bench real`` does:

    python benchmarks/experiments/affine_augment_probe.py SCALE SHIFT bench real --image ... --seed S --json OUT.json

``SCALE`` 0 and ``SHIFT`` 0 turn by angle only.
"""
import sys

import numpy as np


def install(scale: float, shift: float) -> None:
    import torch
    import torch.nn.functional as F

    from ddrcore.model import minibatch, training

    plain = minibatch.dihedral

    def affine(batch, rng):
        batch = plain(batch, rng)
        n, _, side, _ = batch.shape
        angle = rng.uniform(-np.pi / 4, np.pi / 4, n)
        zoom = rng.uniform(1 - scale, 1 + scale, n)
        move = rng.uniform(-shift, shift, (n, 2)) * 2.0 / side
        cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
        theta = np.stack([np.stack([cos, -sin, move[:, 0]], 1), np.stack([sin, cos, move[:, 1]], 1)], 1)
        grid = F.affine_grid(torch.as_tensor(theta, dtype=batch.dtype, device=batch.device), list(batch.shape),
                             align_corners=False)
        return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    training.dihedral = affine


if __name__ == "__main__":
    install(float(sys.argv[1]), float(sys.argv[2]))
    from ddrcore.cli import main

    sys.exit(main(sys.argv[3:]))
