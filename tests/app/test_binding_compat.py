"""The binding's None-reference leak (PySide6 6.12 on Python 3.11) cannot crash the app."""

import sys

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from ddrid_gui.compat import none_refcount_leak, protect_none_refcount  # noqa: E402

pytestmark = pytest.mark.gui


def test_many_void_calls_do_not_exhaust_none(win):
    from PySide6.QtGui import QImage, QPainter

    # MainWindow already ran it: a second call changes nothing and says the same.
    applied = protect_none_refcount()
    assert protect_none_refcount() is applied
    # Applied exactly where the binding leaks None on an interpreter without immortal None.
    leaks = sys.version_info < (3, 12) and sys.implementation.name == "cpython" and none_refcount_leak() >= 100
    assert applied == leaks
    img = QImage(16, 16, QImage.Format.Format_RGB32)
    painter = QPainter(img)
    # More void calls than None has references on an unprotected 3.11 interpreter.
    for _ in range(60_000):
        painter.save()
        painter.restore()
    painter.end()
    if sys.version_info < (3, 12) and none_refcount_leak() >= 100:
        assert sys.getrefcount(None) > 1 << 40
