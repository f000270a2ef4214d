"""Training on several processes (``torchrun ... -m ddrcore train``): the same Algorithm 1, spread over ranks.

Every rank reads the same folder, draws the same training/validation split
and the same shuffled epochs (same seed), and so the same *global* batches
as a single-process run.  Each rank then takes its equal share of every
global batch (:meth:`Ranks.local`), so the configured batch is the global
batch, split across ranks.  What keeps the ranks one training run:

* DistributedDataParallel averages the gradients of R_C, R_N and D_L;
* BatchNorm normalises with the statistics of the global batch:
  :class:`torch.nn.SyncBatchNorm` on GPUs, :class:`GlobalBatchNorm` (the same
  statistics through ``all_reduce``, which gloo offers on CPUs) elsewhere;
* Z_C is the mean latent over all ranks' shares of the training subset, and
  the BatchNorm re-estimation runs over global batches (all-reduce);
* the loss values are averaged over ranks, so that every rank stops at once
  when one becomes NaN.

Only rank 0 writes the model file and prints progress.  A single process
uses :class:`Ranks`, whose every method is what training always did.
"""
from __future__ import annotations

import datetime
import os
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch

from . import batchnorm
from .minibatch import steps_per_epoch

#: How long a rank waits for the others at a collective before giving up (a dead rank, a lost node).
TIMEOUT = datetime.timedelta(minutes=30)


def torchrun_env() -> Optional[Tuple[int, int, int]]:
    """(rank, world size, local rank) from torchrun's environment, or None outside torchrun.

    >>> torchrun_env() is None or len(torchrun_env()) == 3
    True
    """
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    except (KeyError, ValueError):
        return None
    return rank, world, int(os.environ.get("LOCAL_RANK", rank))


class Ranks:
    """One process: rank 0 of 1.  Every method does what single-process training does."""

    rank, world, local_rank = 0, 1, 0

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0

    def device(self, device: str) -> str:
        return device

    def batch_size(self, batch_size: int) -> int:
        """The global batch to use for the configured one (every rank takes an equal share)."""
        return batch_size

    def steps_per_epoch(self, n: int, batch_size: int) -> int:
        return steps_per_epoch(n, batch_size)

    def local(self, idx: np.ndarray) -> Optional[np.ndarray]:
        """This rank's share of the global batch ``idx`` (None: the batch is skipped by every rank)."""
        return idx

    def wrap(self, nets):
        """The networks as training uses them (one process: unchanged)."""
        return nets

    def unwrap(self, nets):
        """The plain networks that a model file stores."""
        return nets

    def seed(self, seed: int) -> None:
        """Give this rank its own random stream (D_L's samples of N(Z_C, sigma^2 I))."""

    def average(self, losses: Dict[str, float]) -> Dict[str, float]:
        return losses

    def recalibrate(self, modules, x, batch_size: int) -> None:
        """BatchNorm re-estimation (batchnorm.py) over the global batches of ``x``."""
        batchnorm.recalibrate(modules, x, batch_size)

    def mean_rows(self, fn: Callable, x, chunk: int = 256):
        """The mean over all rows of ``x`` of ``fn(rows)`` (Z_C: the mean latent), without gradients."""
        with torch.no_grad():
            return torch.cat([fn(x[i : i + chunk]) for i in range(0, len(x), chunk)]).mean(0)

    def describe(self) -> dict:
        """What the model file records about the processes that trained it."""
        return {}

    def close(self) -> None:
        """Leave the process group (nothing to do for one process)."""


class DistributedRanks(Ranks):
    """Rank ``rank`` of ``world`` processes of one torch.distributed process group."""

    def __init__(self, rank: int, world: int, local_rank: int, backend: str):
        self.rank, self.world, self.local_rank, self.backend = rank, world, local_rank, backend

    def device(self, device: str) -> str:
        if device.startswith("cuda"):
            # One GPU per rank on each node: torchrun's LOCAL_RANK picks it.
            torch.cuda.set_device(self.local_rank)
            return f"cuda:{self.local_rank}"
        return device

    def batch_size(self, batch_size: int) -> int:
        # Equal shares make the average of the ranks' mean gradients the global batch's mean gradient.
        return self.world * max(1, batch_size // self.world)

    def _share(self, m: int) -> int:
        """Samples of a global batch of ``m`` that are used: a multiple of the ranks, 0 if too few."""
        used = m - m % self.world
        return used if used >= max(2, self.world) else 0

    def steps_per_epoch(self, n: int, batch_size: int) -> int:
        return n // batch_size + (1 if self._share(n % batch_size) else 0)

    def local(self, idx: np.ndarray) -> Optional[np.ndarray]:
        used = self._share(len(idx))
        if not used:
            return None
        k = used // self.world
        return idx[self.rank * k : (self.rank + 1) * k]

    def wrap(self, nets):
        from torch.nn.parallel import DistributedDataParallel as DDP

        nets = sync_batchnorm(nets, on_gpu=self.backend == "nccl")
        options = {"device_ids": [self.local_rank] if self.backend == "nccl" else None}
        # BatchNorm buffers stay equal through the global statistics: no broadcast of them at every
        # forward (torch >= 2.12 names that forward_sync_buffers; older ones broadcast_buffers).
        import inspect

        sync = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP).parameters \
            else "broadcast_buffers"
        options[sync] = False
        # The training steps call the encoders, decoders and D_L one by one, so each is wrapped on its
        # own (a forward through each, then one backward, as DDP expects).
        for ae in (nets.r_c, nets.r_n):
            ae.encoder = DDP(ae.encoder, **options)
            ae.decoder = DDP(ae.decoder, **options)
        nets.d_l.net = DDP(nets.d_l.net, **options)
        return nets

    def unwrap(self, nets):
        from .networks import DDRIDNetworks

        for ae in (nets.r_c, nets.r_n):
            ae.encoder, ae.decoder = ae.encoder.module, ae.decoder.module
        nets.d_l.net = nets.d_l.net.module
        device = next(nets.parameters()).device
        # Plain BatchNorm again (same weights and statistics; the same names in the state dict), built
        # without touching the random stream that the rest of training goes on with.
        with torch.random.fork_rng(devices=[]):
            plain = DDRIDNetworks(nets.channels, nets.latent_dim, nets.input_size, nets.class_encoder)
        plain.load_state_dict(nets.state_dict())
        return plain.to(device)

    def seed(self, seed: int) -> None:
        # Rank 0 goes on with the single-process stream; the others draw their own.
        if self.rank:
            torch.manual_seed((seed + 1_000_003 * self.rank) % 2**63)

    def average(self, losses: Dict[str, float]) -> Dict[str, float]:
        import torch.distributed as dist

        values = torch.tensor([float(v) for v in losses.values()], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(values)
        return dict(zip(losses, (values / self.world).tolist()))

    def recalibrate(self, modules, x, batch_size: int) -> None:
        # The global batches of a single-process run, each split into equal shares: every rank runs
        # the same number of forward passes, and each pass's statistics are the global batch's.
        parts = [self.local(np.arange(i, min(i + batch_size, len(x)))) for i in range(0, len(x), batch_size)]
        mine = np.concatenate([p for p in parts if p is not None])
        batchnorm.recalibrate(modules, x[mine], batch_size // self.world)

    def mean_rows(self, fn: Callable, x, chunk: int = 256):
        import torch.distributed as dist

        mine = np.array_split(np.arange(len(x)), self.world)[self.rank]
        with torch.no_grad():
            parts = [fn(x[mine[i : i + chunk]]).double().sum(0) for i in range(0, len(mine), chunk)]
            total = torch.stack(parts).sum(0) if parts else None
            if total is None:   # fewer rows than ranks: this rank adds nothing
                total = fn(x[:1]).double().sum(0) * 0
            stats = torch.cat([total, total.new_tensor([len(mine)])])
            dist.all_reduce(stats)
            return (stats[:-1] / stats[-1]).float()

    def describe(self) -> dict:
        return {"processes": self.world, "backend": self.backend}

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()

    def _comm_device(self) -> str:
        return f"cuda:{self.local_rank}" if self.backend == "nccl" else "cpu"


_current: Ranks = Ranks()


def current() -> Ranks:
    """The ranks of this training run (set by :func:`init_from_env`; one process otherwise)."""
    return _current


def init_from_env(device: str = "auto") -> Ranks:
    """Join torchrun's process group when this process was started by torchrun with several ranks.

    NCCL when training runs on CUDA GPUs, gloo otherwise.  Outside torchrun
    (or with one rank) nothing happens and a single-process :class:`Ranks` is
    returned.
    """
    global _current
    env = torchrun_env()
    if env is None or env[1] < 2:
        _current = Ranks()
        return _current
    import torch.distributed as dist

    from ..base import select_device

    rank, world, local_rank = env
    backend = "nccl" if select_device(device).startswith("cuda") else "gloo"
    if backend == "nccl":
        # Each rank's GPU chosen before NCCL starts, so that its communicator is set up on that GPU.
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT)
    _current = DistributedRanks(rank, world, local_rank, backend)
    return _current


def finish() -> None:
    """Leave the process group, if any; later training in this process is single-process again."""
    global _current
    _current.close()
    _current = Ranks()


# --------------------------------------------------------------------------- BatchNorm over all ranks --
def sync_batchnorm(module, on_gpu: bool):
    """``module`` with every BatchNorm normalising by the statistics of the batch over all ranks.

    On GPUs torch's :class:`~torch.nn.SyncBatchNorm`; elsewhere (gloo on CPUs,
    which torch's SyncBatchNorm refuses) :class:`GlobalBatchNorm`.
    """
    if on_gpu:
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in list(module.named_children()):
        if isinstance(child, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            setattr(module, name, GlobalBatchNorm.from_batchnorm(child))
        else:
            sync_batchnorm(child, on_gpu)
    return module


class SumOverRanks(torch.autograd.Function):
    """Sum a tensor over all ranks; the gradient of each rank's copy is the sum of the ranks' gradients.

    (Every rank's loss depends on the sum, so each input's gradient gathers all of them.)
    """

    @staticmethod
    def forward(ctx, x):
        import torch.distributed as dist

        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        import torch.distributed as dist

        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training-mode statistics are those of the batch over all ranks.

    The per-channel sum and the sum of squared deviations are summed over
    ranks with a differentiable ``all_reduce`` (its backward sums the
    gradients over ranks too), so the forward pass and the gradients are
    those of one BatchNorm over the concatenated batch, on any backend (gloo
    on CPUs).  Outside a process group, and in eval mode, it is BatchNorm.
    """

    @classmethod
    def from_batchnorm(cls, bn) -> "GlobalBatchNorm":
        new = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        new.load_state_dict(bn.state_dict())
        return new.to(bn.running_mean.device if bn.track_running_stats else bn.weight.device)

    def _check_input_dim(self, x) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {x.dim()}-D")

    def forward(self, x):
        import torch.distributed as dist

        all_reduce = SumOverRanks.apply
        self._check_input_dim(x)
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.new_tensor([x.numel() / x.shape[1]])
        dist.all_reduce(count)
        mean = all_reduce(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / count          # biased: what BatchNorm divides by
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                n = float(count)
                # Running variance unbiased over the global batch, as BatchNorm keeps it for one batch.
                self.running_mean.mul_(1 - f).add_(mean.detach(), alpha=f)
                self.running_var.mul_(1 - f).add_(var.detach() * (n / max(n - 1.0, 1.0)), alpha=f)
        return y
