"""Save the Detail view on a normal and an anomalous demo patch (docs/screenshots/08-, 09-).

Run under a display (``Xvfb :99 -screen 0 1600x1000x24 &``, then
``DISPLAY=:99 python docs/screenshots/make_detail_screenshots.py [MODEL | PROFILE]``).
Without a model file it trains one on the bundled demo's normal patches (a
short schedule, a few minutes on two cores) with PROFILE (default
``explain``, whose decomposition the view is made to show).  Of the demo
test patches it picks the median-ranked normal and the top-ranked anomaly.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> None:
    from ddrid_gui.views.detail import DetailView
    from ddrcore.config import TrainConfig
    from ddrcore.io.images import load_patches
    from ddrcore.model.decomposition import explain
    from ddrcore.model.modelfile import load
    from ddrcore.model.scoring import score_patches
    from ddrcore.model.training import train
    from ddrcore.pipeline import bundled_demo_dir
    from ddrcore.progress import run_to_end

    data = bundled_demo_dir()
    arg = sys.argv[1] if len(sys.argv) > 1 else "explain"
    if Path(arg).is_file():
        model = load(arg, "cpu")
    else:
        normal = run_to_end(load_patches(data / "train" / "normal"))
        model = run_to_end(train(normal, TrainConfig(pretrain_epochs=10, finetune_epochs=10, device="cpu",
                                                     profile=arg)))
    test = run_to_end(load_patches(data / "test", model.config.patch_size, model.input_size))
    scores = run_to_end(score_patches(model, test))
    order = np.argsort(-scores.score)
    is_anomaly = np.array(["/anomaly/" in s.path.replace("\\", "/") for s in test.sources])
    normals = [i for i in order if not is_anomaly[i]]
    picks = {"08-detail-normal.png": normals[len(normals) // 2],
             "09-detail-anomalous.png": next(i for i in order if is_anomaly[i])}
    app = QApplication.instance() or QApplication(sys.argv)
    view = DetailView()
    view.resize(460, 640)
    view.show()
    for name, i in picks.items():
        ex = explain(model, test.images[i])
        # The demo's patches are whole 32 px files: the crop at native resolution is the file itself (the app
        # reads it in the background; here it is given at once).
        native = np.asarray(test.images[i][0], np.float32)
        view.show_patch(int(i), test.sources[i], test.images[i], "", ex, ex.latent, ex.recon, model.score_type,
                        model.threshold, residual=ex.residual_score, combined=float(scores.combined[i]),
                        native=native)
        for _ in range(20):
            app.processEvents()
        view.grab().save(str(HERE / name))
        print(f"saved {HERE / name}: {test.sources[i].path} rank {int(np.where(order == i)[0][0]) + 1}, {ex.why}")


if __name__ == "__main__":
    main()
