"""The Help menu's message boxes: keyboard shortcuts, the glossary, About."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox


def show_shortcuts(window) -> None:
    """Help ▸ Keyboard Shortcuts."""
    rows = "".join(f"<tr><td>{name}</td><td><b>{keys}</b></td></tr>" for name, keys in window.act.shortcut_rows())
    box = QMessageBox(window)
    box.setWindowTitle("Keyboard shortcuts")
    box.setText(f"<table cellspacing=6>{rows}</table>")
    box.exec()


def show_glossary(window) -> None:
    """Help ▸ What Do These Mean? (not modal).

    A scrolling page in a dialog sized to the screen: the list of terms is
    taller than a 1280 x 800 screen, and a message box that tall puts its
    button out of reach.
    """
    from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

    from ..glossary import html

    old = getattr(window, "glossary_box", None)
    if old is not None:          # one page, brought back to the front
        old.show()
        old.raise_()
        return
    box = QDialog(window)
    box.setObjectName("glossaryBox")
    box.setWindowTitle("What do these mean?")
    page = QTextBrowser(box)
    page.setObjectName("glossaryPage")
    page.setHtml(html())
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, box)
    buttons.rejected.connect(box.close)
    layout = QVBoxLayout(box)
    layout.addWidget(page)
    layout.addWidget(buttons)
    screen = (window.screen() or box.screen()).availableGeometry()
    box.resize(min(720, int(screen.width() * 0.6)), min(760, int(screen.height() * 0.85)))
    box.setModal(False)
    box.show()   # not modal: the window and its shortcuts keep working beside it
    window.glossary_box = box


def show_about(window) -> None:
    """Help ▸ About ddrid."""
    from ddrcore import __version__

    QMessageBox.about(window, "About ddrid", f"<b>ddrid {__version__}</b><br>Anomalous patch finder based on "
                                           "DDR-ID (dual deep reconstruction networks).")
