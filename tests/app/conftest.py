"""GUI test setup: offscreen Qt, private settings folders, synthetic TIFFs."""
import os
import tempfile

# Both must be set before Qt (or platformdirs) is first imported or used.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_private = tempfile.mkdtemp(prefix="ddrid-gui-tests-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_private, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_private, "data")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Each test module calls pytest.importorskip("PySide6") itself: a skip raised
# here, in a conftest, would abort the whole run instead of skipping these tests.


def ring(rng, size=32):
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy - rng.uniform(-1, 1), xx - rng.uniform(-1, 1))
    img = 200 + 800 * np.exp(-((r - rng.uniform(6, 8)) ** 2) / 3.0)
    return (img + rng.normal(0, 20, img.shape)).clip(0, 65535).astype(np.uint16)


def blob(rng, size=32):
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    img = 200 + 900 * np.exp(-(yy ** 2 + xx ** 2) / (2 * rng.uniform(3, 5) ** 2))
    return (img + rng.normal(0, 20, img.shape)).clip(0, 65535).astype(np.uint16)


@pytest.fixture
def image_folder(tmp_path):
    """normal/ (24 rings) and odd/ (8 blobs) as 32x32 uint16 TIFFs."""
    import tifffile

    rng = np.random.default_rng(1)
    root = tmp_path / "images"
    (root / "normal").mkdir(parents=True)
    (root / "odd").mkdir()
    for i in range(24):
        tifffile.imwrite(root / "normal" / f"ring_{i:02d}.tif", ring(rng))
    for i in range(8):
        tifffile.imwrite(root / "odd" / f"blob_{i:02d}.tif", blob(rng))
    return root


@pytest.fixture(autouse=True)
def no_modal_boxes(monkeypatch):
    """Message boxes would block a test: record them instead."""
    from PySide6.QtWidgets import QMessageBox

    shown = []

    def record(kind):
        def box(_parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return QMessageBox.StandardButton.Ok
        return box

    for kind in ("warning", "information", "critical", "question"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(record(kind)))
    return shown


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test starts with no remembered settings and no autosave."""
    import shutil

    pytest.importorskip("PySide6")
    from ddrid_gui import settings as appsettings

    appsettings.settings().clear()
    shutil.rmtree(appsettings.autosave_dir(), ignore_errors=True)
    yield


@pytest.fixture
def win(qtbot):
    from ddrid_gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.runner.cancel()


@pytest.fixture
def wait_idle(qtbot):
    """wait_idle(window): block (processing events) until no job runs or waits."""
    def wait(w, timeout=90_000):
        qtbot.waitUntil(lambda: not w.runner.busy and not w.runner.pending, timeout=timeout)
    return wait
