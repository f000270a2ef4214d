"""Undoable annotation commands (QUndoStack)."""
from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtGui import QUndoCommand

from .state import PatchTable


class MarkCommand(QUndoCommand):
    """Set the mark of some patches; undo restores each patch's previous mark."""

    def __init__(self, table: PatchTable, indices, value: int, text: str, changed: Callable[[], None]):
        super().__init__(text)
        self.table = table
        self.indices = np.asarray(indices, np.int64)
        self.value = value
        self.old = table.marks[self.indices].copy()
        self.changed = changed

    def redo(self) -> None:
        self.table.set_marks(self.indices, self.value)
        self.changed()

    def undo(self) -> None:
        self.table.set_marks(self.indices, self.old)
        self.changed()
