"""What every benchmark records beside its figures: the machine, the command, the JSON file."""
from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from pathlib import Path

from ..io.atomic import write_text_atomic


def hardware() -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    info = {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    if hasattr(os, "getloadavg"):
        # Other jobs on a shared machine slow every figure down: record how busy it was.
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    return info


def command_line(args=None) -> str:
    """The command as typed: main(argv) leaves its argv on ``args`` (sys.argv is the caller's then)."""
    argv = getattr(args, "argv", None)
    return "ddrid " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))




def write_json(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, default=float) + "\n")

