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
import time
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

from ..errors import DdridError, first_line
from ..io.bounded import Limit

#: Seconds to wait for a scheduler to answer before giving up with its address.
CONNECT_TIMEOUT = 10.0

#: Worker processes ``local:N`` may start: one per core (at least 4, so that small machines can still
#: test a cluster run).  More only oversubscribe the cores, each with its own torch and model in memory.
LOCAL_WORKERS = Limit("local Dask workers, one per CPU core", "DDRID_MAX_LOCAL_WORKERS", max(4, os.cpu_count() or 1))

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
        cap = LOCAL_WORKERS.value()
        if n > cap:
            # Each worker is a process with its own copy of torch and the model: 100,000 of them would
            # exhaust the machine long before they helped.
            raise ValueError(f"--cluster local:{n} asks for more worker processes than the {cap} this machine "
                             f"runs well ({LOCAL_WORKERS.what}); use local:{cap} or fewer, or "
                             f"{LOCAL_WORKERS.hint}")
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


def _tcp_host_port(address: str) -> Optional[Tuple[str, int]]:
    if not address.startswith("tcp://"):
        return None
    host, _, port = address[len("tcp://"):].rstrip("/").rpartition(":")
    host = host.strip("[]")      # an IPv6 address in brackets
    try:
        return host or "localhost", int(port)
    except ValueError:
        return None


def _address_in(scheduler_file: str) -> str:
    """The scheduler address a scheduler file names ("" if it names none); read bounded, as JSON."""
    import json

    from ..io.bounded import read_bytes

    data = read_bytes(scheduler_file, "scheduler file", Limit("scheduler file size", "DDRID_MAX_SCHEDULER_FILE_BYTES",
                                                               2**20), ClusterError)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ClusterError(path=scheduler_file, reason="not a Dask scheduler file (not JSON); give the file the "
                           "scheduler wrote with --scheduler-file") from None
    address = doc.get("address") if isinstance(doc, dict) else None
    return address if isinstance(address, str) else ""


def check_scheduler(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail in seconds, naming ``address``, when what answers there is not a Dask scheduler.

    distributed's own connect waits without a limit for the peer's handshake
    once the TCP connection is up: an HTTP server (a dashboard's port, a web
    proxy) accepts the connection and then waits for a request, and the
    client hangs for minutes.  A Dask scheduler sends its handshake first, at
    once: a message whose first 8 bytes give its (small) length.  So: connect,
    and read those 8 bytes within ``timeout``; silence, a closed connection or
    anything else (``HTTP/1.1 ...``) is refused.  Only plain ``tcp://``
    addresses are checked (TLS and websockets need their own handshake first).
    """
    import socket
    import struct

    target = _tcp_host_port(address)
    if target is None:
        return
    try:
        sock = socket.create_connection(target, timeout=timeout)
    except OSError as exc:
        raise _unreachable(address, timeout, exc) from None
    try:
        sock.settimeout(timeout)
        head = b""
        deadline = time.monotonic() + timeout
        while len(head) < 8 and time.monotonic() < deadline:
            try:
                chunk = sock.recv(8 - len(head))
            except (socket.timeout, TimeoutError):
                break
            except OSError as exc:
                raise _unreachable(address, timeout, exc) from None
            if not chunk:
                break
            head += chunk
    finally:
        sock.close()
    if len(head) < 8:
        raise ClusterError(f"could not connect to the Dask scheduler at {address}: something accepts connections "
                           f"there but sent no Dask handshake within {timeout:g} s (a web server? --connect-timeout "
                           "sets the wait); is that the scheduler's address and port?")
    (length,) = struct.unpack("<Q", head)
    if not 8 <= length <= 2**20:
        what = "an HTTP server" if head.startswith(b"HTTP") else "not Dask's protocol"
        raise ClusterError(f"could not connect to the Dask scheduler at {address}: the reply is {what}; "
                           "is that the scheduler's address and port?")


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
            address = _address_in(spec.address)
            if ":" in address and "://" not in address and _tcp_host_port(f"tcp://{address}"):
                address = f"tcp://{address}"        # HOST:PORT, as --cluster takes it (Dask's default protocol)
            if "://" not in address:
                # Said here: handed on, distributed fails on it with an error about a reply nothing sent.
                raise ClusterError(path=spec.address, reason="names no scheduler address ('address' must be "
                                   f"text like tcp://HOST:PORT, got {ascii(address)[:40] if address else 'none'}); "
                                   "give the file the scheduler wrote with --scheduler-file")
            where = f"{address} (from {spec.address})"
            kwargs = {"address": address}
            check_scheduler(address, timeout)
        else:
            where = spec.address
            kwargs = {"address": spec.address}
            check_scheduler(spec.address, timeout)
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
