"""`ddrid bench rings`: does the decomposition explain, and does the detector detect? (issue #9)

Synthetic 32 x 32 ring patches (a ring of random centre, radius and
brightness, blurred, on a noisy background), generated here; the anomalous
ones carry one added bright spot on the ring at a known place.  DDR-ID is
trained on normal rings only, then measured on held-out normal and spot patches:

* ``corr``: median Pearson correlation of X_C with the (preprocessed) input
  over normal patches: does X_C show the normal-looking part of the patch?
* ``saturated_pct``: % of X_C pixels whose Tanh output is beyond +-0.98
  (the network's output units, before any offset): saturated checkerboards
  that cancel against X_N instead of explaining the patch.
* ``localised_pct``: % of spot patches where the residual the GUI shows as
  "what is anomalous", |input - X_C| smoothed with a Gaussian of sigma 1 px,
  peaks within 4 px of the spot's centre.
* ``auc``: ROC AUC of the model's default score (spot patches positive).

Targets (issue #9): corr >= 0.9, saturated < 1 %, localised >= 80 %, AUC >= 0.90.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from ..config import X_C_SOURCES, TrainConfig

#: Patch side (Table 1's network input) and the spot-to-peak distance that counts as found.
SIDE = 32
LOCALISE_PX = 4.0
SMOOTH_SIGMA = 1.0
SATURATION = 0.98
TARGETS = {"corr": 0.9, "saturated_pct": 1.0, "localised_pct": 80.0, "auc": 0.90}


@dataclass(frozen=True)
class RingStyle:
    """How ring patches are drawn: each field is a (low, high) range sampled per patch.

    Sizes are in pixels of a 32 px patch (scaled with ``side``).  ``spot_place``
    says where an anomalous patch's spot goes: ``ring`` (on the ring's band),
    ``hole`` (inside the ring's hole) or ``edge`` (on its outer edge, half on
    the background).
    """

    radius: tuple = (8.1, 9.9)            # outer radius
    inner: tuple = (0.6, 0.6)             # inner radius as a share of the outer
    aspect: tuple = (1.0, 1.0)            # minor/major axis ratio (1: a circle; else turned at random)
    brightness: tuple = (0.8, 1.2)
    blur: tuple = (0.8, 0.8)              # Gaussian sigma (optics)
    noise: tuple = (0.04, 0.04)           # background noise sigma
    spot_radius: tuple = (1.8, 1.8)
    spot_gain: tuple = (1.5, 1.5)         # added brightness of the spot
    spot_place: str = "ring"


#: The generator's own rings (``standard``: what `ddrid bench rings` measured first) and variations of
#: shape, size, optics and spot that the profile was never tuned on (``--variation``).
VARIATIONS = {
    "standard": RingStyle(),
    "thin-large": RingStyle(radius=(10.5, 13.0), inner=(0.78, 0.85), spot_radius=(1.2, 1.6)),
    "small-thick": RingStyle(radius=(5.0, 7.0), inner=(0.2, 0.4), spot_radius=(1.2, 1.6)),
    "ellipses": RingStyle(radius=(8.0, 12.0), aspect=(0.5, 0.8), inner=(0.5, 0.7)),
    "blur-noise": RingStyle(blur=(1.2, 2.0), noise=(0.08, 0.12), spot_radius=(2.0, 2.5)),
    "faint-spot": RingStyle(radius=(7.0, 11.0), inner=(0.45, 0.7), spot_radius=(1.0, 1.6), spot_gain=(0.6, 0.9)),
    "spot-in-hole": RingStyle(inner=(0.55, 0.7), spot_radius=(1.5, 2.2), spot_gain=(0.6, 1.0), spot_place="hole"),
    "spot-on-edge": RingStyle(radius=(7.0, 11.0), spot_radius=(1.5, 2.5), spot_gain=(0.8, 1.4), spot_place="edge"),
}


def ring_patches(n: int, seed: int, spot: bool = False, side: int = SIDE, style: RingStyle = RingStyle()):
    """``n`` raw 16-bit-like ring patches (n, 1, side, side), float32, and spot centres.

    Each ring is an object-centred crop as ``--objects auto`` cuts them: centre
    within +-1 px of the middle; by default (``RingStyle()``) outer radius
    8.1..9.9 px (9 px +-10 %), inner radius 0.6 of it and brightness 0.8..1.2;
    it is blurred (sigma 0.8 px, optics) and sits on a background of 0.05 with
    Gaussian noise (sigma 0.04); intensities are then scaled as a 16-bit camera
    would (100 + 2000 x).  With ``spot`` a disc (radius 1.8 px, brightness
    +1.5 by default) is added where ``style.spot_place`` says, at a random angle.

    Returns
    -------
    patches : ndarray, float32 (n, 1, side, side)
    centres : ndarray (n, 2)
        The spot centres (y, x) in pixels; NaN when ``spot`` is False.

    Examples
    --------
    >>> x, c = ring_patches(3, seed=0, spot=True)
    >>> x.shape, bool(np.isfinite(c).all())
    ((3, 1, 32, 32), True)
    >>> x, c = ring_patches(2, seed=0, spot=True, style=VARIATIONS["ellipses"])
    >>> x.shape
    (2, 1, 32, 32)
    """
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side].astype(float)
    scale = side / 32
    out = np.zeros((n, 1, side, side), np.float32)
    centres = np.full((n, 2), np.nan)

    def draw(pair):
        # A fixed value draws nothing: the standard rings come from the same random stream as always.
        return pair[0] if pair[0] == pair[1] else rng.uniform(*pair)

    for i in range(n):
        cy, cx = side / 2 - 0.5 + rng.uniform(-1, 1, 2) * scale
        r = draw(style.radius) * scale
        inner = draw(style.inner)
        aspect = draw(style.aspect)
        turn = rng.uniform(0, np.pi) if aspect < 1 else 0.0
        # Coordinates along the ring's axes; rho is the "radius" of an ellipse through each pixel.
        u = (yy - cy) * np.cos(turn) + (xx - cx) * np.sin(turn)
        v = -(yy - cy) * np.sin(turn) + (xx - cx) * np.cos(turn)
        rho = np.hypot(u, v / aspect)
        img = ((rho <= r) & (rho >= inner * r)).astype(float) * draw(style.brightness)
        if spot:
            a = rng.uniform(0, 2 * np.pi)
            if style.spot_place == "hole":
                where = rng.uniform(0, 0.5) * inner
            else:
                where = (1 + inner) / 2 if style.spot_place == "ring" else 1.0
            su, sv = where * r * np.sin(a), where * r * aspect * np.cos(a)
            sy = cy + su * np.cos(turn) - sv * np.sin(turn)
            sx = cx + su * np.sin(turn) + sv * np.cos(turn)
            img = img + draw(style.spot_gain) * (np.hypot(yy - sy, xx - sx) <= draw(style.spot_radius) * scale)
            centres[i] = sy, sx
        img = ndi.gaussian_filter(img, draw(style.blur) * scale) + 0.05 + rng.normal(0, draw(style.noise), img.shape)
        out[i, 0] = 100 + 2000 * img
    return out, centres


def decomposition_measures(x: np.ndarray, x_c: np.ndarray, tanh_c: np.ndarray) -> dict:
    """Median corr(X_C, input) per patch and the % of saturated X_C pixels (normal patches)."""
    a = x.reshape(len(x), -1).astype(np.float64)
    b = x_c.reshape(len(x_c), -1).astype(np.float64)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    # A constant X_C explains nothing: its correlation counts as 0, not NaN.
    corr = np.where(den > 0, (a * b).sum(1) / np.where(den > 0, den, 1), 0.0)
    return {"corr": float(np.median(corr)),
            "saturated_pct": 100.0 * float((np.abs(tanh_c) > SATURATION).mean())}


def localised(residual: np.ndarray, centres: np.ndarray, sigma: float = SMOOTH_SIGMA,
              within: float = LOCALISE_PX) -> np.ndarray:
    """Whether |residual| (summed over channels, smoothed) peaks within ``within`` px of each centre.

    Examples
    --------
    >>> r = np.zeros((1, 1, 32, 32)); r[0, 0, 5, 20] = 1
    >>> localised(r, np.array([[6.0, 21.0]])).tolist()
    [True]
    """
    from scipy import ndimage as ndi

    ok = np.zeros(len(residual), bool)
    for i, (res, (cy, cx)) in enumerate(zip(residual, centres)):
        m = ndi.gaussian_filter(np.abs(res).sum(0), sigma)
        py, px = np.unravel_index(int(np.argmax(m)), m.shape)
        ok[i] = np.hypot(py - cy, px - cx) <= within
    return ok


@dataclass
class RingSettings:
    """What `ddrid bench rings` trains and measures (the CPU budget is stated by these)."""

    n_train: int = 800
    n_test: int = 200            # normal test patches; as many spot patches
    pretrain_epochs: int = 6
    finetune_epochs: int = 6
    batch_size: int = 32
    profile: str = field(default_factory=lambda: TrainConfig().profile)
    seed: int = 1
    device: str = "auto"
    variation: str = "standard"       # a name of VARIATIONS
    x_c_source: Optional[str] = None   # TrainConfig.x_c_source (None: the profile's)


def run_rings(s: RingSettings):
    """Train on normal rings, measure the decomposition and detection (a job returning a dict)."""
    from ..model.scoring import roc_auc, score_patches
    from ..model.training import train

    t0 = time.perf_counter()
    style = VARIATIONS[s.variation]
    train_x, _ = ring_patches(s.n_train, s.seed, style=style)
    normal, _ = ring_patches(s.n_test, s.seed + 1000, style=style)
    spot, centres = ring_patches(s.n_test, s.seed + 2000, spot=True, style=style)
    cfg = TrainConfig(pretrain_epochs=s.pretrain_epochs, finetune_epochs=s.finetune_epochs,
                      batch_size=s.batch_size, seed=s.seed, device=s.device, profile=s.profile,
                      x_c_source=s.x_c_source)
    model = yield from train(train_x, cfg)
    t_train = time.perf_counter() - t0
    sn = yield from score_patches(model, normal, decompose=True)
    ss = yield from score_patches(model, spot, decompose=True)
    # Table 1's R_C ends in Tanh: X_C is in the network's output units as it is.
    dec = decomposition_measures(sn.x, sn.x_c, sn.x_c)
    dec["saturated_pct"] = 100.0 * float((np.abs(np.concatenate([sn.x_c, ss.x_c])) > SATURATION).mean())
    y = np.r_[np.zeros(len(normal)), np.ones(len(spot))]
    aucs = {t: round(roc_auc(np.r_[sn.of(t), ss.of(t)], y), 4) for t in ("latent", "recon", "residual", "combined")}
    r = {
        "settings": asdict(s),
        "corr": round(dec["corr"], 4),
        "saturated_pct": round(dec["saturated_pct"], 3),
        # What the GUI shows as "what is anomalous": input - X_C.  X_N's own figure is recorded beside it.
        "residual_shown": "input - X_C",
        "localised_pct": round(100.0 * float(localised(ss.x - ss.x_c, centres).mean()), 1),
        "localised_pct_x_n": round(100.0 * float(localised(ss.x_n, centres).mean()), 1),
        "score_type": model.score_type,
        "score_rule": model.validation.get("score_rule"),
        "auc": aucs[model.score_type],
        "auc_by_score": aucs,
        "synthetic_auc_by_score": model.validation.get("synthetic_auc_by_score"),
        "mean_abs_x_n_normal": round(float(np.abs(sn.x_n).mean()), 4),
        "train_seconds": round(t_train, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    r["targets"] = TARGETS
    r["met"] = {"corr": r["corr"] >= TARGETS["corr"], "saturated_pct": r["saturated_pct"] < TARGETS["saturated_pct"],
                "localised_pct": r["localised_pct"] >= TARGETS["localised_pct"], "auc": r["auc"] >= TARGETS["auc"]}
    return r


def markdown(r: dict) -> str:
    """A short report of one `ddrid bench rings` run."""
    s = r["settings"]
    ok = lambda k: "yes" if r["met"][k] else "**no**"  # noqa: E731
    return "\n".join([
        f"# `ddrid bench rings` — profile {s['profile']}, rings: {s.get('variation', 'standard')}", "",
        f"- command: `{r.get('command', '')}`",
        f"- hardware: {r.get('hardware', {}).get('cpu', '?')} ({r.get('hardware', {}).get('torch_threads', '?')} "
        f"torch threads), load {r.get('hardware', {}).get('load_average_1min', '?')}",
        f"- budget: {s['n_train']} normal ring patches (32 x 32), {s['pretrain_epochs']} + {s['finetune_epochs']} "
        f"epochs at batch {s['batch_size']}, seed {s['seed']}; training took {r['train_seconds']:.0f} s",
        f"- test: {s['n_test']} normal rings and {s['n_test']} rings with one added bright spot", "",
        "| measure | value | target | met |", "|---|---|---|---|",
        f"| median corr(X_C, input), normal patches | {r['corr']:.3f} | >= 0.9 | {ok('corr')} |",
        f"| X_C pixels saturated (abs > 0.98) | {r['saturated_pct']:.2f} % | < 1 % | {ok('saturated_pct')} |",
        f"| spot patches where smoothed abs(input - X_C) peaks within 4 px of the spot | {r['localised_pct']:.1f} % "
        f"| >= 80 % | {ok('localised_pct')} |",
        f"| AUC, default score ({r['score_type']}) | {r['auc']:.3f} | >= 0.90 | {ok('auc')} |", "",
        "AUC by score: " + ", ".join(f"{k} {v:.3f}" for k, v in r["auc_by_score"].items())
        + f".  Score chosen by: {r.get('score_rule')}.  X_N peaks on the spot in {r['localised_pct_x_n']:.1f} % "
          f"(mean abs(X_N) on normals {r['mean_abs_x_n_normal']:.3f}).", ""])


def cmd_rings(args) -> int:
    from ..console import run_job
    from ..io.atomic import write_text_atomic
    from ..io.outputs import check_output
    from .record import command_line, hardware

    md = None
    if args.json:
        check_output(args.json, "json")
        md = str(args.json)[:-5] + ".md" if str(args.json).endswith(".json") else str(args.json) + ".md"
        check_output(md, "text")          # the markdown beside it is an output too
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = list(VARIATIONS) if args.variation == "all" else [args.variation]
    results = []
    for name in names:
        s = RingSettings(n_train=args.train, n_test=args.test, pretrain_epochs=args.pretrain_epochs,
                         finetune_epochs=args.finetune_epochs, batch_size=args.batch_size, seed=args.seed,
                         device=args.device, variation=name, x_c_source=args.x_c_source)
        if args.profile:
            s.profile = args.profile
        r = run_job(run_rings(s), args)
        r.update(command=command_line(args), hardware=hardware())
        print(markdown(r), flush=True)
        results.append(r)
    out = results[0] if len(results) == 1 else {"variations": {r["settings"]["variation"]: r for r in results}}
    text = markdown(results[0]) if len(results) == 1 else summary(results)
    if len(results) > 1:
        print(text)
    if args.json:
        write_text_atomic(args.json, json.dumps(out, indent=1) + "\n")
        write_text_atomic(md, text)
        print(f"wrote {args.json} and {md}")
    return 0


def summary(results: list) -> str:
    """One table over several ring variations (each trained and measured on its own)."""
    s = results[0]["settings"]
    lines = [f"# `ddrid bench rings --variation all` — profile {s['profile']}", "",
             f"- command: `{results[0].get('command', '')}`",
             f"- budget per variation: {s['n_train']} normal patches, {s['pretrain_epochs']} + {s['finetune_epochs']} "
             f"epochs at batch {s['batch_size']}, seed {s['seed']}; {s['n_test']} normal and {s['n_test']} spot "
             "test patches", "",
             "| rings | corr(X_C, input) | X_C saturated | spot localised | AUC (score) | all four met |",
             "|---|---|---|---|---|---|"]
    for r in results:
        met = all(r["met"].values())
        lines.append(f"| {r['settings']['variation']} | {r['corr']:.3f} | {r['saturated_pct']:.2f} % | "
                     f"{r['localised_pct']:.1f} % | {r['auc']:.3f} ({r['score_type']}) | {'yes' if met else '**no**'} |")
    lines += ["", "Targets: corr >= 0.9, saturated < 1 %, localised (within 4 px) >= 80 %, AUC >= 0.90.  "
              "What each variation draws: `ddrcore/bench/rings.py` (VARIATIONS).", ""]
    return "\n".join(lines)


def add_parser(sub) -> None:
    """`ddrid bench rings`."""
    from ..config import PROFILES

    d = RingSettings()
    g = sub.add_parser("rings", help="decomposition and detection on ring patches with/without an added spot",
                       description="Train on synthetic normal ring patches; on held-out rings with and without one "
                                   "added bright spot print corr(X_C, input), %% saturated X_C pixels, %% of spots "
                                   "the residual input - X_C localises (within 4 px) and the AUC (issue #9).")
    g.add_argument("--train", type=int, default=d.n_train, help=f"normal training patches (default {d.n_train})")
    g.add_argument("--test", type=int, default=d.n_test, help=f"normal and spot test patches each (default {d.n_test})")
    g.add_argument("--pretrain-epochs", type=int, default=d.pretrain_epochs)
    g.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--profile", choices=list(PROFILES), help=f"default {d.profile}")
    g.add_argument("--x-c-source", choices=list(X_C_SOURCES), default=d.x_c_source,
                   help="where X_C and AS_e come from: R_C after finetuning or as pretraining left it "
                        "(default: the profile's; pretrained under explain)")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--variation", default=d.variation, choices=[*VARIATIONS, "all"],
                   help="which rings (default standard: the generator's own; all: each in turn, one table)")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    g.add_argument("--threads", type=int, help="torch threads")
    g.add_argument("--json", metavar="OUT.json", help="results; OUT.md beside")
    g.set_defaults(func=cmd_rings)
