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
from typing import Callable, List, Optional

from PySide6.QtCore import QObject, Signal
from superqt.utils import FunctionWorker, GeneratorWorker

from ddrcore.errors import DdridError
from ddrcore.progress import Progress


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
    last, stage = 0.0, None
    try:
        while True:
            try:
                rec = next(job)
            except StopIteration as stop:
                if pending:
                    yield Batch(pending)
                return stop.value
            pending.append(rec)
            now = time.monotonic()
            if now - last >= interval or rec.stage != stage:
                yield Batch(pending)
                pending, last, stage = [], now, rec.stage
    except DdridError as exc:
        raise JobFailed(str(exc)) from None
    except MemoryError:
        raise JobFailed("out of memory; load fewer images or use a smaller patch size") from None
    except Exception as exc:  # any other failure is a bug or an environment problem: show it, keep the app
        raise JobFailed(f"{type(exc).__name__}: {exc}", traceback.format_exc()) from None


class JobRunner(QObject):
    """Starts jobs, forwards their progress, and reports how each one ended."""

    progressed = Signal(str, object)   # kind, Batch
    succeeded = Signal(str, object)    # kind, result
    failed = Signal(str, str)          # kind, one-line message
    cancelled = Signal(str)            # kind
    busyChanged = Signal(bool)

    def __init__(self, interval: float = 0.1, parent=None):
        super().__init__(parent)
        self.interval = interval
        self._worker: Optional[GeneratorWorker] = None
        self.kind: Optional[str] = None
        self.last_error_detail = ""
        self._queue: List[tuple] = []

    @property
    def pending(self) -> List[str]:
        """Kinds of the jobs waiting to start."""
        return [kind for kind, _ in self._queue]

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def start(self, kind: str, job_factory: Callable[[], object]) -> bool:
        """Run ``job_factory()`` (a ddrcore job) in a worker; False when another job runs."""
        if self.busy:
            return False
        # The factory only builds the generator; its body runs in the worker thread.
        worker = GeneratorWorker(forward, job_factory(), self.interval)
        worker.yielded.connect(lambda batch: self.progressed.emit(kind, batch))
        worker.returned.connect(lambda result: self.succeeded.emit(kind, result))
        worker.errored.connect(lambda exc: self._on_error(kind, exc))
        worker.aborted.connect(lambda: self.cancelled.emit(kind))
        worker.finished.connect(self._on_finished)
        self._worker, self.kind = worker, kind
        self.busyChanged.emit(True)
        worker.start()
        return True

    def submit(self, kind: str, job_factory: Callable[[], object]) -> None:
        """Run now if idle, else after the jobs before it (the factory is called at start)."""
        self._queue.append((kind, job_factory))
        if not self.busy:
            self._start_next()

    def _start_next(self) -> None:
        while self._queue and not self.busy:
            kind, factory = self._queue.pop(0)
            try:
                self.start(kind, factory)
            except Exception as exc:  # a job that cannot even be built is reported like a failed one
                self.failed.emit(kind, str(exc))

    def cancel(self) -> None:
        """Stop the running job at its next yield (queued jobs still run)."""
        if self._worker is not None:
            self._worker.quit()

    def cancel_all(self) -> None:
        """Drop the queued jobs, then stop the running one (used when the window closes)."""
        self._queue.clear()
        self.cancel()

    def _on_error(self, kind: str, exc: Exception) -> None:
        self.last_error_detail = getattr(exc, "detail", "")
        self.failed.emit(kind, str(exc))

    def _on_finished(self) -> None:
        self._worker, self.kind = None, None
        self.busyChanged.emit(False)
        self._start_next()


def _decompose(model, patch):
    """The Detail view's Explanation of one raw patch (C, S, S); runs in a worker thread."""
    from ddrcore.model.decomposition import explain

    try:
        return explain(model, patch)
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
        worker = FunctionWorker(self._func, *args)
        worker.returned.connect(lambda result: self.ready.emit(key, result))
        worker.errored.connect(lambda exc: self.failed.emit(key, str(exc)))
        worker.finished.connect(self._finished)
        self._worker = worker
        worker.start()

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
    # The first optimiser step imports torch._dynamo (about 1.6 s on a laptop CPU,
    # partly holding the GIL); importing it once at start-up keeps that stall
    # out of the first seconds of every training run.
    import torch._dynamo  # noqa: F401


def warm_up() -> Optional[FunctionWorker]:
    """Import torch's lazily loaded parts in the background (best effort)."""
    try:
        worker = FunctionWorker(_import_lazy_torch_parts)
        worker.errored.connect(lambda _exc: None)
        worker.start()
        return worker
    except Exception:  # warm-up is an optimisation only
        return None
