"""``ddrid score --cluster``: the files of a folder scored on a Dask cluster, one CSV as a local run writes.

The job on the client:

1. checks the outputs and loads the model (on the CPU: the client only needs
   its settings, preprocessing constants and threshold), lists the files and
   settles the object size, exactly as :func:`ddrcore.pipeline.score_folder`;
2. cuts the file list into tasks of consecutive files (:func:`plan_tasks`)
   and keeps a bounded number of them on the cluster (a few per worker
   thread), so that a screen of a million files never floods the scheduler;
3. takes each result as it arrives, and when all are in, merges them in task
   order, which is file order, so the patches, their scores and the skipped
   files come out in a local run's order;
4. writes the ranked CSV (and decompositions) with the local run's writers,
   atomically, after the last result: a cancelled or failed run writes nothing.

Tasks are pure (:mod:`.tasks`): a task whose worker dies is run again
elsewhere by Dask, and the CSV is still complete.  Closing the job (the
GUI's Cancel) or Ctrl+C cancels every task on the cluster.
"""
from __future__ import annotations

import os
import time
import uuid
from collections import deque
from dataclasses import dataclass, fields, replace
from typing import Iterable, List, Optional, Sequence

import numpy as np

from ..errors import DdridError, first_line
from ..io.images import PatchSet, PatchSource, find_images, no_usable_images, skipped_links, wrong_channels
from ..objects import ObjectContext
from ..pipeline import ScoreResult, check_fits, check_room, open_for_scoring, with_channel_hint, write_scored
from ..progress import Clock, Job, Progress
from .connect import CONNECT_TIMEOUT, ClusterError, ClusterSpec, open_client, parse_cluster
from .tasks import FileOutcome, ScoreTask, TaskResult, model_stamp, score_task

#: Bytes of image files per task, at most.  A 16-bit 2048 x 2048 field (8 MiB) is 4096 grid patches,
#: about 8 s of scoring on one CPU thread: tasks of seconds keep the scheduler's cost per task
#: (about a millisecond) negligible, and a dead worker loses only seconds of work.
TASK_BYTES = 8 * 2**20
#: Tasks per worker thread when the folder is small, so that the work is spread and balanced.
TASKS_PER_THREAD = 4
#: Files per task, at most: thousands of tiny files are still cut into several tasks.
MAX_FILES_PER_TASK = 256
#: Tasks on the cluster at once, per worker thread (one running, the next ones queued on the worker).
IN_FLIGHT_PER_THREAD = 3
#: How often the job reports while it waits (seconds); also how fast Cancel is noticed.
POLL = 0.5


def plan_tasks(sizes: Sequence[int], threads: int = 1, files_per_task: Optional[int] = None) -> List[range]:
    """Cut files (their sizes in bytes, in order) into runs of consecutive files, one per task.

    A task holds files up to :data:`TASK_BYTES`, fewer when the folder is
    small (about :data:`TASKS_PER_THREAD` tasks per worker thread), at most
    :data:`MAX_FILES_PER_TASK` files, and at least one.  ``files_per_task``
    fixes the count instead.

    Examples
    --------
    >>> plan_tasks([10] * 8, threads=1)
    [range(0, 2), range(2, 4), range(4, 6), range(6, 8)]
    >>> plan_tasks([10] * 5, files_per_task=2)
    [range(0, 2), range(2, 4), range(4, 5)]
    >>> plan_tasks([100 * 2**20, 1, 1], threads=1)
    [range(0, 1), range(1, 3)]
    """
    n = len(sizes)
    if files_per_task:
        return [range(i, min(n, i + files_per_task)) for i in range(0, n, files_per_task)]
    total = sum(max(1, int(s)) for s in sizes)
    target = max(1, min(TASK_BYTES, total // (TASKS_PER_THREAD * max(1, threads))))
    out, start, acc = [], 0, 0
    for i, s in enumerate(sizes):
        acc += max(1, int(s))
        if acc >= target or i + 1 - start >= MAX_FILES_PER_TASK:
            out.append(range(start, i + 1))
            start, acc = i + 1, 0
    if start < n:
        out.append(range(start, n))
    return out


def merge_scores(parts: Iterable, score_type: str, threshold: float):
    """One :class:`~ddrcore.model.scoring.Scores` from the tasks' scores, in order.

    Every array field is concatenated (fields a part left empty, such as the
    decompositions of a task without patches, are skipped), so a score added
    to Scores later travels without a change here.
    """
    from ..model.scoring import Scores

    parts = list(parts)
    merged = {}
    for f in fields(Scores):
        values = [getattr(p, f.name) for p in parts]
        arrays = [v for v in values if isinstance(v, np.ndarray)]
        if arrays:
            merged[f.name] = np.concatenate(arrays)
        elif f.name not in ("score_type", "threshold"):
            merged[f.name] = values[0] if values else None
    if not parts:
        empty = np.zeros(0, np.float32)
        merged.update(latent=empty, recon=empty)
    return Scores(**{**merged, "score_type": score_type, "threshold": threshold})


def _threads(client) -> int:
    try:
        return int(sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - a lost scheduler is noticed (and named) by the loop
        return 0


def run_tasks(client, tasks: Sequence[ScoreTask], where: str, steps: Optional[Sequence[int]] = None,
              timeout: float = CONNECT_TIMEOUT) -> Job[List[TaskResult]]:
    """Run ``tasks`` on the cluster behind ``client``; a job returning their results in task order.

    At most :data:`IN_FLIGHT_PER_THREAD` tasks per worker thread are on the
    cluster at once.  ``steps`` (files per task) drive the progress records.
    Leaving the job early (closing it, an exception, Ctrl+C) cancels every
    task still on the cluster.  A lost scheduler, or a task that killed its
    workers again and again, ends the job with one line naming ``where``.
    """
    from distributed import CancelledError, KilledWorker, wait

    try:
        from distributed.client import FuturesCancelledError
    except ImportError:   # older distributed: one CancelledError for all
        FuturesCancelledError = CancelledError

    steps = list(steps) if steps is not None else [1] * len(tasks)
    total = max(1, sum(steps))
    results: List[Optional[TaskResult]] = [None] * len(tasks)
    queue = deque(tasks)
    running = {}
    run_id = uuid.uuid4().hex[:8]
    clock = Clock()
    done_steps, lost_since = 0, None
    try:
        while queue or running:
            threads = _threads(client)
            window = max(2, IN_FLIGHT_PER_THREAD * threads)
            while queue and len(running) < window:
                task = queue.popleft()
                # Named keys: the dashboard shows ddrid's tasks; the run id keeps two runs apart.
                fut = client.submit(score_task, task, key=f"ddrid-score-{run_id}-{task.index}", pure=False)
                running[fut] = task
            try:
                with client.as_current():   # this client, not a default one (the GUI may hold several)
                    finished, _ = wait(list(running), timeout=POLL, return_when="FIRST_COMPLETED")
            except TimeoutError:
                finished = set()
            for fut in finished:
                task = running.pop(fut)
                try:
                    results[task.index] = fut.result()
                except KilledWorker:
                    raise ClusterError(f"the Dask workers at {where} died again and again on {task.files[0]}"
                                       + (f" (and {len(task.files) - 1} more files)" if len(task.files) > 1 else "")
                                       + "; out of memory? no CSV was written") from None
                fut.release()
                done_steps += steps[task.index]
            if client.status != "running":
                # A dropped connection cancels the futures (below) or leaves the client reconnecting:
                # give it the connection timeout, then say so rather than wait for ever.
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > timeout:
                    raise ClusterError(f"lost the connection to the Dask scheduler at {where} for more than "
                                       f"{timeout:g} s; no CSV was written")
            else:
                lost_since = None
            frac = done_steps / total
            n_done = sum(r is not None for r in results)
            message = (f"{n_done}/{len(tasks)} tasks on {threads} Dask worker thread(s) at {where}" if threads
                       else f"waiting for Dask workers at {where}")
            yield Progress("score", step=done_steps, steps=total, overall=frac, elapsed=clock.elapsed(),
                           eta=clock.eta(frac), message=message)
    except (FuturesCancelledError, CancelledError) as exc:
        raise ClusterError(f"lost the connection to the Dask scheduler at {where} ({first_line(exc)}); "
                           "no CSV was written") from None
    finally:
        if running:
            try:
                client.cancel(list(running), force=True)
            except Exception:  # noqa: BLE001 - a lost scheduler has nothing left to cancel
                pass
    return results


@dataclass
class ClusterRun:
    """What the cluster gave for a list of files, in file order."""

    sources: List[PatchSource]        # of the patches scored; absolute paths as sent to the workers
    scores: object                    # Scores aligned with ``sources`` (score choice and threshold left to the caller)
    outcomes: List[FileOutcome]       # per file: channels found, or why it was skipped


def _size_of(path) -> int:
    """A file's size for planning tasks; 0 for one that vanished since it was listed (its task then
    reports it skipped, and the run goes on)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def score_files_on_cluster(model_path, files: Sequence, patching, cluster, *, device: str = "auto",
                           decompose: bool = False, files_per_task: Optional[int] = None,
                           timeout: float = CONNECT_TIMEOUT) -> Job[ClusterRun]:
    """Score image files on a Dask cluster with the model file ``model_path`` (a job).

    The building block of ``ddrid score --cluster`` and of the desktop app's
    scoring on a cluster.  ``patching`` must be resolved (an object size set
    for object sources): every worker cuts its files exactly so.  The workers
    must see ``model_path`` and ``files`` at the same paths (a shared file
    system).  Closing the job cancels every task on the cluster.
    """
    from ..io import reading

    spec = cluster if isinstance(cluster, ClusterSpec) else parse_cluster(cluster)
    stamp = model_stamp(model_path)
    sizes = [_size_of(f) for f in files]
    yield Progress("connect", message=f"connecting to the Dask cluster {spec}")
    with open_client(spec, timeout) as (client, where):
        groups = plan_tasks(sizes, _threads(client), files_per_task)
        tasks = [ScoreTask(i, tuple(os.path.abspath(files[j]) for j in g), os.path.abspath(model_path), stamp,
                           device, patching, len(files) == 1, decompose, reading.max_pixels)
                 for i, g in enumerate(groups)]
        results = yield from run_tasks(client, tasks, where, [len(g) for g in groups], timeout)
    parts = [r.scores for r in results]
    return ClusterRun(sources=[s for r in results for s in r.sources],
                      scores=merge_scores(parts, "latent", float("inf")),
                      outcomes=[o for r in results for o in r.files])


def score_on_cluster(model_path, test_dir, csv_path, *, cluster, decompositions=None, device: str = "auto",
                     threshold: Optional[float] = None, score_type: str = "auto", patching=None, labels=None,
                     points=None, force: bool = False, files_per_task: Optional[int] = None,
                     timeout: float = CONNECT_TIMEOUT) -> Job[ScoreResult]:
    """:func:`ddrcore.pipeline.score_folder` with the files scored on a Dask cluster (a job).

    Parameters
    ----------
    cluster : str or ClusterSpec
        ``local:N``, ``tcp://HOST:PORT`` or a scheduler file (see :mod:`.connect`).
    device : str
        Where the workers run the model ("auto": a worker's GPU if it has one).
    files_per_task : int, optional
        Files per task; default from the files' sizes (:func:`plan_tasks`).
    timeout : float
        Seconds to wait for the scheduler to answer (and to come back after a
        dropped connection) before giving up with its address.

    The other parameters are :func:`~ddrcore.pipeline.score_folder`'s.  The
    CSV, the decompositions and the skipped files are those of a local run.
    The result's ``patches`` holds the patches' origins (``sources``) and the
    skipped files, not their pixels (those stay on the workers): its
    ``images`` is empty.
    """

    spec = cluster if isinstance(cluster, ClusterSpec) else parse_cluster(cluster)
    # The client needs the model's settings only; the workers run it on `device`.
    model, inputs = open_for_scoring(model_path, test_dir, csv_path, decompositions=decompositions, device="cpu",
                                     score_type=score_type, labels=labels, points=points, force=force)
    files = find_images(test_dir)
    patching = (patching or model.config.patching()).validate()
    if not patching.is_grid:
        context = ObjectContext(patching, channel=model.config.channel, single_image=len(files) == 1)
        patching = yield from context.resolve(files)
    check_fits(model, model_path, patching)
    model.config.set_patching(patching)
    # Absolute paths: a worker's working folder is not the client's.
    patching = replace(patching, **{k: os.path.abspath(v) for k in ("labels_dir", "points")
                                    if (v := getattr(patching, k)) is not None})
    bad = skipped_links(test_dir)
    if not files:
        raise no_usable_images(test_dir, bad)
    run = yield from score_files_on_cluster(model_path, files, patching, spec, device=device,
                                            decompose=decompositions is not None, files_per_task=files_per_task,
                                            timeout=timeout)
    # Paths as the user gave them (as a local run reports them), not the absolute ones sent to workers.
    shown = {os.path.abspath(f): str(f) for f in files}
    bad.extend(replace(o.bad, path=shown.get(o.path, o.path), reason=o.bad.reason.replace(o.path, shown.get(o.path, o.path)))
               for o in run.outcomes if o.bad)
    bad.extend(wrong_channels(shown.get(o.path, o.path), o.channels, model.channels)
               for o in run.outcomes if o.channels and o.channels != model.channels)
    sources = [_shown(s, shown) for s in run.sources]
    if not sources:
        raise no_usable_images(test_dir, bad)
    scores = replace(run.scores, score_type=model.score_type, threshold=model.threshold)
    if len(scores) != len(sources):
        raise DdridError(f"the cluster returned {len(scores)} scores for {len(sources)} patches; no CSV was written")
    # The results are in; room for the outputs is checked before a byte of them is written.
    check_room(csv_path, decompositions, len(sources), model.channels, model.input_size)
    hinted = with_channel_hint(bad, model)
    write_scored(csv_path, decompositions, scores, sources, model, model_path, threshold, inputs, force,
                 notes=hinted)
    images = np.zeros((0, model.channels, model.input_size, model.input_size), np.float32)
    return ScoreResult(PatchSet(images, sources, bad, patching), scores, model, hinted)


def _shown(src, shown: dict):
    path = shown.get(src.path)
    return src if path is None or path == src.path else replace(src, path=path)
