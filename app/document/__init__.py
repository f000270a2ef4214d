"""The document: one Qt-free model of a ddrid session that emits psygnal events; the views follow it.

- :mod:`.document`: :class:`Document`, every change a method and an event;
- :mod:`.table`: :class:`PatchTable`, per-patch arrays (sources, marks, roles, scores) and their counts;
- :mod:`.marks`: the undo history of marks, and how marks follow objects when re-cut;
- :mod:`.patch_settings`: how the next inputs are cut.

Nothing in this package imports Qt (an import-linter contract in pyproject.toml).
"""
from .document import MIN_NORMALS, Added, Document
from .marks import MarkEdit, MarkHistory, carried_marks
from .patch_settings import PatchSettings
from .table import EXCLUDED, FILTERS, MARK_NAMES, NORMAL, SORTS, UNMARKED, PatchTable, patching_from_dict

__all__ = ["MIN_NORMALS", "Added", "Document", "MarkEdit", "MarkHistory", "carried_marks", "PatchSettings",
           "EXCLUDED", "FILTERS", "MARK_NAMES", "NORMAL", "SORTS", "UNMARKED", "PatchTable", "patching_from_dict"]
