"""Screenshot napari-dock.png: napari with the ddrid dock and the score layers on a real field.

    Xvfb :97 -screen 0 1600x1000x24 &
    DISPLAY=:97 python docs/screenshots/make_napari_screenshot.py

The field is DSB 2018's stage-1 nuclei image with its mask (not in this repository; IMG and MASK
override the paths).  EP sets the epochs (default 25, the dock's default); OUT the PNG.
The dock is opened through the plugin's manifest, as napari's Plugins menu does.  MODEL names a
model file: trained and saved there when it does not exist, loaded and scored when it does (for
retaking the picture without training again).
"""
import os
import subprocess
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
# napari's settings in a throwaway folder: the screenshot must not depend on this machine's.
os.environ["NAPARI_CONFIG"] = os.path.join(tempfile.mkdtemp(), "settings.yaml")

import napari  # noqa: E402
import tifffile  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402

DATA = "/work/shared/datasets/microscopy"
IMG = os.environ.get("IMG", f"{DATA}/dsb2018-nuclei-img2d.tif")
MASK = os.environ.get("MASK", f"{DATA}/dsb2018-nuclei-mask2d.tif")
OUT = os.environ.get("OUT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "napari-dock.png"))
EPOCHS = int(os.environ.get("EP", "25"))
MODEL = os.environ.get("MODEL")

viewer = napari.Viewer(title="napari — ddrid on DSB 2018 nuclei", show=True)
qt_window = viewer.window._qt_window
qt_window.setGeometry(0, 0, 1600, 1000)
viewer.add_image(tifffile.imread(IMG), name="nuclei (DSB 2018)", colormap="gray")
viewer.add_labels(tifffile.imread(MASK), name="nuclei masks", opacity=0.3)
_dock, widget = viewer.window.add_plugin_dock_widget("ddrid", "Anomalous objects (DDR-ID)")
app = QApplication.instance()


def wait(cond, seconds=900):
    end = time.time() + seconds
    while not cond() and time.time() < end:
        app.processEvents()
        time.sleep(0.05)


widget.objects_combo.setCurrentText("nuclei masks")
widget.epoch_spin.setValue(EPOCHS)
if MODEL and os.path.isfile(MODEL):
    widget.load_model(MODEL)
    widget.score()
    wait(lambda: not widget.busy)
else:
    widget.train()
    wait(lambda: not widget.busy)
    if MODEL:
        widget.save_model(MODEL)
print(widget.status.text())
viewer.layers["nuclei masks"].visible = False
scores = viewer.layers["ddrid scores"]
features = scores.features
# The first-ranked object at least one object size inside the image: the picture shows what the dock
# explains; objects whose mask stops just short of the edge (half nuclei) rank high too (docs/napari.md).
size = float(widget.outcome.cut.patches.patching.object_size)
h, w = scores.data.shape[-2:]
inside = ((features["center_y"] > size) & (features["center_y"] < h - size) & (features["center_x"] > size)
          & (features["center_x"] < w - size) & (features["rank"] > 0))
top = int(features[inside].sort_values("rank")["index"].iloc[0])
scores.selected_label = top
viewer.layers.selection.active = scores
viewer.reset_view()
wait(lambda: False, 3)
ranked = features[features["rank"] > 0].sort_values("rank")
print(ranked.head(8)[["index", "score", "rank", "is_anomaly", "area", "intensity_mean"]])
subprocess.run(["import", "-window", "root", OUT], check=True)
print("wrote", OUT)
viewer.close()
