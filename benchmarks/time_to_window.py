"""Time from launching ddrid-gui to its window on screen (target: <= 1 s on an idle machine).

Run: ``python benchmarks/time_to_window.py [--runs 3]`` (uses $QT_QPA_PLATFORM; offscreen works
headless). Each run is a fresh interpreter: `ddrid_gui.main_window` is imported, and the child prints how long
after its own launch the main window had been shown and the event loop had painted it; it then quits
before torch has finished loading in the background.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CHILD = r"""
import sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from ddrid_gui.main_window import MainWindow
w = MainWindow()
w.show()
def shown():
    app.processEvents()
    print(f"window {time.time() - t0:.3f}", flush=True)
    import os
    os._exit(0)   # do not wait for torch's background import
QTimer.singleShot(0, shown)
app.exec()
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="fresh launches to time (default 3)")
    args = ap.parse_args()
    times = []
    for _ in range(args.runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD, repr(t0)], capture_output=True, text=True, check=True)
        line = [x for x in out.stdout.splitlines() if x.startswith("window ")][-1]
        times.append(float(line.split()[1]))
    print(f"time to window: median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
