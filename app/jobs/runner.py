"""Run ddrcore jobs (generators yielding Progress) off the GUI thread.

One :class:`JobRunner` runs one job at a time in superqt's GeneratorWorker.
Progress records are batched in the worker thread and handed to the GUI at
most every ``interval`` seconds (plus at every stage change), so a job that
yields thousands of records per second (loading small files, training tiny
batches) cannot flood the event loop; no record is dropped, which keeps every
point of the loss curves.  Cancel asks the worker to stop at its next yield;
ddrcore jobs commit nothing before their last yield, so nothing is half-done.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, List, Optional

from PySide6.QtCore import QObject, Signal

from ddrcore.errors import DdridError
from ddrcore.progress import Progress, relay

if TYPE_CHECKING:   # superqt.utils is imported with the first job: 0.15 s less before the window shows
    from superqt.utils import FunctionWorker, GeneratorWorker


@dataclass
class Batch:
    """Progress records collected since the last hand-over; ``latest`` is the newest."""

    records: List[Progress] = field(default_factory=list)

    @property
    def latest(self) -> Progress:
        return self.records[-1]


class JobFailed(Exception):
    """A job's error, re-raised under a type superqt passes on.

    superqt's GeneratorWorker treats a RuntimeError from the generator as "the
    worker was deleted" and emits neither ``errored`` nor ``finished`` — and
    torch reports many failures as RuntimeError — so every error is wrapped.
    """

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


def forward(job, interval: float):
    """Drive ``job`` in the worker thread, yielding Batches; returns the job's result."""
    pending: List[Progress] = []
    sent = {"at": 0.0, "stage": None}

    def collect(rec: Progress) -> Optional[Batch]:
        # relay() passes on what this returns: a Batch every ``interval`` and at each new stage, else nothing.
        pending.append(rec)
        now = time.monotonic()
        if now - sent["at"] < interval and rec.stage == sent["stage"]:
            return None
        batch = Batch(pending.copy())
        pending.clear()
        sent.update(at=now, stage=rec.stage)
        return batch

    try:
        result = yield from relay(job, collect)
        if pending:
            yield Batch(pending)
        return result
    except DdridError as exc:
        raise JobFailed(str(exc)) from None
    except MemoryError:
        raise JobFailed("out of memory; load fewer images or use a smaller patch size") from None
    except Exception as exc:  # any other failure is a bug or an environment problem: show it, keep the app
        raise JobFailed(f"{type(exc).__name__}: {exc}", traceback.format_exc()) from None


@dataclass
class Job:
    """A job waiting for the runner, with what to do when it ends.

    ``kind`` names the job ("load", "train", "score", "report") in signals and
    tests; ``title`` names it for the user ("Training").  The handlers run on
    the GUI thread: ``on_done(result)``, ``on_failed(message, detail)`` (detail:
    the traceback of an unexpected error, else ""), ``on_cancelled()`` and
    ``on_progress(batch)``.
    """

    kind: str
    factory: Callable[[], object]
    title: str = ""
    on_done: Optional[Callable[[object], None]] = None
    on_failed: Optional[Callable[[str, str], None]] = None
    on_cancelled: Optional[Callable[[], None]] = None
    on_progress: Optional[Callable[[Batch], None]] = None
    # Esc asks this before cancelling ("" cancels at once): throwing away minutes of training deserves a question.
    cancel_question: str = ""
    # The status bar offers Cancel unless the job's own panel does (training: the Train panel's Cancel).
    status_cancel: bool = True
    # The status bar counts steps (else it names the stage) and shows each record's message (loading: file names).
    count_steps: bool = True
    show_message: bool = False


class JobRunner(QObject):
    """Runs one job at a time, in order; forwards progress and reports how each one ended.

    Each job's own handlers run first; the signals then tell everyone else
    (the status bar, tests).
    """

    progressed = Signal(str, object)   # kind, Batch
    succeeded = Signal(str, object)    # kind, result
    failed = Signal(object, str, str)  # Job, one-line message, traceback of an unexpected error (else "")
    cancelled = Signal(str)            # kind
    busyChanged = Signal(bool)

    def __init__(self, interval: float = 0.1, parent=None):
        super().__init__(parent)
        self.interval = interval
        self._worker: Optional[GeneratorWorker] = None
        self.current: Optional[Job] = None
        self._queue: List[Job] = []

    @property
    def kind(self) -> Optional[str]:
        """The running job's kind, None when idle."""
        return self.current.kind if self.current is not None else None

    @property
    def pending(self) -> List[str]:
        """Kinds of the jobs waiting to start."""
        return [job.kind for job in self._queue]

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def submit(self, kind: str, factory: Callable[[], object], **handlers) -> Job:
        """Run ``factory()`` (a ddrcore job) now if idle, else after the jobs before it.

        ``handlers`` are :class:`Job` fields (``on_done``, ``on_failed``, ``title``, ...).
        The factory is called when the job starts; its generator runs in a worker thread.
        """
        job = Job(kind, factory, **handlers)
        self._queue.append(job)
        if not self.busy:
            self._start_next()
        return job

    def _start(self, job: Job) -> None:
        from superqt.utils import GeneratorWorker   # imported with the first job, not at start-up

        worker = GeneratorWorker(forward, job.factory(), self.interval)
        # The slots find the job in self.current: a closure over it would keep its handlers (and through
        # them the window) alive until the worker is deleted in a pool thread, and a window whose last
        # reference goes there is destroyed off the GUI thread (a deadlock seen in the tests).
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker, self.current = worker, job
        self.busyChanged.emit(True)
        worker.start()

    def _start_next(self) -> None:
        while self._queue and not self.busy:
            job = self._queue.pop(0)
            try:
                self._start(job)
            except Exception as exc:  # a job that cannot even be built is reported like a failed one
                self._failed(job, f"{type(exc).__name__}: {exc}", traceback.format_exc())

    def cancel(self) -> None:
        """Stop the running job at its next yield (queued jobs still run)."""
        if self._worker is not None:
            self._worker.quit()

    def cancel_all(self) -> None:
        """Drop the queued jobs, then stop the running one (used when the window closes)."""
        self._queue.clear()
        self.cancel()

    def _on_yielded(self, batch: Batch) -> None:
        self._progress(self.current, batch)

    def _on_returned(self, result) -> None:
        self._done(self.current, result)

    def _on_errored(self, exc: Exception) -> None:
        self._failed(self.current, str(exc), getattr(exc, "detail", ""))

    def _on_aborted(self) -> None:
        self._cancelled(self.current)

    def _progress(self, job: Job, batch: Batch) -> None:
        if job.on_progress is not None:
            job.on_progress(batch)
        self.progressed.emit(job.kind, batch)

    def _done(self, job: Job, result) -> None:
        if job.on_done is not None:
            job.on_done(result)
        self.succeeded.emit(job.kind, result)

    def _failed(self, job: Job, message: str, detail: str) -> None:
        if job.on_failed is not None:
            job.on_failed(message, detail)
        self.failed.emit(job, message, detail)

    def _cancelled(self, job: Job) -> None:
        if job.on_cancelled is not None:
            job.on_cancelled()
        self.cancelled.emit(job.kind)

    def _on_finished(self) -> None:
        self._worker, self.current = None, None
        self.busyChanged.emit(False)
        self._start_next()


def _decompose(model, patch, source=None):
    """The Detail view's Explanation of one raw patch (C, S, S); runs in a worker thread.

    ``source`` (the patch's PatchSource) carries the object's measurements, which a model ranking by
    AS_cell needs for the score its why-line names."""
    from ddrcore.model.decomposition import explain

    try:
        return explain(model, patch, source=source)
    except Exception as exc:  # see JobFailed: keep RuntimeErrors visible to superqt
        raise JobFailed(f"{type(exc).__name__}: {exc}") from None


class LatestOnly(QObject):
    """Calls ``func(*args)`` in a worker thread, one call at a time; the latest request wins.

    While a call runs, newer requests replace each other; only the last is
    run next.  Holding an arrow key in the gallery (one request per patch)
    therefore never builds a backlog.  ``key`` travels with the result so
    the receiver can tell whether it still wants it.
    """

    ready = Signal(object, object)   # key, result
    failed = Signal(object, str)     # key, one-line message

    def __init__(self, func: Callable, parent=None):
        super().__init__(parent)
        self._func = func
        self._worker: Optional[FunctionWorker] = None
        self._next: Optional[tuple] = None
        self._key = None              # the key of the request the running worker answers

    @property
    def busy(self) -> bool:
        return self._worker is not None or self._next is not None

    @property
    def superseded(self) -> bool:
        """A newer request waits: the result just delivered is no longer wanted."""
        return self._next is not None

    def request(self, key, *args) -> None:
        self._next = (key, args)
        if self._worker is None:
            self._start()

    def _start(self) -> None:
        (key, args), self._next = self._next, None
        from superqt.utils import FunctionWorker

        worker = FunctionWorker(self._func, *args)
        # Bound methods, not lambdas: Qt drops a connection to a slot of a deleted object, so a worker
        # that returns after its window closed cannot emit through a deleted signal source.
        self._key = key
        worker.returned.connect(self._returned)
        worker.errored.connect(self._errored)
        worker.finished.connect(self._finished)
        self._worker = worker
        worker.start()

    def _returned(self, result) -> None:
        self.ready.emit(self._key, result)

    def _errored(self, exc) -> None:
        self.failed.emit(self._key, str(exc))

    def _finished(self) -> None:
        self._worker = None
        if self._next is not None:
            self._start()


def decomposer(parent=None) -> LatestOnly:
    """The selected patch's decomposition off the GUI thread (tens of ms a patch on a CPU).

    Request with key ``(patch, model)`` and arguments ``(model, raw patch)``.
    """
    return LatestOnly(_decompose, parent)


def _import_lazy_torch_parts() -> None:
    # The first plots (shown with the first patches) import pyqtgraph and, for its colour-map menu,
    # matplotlib.pyplot: about 1 s on the GUI thread (1.5-3 s on busy cores) while the first folder loaded.
    # Module imports only; every widget is still made on the GUI thread.  First: they are needed first.
    import matplotlib.pyplot  # noqa: F401
    import pyqtgraph  # noqa: F401
    # The first optimiser step imports torch._dynamo (about 1.6 s on a laptop CPU,
    # partly holding the GIL); importing it once at start-up keeps that stall
    # out of the first seconds of every training run.
    import torch._dynamo  # noqa: F401


def warm_up() -> Optional[FunctionWorker]:
    """Import torch's lazily loaded parts in the background (best effort)."""
    try:
        from superqt.utils import FunctionWorker

        worker = FunctionWorker(_import_lazy_torch_parts)
        worker.errored.connect(lambda _exc: None)
        worker.start()
        return worker
    except Exception:  # warm-up is an optimisation only
        return None
