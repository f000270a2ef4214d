"""The bottom of the engine: sizes, limits and devices that every part may use.

This module imports nothing else of ddrcore (an import-linter contract in
pyproject.toml keeps it so), and torch only inside the functions that need it,
so the GUI, the file readers and the command line can all ask "which input
sizes?" or "is this a device name?" without pulling in the model.
"""
from __future__ import annotations

from typing import Optional

# --- networks ------------------------------------------------------------------------------------------

#: E_C's two forms: "table1" (the paper's layers) and "biasfree" (no bias terms, BatchNorm without
#: affine parameters); ddrcore.model.networks builds them and says why.
CLASS_ENCODERS = ("table1", "biasfree")

# --- sizes ---------------------------------------------------------------------------------------------

#: Network input sides the command line and the GUI offer (powers of two; Table 1 uses 32).
INPUT_SIZES = (32, 64, 128, 256)


def check_input_size(size: int) -> None:
    """Raise ValueError unless ``size`` is a power of two >= 32 (Table 1's networks halve it three times)."""
    if size < 32 or (size & (size - 1)) != 0:
        raise ValueError(f"network input size must be a power of two >= 32, got {size}")


def default_input_size(patch_side: int) -> int:
    """Network input side for patches of ``patch_side`` pixels: the side itself if offered, else 32 for
    patches up to 32 px and 64 for larger ones.

    A crop is not shrunk below 64 px: a nucleus's chromatin texture, a hollow
    core or a micronucleus two pixels across do not survive being shrunk to
    32.  Measured with ``ddrid bench real`` (10+10 epochs, four seeds): U2OS
    (168 px crops) at 64 against 32, AS_cell 0.880 against 0.868 and 18 odd
    nuclei in the top 20 instead of 14 (one seed); DSB (about 48 px crops)
    0.922 against 0.915 and Kc167 (about 36 px) 0.884 against 0.878, 7 of
    the 8 runs up, for 30-70 % more training time (docs/benchmarks.md, "Real
    fields").

    Examples
    --------
    >>> default_input_size(64), default_input_size(45), default_input_size(168), default_input_size(24)
    (64, 64, 64, 32)
    """
    side = int(patch_side)
    if side in INPUT_SIZES:
        return side
    return 64 if side > 32 else 32


# Allowed ranges, checked for every configuration (command line, GUI, model and project files).
MAX_INPUT_SIZE = 512          # network input side (powers of two 32..512)
MAX_PATCH_SIZE = 4096         # patch / crop side in pixels
MAX_LATENT_DIM = 4096
MAX_CHANNELS = 64
MAX_SEED = 2**32 - 1          # numpy's seed range
MAX_EPOCHS = 100_000
MAX_BATCH = 65_536


# --- devices -------------------------------------------------------------------------------------------

#: What --device accepts: auto picks CUDA, then Apple MPS, then the CPU.
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def autocast(device: str, precision: str = "fp32"):
    """The autocast context for ``precision``: a no-op for fp32, bfloat16 otherwise.

    bfloat16 (not float16) on CUDA too: same exponent range as fp32, so no loss
    scaling is needed and the optimiser code stays identical.
    """
    import contextlib

    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    kind = "cuda" if device.startswith("cuda") else device
    return torch.autocast(kind, dtype=torch.bfloat16)


def select_device(name: str = "auto") -> str:
    """'auto' picks CUDA, then Apple MPS, then CPU; an explicit choice is checked."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA GPU is available; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("Apple MPS was requested but is not available; use --device cpu or auto")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}; use {', '.join(DEVICE_CHOICES)}")
    return name


def describe_devices(cpu_threads: Optional[int] = None) -> list[tuple[str, str]]:
    """(device id, human name) for every device this machine offers, best first.

    ``cpu_threads``: the threads CPU work will really use, when the caller
    sets its own (the GUI leaves a core free); default torch's current count.
    """
    import torch

    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", f"GPU {i}: {torch.cuda.get_device_name(i)} (CUDA)"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps", "Apple GPU (MPS)"))
    n = cpu_threads or torch.get_num_threads()
    out.append(("cpu", f"CPU ({n} thread{'s' if n != 1 else ''})"))
    return out
