"""Dock bodies that fit a laptop screen, and keeping the window on screen (used by the main window)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

#: The smallest a dock's contents may be: every dock fits beside the others on a 1280 x 800 screen.
DOCK_MIN = QSize(220, 120)


class DockBody(QWidget):
    """A dock's panel inside its scroll area, filling the dock down to the panel's minimum size.

    Word-wrapped labels give a panel a height-for-width, which QScrollArea then
    takes from the panel's *preferred* size (a plot's 480 px): the threshold
    panel stood 556 px tall in a 200 px dock, its histogram's x axis out of sight.
    So the body asks the panel's layout for its *minimum* height at the body's
    width instead: a long wrapped message (the quality check's warning after
    training) makes the dock scroll, where it used to squeeze the spin boxes
    above it to slivers at 1280 x 800.
    """

    def __init__(self, panel: QWidget):
        super().__init__()
        # No layout of its own: QScrollArea asks a layout for its height-for-width; this body has none.
        self.panel = panel
        panel.setParent(self)
        # A new message or a shown plot changes the height the panel needs at this width.
        panel.installEventFilter(self)

    def needed_height(self, width: int) -> int:
        """The least height at which every row of the panel keeps its minimum size at ``width``."""
        height = self.panel.minimumSizeHint().height()
        layout = self.panel.layout()
        if layout is not None and layout.hasHeightForWidth() and width > 0:
            height = max(height, layout.minimumHeightForWidth(width))
        return height

    def _fit(self) -> None:
        need = self.needed_height(self.width())
        if need != self.minimumHeight():
            self.setMinimumHeight(need)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt API)
        if watched is self.panel and event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return False

    def minimumSizeHint(self):  # noqa: N802 (Qt API)
        return self.panel.minimumSizeHint()

    def sizeHint(self):  # noqa: N802 (Qt API)
        return self.panel.minimumSizeHint()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self._fit()
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
