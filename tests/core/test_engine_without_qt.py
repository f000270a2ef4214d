"""The engine never imports Qt (napari's rule): import every ddrcore module in a
fresh interpreter and check that no Qt/pyqtgraph/superqt/app module got loaded."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import ddrcore

FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy", "pyqtgraph", "superqt", "app")


def test_importing_ddrcore_loads_no_qt():
    names = [m.name for m in pkgutil.walk_packages(ddrcore.__path__, "ddrcore.") if not m.name.endswith("__main__")]
    assert "ddrcore.model.training" in names and "ddrcore.cli" in names
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(ddrcore.__file__).parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"ddrcore imported GUI modules: {out.stdout.strip()}"


def test_ddrcore_source_has_no_qt_import_lines():
    root = Path(ddrcore.__file__).parent
    for f in root.rglob("*.py"):
        for line in f.read_text().splitlines():
            s = line.strip()
            if s.startswith(("import ", "from ")):
                mod = s.split()[1].split(".")[0]
                assert mod not in FORBIDDEN, f"{f.name}: {s}"
