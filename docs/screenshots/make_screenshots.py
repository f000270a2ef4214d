"""Drive the real app and save the screenshots used in docs/gui.md.

Run under a display (e.g. ``Xvfb :99 -screen 0 1600x1000x24 &`` then
``DISPLAY=:99 python docs/screenshots/make_screenshots.py``).  It opens the
demo data, trains with the GUI's default (quick) schedule, and grabs the
window at each main state.  It also prints the largest event-loop stall seen
during training (a 10 ms QTimer records the longest gap between ticks).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def pump(app, seconds: float, until=None) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.005)


def grab(win, name: str) -> None:
    path = HERE / name
    win.grab().save(str(path))
    if shutil.which("convert"):
        # 255-colour PNGs are a third smaller and look the same for a UI screenshot.
        subprocess.run(["convert", str(path), "-strip", "-colors", "255", f"PNG8:{path}"], check=False)
    print(f"saved {path} ({path.stat().st_size // 1024} KB)", flush=True)


def decomposed(win) -> bool:
    """The detail panel shows the current patch's X_C and X_N (computed in a worker)."""
    return win.detail.patch == win.gallery.current_patch() and all(i.image is not None for i in win.detail.items)


def results(app, win) -> None:
    """04: the ranking with a normal test patch in the detail panel; 05: flagged only, lower threshold; 06: source."""
    pump(app, 600, until=lambda: not win.runner.busy)
    win.threshold_panel.default_button.click()
    pump(app, 1.0)
    order = win.gallery.model().order
    sources = win.document.table.sources
    rows = [r for r, i in enumerate(order) if "/test/normal/" in sources[i].path.replace("\\", "/")]
    normal_test = rows[len(rows) // 2]          # a typical normal test patch
    win.gallery.setCurrentIndex(win.gallery.model().index(normal_test))
    pump(app, 10, until=lambda: decomposed(win))
    pump(app, 1.0)
    grab(win, "04-results.png")
    s = win.threshold_panel.slider
    s.setValue(2.5)
    filter_box = win.view_bar.filter_box
    filter_box.setCurrentIndex(filter_box.findData("flagged"))
    win.gallery.setCurrentIndex(win.gallery.model().index(0))
    pump(app, 10, until=lambda: decomposed(win))
    pump(app, 1.0)
    grab(win, "05-flagged.png")
    source_image(app, win)


def source_image(app, win) -> None:
    """06: the demo's 128 x 128 field of view in the Source image tab, one patch selected."""
    from ddrcore.pipeline import bundled_demo_dir
    from ddrcore.io.images import PatchSource

    win.view_bar.filter_box.setCurrentIndex(win.view_bar.filter_box.findData("all"))
    field = bundled_demo_dir() / "stacks" / "field_128x128.tif"
    win.open_paths([str(field)])
    pump(app, 120, until=lambda: not win.runner.busy and not win.runner.pending)
    win.source_dock.raise_()
    pump(app, 0.5)
    win.views.go_to_patch(win.document.table.index_of(PatchSource(str(field.resolve()), 0, 32, 64)))
    pump(app, 10, until=lambda: win.source_view.shape is not None)
    pump(app, 1.0)
    grab(win, "06-source-image.png")
    win.detail_dock.raise_()


def main() -> int:
    from ddrid_gui.compat import protect_none_refcount

    protect_none_refcount()
    app = QApplication(sys.argv[:1])
    from ddrid_gui.main_window import MainWindow

    win = MainWindow()
    win.resize(1600, 1000)
    win.show()
    pump(app, 3.0)                      # lets the background torch warm-up finish
    if len(sys.argv) > 2 and sys.argv[1] == "--results-from":
        # Re-shoot only the results from a saved (or autosaved) project: no retraining.
        win.projects.open_project(sys.argv[2], remember=False)
        results(app, win)
        win.close()
        return 0
    grab(win, "01-start.png")

    win.loader.open_demo()
    pump(app, 60, until=lambda: not win.runner.busy)
    pump(app, 1.5)
    win.gallery.setCurrentIndex(win.gallery.model().index(3))
    pump(app, 0.5)
    grab(win, "02-loaded.png")

    gaps = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    meter = QTimer(interval=10)
    meter.timeout.connect(tick)
    meter.start()
    t0 = time.perf_counter()
    win.train_panel.train_button.click()
    progress = [0.0]
    win.runner.progressed.connect(lambda k, b: progress.__setitem__(0, b.latest.overall) if k == "train" else None)
    pump(app, 3600, until=lambda: progress[0] >= 0.6)
    meter.stop()              # a full-window grab is not part of the app's own work
    grab(win, "03-training.png")
    last[0] = time.perf_counter()
    meter.start()
    pump(app, 3600, until=lambda: not (win.runner.busy and win.runner.kind == "train"))
    train_seconds = time.perf_counter() - t0
    meter.stop()
    print(f"training: {train_seconds:.0f} s wall; event-loop ticks {len(gaps)}, max gap {1000 * max(gaps):.0f} ms, "
          f"gaps > 100 ms: {sum(g > 0.1 for g in gaps)}", flush=True)
    print(f"train panel: {win.train_panel.status.text()}", flush=True)
    results(app, win)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
