"""Typed progress records shared by every long-running job in ddrcore.

Long work (loading, training, scoring) is written as a Python generator that
yields :class:`Progress` records and *returns* its result.  Whoever drives the
generator decides how to show progress: the GUI forwards records from a worker
thread, the CLI draws a terminal bar, tests use a plain ``for`` loop.  Cancel
is simply "stop iterating": every job only commits results after its last
yield, so a generator that is closed early leaves nothing half-written.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Generator, Optional, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: A job: a generator that yields Progress and returns T.
Job = Generator["Progress", None, T]


@dataclass(frozen=True)
class Progress:
    """One progress report from a long-running job.

    ``stage`` names the phase ("load", "pretrain", "center", "finetune",
    "calibrate", "score", ...).  ``step``/``steps`` count work inside the stage;
    ``overall`` is the fraction of the whole job done (0..1).  ``losses`` holds
    the latest loss values by name (e.g. ``L_R``, ``L_OC``, ``L_LSC``, ``D_L``).
    """

    stage: str
    step: int = 0
    steps: int = 0
    epoch: int = 0
    epochs: int = 0
    overall: float = 0.0
    losses: dict = field(default_factory=dict)
    elapsed: float = 0.0
    eta: Optional[float] = None
    message: str = ""

    @property
    def fraction(self) -> float:
        """Fraction of the current stage done (0..1)."""
        return self.step / self.steps if self.steps else 0.0


class Clock:
    """Elapsed time and a linear ETA from the overall fraction done."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def eta(self, overall: float) -> Optional[float]:
        # Too early for a meaningful estimate: say nothing rather than a wild guess.
        if overall <= 0.01:
            return None
        el = self.elapsed()
        return el * (1.0 - overall) / overall


def relay(job: Job[T], transform: Callable[[Progress], Optional[R]]) -> Generator[R, None, T]:
    """Re-yield a job's records through ``transform`` and return the job's result.

    ``transform`` may rewrite a record (e.g. map its ``overall`` into part of a
    larger job), turn it into something else (the GUI batches records), or
    return None to drop it.  Use as ``result = yield from
    relay(sub_job, f)``.  This is the one place in ddrcore that drives a job by
    hand; :func:`run_to_end` and the GUI's worker build on it.

    Examples
    --------
    >>> def job():
    ...     yield Progress("a", overall=0.5)
    ...     return 42
    >>> def half(p):
    ...     return Progress(p.stage, overall=p.overall / 2)
    >>> g = relay(job(), half)
    >>> next(g).overall
    0.25
    >>> run_to_end(g)
    42
    """
    while True:
        try:
            rec = next(job)
        except StopIteration as stop:
            return stop.value
        out = transform(rec)
        if out is not None:
            yield out


def run_to_end(job: Job[T], on_progress: Optional[Callable[[Progress], None]] = None) -> T:
    """Drive a job to completion and return its result.

    ``on_progress`` (optional) is called with each record.

    >>> def job():
    ...     yield Progress("a")
    ...     return "done"
    >>> seen = []
    >>> run_to_end(job(), seen.append), [p.stage for p in seen]
    ('done', ['a'])
    """
    def observe(rec: Progress) -> None:
        if on_progress is not None:
            on_progress(rec)

    # `observe` returns None, so relay() yields nothing: its first next() finishes the job.
    try:
        next(relay(job, observe))
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("relay yielded a record it was told to drop")
