"""DDR-ID's networks (paper Table 1) — nn.Modules only, no training logic.

Encoder  : Conv4-2-64, LReLU(0.2); Conv4-2-128/256/512, each BatchNorm + LReLU(0.2);
           FC to the latent (128 for 1-channel input, 512 for 3-channel input).
Decoder  : the latent as a 1x1 map; DeConv4-1-512, BatchNorm, LReLU(0.2); then
           DeConv4-2 stages halving the channels (256, 128, 64, ...) each with
           BatchNorm + LReLU(0.2); a last DeConv4-2 to the image channels; Tanh.
D_L      : FC-64 (FC-128 for a 512-d latent), BN, ReLU; FC-32, BN, ReLU;
           FC-16, BN, ReLU; FC-1, sigmoid.

Input sizes.  The four stride-2 convolutions need a side that is a power of
two, at least 32.  At 32x32 (the paper's size; MNIST's 28x28 is padded to 32
by repeating edge pixels) the decoder is exactly DeConv4-1-512, DeConv4-2-256,
DeConv4-2-128 and the output DeConv4-2.  Table 1 prints the last deconvolution
as "DeConv4-2-64" directly followed by Tanh: a reconstruction must have the
image's channel count, so, as in the DCGAN generator the paper cites, we read it
as the output layer (no BatchNorm, Tanh).  For 64x64 and larger patches one more
DeConv4-2 stage per doubling is inserted before it (64, then 32 channels),
which restores Table 1's DeConv4-2-64 at 64x64; the encoder stays the four
convolutions of Table 1 and its FC layer sees a larger map.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..base import CLASS_ENCODERS, INPUT_SIZES, check_input_size, default_input_size  # noqa: F401

LEAK = 0.2


# The input-size rules live with the settings (torch-free); imported here for the networks.
def default_latent_dim(channels: int) -> int:
    """Table 1: 128-d latent for grey (MNIST column), 512-d for 3-channel images."""
    return 128 if channels == 1 else 512


# E_C's forms (CLASS_ENCODERS): "table1" or "biasfree".  Why "biasfree": a bias or a BatchNorm shift lets
# an encoder map every input to the centre Z_C whatever it shows, which minimises L_OC and leaves AS_l
# blind (Ruff et al., Deep SVDD, Prop. 2); with long finetuning Table 1's encoder drifts that way
# (benchmarks/experiments/detection.md, section 7).


class Encoder(nn.Module):
    def __init__(self, channels: int = 1, latent_dim: int = 128, input_size: int = 32, bias_free: bool = False):
        super().__init__()
        check_input_size(input_size)
        affine = not bias_free
        # Convolutions followed by BatchNorm carry no bias: BN's shift replaces it.
        self.features = nn.Sequential(
            nn.Conv2d(channels, 64, 4, 2, 1, bias=affine),
            nn.LeakyReLU(LEAK),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128, affine=affine),
            nn.LeakyReLU(LEAK),
            nn.Conv2d(128, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256, affine=affine),
            nn.LeakyReLU(LEAK),
            nn.Conv2d(256, 512, 4, 2, 1, bias=False),
            nn.BatchNorm2d(512, affine=affine),
            nn.LeakyReLU(LEAK),
        )
        side = input_size // 16
        self.fc = nn.Linear(512 * side * side, latent_dim, bias=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(1))


class Decoder(nn.Module):
    def __init__(self, channels: int = 1, latent_dim: int = 128, input_size: int = 32):
        super().__init__()
        check_input_size(input_size)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, 512, 4, 1, 0, bias=False),
            nn.BatchNorm2d(512),
            nn.LeakyReLU(LEAK),
        ]
        # 4x4 after the first deconvolution; each stage doubles; the output layer doubles once more.
        stages = int(math.log2(input_size // 4)) - 1
        width = 512
        for _ in range(stages):
            nxt = max(width // 2, 32)
            layers += [nn.ConvTranspose2d(width, nxt, 4, 2, 1, bias=False), nn.BatchNorm2d(nxt), nn.LeakyReLU(LEAK)]
            width = nxt
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class Autoencoder(nn.Module):
    """R_C or R_N: an encoder followed by a decoder (identical architectures)."""

    def __init__(self, channels: int = 1, latent_dim: int = 128, input_size: int = 32, bias_free: bool = False):
        super().__init__()
        self.encoder = Encoder(channels, latent_dim, input_size, bias_free)
        self.decoder = Decoder(channels, latent_dim, input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def class_autoencoder(channels: int, latent_dim: int, input_size: int, class_encoder: str = "table1") -> Autoencoder:
    """R_C's form: Table 1's autoencoder with E_C as ``class_encoder`` says (:data:`CLASS_ENCODERS`).

    Also the form of R_C's pretrained copy that the explain profile keeps for X_C.
    """
    return Autoencoder(channels, latent_dim, input_size, bias_free=class_encoder == "biasfree")


class LatentDiscriminator(nn.Module):
    """D_L.  ``forward`` returns logits; ``probability`` applies Table 1's sigmoid.

    Losses use the logits with log-sigmoid, which is the same function as
    log(sigmoid(.)) without its underflow for confident outputs.
    """

    def __init__(self, latent_dim: int = 128):
        super().__init__()
        first = 64 if latent_dim <= 128 else 128
        self.net = nn.Sequential(
            nn.Linear(latent_dim, first),
            nn.BatchNorm1d(first),
            nn.ReLU(),
            nn.Linear(first, 32),
            nn.BatchNorm1d(32),
            nn.ReLU(),
            nn.Linear(32, 16),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Linear(16, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)

    def probability(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward(z))


class DDRIDNetworks(nn.Module):
    """The three networks of DDR-ID together: R_C, R_N and D_L.

    ``class_encoder`` is E_C's form (:data:`CLASS_ENCODERS`); R_N's encoder always keeps Table 1's layers.
    """

    def __init__(self, channels: int = 1, latent_dim: int | None = None, input_size: int = 32,
                 class_encoder: str = "table1"):
        super().__init__()
        if class_encoder not in CLASS_ENCODERS:
            raise ValueError(f"class_encoder must be one of {', '.join(CLASS_ENCODERS)}, got {class_encoder!r}")
        latent_dim = latent_dim or default_latent_dim(channels)
        self.channels, self.latent_dim, self.input_size = channels, latent_dim, input_size
        self.class_encoder = class_encoder
        self.r_c = class_autoencoder(channels, latent_dim, input_size, class_encoder)
        self.r_n = Autoencoder(channels, latent_dim, input_size)
        self.d_l = LatentDiscriminator(latent_dim)


#: Std of DCGAN's N(0, std) weight initialisation, used by :func:`init_output_layers`.
DCGAN_INIT_STD = 0.02


def init_output_layers(nets: "DDRIDNetworks", std: float = DCGAN_INIT_STD) -> None:
    """Initialise both decoders' output deconvolution as DCGAN does: weights N(0, ``std``), bias 0.

    Why: PyTorch's default initialisation of ``ConvTranspose2d`` takes its fan-in
    from the *output* channels (1 x 4 x 4 = 16 for a grey image), so the Tanh's
    input starts with a std of ~2.4 (1 channel) or ~1.3 (3 channels) and about
    32 % (8 %) of the output pixels start saturated, where Tanh passes almost no
    gradient.  With N(0, 0.02) the std is ~0.3 and none are (measured on the
    Table 1 networks at 32 x 32; benchmarks/experiments/decomposition.md).
    Used by the "explain" profile; the paper profile keeps PyTorch's default.
    """
    for ae in (nets.r_c, nets.r_n):
        last = [m for m in ae.decoder.net if isinstance(m, nn.ConvTranspose2d)][-1]
        nn.init.normal_(last.weight, 0.0, std)
        if last.bias is not None:
            nn.init.zeros_(last.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def recon_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample squared l2 error, summed over pixels (paper Eq. 1, 2, 5)."""
    return ((x_hat - x) ** 2).flatten(1).sum(1)


__all__ = [
    "CLASS_ENCODERS", "Encoder", "Decoder", "Autoencoder", "LatentDiscriminator", "DDRIDNetworks",
    "count_parameters", "recon_error", "init_output_layers", "default_latent_dim", "check_input_size",
]
