"""What ``--cluster`` names, and a Dask client for it that fails in seconds with the address.

``local:N``
    a :class:`distributed.LocalCluster` on this machine: N worker processes,
    one thread each (one torch thread each, see :mod:`.tasks`), its HTTP server
    (dashboard) on a free port, not on 8787, which another cluster may hold;
    ``local`` alone is one worker per CPU core.
``tcp://HOST:PORT`` (also ``tls://``, ``ws://``, ``wss://``; a bare ``HOST:PORT`` means tcp)
    an existing scheduler, e.g. one started by dask-jobqueue on SLURM.
``PATH.json``
    a scheduler file written by ``dask scheduler --scheduler-file PATH.json``.
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

from ..errors import DdridError, first_line

#: Seconds to wait for a scheduler to answer before giving up with its address.
CONNECT_TIMEOUT = 10.0

_SCHEMES = ("tcp://", "tls://", "ws://", "wss://")


class ClusterError(DdridError):
    """A cluster that cannot be reached or was lost (one line, naming its address)."""


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``--cluster`` value: ``kind`` is "local", "address" or "file"."""

    kind: str
    workers: int = 0              # local: worker processes
    address: str = ""             # address: the scheduler's; file: the scheduler file's path

    def __str__(self) -> str:
        if self.kind == "local":
            return f"local:{self.workers}"
        return self.address


def parse_cluster(value: str) -> ClusterSpec:
    """Parse a ``--cluster`` value; ValueError (one line, saying what is accepted) otherwise.

    Examples
    --------
    >>> parse_cluster("local:2"), parse_cluster("tcp://node7:8786").address
    (ClusterSpec(kind='local', workers=2, address=''), 'tcp://node7:8786')
    >>> parse_cluster("node7:8786").address
    'tcp://node7:8786'
    >>> parse_cluster("local:0")
    Traceback (most recent call last):
    ...
    ValueError: --cluster local:N needs N >= 1 worker processes, got 'local:0'
    """
    text = (value or "").strip()
    if text == "local":
        return ClusterSpec("local", workers=max(1, os.cpu_count() or 1))
    if text.startswith("local:"):
        try:
            n = int(text.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"--cluster local:N needs N >= 1 worker processes, got {value!r}")
        return ClusterSpec("local", workers=n)
    if text.endswith(".json"):
        return ClusterSpec("file", address=text)
    if not text.startswith(_SCHEMES) and "://" not in text and text.count(":") == 1:
        text = "tcp://" + text
    host_port = text.split("://", 1)[-1]
    if not text.startswith(_SCHEMES) or ":" not in host_port or not host_port.rsplit(":", 1)[1].isdigit():
        raise ValueError(f"--cluster must be local:N, tcp://HOST:PORT or a scheduler file (.json), got {value!r}")
    return ClusterSpec("address", address=text)


@contextlib.contextmanager
def quiet_dask(level: int = logging.CRITICAL) -> Iterator[None]:
    """Hold distributed's own log lines back (its tracebacks on a lost connection);
    ddrid reports what went wrong in one line instead."""
    logger = logging.getLogger("distributed")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise DdridError("--cluster needs Dask: pip install \"ddrid[cluster]\" (dask[distributed])") from None
    return distributed


def _unreachable(where: str, timeout: float, exc: BaseException) -> ClusterError:
    if isinstance(exc, (OSError, TimeoutError)):
        why = f"no answer within {timeout:g} s" if "timed out" in str(exc).lower() else first_line(exc)
        return ClusterError(f"could not connect to the Dask scheduler at {where} ({why}); "
                            "is the scheduler running and the address right?")
    # Something answered, but not in Dask's protocol (distributed then fails deep in its decoder).
    return ClusterError(f"could not connect to the Dask scheduler at {where}: the reply is not Dask's "
                        f"({type(exc).__name__}); is that the scheduler's address and port?")


@contextlib.contextmanager
def open_client(spec: ClusterSpec, timeout: float = CONNECT_TIMEOUT) -> Iterator[Tuple[object, str]]:
    """A connected :class:`distributed.Client` for ``spec`` and the address to name in messages.

    A local cluster is started here and shut down on leaving; an existing
    scheduler is only disconnected from.  Raises :class:`ClusterError` naming
    the address when no scheduler answers within ``timeout`` seconds.
    """
    distributed = _import_distributed()
    cluster: Optional[object] = None
    with quiet_dask():
        if spec.kind == "local":
            try:
                # One thread per worker process: torch runs one thread per task (see tasks.py), so
                # N processes use N cores without oversubscribing them.  ":0": Dask's HTTP server starts
                # even without a dashboard, and 8787 may be another cluster's.
                cluster = distributed.LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=":0", silence_logs=logging.CRITICAL,
                                                   preload=["ddrcore.cluster.preload"])
            except Exception as exc:  # noqa: BLE001 - one line, whatever failed
                raise ClusterError(f"could not start a local Dask cluster of {spec.workers} workers "
                                   f"({first_line(exc)})") from None
            where = cluster.scheduler_address
            kwargs = {"address": cluster}
        elif spec.kind == "file":
            if not os.path.isfile(spec.address):
                raise ClusterError(path=spec.address, reason="no such scheduler file; start the scheduler with "
                                   "--scheduler-file, or give tcp://HOST:PORT")
            where = spec.address
            kwargs = {"scheduler_file": spec.address}
        else:
            where = spec.address
            kwargs = {"address": spec.address}
        try:
            client = distributed.Client(timeout=f"{timeout}s", set_as_default=False, **kwargs)
        except Exception as exc:  # noqa: BLE001 - reported as one line naming the address
            if cluster is not None:
                cluster.close()
            raise _unreachable(where, timeout, exc) from None
        try:
            if spec.kind == "local":
                client.wait_for_workers(spec.workers, timeout=max(60.0, timeout))
            yield client, where
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=timeout)
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(timeout=timeout)
