"""ddrid's window and taskbar icon."""
from __future__ import annotations

from PySide6.QtGui import QIcon

from ddrcore.pipeline import bundled_demo_dir


def app_icon() -> QIcon:
    """resources/icons/ddrid.svg (installed beside the demo data); an empty icon if it is missing."""
    path = bundled_demo_dir().parent / "icons" / "ddrid.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
