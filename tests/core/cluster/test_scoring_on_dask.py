"""Scoring on a Dask cluster (`ddrid score --cluster`): the same CSV as a local run, a worker killed
mid-run, Cancel, an unreachable or lost scheduler; ddrcore without Dask."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from ddrcore.cli import main
from ddrcore.cluster import parse_cluster, plan_tasks, score_on_cluster
from ddrcore.cluster.connect import ClusterError
from ddrcore.model.modelfile import save
from ddrcore.pipeline import score_folder
from ddrcore.progress import run_to_end
from synthetic import blob_patch, ring_patch

# Each test starts a Dask cluster (worker processes that import torch): seconds each.
pytestmark = pytest.mark.slow

SCORE_COLUMNS = ("score", "score_latent", "score_recon", "score_residual", "score_combined", "score_measure",
                 "score_cell")

# The checkout's root: subprocesses run from there, as a user's shell would.
ROOT = str(Path(__file__).resolve().parents[3])


@pytest.fixture
def model_file(tiny_model, tmp_path):
    return save(tiny_model, tmp_path / "m.ddrid")


@pytest.fixture
def screen(tmp_path):
    """Tiny fields, a larger one (16 tiles), a broken file and a 3-channel file, in two folders."""
    import tifffile

    rng = np.random.default_rng(7)
    d = tmp_path / "screen"
    (d / "plate1").mkdir(parents=True)
    (d / "plate2").mkdir()
    for i in range(6):
        tifffile.imwrite(d / "plate1" / f"ring_{i}.tif", ring_patch(rng))
        tifffile.imwrite(d / "plate2" / f"blob_{i}.tif", blob_patch(rng))
    tifffile.imwrite(d / "plate1" / "field.tif", np.block([[ring_patch(rng) for _ in range(4)] for _ in range(4)]))
    (d / "plate2" / "broken.tif").write_bytes(b"not a tiff at all")
    tifffile.imwrite(d / "plate2" / "rgb.tif", np.stack([ring_patch(rng), blob_patch(rng), ring_patch(rng)], -1))
    return d


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def assert_same_csv(a, b, rel=1e-5):
    """Same rows in the same order, every column equal; scores to ``rel`` (float32 sums in other batches)."""
    ra, rb = rows(a), rows(b)
    assert len(ra) == len(rb) > 0
    for x, y in zip(ra, rb):
        for key in x:
            if key in SCORE_COLUMNS and (x[key] or y[key]):   # score_residual is empty for paper models
                # AS_c is a z-score, near 0 for typical patches: a relative tolerance alone is meaningless there.
                z = key in ("score_combined", "score_cell") or (key == "score" and x["score_type"] in ("AS_c", "AS_cell"))
                assert float(x[key]) == pytest.approx(float(y[key]), rel=rel, abs=1e-4 if z else 0), (key, x, y)
            else:
                assert x[key] == y[key], (key, x, y)


def skipped(err: str):
    return sorted(line for line in err.splitlines() if line.startswith("skipped "))


@pytest.fixture(scope="module")
def dask_cluster():
    """A 2-worker local cluster the tests connect to by address (as to a SLURM one)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as cluster:
        yield cluster


def test_parse_and_plan():
    assert parse_cluster("local:3").workers == 3
    assert str(parse_cluster("tls://a.b:8786")) == "tls://a.b:8786"
    for wrong in ("local:x", "http://a:1", "nowhere"):
        with pytest.raises(ValueError, match="--cluster"):
            parse_cluster(wrong)
    sizes = list(np.random.default_rng(0).integers(1, 10**7, 1000))
    groups = plan_tasks(sizes, threads=100)
    # Every file once, in order, in runs of consecutive files.
    assert [i for g in groups for i in g] == list(range(1000))
    assert all(len(g) >= 1 for g in groups)


def test_local_cluster_writes_the_local_csv(model_file, screen, tmp_path, capsys):
    local, spread = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert main(["--quiet", "score", str(model_file), str(screen), "--csv", str(local),
                 "--decompositions", str(tmp_path / "dec-local")]) == 0
    local_err = capsys.readouterr().err
    t = time.perf_counter()
    assert main(["--quiet", "score", str(model_file), str(screen), "--csv", str(spread), "--cluster", "local:2",
                 "--files-per-task", "3", "--decompositions", str(tmp_path / "dec-dask")]) == 0
    print(f"local:2 run {time.perf_counter() - t:.1f} s", file=sys.__stderr__)
    dask_err = capsys.readouterr().err
    assert_same_csv(local, spread)
    assert len([r for r in rows(spread) if r["rank"]]) == 12 + 16
    # The two skipped files follow as unranked note rows, as in the local CSV.
    assert sorted(Path(r["path"]).name for r in rows(spread) if not r["rank"]) == ["broken.tif", "rgb.tif"]
    # Bad files reported exactly as in a local run (the same lines, paths as given).
    assert skipped(dask_err) == skipped(local_err)
    assert any("broken.tif" in s for s in skipped(dask_err)) and any("rgb.tif" in s for s in skipped(dask_err))
    assert sorted(p.name for p in (tmp_path / "dec-dask").iterdir()) == \
        sorted(p.name for p in (tmp_path / "dec-local").iterdir())


def test_an_object_model_scores_on_the_cluster_as_locally(tmp_path, capsys):
    """AS_m and AS_cell come from the objects' measurements: the workers add them as a local run does."""
    import tifffile

    from ddrcore.config import TrainConfig
    from ddrcore.io.images import load_patches
    from ddrcore.model.training import train
    from ddrcore.objects import Patching

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:160, :160]
    for name in ("normal", "screen"):
        (tmp_path / name).mkdir()
        for f in range(2):
            img = (100 + rng.normal(0, 5, (160, 160))).astype(np.uint16)
            lab = np.zeros((160, 160), np.uint16)
            for k, (cy, cx) in enumerate([(cy, cx) for cy in range(20, 160, 28) for cx in range(20, 160, 28)], 1):
                r2 = 9 if name == "screen" and k == 7 else 36
                inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r2
                img[inside] = 900 + rng.integers(0, 100)
                lab[inside] = k
            tifffile.imwrite(tmp_path / name / f"f{f}.tif", img)
            tifffile.imwrite(tmp_path / name / f"f{f}_masks.tif", lab)
    normal = run_to_end(load_patches(tmp_path / "normal", patching=Patching("labels", object_size=12)))
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, device="cpu", batch_size=8)
    cfg.set_patching(normal.patching)
    cfg.input_size = int(normal.images.shape[-1])
    model = run_to_end(train(normal, cfg))
    assert model.score_type == "cell"
    path = save(model, tmp_path / "cells.ddrid")
    local, spread = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert main(["--quiet", "score", str(path), str(tmp_path / "screen"), "--csv", str(local)]) == 0
    assert main(["--quiet", "score", str(path), str(tmp_path / "screen"), "--csv", str(spread),
                 "--cluster", "local:1"]) == 0
    assert_same_csv(local, spread)
    assert {r["score_type"] for r in rows(spread)} == {"AS_cell"} and all(r["score_cell"] for r in rows(spread))


def _many_fields(folder, n=24, side=128):
    import tifffile

    rng = np.random.default_rng(3)
    folder.mkdir()
    for i in range(n):
        tiles = [[(ring_patch if (i + r + c) % 5 else blob_patch)(rng) for c in range(side // 32)]
                 for r in range(side // 32)]
        tifffile.imwrite(folder / f"field_{i:03d}.tif", np.block(tiles))
    return folder


def test_worker_killed_mid_run_csv_still_complete(model_file, tmp_path, dask_cluster):
    fields = _many_fields(tmp_path / "fields")
    run_to_end(score_folder(model_file, fields, tmp_path / "local.csv"))
    client = distributed.Client(dask_cluster, set_as_default=False)
    try:
        before = client.run(os.getpid)
        job = score_on_cluster(model_file, fields, tmp_path / "ranked.csv", cluster=dask_cluster.scheduler_address,
                               files_per_task=1)
        killed = None
        try:
            while True:
                p = next(job)
                if killed is None and p.stage == "score" and p.step >= 1:
                    # One task is in; the others are running or queued on the two workers: kill one.
                    killed = sorted(before.values())[0]
                    os.kill(killed, signal.SIGKILL)
        except StopIteration as stop:
            result = stop.value
        assert killed is not None and p.step == 24
        assert_same_csv(tmp_path / "local.csv", tmp_path / "ranked.csv")
        assert len(result.scores) == 24 * 16
        # The nanny replaced the killed worker process.
        client.wait_for_workers(2, timeout=60)
        assert killed not in client.run(os.getpid).values()
    finally:
        client.close()


def test_cancel_leaves_no_csv_and_no_task(model_file, tmp_path, dask_cluster):
    fields = _many_fields(tmp_path / "fields", n=12)
    out = tmp_path / "ranked.csv"
    job = score_on_cluster(model_file, fields, out, cluster=dask_cluster.scheduler_address, files_per_task=1)
    for p in job:
        if p.stage == "score":
            break
    job.close()   # what the GUI's Cancel does
    assert not out.exists() and list(tmp_path.glob("*.csv")) == []
    client = distributed.Client(dask_cluster, set_as_default=False)
    try:
        deadline = time.monotonic() + 10
        while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
    finally:
        client.close()


def test_unreachable_scheduler_one_line_with_the_address(model_file, test_dir, tmp_path, capsys):
    out = tmp_path / "ranked.csv"
    t = time.perf_counter()
    rc = main(["--quiet", "score", str(model_file), str(test_dir), "--csv", str(out),
               "--cluster", "tcp://127.0.0.1:9", "--connect-timeout", "2"])
    seconds = time.perf_counter() - t
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert "tcp://127.0.0.1:9" in err[0] and "could not connect" in err[0] and "Traceback" not in err[0]
    assert seconds < 8, seconds
    assert not out.exists()


def test_lost_scheduler_one_line_with_the_address(model_file, tmp_path):
    """A scheduler (started from a scheduler file, as on SLURM) that dies mid-run: one line with its address."""
    fields = _many_fields(tmp_path / "fields", n=12)
    sched_file = tmp_path / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(sched_file)], **quiet)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                   str(sched_file), "--nthreads", "1", "--no-dashboard"], **quiet)
        import json

        address = json.loads(sched_file.read_text())["address"]
        job = score_on_cluster(model_file, fields, tmp_path / "ranked.csv", cluster=str(sched_file),
                               files_per_task=1, timeout=3)
        t = None
        with pytest.raises(ClusterError) as info:
            for p in job:
                if p.stage == "score" and t is None:
                    scheduler.kill()
                    t = time.perf_counter()
        assert time.perf_counter() - t < 10
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.kill()
                proc.wait()
    message = str(info.value)
    assert (address in message or str(sched_file) in message) and "lost the connection" in message, message
    assert "\n" not in message
    assert not (tmp_path / "ranked.csv").exists()


def test_ddrcore_without_dask(model_file, test_dir, tmp_path):
    """ddrcore imports, and --cluster says what to install, when Dask is missing."""
    code = (
        "import sys\n"
        "sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
        "import ddrcore.cluster, ddrcore.cli, ddrcore.pipeline\n"
        "from ddrcore.cli import main\n"
        f"sys.exit(main(['--quiet', 'score', {str(model_file)!r}, {str(test_dir)!r}, '--csv', "
        f"{str(tmp_path / 'r.csv')!r}, '--cluster', 'local:2']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip().splitlines() == ['ddrid: error: --cluster needs Dask: pip install "ddrid[cluster]" '
                                               '(dask[distributed])']


def test_ctrl_c_cancels_and_writes_nothing(model_file, tmp_path):
    """Ctrl+C at a terminal reaches the client and its local workers: one line, exit 130, no CSV."""
    fields = _many_fields(tmp_path / "fields", n=24, side=256)
    out = tmp_path / "ranked.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT,
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "ddrcore", "score", str(model_file), str(fields), "--csv", str(out),
                             "--cluster", "local:1", "--files-per-task", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                            # A job started in the background of a script inherits SIGINT ignored (as CI may
                            # run this suite), and Python keeps it so: give ddrid a terminal's default.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("score"):
            break
    os.killpg(proc.pid, signal.SIGINT)      # what a terminal's Ctrl+C does: the whole process group
    rest = proc.communicate(timeout=60)[1]
    err = "".join(lines) + rest
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "ddrid: interrupted; nothing half-written was left behind"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert not out.exists() and list(tmp_path.glob("*.csv")) == []


def test_bench_scale_measures(tmp_path):
    from ddrcore.bench.scale import format_scale, measure_scale

    result = measure_scale([1], files=2, side=64)
    run = result["runs"][0]
    assert run["workers"] == 1 and run["patches"] == 2 * 4 and run["efficiency"] == 1.0
    assert run["patches_per_s"] > 0 and run["trivial_task_round_trip_ms"] > 0
    assert result["in_process_1_thread"]["result_bytes_per_patch"] > 0
    assert "local:1" in format_scale(result)
