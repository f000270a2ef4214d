"""The gallery on a real field, as a biologist would use it: train on one half's nuclei, rank the other half's.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 python docs/screenshots/make_real_gallery.py IMAGE OUT.png [--epochs 10]

The field is cut in two halves (two TIFFs in a temporary folder); both are
opened in ddrid-gui as objects (the app's default for fields), every object
of the first half is marked normal, the model is trained with the app's own
Train button, and the window is grabbed once the gallery is ranked.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_screenshots import pump  # noqa: E402  (the same event pump as the other screenshot scripts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()

    import tifffile
    from PySide6.QtWidgets import QApplication, QPushButton

    from ddrcore.io.reading import read_planes
    from ddrid_gui.main_window import MainWindow

    page = read_planes(args.image)[0]
    grey = page.mean(-1).astype(page.dtype) if page.shape[-1] > 1 else page[..., 0]
    h, w = grey.shape
    halves = (grey[:, : w // 2], grey[:, w // 2:]) if w >= h else (grey[: h // 2], grey[h // 2:])
    tmp = Path(tempfile.mkdtemp(prefix="ddrid-real-gallery-"))
    for name, half in zip(("train", "screen"), halves):
        (tmp / name).mkdir()
        tifffile.imwrite(tmp / name / f"{Path(args.image).stem}-{name}.tif", np.ascontiguousarray(half))

    app = QApplication.instance() or QApplication(sys.argv)
    win = MainWindow()
    win.resize(1600, 1000)
    win.show()
    pump(app, 2.0)
    win.open_paths([str(tmp / "train"), str(tmp / "screen")])
    pump(app, 120, until=lambda: len(win.document) > 0 and not win.runner.busy)
    normal = win.document.table.indices_under([str(tmp / "train")])
    win.document.mark(normal, 1)
    panel = win.findChild(object, "trainPanel")
    panel.pretrain.setValue(args.epochs)
    panel.finetune.setValue(args.epochs)
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    pump(app, 0.5)
    win.findChild(QPushButton, "trainButton").click()
    pump(app, 5.0)
    pump(app, 1800, until=lambda: not win.runner.busy and win.document.model is not None)
    pump(app, 5.0, until=lambda: not win.runner.busy)
    gallery = win.gallery
    gallery.setCurrentIndex(gallery.model().index(0))
    # The selected object's decomposition is computed in a worker: wait for X_C and X_N to be drawn.
    detail = win.detail
    pump(app, 60.0, until=lambda: detail.plots_built and all(i.image is not None for i in detail.items[1:]))
    pump(app, 1.0)
    win.grab().save(args.out)
    print(f"saved {args.out}: {len(normal)} normal objects marked, {len(win.document)} objects in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
