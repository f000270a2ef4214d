"""Remembered settings (QSettings) and where autosaves go (platformdirs)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

from platformdirs import user_data_dir
from PySide6.QtCore import QSettings

APP = "ddrid"
MAX_RECENT = 8


def settings() -> QSettings:
    return QSettings(APP, APP)


def autosave_dir() -> Path:
    """Where unsaved projects (and their models) are autosaved."""
    path = Path(user_data_dir(APP, appauthor=False)) / "autosave"
    path.mkdir(parents=True, exist_ok=True)
    return path


def autosave_project_path() -> Path:
    return autosave_dir() / "autosave.ddridproj"


def recent_projects() -> List[str]:
    value = settings().value("recentProjects", "[]")
    try:
        items = json.loads(value) if isinstance(value, str) else list(value or [])
    except (TypeError, ValueError):
        return []
    return [p for p in items if isinstance(p, str) and Path(p).is_file()]


def add_recent_project(path: str) -> None:
    items = [p for p in recent_projects() if p != path]
    # Stored as JSON text: QSettings' list handling differs between platforms.
    settings().setValue("recentProjects", json.dumps([path] + items[: MAX_RECENT - 1]))


def get(key: str, default=None):
    value = settings().value(key, default)
    return default if value is None else value


def put(key: str, value) -> None:
    settings().setValue(key, value)

