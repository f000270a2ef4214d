"""Loaded into the worker processes that ``--cluster local:N`` starts (Dask's ``preload``).

A terminal's Ctrl+C reaches every process of its group: the client and these
workers.  The client cancels the tasks and shuts the cluster down (writing
nothing); the workers leave that to it rather than each print a traceback.
"""
from __future__ import annotations

import signal
import threading


def dask_setup(worker) -> None:
    """Called by Dask in each worker process as it starts."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
