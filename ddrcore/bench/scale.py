"""`ddrid bench scale`: scoring patches/s with 1, 2, ... local Dask workers, and the scaling efficiency.

The same work as ``ddrid score --cluster local:N``: synthetic 16-bit fields
(written to a temporary folder) are read, cut into grid patches and scored
by the workers' tasks (:func:`ddrcore.cluster.tasks.score_task`) with one
torch thread per worker.  Each measurement starts after the cluster is up and
every worker has loaded the model (start-up is not scoring), and ends when
the last result is on the client.  For reference, the same files are scored
in this process with one torch thread, without Dask.

Also measured, for sizing a large cluster: the scheduler's round trip per
task (trivial tasks through the same client) and the bytes a task's result
carries per patch.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..progress import run_to_end


def _write_fields(folder: Path, files: int, side: int, seed: int = 0) -> None:
    import tifffile

    from ..objects.synthetic import make_field

    for i in range(files):
        field = make_field((side, side), kinds=("ring", "blob"), n=max(1, (side // 40) ** 2), size=16,
                           seed=seed + i)
        tifffile.imwrite(folder / f"field_{i:04d}.tif", field.image)


def _untrained_model(folder: Path, path: Path) -> Path:
    """A model file with the Table 1 networks at their initial weights: scoring costs the same as a trained one's."""
    import torch

    from ..config import TrainConfig
    from ..io.images import load_patches
    from ..model.ddrid import DDRIDModel
    from ..model.modelfile import save
    from ..model.networks import DDRIDNetworks
    from ..model.preprocess import Preprocessor

    sample = run_to_end(load_patches(sorted(folder.glob("*.tif"))[:2], 32, 32))
    torch.manual_seed(0)
    nets = DDRIDNetworks(1, None, 32)
    model = DDRIDModel(nets=nets, z_c=torch.zeros(nets.latent_dim), preprocessor=Preprocessor.fit(sample.images),
                       config=TrainConfig(device="cpu"), threshold=1.0)
    return save(model.eval(), path)


def _in_process(model_path: Path, files: Sequence[Path]) -> dict:
    """Patches/s of the same read-cut-score work in this process, one torch thread, no Dask."""
    import torch

    from ..cluster.tasks import ScoreTask, model_stamp, score_task
    from ..io import reading
    from ..objects import Patching

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        task = ScoreTask(0, tuple(str(f) for f in files), str(model_path), model_stamp(model_path), "cpu",
                         Patching("grid", patch_size=32), False, False, reading.max_pixels)
        score_task(replace(task, files=task.files[:1]))   # warm-up: the model loaded, first calls paid
        t = time.perf_counter()
        result = score_task(task)
        seconds = time.perf_counter() - t
    finally:
        torch.set_num_threads(threads)
    return {"patches": result.patches, "seconds": round(seconds, 3),
            "patches_per_s": round(result.patches / seconds, 1),
            "result_bytes_per_patch": round(len(pickle.dumps(result)) / max(1, result.patches), 1)}


def _on_cluster(workers: int, model_path: Path, files: Sequence[Path]) -> dict:
    from ..cluster.connect import ClusterSpec, open_client
    from ..cluster.scoring import plan_tasks, run_tasks
    from ..cluster.tasks import ScoreTask, model_stamp, warm_up
    from ..io import reading
    from ..objects import Patching

    stamp = model_stamp(model_path)
    sizes = [os.path.getsize(f) for f in files]
    with open_client(ClusterSpec("local", workers=workers)) as (client, where):
        client.run(warm_up, str(model_path), stamp, "cpu")
        groups = plan_tasks(sizes, workers)
        tasks = [ScoreTask(i, tuple(str(files[j]) for j in g), str(model_path), stamp, "cpu",
                           Patching("grid", patch_size=32), False, False, reading.max_pixels)
                 for i, g in enumerate(groups)]
        # Warm-up on every worker (first reads, first forward passes), then the timed run.
        run_to_end(run_tasks(client, tasks[:workers], where))
        t = time.perf_counter()
        results = run_to_end(run_tasks(client, tasks, where))
        seconds = time.perf_counter() - t
        # The scheduler's round trip per task: trivial tasks through the same client.
        n = 400
        t = time.perf_counter()
        client.gather(client.map(abs, range(-n, 0), pure=False))
        per_task = (time.perf_counter() - t) / n
    patches = sum(r.patches for r in results)
    return {"workers": workers, "tasks": len(tasks), "files_per_task": round(len(files) / len(tasks), 1),
            "mib_per_task": round(sum(sizes) / len(tasks) / 2**20, 2), "patches": patches,
            "seconds": round(seconds, 3), "patches_per_s": round(patches / seconds, 1),
            "task_seconds_mean": round(float(np.mean([r.seconds for r in results])), 3),
            "trivial_task_round_trip_ms": round(1000 * per_task, 2)}


def measure_scale(workers: Sequence[int] = (1, 2), files: int = 64, side: int = 256) -> dict:
    """Scoring patches/s on local Dask clusters of ``workers`` worker processes (1 thread each).

    ``efficiency`` of N workers is their patches/s over N times one worker's.
    """
    from ..io.images import find_images

    with tempfile.TemporaryDirectory(prefix="ddrid-bench-scale-") as tmp:
        folder = Path(tmp) / "fields"
        folder.mkdir()
        _write_fields(folder, files, side)
        model_path = _untrained_model(folder, Path(tmp) / "model.ddrid")
        paths = find_images(folder)
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        single = _in_process(model_path, paths)
        runs = [_on_cluster(n, model_path, paths) for n in workers]
        load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    base = next((r for r in runs if r["workers"] == 1), None)
    for r in runs:
        r["efficiency"] = round(r["patches_per_s"] / (r["workers"] * base["patches_per_s"]), 3) if base else None
    return {"files": files, "side": side, "patches_per_file": (side // 32) ** 2, "in_process_1_thread": single,
            "runs": runs, "load_average_1min_before": load_before, "load_average_1min_after": load_after}


def format_scale(result: dict) -> str:
    s = result["in_process_1_thread"]
    lines = [f"{result['files']} fields of {result['side']} x {result['side']} px, "
             f"{result['patches_per_file']} grid patches each",
             f"  in this process, 1 torch thread, no Dask: {s['patches_per_s']:8.1f} patches/s"]
    for r in result["runs"]:
        eff = f"   efficiency {r['efficiency']:.2f}" if r["efficiency"] is not None else ""
        lines.append(f"  local:{r['workers']:<3} ({r['tasks']} tasks of {r['files_per_task']:g} files, "
                     f"{r['mib_per_task']:g} MiB):  {r['patches_per_s']:8.1f} patches/s{eff}")
    r = result["runs"][-1]
    lines.append(f"  scheduler round trip {r['trivial_task_round_trip_ms']:.2f} ms per trivial task; "
                 f"results {s['result_bytes_per_patch']:.0f} bytes per patch")
    lines.append(f"  load average (1 min) {result['load_average_1min_before']} before, "
                 f"{result['load_average_1min_after']} after")
    return "\n".join(lines)
