"""Why does DDR-ID's decomposition not explain?  Small, recorded experiments (issue #9).

Trains DDR-ID variants on synthetic ring patches (32x32, normal) and measures on
held-out rings with and without one added bright spot:

* corr     median Pearson correlation(X_C, input) over normal test patches
* sat      % of X_C pixels with |tanh output| > 0.98 (the decoder's last Tanh)
* loc_xn   % of spot patches where |X_N| (Gaussian-smoothed, sigma 1) peaks within 4 px of the spot
* loc_res  same for |input - X_C|
* AUC of every score: AS_l, AS_r, AS_e = ||input - X_C||^2, AS_e,max = max of the smoothed squared residual
* bn_var   median running variance of R_C's first decoder BatchNorm (the ~60x amplification of issue #9)

and prints these after pretraining and after every few finetuning epochs, so
what X_C / X_N do across training is on record.

Variants (comma-separated flags after the name):
  paper          the engine's losses (Eq. 3-6), Tanh outputs, BatchNorm decoders
  l1=W           + W * mean |X_N| on the (normal) training batch
  xc=W           + W * ||X_C - X||^2 (keeping X_C close to the input)
  gn             GroupNorm instead of BatchNorm in both decoders (no running statistics)
  off            R_C's output is 0.5 + tanh(h): the preprocessed range [0, 1] sits mid-range
  oc=W           weight of L_OC (and L_LSC on/off with it)
  default 1 (the paper)
  ocn            L_OC divided by the latent spread after pretraining (mean ||E_C(X) - Z_C||^2)
  bs=B           batch size (default 64)
  centred        object-centred crops: centre +-1 px, outer radius 8.1..9.9 px (as --objects auto cuts them)
  lr=V           learning rate of both stages (default 1e-4, the paper's)
  init           DCGAN initialisation N(0, 0.02) of the decoders' output deconvolution
  ft0            skip finetuning (the pretrained autoencoder with Z_C)

    PYTHONPATH=. python benchmarks/experiments/decomposition_probe.py VARIANT [PRE FT N SEED]

e.g. ``... paper 10 10 2000 1`` or ``... l1=1,gn,off 10 10 2000 1``;
``... initcheck`` prints the output layer's saturation at initialisation.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi
from torch import nn

torch.set_num_threads(1)


# ----------------------------------------------------------------- ring data --
def ring_patches(n: int, rng: np.random.Generator, spot: bool = False, size: int = 32, centred: bool = False):
    """``n`` noisy ring patches (n, 1, size, size), optionally each with one bright spot.

    Returns (patches, spot centres (n, 2) as (y, x), or NaN without a spot).
    """
    yy, xx = np.mgrid[:size, :size].astype(float)
    out = np.zeros((n, 1, size, size), np.float32)
    centres = np.full((n, 2), np.nan)
    for i in range(n):
        cy, cx = size / 2 - 0.5 + rng.uniform(-1, 1, 2) * (1 if centred else 2)
        r = rng.uniform(8.1, 9.9) if centred else rng.uniform(7, 11)
        d = np.hypot(yy - cy, xx - cx)
        img = ((d <= r) & (d >= 0.6 * r)).astype(float) * rng.uniform(0.8, 1.2)
        if spot:
            a = rng.uniform(0, 2 * np.pi)
            sy, sx = cy + 0.8 * r * np.sin(a), cx + 0.8 * r * np.cos(a)
            img = img + 1.5 * (np.hypot(yy - sy, xx - sx) <= 1.8)
            centres[i] = sy, sx
        img = ndi.gaussian_filter(img, 0.8) + 0.05 + rng.normal(0, 0.04, img.shape)
        out[i, 0] = img
    return out, centres


# ----------------------------------------------------------------- networks --
def build(flags: dict):
    from ddrcore.model import networks

    nets = networks.DDRIDNetworks(1, 128, 32)
    if "gn" in flags:
        for ae in (nets.r_c, nets.r_n):
            seq = ae.decoder.net
            for i, m in enumerate(seq):
                if isinstance(m, nn.BatchNorm2d):
                    seq[i] = nn.GroupNorm(min(32, m.num_features // 4), m.num_features)
    if "init" in flags:
        # DCGAN's initialisation (N(0, 0.02)) for the decoders' output deconvolution.  PyTorch's default
        # for ConvTranspose2d takes fan-in from the *output* channels (1 x 4 x 4 = 16), so at 32 x 32 the
        # Tanh's input starts with a std of ~3: most output pixels begin saturated, with no gradient.
        for ae in (nets.r_c, nets.r_n):
            last = [m for m in ae.decoder.net if isinstance(m, nn.ConvTranspose2d)][-1]
            nn.init.normal_(last.weight, 0.0, 0.02)
            nn.init.zeros_(last.bias)
    return nets


def out_c(nets, z, flags):
    """(X_C, tanh-units X_C) of R_C's decoder for latents z."""
    t = nets.r_c.decoder(z)
    return (0.5 + t if "off" in flags else t), t


# ----------------------------------------------------------------- measures --
def measure(nets, z_c, flags, x_norm, x_spot, centres) -> dict:
    from ddrcore.model.scoring import roc_auc

    nets.eval()
    with torch.no_grad():
        res = {}
        for name, x in (("n", x_norm), ("s", x_spot)):
            xb = torch.from_numpy(x)
            z = nets.r_c.encoder(xb)
            xc, t = out_c(nets, z, flags)
            xn = nets.r_n(xb)
            tmpl, _ = out_c(nets, z_c[None], flags)
            res[name] = dict(x=x, xc=xc.numpy(), t=t.numpy(), xn=xn.numpy(),
                             as_l=((z - z_c) ** 2).sum(1).numpy(),
                             as_r=((xc - tmpl) ** 2).flatten(1).sum(1).numpy())
    n, s = res["n"], res["s"]
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(n["xc"], n["x"])]

    def peak_ok(maps):
        ok = 0
        for m, (cy, cx) in zip(maps, centres):
            sm = ndi.gaussian_filter(np.abs(m[0]), 1.0)
            py, px = np.unravel_index(np.argmax(sm), sm.shape)
            ok += np.hypot(py - cy, px - cx) <= 4
        return 100.0 * ok / len(maps)

    def emax(r):
        return np.array([ndi.gaussian_filter(v[0] ** 2, 1.0).max() for v in r["x"] - r["xc"]])

    y = np.r_[np.zeros(len(x_norm)), np.ones(len(x_spot))]
    aucs = {k: roc_auc(np.r_[n[k], s[k]], y) for k in ("as_l", "as_r")}
    aucs["as_e"] = roc_auc(np.r_[((n["x"] - n["xc"]) ** 2).reshape(len(y) // 2, -1).sum(1),
                                 ((s["x"] - s["xc"]) ** 2).reshape(len(y) // 2, -1).sum(1)], y)
    aucs["as_emax"] = roc_auc(np.r_[emax(n), emax(s)], y)
    bn = [m for m in nets.r_c.decoder.modules() if isinstance(m, nn.BatchNorm2d)]
    return {
        "corr": float(np.median(corr)),
        "sat": 100.0 * float((np.abs(np.r_[n["t"], s["t"]]) > 0.98).mean()),
        "loc_xn": peak_ok(s["xn"]), "loc_res": peak_ok(s["x"] - s["xc"]),
        **{k: round(v, 3) for k, v in aucs.items()},
        "xn_abs": float(np.abs(n["xn"]).mean()),
        "bn_var": float(bn[0].running_var.median()) if bn else float("nan"),
    }


def fmt(d: dict) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


def init_check() -> None:
    """Pre-Tanh std and % saturated X_C pixels of fresh Table 1 networks, default vs DCGAN init."""
    from ddrcore.model.networks import DDRIDNetworks

    torch.manual_seed(0)
    for chans in (1, 3):
        nets = DDRIDNetworks(chans, None, 32)
        dec = nets.r_c.decoder.net
        with torch.no_grad():
            z = nets.r_c.encoder(torch.rand(64, chans, 32, 32))
            h = dec[:-1](z[:, :, None, None])
            print(f"{chans} channel(s), PyTorch default: pre-Tanh std {h.std():.3f}, "
                  f"saturated {100 * (h.tanh().abs() > 0.98).float().mean():.1f} %")
            last = [m for m in dec if isinstance(m, nn.ConvTranspose2d)][-1]
            nn.init.normal_(last.weight, 0.0, 0.02)
            h = dec[:-1](z[:, :, None, None])
            print(f"{chans} channel(s), DCGAN N(0, 0.02): pre-Tanh std {h.std():.3f}, "
                  f"saturated {100 * (h.tanh().abs() > 0.98).float().mean():.1f} %")


# ----------------------------------------------------------------- training --
def main(variant="paper", pre=10, ft=10, n=2000, seed=1):
    if variant == "initcheck":
        return init_check()
    from ddrcore.model import batchnorm
    from ddrcore.model.networks import recon_error
    from ddrcore.model.preprocess import Preprocessor

    pre, ft, n, seed = int(pre), int(ft), int(n), int(seed)
    flags = {}
    for part in variant.split(","):
        k, _, v = part.partition("=")
        flags[k] = float(v) if v else True
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    c = "centred" in flags
    raw, _ = ring_patches(n, rng, centred=c)
    test_n, _ = ring_patches(300, np.random.default_rng(1000 + seed), centred=c)
    test_s, centres = ring_patches(300, np.random.default_rng(2000 + seed), spot=True, centred=c)
    pp = Preprocessor.fit(raw)
    x = torch.from_numpy(pp(raw))
    x_n, x_s = pp(test_n), pp(test_s)
    nets = build(flags)
    r_c, r_n, d_l = nets.r_c, nets.r_n, nets.d_l
    bs, lr = int(flags.get("bs", 64)), flags.get("lr", 1e-4)
    t0 = time.time()

    def batches():
        perm = torch.randperm(n)
        for i in range(0, n - 1, bs):
            yield x[perm[i:i + bs]]

    # Pretraining depends only on the architecture flags: cache it (these runs are slow on 2 shared cores).
    import os
    key = (f"/tmp/ddrid-probe-pre-{'gn' in flags}-{'off' in flags}-{pre}-{n}-{seed}-{lr}-{bs}"
           f"-{'centred' in flags}-{'init' in flags}.pt")
    cached = os.path.exists(key)
    if cached:
        nets.load_state_dict(torch.load(key))
    opt = torch.optim.Adam(list(r_c.parameters()) + list(r_n.parameters()), lr=lr, weight_decay=1e-6)
    for _ in range(0 if cached else pre):
        r_c.train()
        r_n.train()
        for xb in batches():
            xc, _ = out_c(nets, r_c.encoder(xb), flags)
            loss = recon_error(xc, xb).mean() + recon_error(r_n(xb), xb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    batchnorm.recalibrate([r_c, r_n], x, bs)
    if not cached:
        torch.save(nets.state_dict(), key)
    r_c.eval()
    with torch.no_grad():
        z_all = r_c.encoder(x)
        z_c = z_all.mean(0)
        # The latent spread at Z_C time: "ocn" measures L_OC in units of it (scale-free).
        spread = float(((z_all - z_c) ** 2).sum(1).mean())
    print(f"latent spread after pretraining: {spread:.4g}", flush=True)
    w_oc = 1.0 / spread if "ocn" in flags else flags.get("oc", 1.0)
    print(f"{variant} pre={pre} ep0 {fmt(measure(nets, z_c, flags, x_n, x_s, centres))} t={time.time() - t0:.0f}s",
          flush=True)
    if "ft0" in flags:
        return
    opt_r = torch.optim.Adam(list(r_c.parameters()) + list(r_n.parameters()), lr=lr, weight_decay=1e-6)
    opt_d = torch.optim.Adam(d_l.parameters(), lr=lr, weight_decay=1e-6)
    for ep in range(1, ft + 1):
        r_c.train()
        r_n.train()
        d_l.train()
        for xb in batches():
            m = len(xb)
            z_fake = z_c + 0.1 * torch.randn(m, z_c.numel())
            z = r_c.encoder(xb)
            logits = d_l(torch.cat([z_fake, z.detach()]))
            l_d = -(F.logsigmoid(logits[:m]).mean() + F.logsigmoid(-logits[m:]).mean())
            opt_d.zero_grad()
            l_d.backward()
            opt_d.step()
            logits = d_l(torch.cat([z_fake, z]))
            xc, _ = out_c(nets, z, flags)
            xn = r_n(xb)
            l_oc = ((z - z_c) ** 2).sum(1).mean()
            l_lsc = F.logsigmoid(-logits[m:]).mean()
            l_r = recon_error(xc + xn, xb).mean()
            loss = w_oc * l_oc + (w_oc > 0) * l_lsc + l_r
            if "l1" in flags:
                loss = loss + flags["l1"] * xn.abs().flatten(1).sum(1).mean()
            if "xc" in flags:
                loss = loss + flags["xc"] * recon_error(xc, xb).mean()
            opt_r.zero_grad()
            loss.backward()
            opt_r.step()
        if ep % max(1, ft // 2) == 0 or ep == ft:
            batchnorm.recalibrate([r_c, r_n], x, bs)
            print(f"  losses L_OC={l_oc.item():.4g} L_LSC={l_lsc.item():.4g} L_R={l_r.item():.4g} "
                  f"|X_N|={xn.abs().flatten(1).sum(1).mean().item():.4g} "
                  f"|X_C-X|^2={recon_error(xc, xb).mean().item():.4g}", flush=True)
            print(f"{variant} ft ep{ep} {fmt(measure(nets, z_c, flags, x_n, x_s, centres))} t={time.time() - t0:.0f}s",
                  flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
