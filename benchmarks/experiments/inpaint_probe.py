"""Would a residual read against an *inpainted* X_C find hollow nuclei and micronuclei that AS_e misses?

R_C reproduces what it is shown, a dark core included, so AS_e barely sees
a hollow nucleus.  Here a copy of R_C as pretraining left it is trained a
few more epochs to fill in square holes cut in the normal training patches
(a 2 x 2 checkerboard of cells, one phase at a time, at a random offset).
Scored, each patch is shown with each of the four phases cut out in turn,
and the filled-in cells are put together into one picture of what the
normals say should be there; AS_i is the peak of the smoothed squared
residual against it, as AS_e is against X_C.  Prints the AUC of AS_e, AS_i,
AS_m and of the joins, overall and by kind.

    python benchmarks/experiments/inpaint_probe.py IMAGE MASK|- SEED [EPOCHS] [CELLS] [SIGMA] [OUT.npz]
"""
from __future__ import annotations

import copy
import sys

import numpy as np


def cut(x, phase: int, cell: int, offset=(0, 0), fill=None):
    """x with the cells of one 2 x 2 checkerboard phase set to each patch's mean; returns (cut x, mask)."""
    import torch

    n, c, s, _ = x.shape
    yy = (torch.arange(s, device=x.device) + offset[0]) // cell
    xx = (torch.arange(s, device=x.device) + offset[1]) // cell
    m = ((yy[:, None] % 2) * 2 + (xx[None, :] % 2)) == phase
    m = m[None, None].expand(n, 1, s, s)
    mean = x.mean(dim=(1, 2, 3), keepdim=True) if fill is None else fill
    return torch.where(m, mean.expand_as(x), x), m


def inpaint_train(net, x, epochs: int, cell: int, seed: int, batch: int = 32, lr: float = 1e-4):
    import torch

    from ddrcore.model.minibatch import dihedral

    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-6)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            xb = dihedral(x[order[i: i + batch]], rng)
            phase = int(rng.integers(4))
            off = (int(rng.integers(cell)), int(rng.integers(cell)))
            xin, m = cut(xb, phase, cell, off)
            out = net(xin)
            # The cut cells weigh as much as the rest: the fill-in is what is learnt.
            w = 1.0 + 3.0 * m.float()
            loss = (w * (out - xb) ** 2).flatten(1).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


def inpainted(net, x, cell: int, batch: int = 128):
    import torch

    out = torch.empty_like(x)
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = x[i: i + batch]
            comp = torch.empty_like(xb)
            for phase in range(4):
                xin, m = cut(xb, phase, cell)
                comp = torch.where(m.expand_as(xb), net(xin), comp)
            out[i: i + batch] = comp
    return out


def main(argv) -> int:
    import torch

    from real_capture import capture_from_argv

    from ddrcore.model.cellscore import feature_matrix
    from ddrcore.model.minibatch import dihedral_views
    from ddrcore.model.scoring import roc_auc

    epochs = int(argv[3]) if len(argv) > 3 else 10
    cells = int(argv[4]) if len(argv) > 4 else 8
    seen = capture_from_argv(argv[:3])
    model, normal, test, scores, kinds = (seen[k] for k in ("model", "normal", "test", "scores", "kinds"))
    torch.set_num_threads(1)
    val = np.asarray(model.training["val_indices"], int)
    tr = np.setdiff1d(np.arange(len(normal)), val)
    pre = model.preprocessor
    s = normal.images.shape[-1]
    cell = max(2, s // cells)
    x_tr = torch.from_numpy(pre(normal.images[tr]))
    x_val = torch.from_numpy(pre(dihedral_views(normal.images[val])))
    x_te = torch.from_numpy(pre(test.images))
    net = copy.deepcopy(model.view)
    for p in net.parameters():
        p.requires_grad_(True)
    inpaint_train(net, x_tr, epochs, cell, seen["seed"])
    from ddrcore.model.scoring import residual_map
    c_te, c_val = inpainted(net, x_te, cell), inpainted(net, x_val, cell)
    sig = float(argv[5]) if len(argv) > 5 else 1.0
    as_i = residual_map(x_te, c_te, sig).flatten(1).amax(1).numpy()
    v_i = residual_map(x_val, c_val, sig).flatten(1).amax(1).numpy()

    def z(a, ref):
        la, lr = np.log(np.maximum(a, 1e-12)), np.log(np.maximum(ref, 1e-12))
        return (la - lr.mean()) / max(lr.std(), 1e-12)

    z_i = z(as_i, v_i)
    z_e = z(scores.residual, model.validation_scores["residual"])
    m = model.measure
    page = model.config.measure_intensity == "page"
    lm = np.log(np.maximum(m.score(feature_matrix(test.sources, page)), 1e-12))
    z_m = (lm - m.calibration[0]) / m.calibration[1]
    if len(argv) > 6:
        np.savez(argv[6], z_e=z_e, z_i=z_i, z_m=z_m, kinds=np.asarray(kinds, str), shipped=scores.score)
    on = (kinds != "")
    y = (kinds != "normal")[on]
    rules = {"shipped": scores.score, "AS_e": z_e, "AS_i": z_i, "AS_m": z_m,
             "(e+m)/r2": (z_e + z_m) / np.sqrt(2), "(i+m)/r2": (z_i + z_m) / np.sqrt(2),
             "(e+i+m)/r3": (z_e + z_i + z_m) / np.sqrt(3), "(max(e,i)+m)/r2": (np.maximum(z_e, z_i) + z_m) / np.sqrt(2)}
    print(f"{argv[0].split('/')[-1]} seed {seen['seed']} epochs {epochs} cell {cell}px of {s}; "
          f"{int(y.sum())} anomalies, {int((~y).sum())} normals")
    for name, sc in rules.items():
        parts = [f"{name:18s} {roc_auc(sc[on], y):.3f}"]
        for k in ("condensed", "fragmented", "hollow", "micronucleus", "textured", "natural"):
            sel = on & ((kinds == k) | (kinds == "normal"))
            if (kinds == k).any():
                parts.append(f"{k[:5]} {roc_auc(sc[sel], (kinds == k)[sel]):.2f}")
        top = np.argsort(-sc[on])[:20]
        parts.append(f"top20 {int(y[top].sum())}")
        print("  ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
