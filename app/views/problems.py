"""The Problems panel (files that were skipped, and other problems, as the document lists them) and error dialogs."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ..document.document import Document


def shown_reason(reason: str) -> str:
    """ddrcore's reasons name the CLI option; in the window the same choice is the toolbar's Channel field."""
    return reason.replace("(--channel ", "(toolbar Channel: ")


class ProblemsPanel(QWidget):
    """Lists the document's problems; Dismiss clears them.  ``wanted(bool)``: the panel should show / hide."""

    wanted = Signal(bool)

    def __init__(self, document: Document, parent=None):
        super().__init__(parent)
        self.setObjectName("problemsPanelWidget")
        self.list = QListWidget(objectName="problemsList")
        self.list.setWordWrap(True)
        hint = QLabel("These files were skipped, or used with what is said left out; everything else was "
                      "loaded. Multichannel files: pick a channel in the toolbar and open them again (in a new "
                      "project).")
        hint.setWordWrap(True)
        dismiss = QPushButton("Dismiss", objectName="dismissProblemsButton")
        dismiss.clicked.connect(document.clear_problems)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(hint)
        lay.addWidget(self.list, 1)
        lay.addWidget(dismiss, 0, Qt.AlignmentFlag.AlignRight)
        document.problems_added.connect(self._added)
        document.problems_cleared.connect(self._cleared)

    def _added(self, problems) -> None:
        for b in problems:
            self.list.addItem(f"{b.path}: {shown_reason(b.reason)}")
        self.wanted.emit(True)

    def _cleared(self) -> None:
        self.list.clear()
        self.wanted.emit(False)


def show_error(parent, title: str, message: str, detail: str = "") -> None:
    """A warning; with ``detail`` (the traceback of an unexpected error) behind a "Show Details…" button."""
    if not detail:
        QMessageBox.warning(parent, title, message)
        return
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    box.setInformativeText("This looks like a bug in ddrid. The details say where it happened: copy them into "
                           "a bug report. The app keeps running.")
    box.setDetailedText(detail)    # what a bug report needs; the message alone rarely says where it failed
    box.setStyleSheet("QTextEdit { min-width: 620px; min-height: 220px; }")   # a traceback needs room
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
