"""How long a saved project takes to become usable in the app (issue 20: <= 3 s for 300 objects, <= 1 s empty).

Builds, in a temporary folder, 6 fields of 50 nuclei-like objects with their label
images (300 objects), a tiny model trained on them, and a project scored with it
and saved; then opens the project in a fresh window (Qt offscreen) and times
File ▸ Open Project until the gallery shows every patch ranked by its score and no
job runs ("usable").  An empty project (no inputs) is timed the same way, until
the window shows it.  Each is opened ``--repeat`` times; the median is printed.

    QT_QPA_PLATFORM=offscreen python benchmarks/open_project.py [--repeat 3] [--keep DIR]

No timed assertion lives in the tests: this prints the figure for the README and
the issue.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A private settings folder: the benchmark neither reads nor changes the user's recent projects.
_private = tempfile.mkdtemp(prefix="ddrid-bench-open-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_private, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_private, "data")

import numpy as np  # noqa: E402

N_FIELDS, PER_FIELD, SIZE = 6, 50, 16


def make_data(root: Path) -> Path:
    import tifffile

    from ddrcore.objects.synthetic import make_field

    folder = root / "fields"
    folder.mkdir(parents=True)
    for k in range(N_FIELDS):
        f = make_field((320, 320), ("blob",), n=PER_FIELD, size=SIZE, seed=k)
        tifffile.imwrite(folder / f"field{k}.tif", f.image)
        tifffile.imwrite(folder / f"field{k}-labels.tif", f.labels.astype(np.uint16))
    return folder


def wait(app, until, timeout=120.0) -> float:
    t0 = time.perf_counter()
    while not until():
        app.processEvents()
        time.sleep(0.002)
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("the project did not become usable in time")
    return time.perf_counter() - t0


def idle(win) -> bool:
    return not win.runner.busy and not win.runner.pending


def build_project(app, folder: Path, root: Path) -> tuple[Path, int]:
    import torch

    from ddrcore.config import TrainConfig
    from ddrcore.model.modelfile import save
    from ddrcore.model.training import train
    from ddrcore.progress import run_to_end
    from ddrid_gui.main_window import MainWindow

    win = MainWindow()
    win.show()
    win.preset_patching("labels", SIZE)
    win.open_paths([str(folder)])
    wait(app, lambda: idle(win) and len(win.document) > 0)
    doc = win.document
    t = doc.table
    cfg = TrainConfig(pretrain_epochs=1, finetune_epochs=1, batch_size=16, min_steps_per_epoch=0, device="cpu")
    cfg.set_patching(t.patching)
    cfg.channel = t.channel
    cfg.input_size = int(t.images.shape[-1])
    torch.set_num_threads(1)
    model = run_to_end(train(t.images[:64], cfg))
    save(model, root / "model.ddrid")
    doc.set_trained(model, str(root / "model.ddrid"), np.arange(64), [])
    win.models.score_unscored()
    wait(app, lambda: idle(win) and doc.scored)
    project = root / "screen.ddridproj"
    assert win.projects.save_to(str(project))
    # Usable = the gallery shows what it showed here (the 64 training patches are left out by default).
    wait(app, lambda: win.gallery.model().rowCount() > 0)
    n = win.gallery.model().rowCount()
    win.close()
    win.deleteLater()
    app.processEvents()
    return project, n


def time_open(app, project: Path, n: int, warm: bool = False) -> float:
    from ddrid_gui.main_window import MainWindow

    win = MainWindow()
    win.show()
    app.processEvents()
    if warm:
        # As when the user picks the project in a dialog a few seconds after starting the app: the window's
        # background warm-up (importing torch) has finished.
        # The device list is filled when that import has finished (ModelJobs.warm_up).
        wait(app, lambda: "detecting" not in win.train_panel.device.itemText(0))
        t_settle = time.perf_counter()
        wait(app, lambda: time.perf_counter() - t_settle > 0.5)
    gallery = win.gallery
    t0 = time.perf_counter()
    win.projects.open_project(str(project))
    if n:
        wait(app, lambda: idle(win) and win.document.scored and gallery.model().rowCount() == n
             and win.stack.currentWidget() is gallery)
    else:
        wait(app, lambda: idle(win) and win.stack.currentWidget() is gallery)
    took = time.perf_counter() - t0
    win.close()
    win.deleteLater()
    app.processEvents()
    return took


def open_in_fresh_process(project: Path, n: int, warm: bool) -> float:
    """Seconds from File ▸ Open Project to usable, in a new Python process (as after a restart)."""
    import subprocess

    cmd = [sys.executable, __file__, "--open", str(project), "--shown", str(n)] + (["--warm"] if warm else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", metavar="DIR", help="build the data here and keep it (default: a temporary folder)")
    p.add_argument("--open", metavar="PROJECT", help=argparse.SUPPRESS)     # one timed open (a child process)
    p.add_argument("--shown", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    if args.open:
        print(f"{time_open(app, Path(args.open), args.shown, args.warm):.4f}")
        return 0
    root = Path(args.keep or tempfile.mkdtemp(prefix="ddrid-open-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    folder = make_data(root)
    project, n = build_project(app, folder, root)
    empty = root / "empty.ddridproj"
    from ddrcore.io import project as projectfile

    projectfile.save(projectfile.Project(), empty)
    print(f"built {N_FIELDS * PER_FIELD} objects ({n} shown) in {N_FIELDS} fields, a model and the project "
          f"in {time.perf_counter() - t0:.1f} s "
          f"({root})", file=sys.stderr)
    # Each open in a new process whose window is up: "warm" once the app's background import of torch is done
    # (the usual case: the user picks the project in a dialog), "cold" at once (torch still loading).
    full = [open_in_fresh_process(project, n, True) for _ in range(args.repeat)]
    cold = [open_in_fresh_process(project, n, False) for _ in range(args.repeat)]
    none = [open_in_fresh_process(empty, 0, True) for _ in range(args.repeat)]
    # For comparison, the project without its cache (as before issue 20): images read and scored again.
    from ddrcore.io import patchcache

    cache = patchcache.cache_path(project)
    kept = cache.read_bytes()
    uncached = []
    for _ in range(args.repeat):
        cache.unlink(missing_ok=True)    # closing the window autosaves, and so writes the cache again
        uncached.append(open_in_fresh_process(project, n, True))
    cache.write_bytes(kept)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"open project, {N_FIELDS * PER_FIELD} objects, model, scores shown: median {statistics.median(full):.2f} s "
          f"(runs {', '.join(f'{x:.2f}' for x in full)}; {cores} cores)")
    print(f"  the same at once after the window appears (torch still loading): median {statistics.median(cold):.2f} s "
          f"(runs {', '.join(f'{x:.2f}' for x in cold)})")
    print(f"  without its cache (images read and scored again): median {statistics.median(uncached):.2f} s "
          f"(runs {', '.join(f'{x:.2f}' for x in uncached)})")
    print(f"open empty project: median {statistics.median(none):.2f} s (runs {', '.join(f'{x:.2f}' for x in none)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
