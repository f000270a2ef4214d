"""Model files: one file with weights, Z_C, preprocessing constants, score
choice, threshold, configuration, seed and a format version.

The file is a torch archive of plain tensors, numbers, strings, lists and
dicts only, loaded with ``torch.load(weights_only=True)``: loading never runs
code from the file (a pickled object would be refused).  Every field is then
checked; a forged, corrupted or other-version file gives one clear line.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import torch

from .atomic import atomic_path
from .config import TrainConfig, select_device
from .errors import ModelFileError
from .model import SCORE_TYPES, DDRIDModel
from .networks import DDRIDNetworks
from .preprocess import Preprocessor

FORMAT = "ddrid-model"
VERSION = 1
SUFFIX = ".ddrid"


def _plain(value):
    """Config values as plain JSON-like types (no numpy scalars, tuples...)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, torch.Tensor):
        return value.item()
    return value


def to_payload(model: DDRIDModel) -> dict:
    from . import __version__

    return {
        "format": FORMAT,
        "version": VERSION,
        "ddrid_version": __version__,
        "config": _plain(model.config.to_dict()),
        "architecture": {"channels": model.channels, "latent_dim": model.nets.latent_dim,
                         "input_size": model.input_size},
        "state": {name: {k: v.detach().cpu() for k, v in getattr(model.nets, name).state_dict().items()}
                  for name in ("r_c", "r_n", "d_l")},
        "z_c": model.z_c.detach().cpu(),
        "preprocess": _plain(model.preprocessor.to_dict()),
        "score_type": model.score_type,
        "threshold": float(model.threshold),
        "validation": _plain(model.validation),
        "training": _plain(model.training),
        "validation_scores": {k: torch.as_tensor(v, dtype=torch.float32).cpu()
                              for k, v in model.validation_scores.items()},
    }


def save(model: DDRIDModel, path: Union[str, os.PathLike]) -> Path:
    """Write the model atomically (temporary file + rename)."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                torch.save(to_payload(model), fh)
                fh.flush()
                os.fsync(fh.fileno())
    except (OSError, RuntimeError) as exc:
        # torch reports a full disk as RuntimeError; either way the model in memory is intact.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelFileError(f"{path}: could not write the model file ({first[:120]}); "
                             "check free space and permissions") from None
    return path


def _fail(path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}")


def load(path: Union[str, os.PathLike], device: str = "auto") -> DDRIDModel:
    """Load a model file safely; raises :class:`ModelFileError` with one line."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "no such model file; check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise _fail(path, "refused: the file contains code or objects, not just data; "
                              "only load model files made by ddrid") from None
        raise _fail(path, f"not a ddrid model file or corrupted ({first[:100]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise _fail(path, "not a ddrid model file (missing format marker)")
    version = payload.get("version")
    if version != VERSION:
        raise _fail(path, f"model file format version {version!r} is not supported "
                          f"(this ddrid reads version {VERSION}); retrain or upgrade ddrid")
    try:
        config = TrainConfig.from_dict(dict(payload["config"]))
        config.validate()
        arch = payload["architecture"]
        nets = DDRIDNetworks(int(arch["channels"]), int(arch["latent_dim"]), int(arch["input_size"]))
        for name in ("r_c", "r_n", "d_l"):
            getattr(nets, name).load_state_dict(payload["state"][name], strict=True)
        z_c = payload["z_c"]
        if not isinstance(z_c, torch.Tensor) or z_c.shape != (nets.latent_dim,):
            raise ValueError("Z_C has the wrong shape")
        if not torch.isfinite(z_c).all():
            raise ValueError("Z_C is not finite")
        pre = Preprocessor.from_dict(payload["preprocess"])
        score_type = payload["score_type"]
        if score_type not in SCORE_TYPES:
            raise ValueError(f"unknown score type {score_type!r}")
        threshold = float(payload["threshold"])
        val_scores = {}
        for key, value in dict(payload.get("validation_scores", {})).items():
            if key not in SCORE_TYPES or not isinstance(value, torch.Tensor) or value.ndim != 1:
                raise ValueError("validation scores are malformed")
            val_scores[key] = value.float().numpy()
        validation = dict(payload.get("validation", {}))
        training = dict(payload.get("training", {}))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _fail(path, f"damaged or incompatible model file ({first[:120]})") from None
    dev = select_device(device)
    model = DDRIDModel(nets=nets, z_c=z_c.float(), preprocessor=pre, config=config, score_type=score_type,
                       threshold=threshold, validation=validation, training=training,
                       validation_scores=val_scores)
    return model.to(dev).eval()
