"""The GUI's long jobs: ddrcore jobs plus the context the GUI needs back.

Each function is a generator (run by ddrid_gui.jobs.runner in a worker thread) that
delegates to ddrcore with ``yield from`` and returns a small result record,
so the main window knows, e.g., which inputs a finished load belongs to.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional, Sequence

import numpy as np

from ddrcore.config import TrainConfig
from ddrcore.errors import DdridError
from ddrcore.io.images import (BadFile, PatchSet, find_images, load_patches, no_usable_images,
                               unread_label_images)
from ddrcore.objects.patching import sizes_in_words
from ddrcore.progress import Progress

if TYPE_CHECKING:   # torch loads in the first job, not with the window
    from ddrcore.model.scoring import Scores


@dataclass
class LoadResult:
    inputs: List[str]
    patches: Optional[PatchSet]
    problems: List[BadFile] = field(default_factory=list)
    mark_normal_under: List[str] = field(default_factory=list)
    note: str = ""      # how the inputs were cut when the app chose it (objects found, or why grid tiles)
    # Scores saved with the patches (a reopened project's cache): table columns latent, recon, residual, combined.
    scores: Optional[object] = None


#: An image whose shorter side is at least this many grid tiles is a field of view (objects to find),
#: not a patch already cut (a folder of 32 px patches stays as it is).
FIELD_TILES = 4


def is_field(path, tile: int) -> bool:
    """Whether the first page of ``path`` is a field of view rather than one patch (read in the worker)."""
    from ddrcore.io.reading import read_image_groups

    try:
        page = read_image_groups(str(path))[0][0]
    except Exception:  # noqa: BLE001 - the file is reported when it is read for its patches
        return False
    return min(page.shape[:2]) >= FIELD_TILES * tile


def cut_note(patches) -> str:
    """The line that says how loaded images were cut into objects: the view row shows its first sentence
    (the sizes alone where images differ), the tooltip all of it."""
    brief = sizes_in_words(patches.patching, patches.sources, brief=True)
    full = sizes_in_words(patches.patching, patches.sources)
    how = "detected" if patches.patching.source == "auto" else patches.patching.source
    return (f"Cut into {len(patches)} objects ({how}; {brief})"
            + (f". An image at another magnification than the folder's is cut at its own size ({full})"
               if full != brief else "")
            + ". Annotate ▸ Re-cut Patches to cut otherwise.")


def load_inputs(paths: Sequence[str], patch_size: int, input_size: Optional[int], channel,
                mark_normal_under: Sequence[str] = (), expected_channels=None, patching=None, objects_first=None):
    """Load folders/files; a missing or empty input is a problem entry, not a failure.

    ``patching`` (a ddrcore.objects.Patching) says how patches are cut; for
    object sources ``input_size`` None lets the crop side decide (the CLI's rule).
    ``objects_first`` (a Patching of objects), given when the user has not chosen
    how to cut: fields of view are cut into those objects where objects are
    found, else (and for images no larger than a few tiles) as ``patching`` says.
    """
    files, problems = [], []
    for p in paths:
        try:
            found = find_images(p)
        except DdridError as exc:
            problems.append(BadFile(p, exc.reason))
            continue
        if not found:       # the engine's line: it names label images that are all the folder holds
            problems.append(BadFile(p, no_usable_images(p, []).reason))
        files.extend(found)
    yield Progress("load", step=0, steps=len(files), message=f"{len(files)} image file(s) found")
    patches, note = None, ""
    if files and objects_first is not None and is_field(files[0], patch_size):
        try:
            patches = yield from load_patches(files, patch_size, None, channel, expected_channels,
                                              patching=objects_first)
            if len(patches) == 0:
                patches, note = None, "no objects found: cut into grid tiles"
            else:
                note = cut_note(patches)
        except DdridError as exc:
            patches, note = None, f"no objects found ({exc.reason.splitlines()[0]}): cut into grid tiles"
    if files and patches is None:
        try:
            patches = yield from load_patches(files, patch_size, input_size, channel, expected_channels,
                                              patching=patching)
        except DdridError as exc:
            problems.append(BadFile(", ".join(paths), exc.reason))
    if patches is not None and patches.patching is not None and patches.patching.source in ("grid", "auto"):
        # The files were listed above, so load_patches cannot see the folders' label images: said here.
        problems.extend(unread_label_images([p for p in paths if os.path.isdir(p)]))
    return LoadResult(list(paths), patches, problems, [os.path.abspath(p) for p in mark_normal_under], note)


def load_cached(cache: tuple, paths: Sequence[str], patch_size: int, input_size: Optional[int], channel,
                expected_channels=None, patching=None):
    """A reopened project's patches and scores from its cache (ddrcore.io.patchcache), when it still matches
    its files, model and settings; otherwise :func:`load_inputs` (the images are read and cut again)."""
    from types import SimpleNamespace

    from ddrcore.io import patchcache

    yield Progress("load", message="reading the project's saved patches")
    found = patchcache.load(*cache)
    if found is None or len(found.sources) == 0 or (expected_channels and found.images.shape[1] != expected_channels):
        return (yield from load_inputs(paths, patch_size, input_size, channel, (), expected_channels, patching))
    scores = None
    if found.scores is not None:
        scores = SimpleNamespace(**found.scores, score_type=found.score_type)
    return LoadResult(list(paths), PatchSet(found.images, found.sources, [], patching), [], [], scores=scores)


def leave_a_core_for_the_gui() -> None:
    """Let torch use all CPU cores but one, in the calling (worker) thread.

    With every core busy in torch's OpenMP pool, the GUI thread and the pool
    fight for CPU time and OpenMP's barriers stall whenever one of its threads
    is descheduled: a 1+1-epoch test run took 98 s with 2 torch threads on a
    loaded 2-core machine and 4.5 s with 1.  torch applies the setting per
    thread, so it is called here, inside the job, in the worker thread.
    """
    import torch

    torch.set_num_threads(gui_cpu_threads())


def gui_cpu_threads() -> int:
    """Threads the GUI's jobs give torch: every core but one (see above)."""
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass
class ScoreResult:
    indices: np.ndarray
    scores: Scores
    problems: List[BadFile] = field(default_factory=list)   # what a cluster could not score, and why


def score_indices(model, images: np.ndarray, indices: np.ndarray, batch_size: int = 256, sources=None):
    """Score ``images[indices]`` with ``model``.

    With ``sources`` (every patch's PatchSource) the patches go to ddrcore as a
    PatchSet: their measurements give AS_m and AS_cell, as on the command line.
    """
    from ddrcore.model.scoring import score_patches

    leave_a_core_for_the_gui()
    # Indexing (a copy) happens here, in the worker thread, not on the GUI thread.
    subset = images if len(indices) == len(images) else images[indices]
    if sources is not None:
        subset = PatchSet(subset, [sources[i] for i in indices])
    scores = yield from score_patches(model, subset, batch_size=batch_size)
    return ScoreResult(np.asarray(indices, np.int64), scores)


def score_indices_on_cluster(model, model_path: str, sources: Sequence, indices: np.ndarray, patching,
                             cluster: str):
    """Score the patches at ``indices`` on a Dask cluster: their files are read and cut there again.

    The workers cut each file with the document's ``patching`` and the model's
    channel, exactly as it was cut here, so their patches are matched to the
    document's by (file, page, y, x).  A patch the cluster did not return
    stays unscored and is reported with its file.
    """
    from dataclasses import replace

    from ddrcore.cluster.scoring import score_files_on_cluster

    def key(s):
        return os.path.abspath(s.path), int(s.page), int(s.y), int(s.x)

    wanted = {key(sources[i]): int(i) for i in indices}
    files = list(dict.fromkeys(os.path.abspath(sources[i].path) for i in indices))
    run = yield from score_files_on_cluster(model_path, files, patching, cluster)
    found = [(wanted[key(s)], k) for k, s in enumerate(run.sources) if key(s) in wanted]
    scores = replace(run.scores.take([k for _, k in found]), score_type=model.score_type, threshold=model.threshold)
    problems = [o.bad for o in run.outcomes if o.bad]
    scored_files = {os.path.abspath(sources[i].path) for i, _ in found}
    for f in files:
        if f not in scored_files and not any(os.path.abspath(b.path) == f for b in problems):
            problems.append(BadFile(f, f"the cluster {cluster} returned none of this file's patches; "
                                       "check that its workers see this file at the same path"))
    return ScoreResult(np.array([i for i, _ in found], np.int64), scores, problems)


@dataclass
class TrainResult:
    model: object
    path: Optional[str]       # where the model was saved, None if saving failed
    save_error: str = ""
    # The patch indices given to training; model.training["val_indices"] are positions in this
    # array (the validation subset), every other one was trained on.
    normal: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def trainable(normal: np.ndarray, sources, config: TrainConfig) -> np.ndarray:
    """The patches of ``normal`` that training learns from: with border=flag, not the objects cut by the edge
    (ddrcore's rule, applied here so the model's validation positions index what the GUI gave it)."""
    from ddrcore.model.minibatch import MIN_PATCHES

    normal = np.asarray(normal, np.int64)
    if sources is None or config.border != "flag":
        return normal
    keep = normal[[not sources[i].touches_border for i in normal]] if len(normal) else normal
    return keep if len(keep) >= MIN_PATCHES else normal


def train_model(images: np.ndarray, normal: np.ndarray, config: TrainConfig, save_to: str, sources=None):
    """Train on ``images[normal]`` and save the model (atomically) to ``save_to``.

    With ``sources`` the patches go as a PatchSet: objects with measurements
    get a model that keeps them and ranks by AS_cell (the CLI's behaviour).
    """
    from ddrcore.model import modelfile
    from ddrcore.model.training import train

    leave_a_core_for_the_gui()
    normal = trainable(normal, sources, config)
    given = images[normal] if sources is None else PatchSet(images[normal], [sources[i] for i in normal])
    model = yield from train(given, config)
    # Saving (tens of MB) happens here, in the worker, after the last yield:
    # a cancelled run never writes a file and the GUI never waits for the disk.
    try:
        modelfile.save(model, save_to)
    except (OSError, DdridError) as exc:
        # The trained model stays usable in memory even when the disk refuses it.
        return TrainResult(model, None, str(exc), np.asarray(normal, np.int64))
    return TrainResult(model, save_to, normal=np.asarray(normal, np.int64))
