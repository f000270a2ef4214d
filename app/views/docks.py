"""Dock bodies that fit a laptop screen, and keeping the window on screen (used by the main window)."""
from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

#: The smallest a dock's contents may be: every dock fits beside the others on a 1280 x 800 screen.
DOCK_MIN = QSize(220, 120)


class DockBody(QWidget):
    """A dock's panel inside its scroll area, filling the dock down to the panel's minimum size.

    Word-wrapped labels give a panel a height-for-width, which QScrollArea then
    takes from the panel's *preferred* size (a plot's 480 px): the threshold
    panel stood 556 px tall in a 200 px dock, its histogram's x axis out of sight.
    """

    def __init__(self, panel: QWidget):
        super().__init__()
        # No layout of its own: QScrollArea asks a layout for its height-for-width; this body has none.
        self.panel = panel
        panel.setParent(self)

    def minimumSizeHint(self):  # noqa: N802 (Qt API)
        return self.panel.minimumSizeHint()

    def sizeHint(self):  # noqa: N802 (Qt API)
        return self.panel.minimumSizeHint()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.panel.setGeometry(self.rect())
        super().resizeEvent(event)


def fit_on_screen(window) -> None:
    """Keep the whole window (title bar to status bar) inside the available screen area."""
    screen = window.screen() or (window.windowHandle().screen() if window.windowHandle() else None)
    screen = screen or QGuiApplication.primaryScreen()
    if screen is None or window.isMaximized() or window.isFullScreen():
        return
    avail = screen.availableGeometry()
    frame = window.frameGeometry()
    extra_w = max(0, frame.width() - window.width())
    extra_h = max(0, frame.height() - window.height())
    w = min(window.width(), avail.width() - extra_w)
    h = min(window.height(), avail.height() - extra_h)
    if (w, h) != (window.width(), window.height()):
        window.resize(w, h)
    frame = window.frameGeometry()
    x = min(max(frame.x(), avail.left()), avail.right() + 1 - frame.width())
    y = min(max(frame.y(), avail.top()), avail.bottom() + 1 - frame.height())
    if (x, y) != (frame.x(), frame.y()):
        window.move(x, y)
