"""The paper's baselines: One-Class / Soft-Boundary Deep SVDD and DCAE (Section 4.1).

Networks (LeNet-type, after Deep SVDD), at the benchmarks' 32x32 input:
every method sees exactly the same preprocessed 32x32 tensors as DDR-ID
(MNIST's 28x28 is edge-padded to 32, see datasets.py).  Deep SVDD's MNIST
LeNet is written for 28x28 (7x7 maps before the linear layer); at 32x32 the
same layers give 8x8 maps, so the linear layer is 4*8*8 -> 32 and the decoder
starts from a 2x4x4 map and upsamples 4 -> 8 -> 16 -> 32 (all 5x5 deconvolutions
with padding 2).  The CIFAR-type net is Deep SVDD's unchanged (it is 32x32).

* 1-channel ("MNIST-type"): conv5x5->8, BN, LeakyReLU, maxpool2; conv5x5->4, BN,
  LeakyReLU, maxpool2; linear -> 32.
* 3-channel ("CIFAR-type"): conv5x5 -> 32 / 64 / 128, each BN, LeakyReLU,
  maxpool2; linear -> 128.
* No bias anywhere and BatchNorm without affine parameters (eps 1e-4): a bias
  lets the network map every input onto the centre (a trivial hypersphere).
  The decoders mirror the encoders (nearest upsampling + 5x5 deconvolutions,
  sigmoid output, since training inputs are min-max scaled to [0, 1]).

Training (paper Section 4.1): Adam, weight decay 1e-6, batch 256, learning
rate 1e-4 dropped to 1e-5 after 50 epochs (scheduler stepped after the
optimiser, once per epoch); 150 autoencoder pretraining epochs (loss: summed
squared error per image, averaged over the batch) and 100 finetuning epochs.
Batches of fewer than 2 images are dropped (BatchNorm cannot train on one).

* DCAE: the pretrained LeNet autoencoder itself, scored by reconstruction
  error (the paper trains DCAE for 150 epochs, i.e. exactly the pretraining),
  so one autoencoder per class and round serves DCAE and initialises both
  Deep SVDD variants.
* One-Class Deep SVDD: encoder initialised from the autoencoder; centre c =
  mean encoder output over the training images (eval mode) with |c_i| < 0.1
  pushed to +-0.1; c fixed; loss mean ||phi(x) - c||^2; score ||phi(x) - c||^2.
* Soft-Boundary Deep SVDD (nu = 0.05): loss R^2 + 1/nu * mean(max(0,
  ||phi(x) - c||^2 - R^2)); R = the (1 - nu) quantile of the distances seen in
  an epoch, updated every 5 epochs after a 10-epoch warm-up (R = 0 before);
  score ||phi(x) - c||^2 - R^2.

Preprocessing: ddrcore.model.preprocess (GCN l1 + min-max fitted on the normal
class's training images), as in Deep SVDD and DDR-ID.
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..base import select_device
from ..errors import TrainingError
from ..model.minibatch import batches, check_finite, steps_per_epoch
from ..model.preprocess import Preprocessor
from ..progress import Clock, Job, Progress

BN_EPS = 1e-4
CENTER_EPS = 0.1


# ----------------------------------------------------------------- networks --
def _bn2d(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, affine=False)


class LeNetEncoder(nn.Module):
    """Deep SVDD's LeNet encoder at 32x32: MNIST-type for 1 channel, CIFAR-type for 3."""

    def __init__(self, channels: int = 1):
        super().__init__()
        widths = (8, 4) if channels == 1 else (32, 64, 128)
        self.rep_dim = 32 if channels == 1 else 128
        layers, c = [], channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 5, padding=2, bias=False), _bn2d(w), nn.LeakyReLU(), nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        side = 32 // 2 ** len(widths)
        self.fc = nn.Linear(c * side * side, self.rep_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(1))


class LeNetDecoder(nn.Module):
    """The mirror of :class:`LeNetEncoder`: latent as a 4x4 map, upsample to 32x32."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.rep_dim = 32 if channels == 1 else 128
        self.start = self.rep_dim // 16  # channels of the 4x4 map the latent is folded into
        widths = (4, 8) if channels == 1 else (128, 64, 32)
        layers: list[nn.Module] = [nn.LeakyReLU()]
        c = self.start
        if channels != 1:
            # CIFAR-type: a first 4x4 deconvolution before upsampling (Deep SVDD's layout).
            layers += [nn.ConvTranspose2d(c, widths[0], 5, padding=2, bias=False), _bn2d(widths[0]), nn.LeakyReLU()]
            c, widths = widths[0], widths[1:]
        for w in widths:
            layers += [nn.Upsample(scale_factor=2), nn.ConvTranspose2d(c, w, 5, padding=2, bias=False), _bn2d(w),
                       nn.LeakyReLU()]
            c = w
        layers += [nn.Upsample(scale_factor=2), nn.ConvTranspose2d(c, channels, 5, padding=2, bias=False), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), self.start, 4, 4))


class LeNetAutoencoder(nn.Module):
    def __init__(self, channels: int = 1):
        super().__init__()
        self.encoder = LeNetEncoder(channels)
        self.decoder = LeNetDecoder(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


# ------------------------------------------------------------------ settings --
@dataclass
class BaselineConfig:
    """Section 4.1 settings for the baselines (defaults: the paper protocol)."""

    pretrain_epochs: int = 150
    finetune_epochs: int = 100
    lr: float = 1e-4
    lr_milestone: int = 50
    lr_gamma: float = 0.1
    weight_decay: float = 1e-6
    batch_size: int = 256
    nu: float = 0.05
    warmup_epochs: int = 10       # soft boundary: R stays 0 for these epochs
    radius_every: int = 5         # then R is re-solved every this many epochs
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BaselineModels:
    """What one baseline training produced; score with :func:`score_baselines`."""

    preprocessor: Preprocessor
    autoencoder: LeNetAutoencoder
    device: str
    deep_svdd: Optional[LeNetEncoder] = None
    c: Optional[torch.Tensor] = None
    soft_svdd: Optional[LeNetEncoder] = None
    soft_c: Optional[torch.Tensor] = None
    soft_radius: float = 0.0
    seconds: dict = field(default_factory=dict)


# ------------------------------------------------------------------ helpers --
def _optimiser(params, cfg: BaselineConfig):
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, [cfg.lr_milestone], cfg.lr_gamma)


@torch.no_grad()
def _encode(encoder: nn.Module, x: torch.Tensor, bs: int = 1024) -> torch.Tensor:
    encoder.eval()
    return torch.cat([encoder(x[i : i + bs]) for i in range(0, len(x), bs)])


def init_center(encoder: nn.Module, x: torch.Tensor, eps: float = CENTER_EPS) -> torch.Tensor:
    """Mean encoder output (eval mode); coordinates with |c_i| < eps pushed to +-eps.

    A near-zero coordinate can be matched trivially by zero weights, so it is
    moved away from 0 keeping its sign (0 itself goes to +eps).
    """
    c = _encode(encoder, x).mean(0)
    small = c.abs() < eps
    c[small & (c < 0)] = -eps
    c[small & (c >= 0)] = eps
    return c


def radius_from_distances(dist: torch.Tensor, nu: float) -> float:
    """Soft-boundary R: the (1 - nu) quantile of the distances ||phi(x) - c|| (not squared)."""
    return float(np.quantile(np.sqrt(dist.detach().cpu().numpy().astype(np.float64)), 1 - nu))


# ----------------------------------------------------------------- training --
def pretrain_autoencoder(x: torch.Tensor, cfg: BaselineConfig, rng: np.random.Generator, clock: Clock,
                         progress_span=(0.0, 1.0)) -> Job[LeNetAutoencoder]:
    """Train the LeNet autoencoder (summed squared error per image); yields "pretrain"."""
    ae = LeNetAutoencoder(x.shape[1]).to(x.device)
    opt, sched = _optimiser(ae.parameters(), cfg)
    spe = steps_per_epoch(len(x), min(cfg.batch_size, len(x)))
    a, b = progress_span
    ae.train()
    for epoch in range(1, cfg.pretrain_epochs + 1):
        for step, idx in enumerate(batches(len(x), min(cfg.batch_size, len(x)), rng), 1):
            xb = x[idx]
            loss = ((ae(xb) - xb) ** 2).flatten(1).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            check_finite({"autoencoder loss": loss.item()}, "baseline pretraining", epoch)
            frac = a + (b - a) * ((epoch - 1) * spe + step) / max(1, cfg.pretrain_epochs * spe)
            yield Progress("pretrain", step, spe, epoch, cfg.pretrain_epochs, frac, {"AE": loss.item()},
                           clock.elapsed(), clock.eta(frac))
        sched.step()
    ae.eval()
    return ae


def finetune_svdd(x: torch.Tensor, ae: LeNetAutoencoder, cfg: BaselineConfig, soft: bool,
                  rng: np.random.Generator, clock: Clock, progress_span=(0.0, 1.0)):
    """Deep SVDD finetuning from the autoencoder's encoder; returns (encoder, c, R)."""
    enc = LeNetEncoder(x.shape[1]).to(x.device)
    enc.load_state_dict(ae.encoder.state_dict())
    c = init_center(enc, x)
    opt, sched = _optimiser(enc.parameters(), cfg)
    bs = min(cfg.batch_size, len(x))
    spe = steps_per_epoch(len(x), bs)
    radius = 0.0
    stage = "softsvdd" if soft else "deepsvdd"
    a, b = progress_span
    enc.train()
    for epoch in range(1, cfg.finetune_epochs + 1):
        seen = []
        for step, idx in enumerate(batches(len(x), bs, rng), 1):
            dist = ((enc(x[idx]) - c) ** 2).sum(1)
            if soft:
                loss = radius ** 2 + (1 / cfg.nu) * F.relu(dist - radius ** 2).mean()
                seen.append(dist.detach())
            else:
                loss = dist.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            check_finite({f"{stage} loss": loss.item()}, "baseline finetuning", epoch)
            frac = a + (b - a) * ((epoch - 1) * spe + step) / max(1, cfg.finetune_epochs * spe)
            losses = {"loss": loss.item()} if not soft else {"loss": loss.item(), "R": radius}
            yield Progress(stage, step, spe, epoch, cfg.finetune_epochs, frac, losses, clock.elapsed(), clock.eta(frac))
        sched.step()
        if soft and epoch >= cfg.warmup_epochs and epoch % cfg.radius_every == 0 and seen:
            radius = radius_from_distances(torch.cat(seen), cfg.nu)
    enc.eval()
    return enc, c, radius


def train_baselines(raw: np.ndarray, cfg: Optional[BaselineConfig] = None,
                    methods=("dcae", "deepsvdd", "softsvdd")) -> Job[BaselineModels]:
    """Fit preprocessing, pretrain the autoencoder, finetune the Deep SVDD variants asked for."""
    cfg = cfg or BaselineConfig()
    raw = np.asarray(raw, np.float32)
    if raw.ndim != 4 or raw.shape[-2:] != (32, 32):
        raise ValueError(f"baseline training images must be (N, C, 32, 32), got {raw.shape}")
    if len(raw) < 2:
        raise TrainingError(f"need at least 2 training images, got {len(raw)}")
    device = select_device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    clock = Clock()
    pre = Preprocessor.fit(raw)
    x = torch.from_numpy(pre(raw)).to(device)
    svdd = [m for m in ("deepsvdd", "softsvdd") if m in methods]
    # Progress weights: pretraining and each finetuning take about the same time per epoch.
    parts = [cfg.pretrain_epochs] + [cfg.finetune_epochs] * len(svdd)
    total = max(1, sum(parts))
    span_end = parts[0] / total
    t0 = clock.elapsed()
    ae = yield from pretrain_autoencoder(x, cfg, rng, clock, (0.0, span_end))
    models = BaselineModels(pre, ae, device, seconds={"pretrain": round(clock.elapsed() - t0, 2)})
    for m in svdd:
        start = span_end
        span_end = start + cfg.finetune_epochs / total
        t0 = clock.elapsed()
        enc, c, radius = yield from finetune_svdd(x, ae, cfg, m == "softsvdd", rng, clock, (start, span_end))
        models.seconds[m] = round(clock.elapsed() - t0, 2)
        if m == "deepsvdd":
            models.deep_svdd, models.c = enc, c
        else:
            models.soft_svdd, models.soft_c, models.soft_radius = enc, c, radius
    return models


@torch.no_grad()
def score_baselines(models: BaselineModels, raw: np.ndarray, bs: int = 1024) -> dict:
    """Anomaly scores (higher = more anomalous) per method for raw images (N, C, 32, 32)."""
    x = torch.from_numpy(models.preprocessor(np.asarray(raw, np.float32))).to(models.device)
    out = {"dcae": []}
    if models.deep_svdd is not None:
        out["deepsvdd"] = []
    if models.soft_svdd is not None:
        out["softsvdd"] = []
    models.autoencoder.eval()
    for i in range(0, len(x), bs):
        xb = x[i : i + bs]
        out["dcae"].append(((models.autoencoder(xb) - xb) ** 2).flatten(1).sum(1))
        if models.deep_svdd is not None:
            models.deep_svdd.eval()
            out["deepsvdd"].append(((models.deep_svdd(xb) - models.c) ** 2).sum(1))
        if models.soft_svdd is not None:
            models.soft_svdd.eval()
            out["softsvdd"].append(((models.soft_svdd(xb) - models.soft_c) ** 2).sum(1) - models.soft_radius ** 2)
    return {k: torch.cat(v).cpu().numpy().astype(np.float64) for k, v in out.items()}


__all__ = ["LeNetEncoder", "LeNetDecoder", "LeNetAutoencoder", "BaselineConfig", "BaselineModels",
           "init_center", "radius_from_distances", "pretrain_autoencoder", "finetune_svdd",
           "train_baselines", "score_baselines"]
