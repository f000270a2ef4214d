"""Training on several processes (`torchrun ... -m ddrcore train`), tested with gloo on the CPU:
the shares of the global batch, gradients and BatchNorm statistics equal to one process's, and a
2-process run whose model scores like a 1-process run's."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch.distributed as dist

from ddrcore.cli import main
from ddrcore.model.ranks import DistributedRanks, Ranks, torchrun_env
from synthetic import blob_patch, ring_patch

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                 reason="torch.distributed with gloo is needed"),
              pytest.mark.slow]   # torchrun starts several Python processes that each import torch


def torchrun(args, nproc=2, timeout=240, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                           *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, **kwargs)


def test_shares_of_the_global_batch():
    one = Ranks()
    assert one.batch_size(27) == 27 and one.local(np.arange(5)).tolist() == [0, 1, 2, 3, 4]
    r0, r1 = DistributedRanks(0, 2, 0, "gloo"), DistributedRanks(1, 2, 1, "gloo")
    # The global batch is the configured one (made even so that the two shares are equal).
    assert r0.batch_size(16) == 16 and r0.batch_size(27) == 26
    idx = np.array([5, 3, 9, 1, 7, 0])
    assert sorted([*r0.local(idx), *r1.local(idx)]) == sorted(idx) and len(r0.local(idx)) == 3
    assert len(r0.local(idx[:5])) == 2                       # an odd last batch loses one sample
    three = [DistributedRanks(k, 3, k, "gloo") for k in range(3)]
    assert three[0].local(np.arange(2)) is None              # too small to share: every rank skips it
    # Steps per epoch count exactly the batches that are shared.
    for n, bs in ((22, 8), (23, 8), (17, 4), (9, 6)):
        for ranks in (r0, three[1]):
            b = ranks.batch_size(bs)
            perm = np.arange(n)
            shared = [perm[i:i + b] for i in range(0, n, b) if len(perm[i:i + b]) >= 2
                      and ranks.local(perm[i:i + b]) is not None]
            assert ranks.steps_per_epoch(n, b) == len(shared), (n, bs, ranks.world)


def test_torchrun_env(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert torchrun_env() is None
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert torchrun_env() == (3, 4, 1)


GRADIENTS = textwrap.dedent("""
    import os, sys, numpy as np, torch, torch.distributed as dist
    from ddrcore.model.networks import DDRIDNetworks, recon_error
    from ddrcore.model.ranks import DistributedRanks

    def loss_of(nets, x):
        # Both autoencoders (Eq. 1, 2) and D_L on the latents: every kind of BatchNorm in the networks.
        return (recon_error(nets.r_c(x), x).mean() + recon_error(nets.r_n(x), x).mean()
                + nets.d_l(nets.r_c.encoder(x)).mean())

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    x = torch.rand(12, 1, 32, 32)
    one = DDRIDNetworks(1, None, 32)
    many = DDRIDNetworks(1, None, 32)
    many.load_state_dict(one.state_dict())
    ranks = DistributedRanks(rank, world, rank, "gloo")
    many = ranks.wrap(many)
    loss_of(one, x).backward()                        # one process, the whole batch
    loss_of(many, x[ranks.local(np.arange(12))]).backward()   # this rank's share; DDP averages
    g1 = {k: p.grad for k, p in one.named_parameters()}
    gm = {k.replace(".module", ""): p.grad for k, p in many.named_parameters()}
    # Relative to each gradient's size; the biases of Linear layers before BatchNorm have a gradient of
    # zero in exact arithmetic (BatchNorm removes their shift), ~1e-8 here, so those count against the
    # largest gradient instead.
    scale = max(g.abs().max().item() for g in g1.values())
    grad = max(((gm[k] - g1[k]).abs().max() / (g1[k].abs().max() + 1e-4 * scale)).item() for k in g1)
    s1, sm = one.state_dict(), ranks.unwrap(many).state_dict()
    stats = max((s1[k].float() - sm[k].float()).abs().max().item() for k in s1 if "running" in k)
    print(f"rank {rank}: gradients {grad:.3g} statistics {stats:.3g} parameters {len(g1)} {len(gm)}")
    assert len(gm) == len(g1) and grad < 1e-4 and stats < 1e-5, (grad, stats)
    dist.destroy_process_group()
""")


def test_gradients_and_batchnorm_statistics_are_the_global_batchs(tmp_path):
    script = tmp_path / "gradients.py"
    script.write_text(GRADIENTS)
    out = torchrun([str(script)])
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("gradients") == 2, out.stdout


@pytest.fixture
def rings(tmp_path):
    """32 normal ring fields to train on; 12 rings and 12 blobs to score."""
    import tifffile

    rng = np.random.default_rng(21)
    normal, test = tmp_path / "normal", tmp_path / "test"
    for d in (normal, test / "normal", test / "anomaly"):
        d.mkdir(parents=True)
    for i in range(32):
        tifffile.imwrite(normal / f"ring_{i:02d}.tif", ring_patch(rng))
    for i in range(12):
        tifffile.imwrite(test / "normal" / f"ring_{i:02d}.tif", ring_patch(rng))
        tifffile.imwrite(test / "anomaly" / f"blob_{i:02d}.tif", blob_patch(rng))
    return normal, test


def auc_of(model_path, test_dir, csv_path):
    from ddrcore.model.scoring import roc_auc
    from ddrcore.pipeline import labels_from_folders, score_folder
    from ddrcore.progress import run_to_end

    r = run_to_end(score_folder(model_path, test_dir, csv_path, device="cpu"))
    labels = labels_from_folders(r.patches.sources)
    return tuple(round(roc_auc(s, labels), 3) for s in (r.scores.score, r.scores.latent, r.scores.recon))


def test_two_process_training_scores_like_one(rings, tmp_path):
    import torch

    from ddrcore.model.modelfile import load

    normal, test = rings
    # A short schedule, so that the AUC is not 1.0 whatever the training (measured: about 0.98).
    schedule = ["--pretrain-epochs", "1", "--finetune-epochs", "1", "--batch-size", "8",
                "--min-steps-per-epoch", "0", "--seed", "3", "--device", "cpu"]
    out = tmp_path / "models"
    t = time.perf_counter()
    run = torchrun(["-m", "ddrcore", "train", str(normal), "-o", str(out / "two.ddrid"), *schedule])
    two_seconds = time.perf_counter() - t
    assert run.returncode == 0, run.stderr[-3000:]
    # Rank 0 alone writes the model and prints "saved": one model file, nothing else left.
    assert sorted(p.name for p in out.iterdir()) == ["two.ddrid"]
    assert run.stdout.count("saved ") == 1
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # as each torchrun process runs (OMP_NUM_THREADS=1)
    try:
        t = time.perf_counter()
        assert main(["--quiet", "train", str(normal), "-o", str(out / "one.ddrid"), *schedule]) == 0
        one_seconds = time.perf_counter() - t
    finally:
        torch.set_num_threads(threads)
    two, one = load(out / "two.ddrid", "cpu"), load(out / "one.ddrid", "cpu")
    assert two.training["processes"] == 2 and "processes" not in one.training
    assert two.training["batch_size_used"] == one.training["batch_size_used"] == 8
    assert two.training["steps"] == one.training["steps"]
    two_auc = auc_of(out / "two.ddrid", test, tmp_path / "two.csv")
    one_auc = auc_of(out / "one.ddrid", test, tmp_path / "one.csv")
    print(f"AUC (chosen, AS_l, AS_r) 2 processes {two_auc} ({two_seconds:.0f} s with start-up), "
          f"1 process {one_auc} ({one_seconds:.0f} s)", file=sys.__stderr__)
    # The same score chosen (Algorithm 2), and each score's AUC within 0.05 of one process's.
    assert two.score_type == one.score_type
    assert all(abs(a - b) <= 0.05 for a, b in zip(two_auc, one_auc)), (two_auc, one_auc)
    assert one_auc[0] > 0.8


def test_a_failing_rank_stops_the_run_with_one_line_each(tmp_path):
    run = torchrun(["-m", "ddrcore", "train", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.ddrid")], timeout=120)
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("ddrid: error")]
    allowed = {f"ddrid: error (rank 1 of 2): {tmp_path / 'nowhere'}: no such file or folder; check the path",
               f"ddrid: error: {tmp_path / 'nowhere'}: no such file or folder; check the path"}
    # Each rank that reports says it in one line; torchrun may stop the other rank before it gets to say it
    # (seen on a loaded machine), so one or both lines, never another line and never one twice.
    assert errors and set(errors) <= allowed and len(errors) == len(set(errors)), errors
    assert not (tmp_path / "m.ddrid").exists()
