"""`ddrid bench speed`: training images/s (one DDR-ID pretraining step and one finetuning step
on the Table 1 networks, both autoencoders), scoring patches/s, the achieved
GFLOP/s of training (FLOPs counted by torch.utils.flop_counter) and, in the
same run, the machine's fp32 matmul GFLOP/s (a large torch.mm).
"""
from __future__ import annotations

import time

import numpy as np


# -------------------------------------------------------------------- speed --
def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_gflops(device: str, n: int = 2048, repeats: int = 5, dtype=None) -> float:
    """Best-of-``repeats`` GFLOP/s of an n x n x n torch.mm (fp32 unless ``dtype``)."""
    import torch

    dtype = dtype or torch.float32
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def _time(fn, device: str, repeats: int) -> float:
    """Median seconds of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def measure_speed(device: str = "cpu", batch_size: int = 256, precision: str = "fp32", channels: int = 1,
                  channels_last: bool = False, repeats: int = 3, matmul_size: int = 2048) -> dict:
    """Training images/s, scoring patches/s and achieved GFLOP/s of the Table 1 networks."""
    import torch

    from ..base import autocast
    from ..model.networks import DDRIDNetworks
    from ..model.training import finetune_step, pretrain_step

    torch.manual_seed(0)
    nets = DDRIDNetworks(channels).to(device)
    x = torch.rand(batch_size, channels, 32, 32, device=device)
    if channels_last:
        nets = nets.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    params = list(nets.r_c.parameters()) + list(nets.r_n.parameters())
    opt = torch.optim.Adam(params, lr=1e-4, weight_decay=1e-6)
    opt_r = torch.optim.Adam(params, lr=1e-4, weight_decay=1e-6)
    opt_d = torch.optim.Adam(nets.d_l.parameters(), lr=1e-4, weight_decay=1e-6)
    z_c = torch.zeros(nets.latent_dim, device=device)
    nets.train()

    def pre():
        pretrain_step(nets, opt, x, precision)

    def fine():
        finetune_step(nets, opt_r, opt_d, x, z_c, 0.1, precision)

    t_pre, t_fine = _time(pre, device, repeats), _time(fine, device, repeats)
    f_pre, f_fine = _flops(pre), _flops(fine)
    nets.eval()

    @torch.no_grad()
    def score():
        with autocast(device, precision):
            z = nets.r_c.encoder(x)
            nets.r_c.decoder(z)

    t_score = _time(score, device, repeats)
    peak = matmul_gflops(device, matmul_size)
    return {
        "device": device, "precision": precision, "channels_last": channels_last,
        "threads": torch.get_num_threads(), "batch_size": batch_size, "channels": channels,
        "train_images_per_s": round(2 * batch_size / (t_pre + t_fine), 2),
        "pretrain_images_per_s": round(batch_size / t_pre, 2),
        "finetune_images_per_s": round(batch_size / t_fine, 2),
        "score_patches_per_s": round(batch_size / t_score, 2),
        "train_gflops": round((f_pre + f_fine) / (t_pre + t_fine) / 1e9, 2),
        "pretrain_gflop_per_step": round(f_pre / 1e9, 2), "finetune_gflop_per_step": round(f_fine / 1e9, 2),
        "peak_gflops": round(peak, 2),
        "train_fraction_of_peak": round((f_pre + f_fine) / (t_pre + t_fine) / 1e9 / peak, 3),
        "seconds_per_step": {"pretrain": round(t_pre, 3), "finetune": round(t_fine, 3), "score": round(t_score, 3)},
    }


# ---------------------------------------------------------------------- CLI --
