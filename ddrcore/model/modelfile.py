"""Model files: one file with weights, Z_C, preprocessing constants, score
choice, threshold, configuration, seed and a format version.

The file is a torch archive of plain tensors, numbers, strings, lists and
dicts only, loaded with ``torch.load(weights_only=True)``: loading never runs
code from the file (a pickled object would be refused).  Every field is then
checked; a forged, corrupted or other-version file gives one clear line.
"""
from __future__ import annotations

import contextlib
import math
import os
import unicodedata
from pathlib import Path
from typing import Optional, Union

import torch

from ..io.atomic import atomic_path
from ..base import select_device
from ..config import TrainConfig
from ..io.bounded import Limit, open_regular
from ..errors import ModelFileError, first_line
from .ddrid import DDRIDModel
from .score_type import SCORE_TYPES
from .networks import DDRIDNetworks
from .preprocess import GCN_EPS, Preprocessor

FORMAT = "ddrid-model"
VERSION = 1
SUFFIX = ".ddrid"
#: The largest model file read (Table 1's networks at the largest input and latent sizes fit well below).
MODEL_BYTES = Limit("model file size", "DDRID_MAX_MODEL_BYTES", 16 * 2**30)
#: The pickled part of a model file (settings, validation records; not the tensors): a few MB at most.
PICKLE_BYTES = Limit("pickled model structure", "DDRID_MAX_MODEL_PICKLE_BYTES", 256 * 2**20)


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
    from .. import __version__

    return {
        "format": FORMAT,
        "version": VERSION,
        "ddrid_version": __version__,
        # E_C's form and X_C's source written out, so the file says which networks its weights belong to.
        "config": _plain({**model.config.to_dict(), "class_encoder": model.nets.class_encoder,
                          "x_c_source": "pretrained" if model.view is not None else "finetuned"}),
        "architecture": {"channels": model.channels, "latent_dim": model.nets.latent_dim,
                         "input_size": model.input_size},
        "state": {**{name: {k: v.detach().cpu() for k, v in getattr(model.nets, name).state_dict().items()}
                     for name in ("r_c", "r_n", "d_l")},
                  **({"view": {k: v.detach().cpu() for k, v in model.view.state_dict().items()}}
                     if model.view is not None else {})},
        "z_c": model.z_c.detach().cpu(),
        "preprocess": _plain(model.preprocessor.to_dict()),
        "score_type": model.score_type,
        "threshold": float(model.threshold),
        "validation": _plain(model.validation),
        "training": _plain(model.training),
        "validation_scores": {k: torch.as_tensor(v, dtype=torch.float32).cpu()
                              for k, v in model.validation_scores.items()},
        **({"measure": {k: torch.as_tensor(v) for k, v in model.measure.to_dict().items()}}
           if model.measure is not None else {}),
    }


def size_estimate(model: DDRIDModel) -> int:
    """About how many bytes the model file takes (weights + validation scores + a margin)."""
    n = sum(p.numel() for p in model.nets.parameters()) + sum(b.numel() for b in model.nets.buffers())
    if model.view is not None:
        n += sum(t.numel() for t in model.view.state_dict().values())
    n += sum(len(v) for v in model.validation_scores.values())
    if model.measure is not None:
        n += model.measure.train.size
    return 4 * n + 1_000_000


@contextlib.contextmanager
def _checksums_on():
    """Checksums written whatever torch's settings say: :func:`load` checks every part's."""
    config = getattr(getattr(getattr(torch.utils, "serialization", None), "config", None), "save", None)
    before = getattr(config, "compute_crc32", None)
    if before is False:
        config.compute_crc32 = True
    try:
        yield
    finally:
        if before is False:
            config.compute_crc32 = before


def save(model: DDRIDModel, path: Union[str, os.PathLike], inputs=(), force: bool = False) -> Path:
    """Write the model atomically (temporary file + rename), after :func:`ddrcore.io.outputs.check_output`."""
    from ..io.outputs import check_output

    path = Path(path)
    check_output(path, "model", inputs, force, need_bytes=size_estimate(model))
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh, _checksums_on():
                torch.save(to_payload(model), fh)
                fh.flush()
                os.fsync(fh.fileno())
    except (OSError, RuntimeError) as exc:
        # torch reports a full disk as RuntimeError; either way the model in memory is intact.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelFileError(path=path, reason=f"could not write the model file ({first[:120]}); "
                             "check free space and permissions") from None
    return path


#: The largest magnitude a stored weight or statistic may have (trained ones stay many orders below).
MAX_WEIGHT = 1e8


def _fail(path, what: str) -> ModelFileError:
    return ModelFileError(path=path, reason=what)


def _bad(field: str, why: str) -> ModelFileError:
    return ModelFileError(f"forged or damaged model file: {field} {why}")


def _int_field(d, key: str, lo: int, hi: int, name: str) -> int:
    value = d.get(key) if isinstance(d, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, f"must be an integer, got {value!r}"[:160])
    if not lo <= value <= hi:
        raise _bad(name, f"must be {lo}..{hi}, got {value}")
    return value


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(name, f"must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise _bad(name, f"must be finite, got {value}")
    return value


def _tensors(payload: dict):
    """(field name, tensor) for every tensor where a model file keeps them (state, z_c, validation scores)."""
    state = payload.get("state")
    if isinstance(state, dict):
        for name, part in state.items():
            if isinstance(part, dict):
                for key, t in part.items():
                    if isinstance(t, torch.Tensor):
                        yield f"state.{name}.{key}", t
    if isinstance(payload.get("z_c"), torch.Tensor):
        yield "z_c", payload["z_c"]
    val = payload.get("validation_scores")
    if isinstance(val, dict):
        for key, t in val.items():
            if isinstance(t, torch.Tensor):
                yield f"validation_scores.{key}", t


def check_tensor_sizes(payload: dict, max_bytes: Optional[int] = None) -> None:
    """Refuse tensors that describe more data than the file holds, before any of them is computed on.

    ``torch.load`` rebuilds a tensor as a view of its stored bytes: a forged
    file can store 4 bytes and a view of a billion elements over them (stride
    0), and the first ``isfinite`` on it allocates gigabytes.  So every tensor
    must be an ordinary (strided) one whose elements lie in its own storage,
    without overlap, and all of them together at most ``max_bytes`` (what the
    archive unpacks to): checked on shapes and strides only, nothing allocated.
    """
    total = 0
    for name, t in _tensors(payload):
        if t.layout != torch.strided or t.is_quantized:
            raise _bad(name, "is not a plain tensor")
        if any(st == 0 and n > 1 for st, n in zip(t.stride(), t.shape)):
            raise _bad(name, "is an expanded view (stride 0) that repeats its stored values; ddrid never writes one")
        n = 1
        for dim in t.shape:
            n *= int(dim)
        need = n * t.element_size()
        have = t.untyped_storage().nbytes() - t.storage_offset() * t.element_size()
        if need > have:
            raise _bad(name, f"claims {need:,} bytes of values but stores {max(0, have):,}")
        total += need
        if max_bytes is not None and total > max_bytes:
            raise _bad(name, f"with the other tensors claims more than the file's {max_bytes:,} bytes")


def check_payload(payload: dict, max_bytes: Optional[int] = None):
    """Check every field of a loaded payload against its allowed range and meaning, before any network is built.

    ``max_bytes``: the most bytes all tensors may hold together (the archive's
    unpacked size).  Returns (config, architecture, preprocessor, score type,
    threshold, validation scores); raises :class:`ModelFileError` naming the field.
    """
    from ..base import MAX_CHANNELS, MAX_INPUT_SIZE, MAX_LATENT_DIM

    check_tensor_sizes(payload, max_bytes)

    raw_config = payload.get("config")
    if not isinstance(raw_config, dict):
        raise _bad("config", "is missing")
    raw_config = dict(raw_config)
    # Model files written before profiles existed were trained with the paper's losses.
    raw_config.setdefault("profile", "paper")
    config = TrainConfig.from_dict(raw_config)
    try:
        config.validate()
    except (ValueError, TypeError) as exc:
        raise _bad("config", f"is invalid: {str(exc)[:140]}") from None
    arch_d = payload.get("architecture")
    if not isinstance(arch_d, dict):
        raise _bad("architecture", "is missing")
    arch = {"channels": _int_field(arch_d, "channels", 1, MAX_CHANNELS, "architecture.channels"),
            "latent_dim": _int_field(arch_d, "latent_dim", 1, MAX_LATENT_DIM, "architecture.latent_dim"),
            "input_size": _int_field(arch_d, "input_size", 32, MAX_INPUT_SIZE, "architecture.input_size")}
    if arch["input_size"] & (arch["input_size"] - 1):
        raise _bad("architecture.input_size", f"must be a power of two, got {arch['input_size']}")
    if arch["input_size"] != config.input_size:
        raise _bad("architecture.input_size", f"({arch['input_size']}) differs from config.input_size "
                                              f"({config.input_size})")
    if config.latent_dim is not None and config.latent_dim != arch["latent_dim"]:
        raise _bad("architecture.latent_dim", "differs from config.latent_dim")
    state = payload.get("state")
    if not isinstance(state, dict):
        raise _bad("state", "is missing")
    # The pretrained R_C ("view") is there exactly when the configuration says X_C comes from it.
    parts = ("r_c", "r_n", "d_l", "view") if config.x_c_from() == "pretrained" else ("r_c", "r_n", "d_l")
    if set(state) - set(parts):
        raise _bad("state", f"holds parts this model has not: {', '.join(sorted(map(str, set(state) - set(parts))))[:80]}")
    for name in parts:
        part = state.get(name)
        if not isinstance(part, dict):
            raise _bad(f"state.{name}", "is missing")
        for key, tensor in part.items():
            if not isinstance(tensor, torch.Tensor):
                raise _bad(f"state.{name}.{key}", "is not a tensor")
            # Weights and statistics are real numbers (a step count excepted): the networks take the file's
            # tensors as they are (loaded with assign), so an integer or complex one would fail mid-score.
            wanted = "an integer count" if key.endswith("num_batches_tracked") else "real numbers"
            if (tensor.dtype.is_complex or tensor.dtype == torch.bool
                    or tensor.is_floating_point() == key.endswith("num_batches_tracked")):
                raise _bad(f"state.{name}.{key}", f"is of type {tensor.dtype}, not {wanted}")
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise _bad(f"state.{name}.{key}", "holds NaN or infinite weights")
            # Finite is not enough: a negative variance makes BatchNorm's square root NaN, and weights far
            # beyond any trained network's overflow to infinity on the first patch.
            if tensor.is_floating_point() and tensor.numel() and float(tensor.abs().max()) > MAX_WEIGHT:
                raise _bad(f"state.{name}.{key}", f"holds values beyond ±{MAX_WEIGHT:g}, which no trained "
                           "network has")
            if key.endswith("running_var") and tensor.numel() and float(tensor.min()) < 0:
                raise _bad(f"state.{name}.{key}", "holds negative variances")
    z_c = payload.get("z_c")
    if not isinstance(z_c, torch.Tensor) or z_c.shape != (arch["latent_dim"],):
        raise _bad("z_c", "has the wrong shape")
    if not torch.isfinite(z_c).all():
        raise _bad("z_c", "is not finite")
    pre_d = payload.get("preprocess")
    if not isinstance(pre_d, dict):
        raise _bad("preprocess", "is missing")
    lo = _finite(pre_d.get("minimum"), "preprocess.minimum")
    hi = _finite(pre_d.get("maximum"), "preprocess.maximum")
    if not hi > lo:
        raise _bad("preprocess", f"maximum ({hi:g}) must be greater than minimum ({lo:g})")
    if not math.isfinite(hi - lo):
        raise _bad("preprocess", "range is not finite")
    method = pre_d.get("method", "gcn-l1+minmax")
    if method != "gcn-l1+minmax":
        raise _bad("preprocess.method", f"is unknown ({str(method)[:40]!r})")
    # Meaning, not just type: training fits these constants to GCN-normalised patches, whose values lie
    # within +-(values per patch) and whose range is never narrower than GCN_EPS (Preprocessor.fit widens
    # it).  A range like [0, 5e-324] passes "maximum > minimum" yet divides every patch into NaN.
    bound = float(arch["channels"] * arch["input_size"] ** 2)
    if max(abs(lo), abs(hi)) > bound:
        raise _bad("preprocess", f"constants ({lo:g}, {hi:g}) lie outside the +-{bound:g} that normalised "
                                 "patches can reach")
    if hi - lo < GCN_EPS:
        raise _bad("preprocess", f"range {hi - lo:g} (maximum - minimum) is below {GCN_EPS:g}: every patch would "
                                 "score NaN or infinity")
    pre = Preprocessor(lo, hi)
    score_type = payload.get("score_type")
    if not isinstance(score_type, str) or score_type not in SCORE_TYPES:
        raise _bad("score_type", f"is unknown ({str(score_type)[:40]!r})")
    threshold = _finite(payload.get("threshold"), "threshold")
    val_scores = {}
    raw_val = payload.get("validation_scores", {})
    if not isinstance(raw_val, dict):
        raise _bad("validation_scores", "is malformed")
    for key, value in raw_val.items():
        if key not in SCORE_TYPES or not isinstance(value, torch.Tensor) or value.ndim != 1:
            raise _bad("validation_scores", "is malformed")
        if not torch.isfinite(value.float()).all():
            raise _bad(f"validation_scores.{key}", "holds NaN or infinite values")
        if key not in ("combined", "cell") and value.numel() and float(value.float().min()) < 0:
            raise _bad(f"validation_scores.{key}", "holds negative values; these scores are distances (>= 0)")
        val_scores[key] = value.float().numpy()
    if score_type not in ("combined", "cell") and threshold < 0:
        raise _bad("threshold", f"is negative ({threshold:g}) for the {score_type} score, a distance (>= 0)")
    if score_type in ("combined", "cell"):
        from .combined import calibration

        if calibration(val_scores) is None:
            raise _bad("score_type", f"is {score_type!r} but the file holds no validation latent and residual scores")
    measure = None
    if "measure" in payload:
        from ..objects.measure import MEASUREMENTS
        from .cellscore import MeasureModel

        raw = payload["measure"]
        keys = ("mean", "std", "train", "calibration")
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), torch.Tensor) for k in keys):
            raise _bad("measure", "is malformed")
        if raw["train"].numel() > 4 * 10**6:
            raise _bad("measure", "holds more training objects than ddrid ever stores")
        # "whiten" is absent in model files from before AS_m was whitened (they score as they did).
        if any(k in raw and not isinstance(raw[k], torch.Tensor) for k in ("whiten", "reference")):
            raise _bad("measure", "is malformed")
        try:
            arrays = {k: raw[k].double().numpy() for k in (*keys, "whiten", "reference") if k in raw}
            measure = MeasureModel.from_dict(arrays, len(MEASUREMENTS))
        except ValueError as exc:
            raise _bad("measure", str(exc)) from None
    if score_type in ("measure", "cell") and (measure is None or "measure" not in val_scores):
        raise _bad("score_type", f"is {score_type!r} but the file holds no measurements of its training objects")
    for key in ("validation", "training"):
        if not isinstance(payload.get(key, {}), dict):
            raise _bad(key, "must be a dictionary")
        # Their texts are shown to users (ddrid info, the app): no terminal escapes, no extra lines.
        for name, text in _texts(payload.get(key, {}), key):
            # Cc: terminal escapes and line breaks; Cf: format characters such as a right-to-left override,
            # which would show a line reversed.
            if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
                raise _bad(name, "holds control characters (terminal escapes, line breaks, direction overrides); "
                           "a model file never does")
    for name in ("synthetic_auc", "cell_auc"):
        auc = payload.get("validation", {}).get(name)
        if auc is not None and (isinstance(auc, bool) or not isinstance(auc, (int, float))
                                or not 0.0 <= float(auc) <= 1.0):
            raise _bad(f"validation.{name}", "must be an AUC between 0 and 1")
    return config, arch, pre, score_type, threshold, val_scores, measure


def _texts(value, where: str, depth: int = 0):
    """(field name, text) for every string in a nested record of dicts and lists."""
    if depth > 8:
        return
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(str(k), where, depth + 1)
            yield from _texts(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _texts(v, f"{where}[{i}]", depth + 1)


def load(path: Union[str, os.PathLike], device: str = "auto") -> DDRIDModel:
    """Load a model file safely; raises :class:`ModelFileError` with one line."""
    path = Path(path)
    # One descriptor, checked (a regular file, not over MODEL_BYTES) and then read: a FIFO or /dev/zero is
    # refused in one line, and nothing can swap the file between the check and the read.
    with open_regular(path, "model file", MODEL_BYTES, ModelFileError) as fh:
        return _load(path, fh, device)


def _load(path: Path, fh, device: str) -> DDRIDModel:
    import zipfile

    if not zipfile.is_zipfile(fh):
        raise _fail(path, "not a ddrid model file (not a model archive; is it another kind of file, or truncated?)")
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            unpacked = sum(max(0, i.file_size) for i in infos)
            # The pickled structure (everything but the tensors' bytes) becomes Python objects, about ten
            # times its size: a forged list of 100 million numbers must be refused before it is unpickled.
            pickled = sum(max(0, i.file_size) for i in infos if i.filename.endswith(".pkl"))
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"not a ddrid model file or corrupted ({first_line(exc)})") from None
    from ..io.reading import available_memory

    avail = available_memory()
    if pickled > PICKLE_BYTES.value():
        raise _fail(path, f"refused: its pickled structure is {pickled / 2**20:.0f} MiB, over the "
                          f"{PICKLE_BYTES.value() / 2**20:.0f} MiB a ddrid model's takes ({PICKLE_BYTES.what}); "
                          f"{PICKLE_BYTES.hint} if the file is real")
    if avail and unpacked + 10 * pickled > 0.8 * avail:
        raise _fail(path, f"refused: unpacking it needs {unpacked / 2**30:.1f} GiB, more than this process can "
                          f"get ({avail / 2**30:.1f} GiB free)")
    # torch reads the archive without checking its checksums: a file damaged on a disk or in a copy would
    # load and score otherwise, silently.  Every part is checked here (one read of the file, sizes checked).
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            damaged = zf.testzip()
    except Exception as exc:  # noqa: BLE001 - a damaged archive fails in many ways (zlib.error among them)
        raise _fail(path, f"not a ddrid model file or corrupted ({first_line(exc)})") from None
    if damaged is not None:
        raise _fail(path, f"damaged: part {damaged!r} of the archive fails its checksum (copy or save the "
                          "model again)")
    try:
        fh.seek(0)
        payload = torch.load(fh, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise _fail(path, "refused: the file contains code or objects, not just data; "
                              "only load model files made by ddrid") from None
        # torch's own message (e.g. a bare record number) means nothing to a user; --debug shows it.
        raise _fail(path, "not a ddrid model file, or a damaged one: its archive cannot be read "
                          "(save or copy the model again)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise _fail(path, "not a ddrid model file (missing format marker)")
    version = payload.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise _fail(path, f"model file format version {version!r} is not supported "
                          f"(this ddrid reads version {VERSION}); retrain or upgrade ddrid")
    try:
        fields = check_payload(payload, max_bytes=unpacked + 1_000_000)
    except ModelFileError as exc:
        raise _fail(path, str(exc)) from None
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _fail(path, f"damaged or incompatible model file ({first[:120]})") from None
    config, arch, pre, score_type, threshold, val_scores, measure = fields
    # The weights the architecture needs must be in the file: counted on torch's meta device (nothing
    # allocated), so a forged size is refused before gigabytes of networks are built.
    with torch.device("meta"):
        n_weights = sum(t.numel() for t in DDRIDNetworks(arch["channels"], arch["latent_dim"], arch["input_size"],
                                                         config.encoder_form()).state_dict().values())
        if config.x_c_from() == "pretrained":
            n_weights += sum(t.numel() for t in _view(arch, config).state_dict().values())
    if 4 * n_weights > unpacked + 1_000_000:
        raise _fail(path, f"forged or damaged model file: architecture needs {4 * n_weights / 1e6:.0f} MB of "
                          f"weights but the file holds {unpacked / 1e6:.0f} MB")
    try:
        # Built on the meta device and given the file's tensors (assign): random initial weights that the
        # file replaces at once would cost a tenth of a second per load.  .float() casts as copying would.
        with torch.device("meta"):
            nets = DDRIDNetworks(arch["channels"], arch["latent_dim"], arch["input_size"], config.encoder_form())
            view = _view(arch, config) if config.x_c_from() == "pretrained" else None
        for name in ("r_c", "r_n", "d_l"):
            getattr(nets, name).load_state_dict(payload["state"][name], strict=True, assign=True)
        nets.float()
        if view is not None:
            view.load_state_dict(payload["state"]["view"], strict=True, assign=True)
            view.float()
            for p in view.parameters():
                p.requires_grad_(False)
        z_c = payload["z_c"]
        if not isinstance(z_c, torch.Tensor) or z_c.shape != (nets.latent_dim,):
            raise ValueError("Z_C has the wrong shape")
        validation = dict(payload.get("validation", {}))
        training = dict(payload.get("training", {}))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _fail(path, f"damaged or incompatible model file ({first[:120]})") from None
    dev = select_device(device)
    model = DDRIDModel(nets=nets, z_c=z_c.float(), preprocessor=pre, config=config, score_type=score_type,
                       threshold=threshold, validation=validation, training=training,
                       validation_scores=val_scores, measure=measure, view=view)
    return model.to(dev).eval()


def _view(arch: dict, config):
    """The pretrained R_C's network, empty (its weights are loaded after)."""
    from .networks import class_autoencoder

    return class_autoencoder(arch["channels"], arch["latent_dim"], arch["input_size"], config.encoder_form())
