"""The undo history of marks, and how marks follow objects when the images are cut again."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np


@dataclass
class MarkEdit:
    """One undoable change of marks: the patches, their marks before, the new mark."""

    indices: np.ndarray
    old: np.ndarray
    value: int
    text: str


class MarkHistory:
    """Undo and redo of mark edits (the part of QUndoStack ddrid needs, without Qt).

    ``clean`` is the position at which the marks were last saved (-1 when that
    state can no longer be reached), so the title can show unsaved changes.
    """

    def __init__(self) -> None:
        self._edits: List[MarkEdit] = []
        self._pos = 0
        self._clean = 0

    def push(self, edit: MarkEdit) -> None:
        """Add ``edit`` after the current position (edits undone before it are dropped)."""
        del self._edits[self._pos:]
        if self._clean > self._pos:
            self._clean = -1
        self._edits.append(edit)
        self._pos += 1

    def step_back(self) -> Optional[MarkEdit]:
        """The edit to undo (moving back past it), or None at the start."""
        if self._pos == 0:
            return None
        self._pos -= 1
        return self._edits[self._pos]

    def step_forward(self) -> Optional[MarkEdit]:
        """The edit to redo (moving forward past it), or None at the end."""
        if self._pos == len(self._edits):
            return None
        self._pos += 1
        return self._edits[self._pos - 1]

    @property
    def undo_text(self) -> str:
        """The name of the edit Undo would undo ("" if none)."""
        return self._edits[self._pos - 1].text if self._pos else ""

    @property
    def redo_text(self) -> str:
        """The name of the edit Redo would redo ("" if none)."""
        return self._edits[self._pos].text if self._pos < len(self._edits) else ""

    @property
    def is_clean(self) -> bool:
        """Whether the marks are as they were when last saved."""
        return self._pos == self._clean

    def set_clean(self) -> None:
        """The marks are saved as they are now."""
        self._clean = self._pos

    def clear(self) -> None:
        """Forget every edit (a new table: the edits name patches of the old one)."""
        self._edits.clear()
        self._pos = self._clean = 0


def carried_marks(old_sources, old_marks: np.ndarray, new_sources, used: Optional[set] = None) -> Dict[int, int]:
    """{new index: mark} for new patches whose nearest old centre (same page) was marked (marks follow objects).

    The old centre must lie within a quarter of the old patch's side of the new centre.  ``used``, when
    given, collects the old indices whose mark found a new patch.
    """
    by_page: Dict[tuple, list] = {}
    for i, s in enumerate(old_sources):
        # A mark kept from a project file has no centre (only its crop's origin): it cannot follow an object.
        if np.isfinite(s.center_y) and np.isfinite(s.center_x):
            by_page.setdefault((s.path, s.page), []).append(i)
    pages = {k: (np.array(v), np.array([[old_sources[i].center_y, old_sources[i].center_x] for i in v], float),
                 np.array([old_sources[i].size for i in v], float)) for k, v in by_page.items()}
    out: Dict[int, int] = {}
    for j, s in enumerate(new_sources):
        hit = pages.get((s.path, s.page))
        if hit is None:
            continue
        idx, centres, sizes = hit
        d = np.hypot(centres[:, 0] - s.center_y, centres[:, 1] - s.center_x)
        k = int(np.argmin(d))
        if d[k] <= sizes[k] / 4 and old_marks[idx[k]]:
            out[j] = int(old_marks[idx[k]])
            if used is not None:
                used.add(int(idx[k]))
    return out
