"""What a Dask worker runs: read, cut and score one run of files (one task).

A task is pure: it reads its files and the model file and returns plain
data (scores, patch origins, what went wrong per file), writing nothing.
Dask may therefore run it again on another worker when a worker dies, and
the result is the same.

The model is loaded once per worker process and kept (:func:`worker_model`),
keyed by the model file's path, size and modification time as the client saw
them: a worker that sees another file under that path (another file system)
refuses it instead of scoring with the wrong model.

Nothing here imports Dask: the functions are sent to workers by reference
(``ddrcore.cluster.tasks.score_task``), so every worker needs ddrid installed.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from ..errors import ImageReadError, ModelFileError
from ..io.images import BadFile, PatchSource, failed_file, read_error, read_file_patches
from ..objects import ObjectContext, Patching
from ..progress import run_to_end

#: Models kept per worker process (a worker may serve two runs with different models).
MODELS_KEPT = 2

_models: "OrderedDict[tuple, object]" = OrderedDict()
_contexts: "OrderedDict[tuple, ObjectContext]" = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class ScoreTask:
    """One task: a run of consecutive files and everything needed to score them alike."""

    index: int                    # position in the run's task list (results are merged in this order)
    files: Tuple[str, ...]
    model_path: str
    model_stamp: Tuple[int, int]  # (size, mtime_ns) of the model file as the client saw it
    device: str
    patching: Patching            # resolved (object size known)
    single_image: bool            # the run scores one image (points CSVs without paths need it)
    decompose: bool
    max_pixels: int               # the client's per-page pixel limit (--max-pixels)


@dataclass
class FileOutcome:
    """What one file gave: its patches' channel count (0: none) and a report when something went wrong."""

    path: str
    channels: int = 0
    bad: Optional[BadFile] = None


@dataclass
class TaskResult:
    index: int
    files: List[FileOutcome]
    sources: List[PatchSource]    # of the patches scored (files whose channels fit the model)
    scores: object                # ddrcore.model.scoring.Scores, aligned with ``sources``
    worker: str = ""
    seconds: float = 0.0
    patches: int = field(default=0)


def model_stamp(path) -> Tuple[int, int]:
    """(size, mtime_ns) of a file: what identifies a model file across machines that share it."""
    st = os.stat(path)
    return int(st.st_size), int(st.st_mtime_ns)


def worker_model(path: str, stamp: Tuple[int, int], device: str = "auto"):
    """The model at ``path``, loaded once per worker process and then reused.

    Raises :class:`ModelFileError` when this machine sees another file there
    than the client did (``stamp`` differs).
    """
    from ..model.modelfile import load

    try:
        seen = model_stamp(path)
    except OSError as exc:
        raise ModelFileError(path=path, reason=f"not readable on worker {socket.gethostname()} ({exc.strerror}); "
                             "the workers must see the same file system as the client") from None
    if seen != tuple(stamp):
        raise ModelFileError(path=path, reason=f"differs on worker {socket.gethostname()} from the client's file "
                             "(size or modification time); the workers must see the same file system")
    key = (os.path.abspath(path), seen, device)
    with _lock:
        model = _models.get(key)
        if model is None:
            import torch

            # Dask runs one task per worker thread; a task that also spread over every core would
            # oversubscribe the machine (N workers x all cores).  Dask gives the parallelism.
            torch.set_num_threads(1)
            model = load(path, device).eval()
            _models[key] = model
            while len(_models) > MODELS_KEPT:
                _models.popitem(last=False)
        _models.move_to_end(key)
    return model


def _context(patching: Patching, channel, single_image: bool) -> ObjectContext:
    # A points CSV is read once per worker, not once per task.
    key = (patching, channel, single_image)
    with _lock:
        ctx = _contexts.get(key)
        if ctx is None:
            ctx = _contexts[key] = ObjectContext(patching, channel=channel, single_image=single_image)
            while len(_contexts) > MODELS_KEPT:
                _contexts.popitem(last=False)
    return ctx


def score_task(task: ScoreTask) -> TaskResult:
    """Read, cut and score the files of ``task`` exactly as a local ``ddrid score`` does.

    Files are read by :func:`ddrcore.io.images.read_file_patches` and reported
    by the same rules as :func:`ddrcore.io.images.load_patches`; the patches of
    files whose channel count fits the model are scored by
    :func:`ddrcore.model.scoring.score_patches`.
    """
    from ..io import reading
    from ..model.scoring import add_cell_scores, score_patches

    t0 = time.perf_counter()
    model = worker_model(task.model_path, task.model_stamp, task.device)
    channel = model.config.channel
    side = task.patching.crop_side()
    context = None if task.patching.is_grid else _context(task.patching, channel, task.single_image)
    previous = reading.set_max_pixels(task.max_pixels)
    outcomes: List[FileOutcome] = []
    arrays, sources = [], []
    try:
        for f in task.files:
            try:
                arr, src, note = read_file_patches(f, side, model.input_size, channel, task.patching, context)
            except ImageReadError as exc:
                outcomes.append(FileOutcome(f, 0, read_error(f, exc)))
                continue
            except Exception as exc:  # noqa: BLE001 - a file that vanished or broke costs that file, not the run
                outcomes.append(FileOutcome(f, 0, failed_file(f, exc)))
                continue
            outcomes.append(FileOutcome(f, int(arr.shape[1]), BadFile(f, note, partial=True) if note else None))
            if arr.shape[1] == model.channels:
                arrays.append(arr)
                sources.extend(src)
    finally:
        reading.set_max_pixels(previous)
    x = np.concatenate(arrays) if arrays else np.zeros((0, model.channels, model.input_size, model.input_size),
                                                       np.float32)
    scores = run_to_end(score_patches(model, x, decompose=task.decompose))
    # AS_m and AS_cell from the objects' measurements, as score_patches adds them for a PatchSet.
    add_cell_scores(model, scores, sources)
    return TaskResult(task.index, outcomes, sources, scores, worker=socket.gethostname(),
                      seconds=time.perf_counter() - t0, patches=len(sources))


def warm_up(path: str, stamp: Tuple[int, int], device: str = "auto") -> str:
    """Load the model on this worker now (benchmarks time scoring, not loading); returns the host name."""
    worker_model(path, stamp, device)
    return socket.gethostname()
