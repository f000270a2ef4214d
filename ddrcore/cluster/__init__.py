"""Scoring a whole screen on a Dask cluster (``ddrid score ... --cluster``).

* :mod:`.connect` — what ``--cluster`` names (``local:N``, ``tcp://HOST:PORT``,
  a scheduler file) and the client that talks to it, with a connection
  timeout that names the address.
* :mod:`.tasks` — what runs on a worker: read, cut and score a run of files
  with the model loaded once per worker process.
* :mod:`.scoring` — the job on the client: plan the tasks, keep the cluster
  busy, merge the results in a local run's order, write the same CSV.

Dask (``pip install "ddrid[cluster]"``) is imported only when a cluster is
used: this package and the rest of ddrcore import without it.
"""
from __future__ import annotations

from .connect import ClusterSpec, parse_cluster
from .scoring import plan_tasks, score_on_cluster

__all__ = ["ClusterSpec", "parse_cluster", "plan_tasks", "score_on_cluster"]
