"""The base of the window's controllers (loading, training and scoring, projects)."""
from __future__ import annotations

from PySide6.QtCore import QObject


class Controller(QObject):
    """One part of the window's behaviour, created with the window as its Qt parent."""

    @property
    def window(self):
        """The main window: this object's Qt parent.

        Not kept in an attribute: that would make a reference cycle with the
        window, which the garbage collector may break in a worker thread, and
        a window finalised off the GUI thread deadlocks Qt.
        """
        return self.parent()
