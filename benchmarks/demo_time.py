"""Wall time and AUC of `ddrid demo` on its bundled data, per seed (target: <= 150 s on 2 cores, AUC >= 0.95).

Run: ``python benchmarks/demo_time.py [--seeds 0,1,2] [--pretrain-epochs N --finetune-epochs N] [--json F]``.
Each seed is a fresh ``python -m ddrcore demo`` process (imports included, as a user's first run), one
after the other.  Wall time is from launch to exit; CPU time is the child's user + system seconds, which
another process on the machine inflates far less than the wall time.  The load average before and after
each run is printed: a number measured on a busy machine says so.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

AUC = re.compile(r"demo: AUC ([0-9.]+) \(AS_l ([0-9.]+), AS_r ([0-9.]+)\)")


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_one(seed: int, extra: list) -> dict:
    with tempfile.TemporaryDirectory(prefix="ddrid-demo-bench-") as tmp:
        cmd = [sys.executable, "-m", "ddrcore", "--quiet", "demo", "--out", os.path.join(tmp, "out"),
               "--seed", str(seed), *extra]
        load_before = os.getloadavg()[0]
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        load_after = os.getloadavg()[0]
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed}: ddrid demo failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    m = AUC.search(proc.stdout)
    if m is None:
        raise SystemExit(f"seed {seed}: no AUC line in the demo's output:\n{proc.stdout[-2000:]}")
    return {"seed": seed, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "auc": float(m.group(1)),
            "auc_latent": float(m.group(2)), "auc_recon": float(m.group(3)),
            "load1_before": round(load_before, 2), "load1_after": round(load_after, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--pretrain-epochs", type=int, help="default: the demo's own schedule")
    ap.add_argument("--finetune-epochs", type=int, help="default: the demo's own schedule")
    ap.add_argument("--device", default="cpu", help="passed to ddrid demo (default cpu: the 2-core target)")
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    args = ap.parse_args()
    extra = ["--device", args.device]
    if args.pretrain_epochs is not None:
        extra += ["--pretrain-epochs", str(args.pretrain_epochs)]
    if args.finetune_epochs is not None:
        extra += ["--finetune-epochs", str(args.finetune_epochs)]
    import torch  # only to state the threads the demo will get

    print(f"cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, demo args {' '.join(extra)}")
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        r = run_one(seed, extra)
        rows.append(r)
        print(f"seed {r['seed']}: wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, AUC {r['auc']:.3f} "
              f"(AS_l {r['auc_latent']:.3f}, AS_r {r['auc_recon']:.3f}); load average {r['load1_before']:.2f} "
              f"before, {r['load1_after']:.2f} after", flush=True)
    worst = max(r["wall_s"] for r in rows)
    low = min(r["auc"] for r in rows)
    print(f"slowest {worst:.1f} s wall; lowest AUC {low:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": " ".join(sys.argv), "cores": os.cpu_count(), "demo_args": extra, "runs": rows},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
