"""Screenshot 07-objects-field.png: one field of view, patches around detected nuclei, anomaly map.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 OUT=docs/screenshots/07-objects-field.png python docs/screenshots/make_objects_screenshot.py

TRAIN=0 skips training (outlines only); EP sets the epochs (default 15+15).
"""
import os
import subprocess
import sys
import tempfile
import time
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp()
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp()
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from ddrid_gui.compat import protect_none_refcount
from ddrid_gui.main_window import MainWindow
from ddrid_gui.document import NORMAL, UNMARKED

IMG = "/work/shared/datasets/microscopy/dsb2018-nuclei-img2d.tif"
app = QApplication([])
protect_none_refcount()
win = MainWindow()
win.setGeometry(0, 0, 1600, 1000)
win.show()

def wait(cond, t=300):
    end = time.time() + t
    while not cond() and time.time() < end:
        app.processEvents()
        time.sleep(0.02)

def idle():
    wait(lambda: not win.runner.busy and not win.runner.pending)

win.preset_patching("auto", None, None, None)
win.open_paths([IMG])
idle()
doc = win.document
n = len(doc)
print("patches", n, "patching", doc.table.patching)
train = os.environ.get("TRAIN", "1") == "1"
if train:
    doc.mark(np.arange(n), NORMAL)
    win.train_panel.pretrain.setValue(int(os.environ.get("EP", "15")))
    win.train_panel.finetune.setValue(int(os.environ.get("EP", "15")))
    t0 = time.time()
    win.models.start_training(win.train_panel.config())
    idle()
    print("trained+scored in", time.time() - t0)
    doc.mark(np.arange(n), UNMARKED)
    app.processEvents()
    order = doc.view_order("score")
    win.gallery.select_patches([int(order[0])], current=int(order[0]))
win.view_bar.zoom_box.setCurrentIndex(2)
win.resizeDocks([win.detail_dock], [760], Qt.Orientation.Horizontal)
win.resizeDocks([win.train_dock], [300], Qt.Orientation.Horizontal)
win.source_dock.raise_()
wait(lambda: win.source_view.labels is not None, 30)
if train and os.environ.get("HEAT", "1") == "1":
    win.source_view.heat_check.setChecked(True)
for _ in range(50):
    app.processEvents()
    time.sleep(0.02)
print("objects drawn", win.source_view.outline_count("objects"), "heat", win.source_view.heat_count())
subprocess.run(["import", "-window", "root", os.environ.get("OUT", "/tmp/x.png")], check=True)
win.projects.autosave_timer.stop()
os._exit(0)
