"""Work-arounds for defects in the Qt binding, checked at start-up.

PySide6 6.12.0 on Python 3.11 (found in this project's environment) returns
``None`` from every void method (``painter.save()``, ``setPen()``,
``setObjectName()``, ...) without adding a reference to it.  Each call lowers
``None``'s reference count by one; after some tens of thousands of calls —
seconds of gallery scrolling — Python aborts with "none_dealloc: deallocating
None".  Python 3.12 made ``None`` immortal (PEP 683), which hides the defect.

On an affected interpreter we give ``None`` the same treatment: a reference
count so large that the leak can never reach zero.  The probe runs once and
only acts when the leak is measured, so fixed bindings are left untouched.
"""
from __future__ import annotations

import sys

_checked = False
_applied = False

# 2**48 leaked references at a million per second would take almost nine years.
_IMMORTAL_BOOST = 1 << 48


def none_refcount_leak(calls: int = 200) -> int:
    """How many references to None ``calls`` void binding calls lose."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    return before - sys.getrefcount(None)


def protect_none_refcount() -> bool:
    """Apply the work-around if this binding leaks None references; True if applied."""
    global _checked, _applied
    if _checked:
        return _applied
    _checked = True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if none_refcount_leak() < 100:
        return False
    import ctypes

    # ob_refcnt is the first field of every CPython object (Py_ssize_t).
    ctypes.c_ssize_t.from_address(id(None)).value += _IMMORTAL_BOOST
    _applied = True
    return True
