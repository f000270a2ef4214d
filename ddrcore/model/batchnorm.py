"""Re-estimating BatchNorm running statistics (a fix for short training runs).

BatchNorm's running mean/variance move by 10 % per step.  With a few hundred
patches there are only a handful of steps per epoch, so after training the
running averages can still sit near their initial values (0 and 1); eval-mode
outputs then differ from what training saw, and a one-class ranking can even
invert.  Before computing Z_C and before scoring we therefore reset the
statistics and average them exactly over the training subset (PyTorch's
cumulative mode, momentum=None), in train mode without gradients.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def _bn_layers(module: nn.Module):
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate(modules: Iterable[nn.Module], x: torch.Tensor, batch_size: int) -> None:
    """Recompute the BatchNorm statistics of ``modules`` over the samples ``x``.

    Each module is run forward on batches of ``x`` (it must accept ``x``).
    Batches of one sample are skipped: BatchNorm cannot use them.
    """
    for module in modules:
        layers = _bn_layers(module)
        if not layers:
            continue
        saved = [(m, m.momentum) for m in layers]
        was_training = module.training
        for m in layers:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all batches seen
        module.train()
        try:
            for i in range(0, len(x), batch_size):
                xb = x[i : i + batch_size]
                if len(xb) < 2:
                    continue
                module(xb)
        finally:
            for m, mom in saved:
                m.momentum = mom
            module.train(was_training)
