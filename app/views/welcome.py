"""The start screen: what to do, in one screen, plus demo data and recent projects."""
from __future__ import annotations

from pathlib import Path
from typing import List

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

STEPS = """
<h1 style='margin-bottom:2px'>ddrid</h1>
<p style='color:#555'>Find anomalous image patches with DDR-ID, a one-class detector:
it learns what <i>normal</i> looks like and ranks everything else.</p>
<ol style='line-height:150%'>
<li><b>Drop a folder of TIFFs</b> (or single files, stacks, large fields) anywhere on this window,
or use <i>File ▸ Open Folder…</i> Large images and stacks are cut into patches.</li>
<li><b>Mark normal patches</b>: select tiles and press <b>N</b> (or declare a whole folder normal).
<b>X</b> excludes artefacts, <b>U</b> unmarks.</li>
<li><b>Train</b> in the Train panel. It runs in the background; loss curves update live.</li>
<li><b>Browse the ranking</b>: the gallery sorts most anomalous first, the detail panel shows
each patch as input, class-specific part X<sub>C</sub> and residual X<sub>N</sub>.
Move the threshold, then export a ranked CSV or a report.</li>
</ol>
"""


class WelcomePage(QWidget):
    openDemoRequested = Signal()
    openFolderRequested = Signal()
    openProjectRequested = Signal(str)   # "" = ask for a file
    restoreRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("welcomePage")
        text = QLabel(STEPS)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        self.demo_button = QPushButton("Open demo data")
        self.demo_button.setObjectName("openDemoButton")
        self.demo_button.setToolTip("Synthetic endosome patches: training normals are marked, "
                                    "so you can press Train right away")
        self.folder_button = QPushButton("Open folder…")
        self.project_button = QPushButton("Open project…")
        for b in (self.demo_button, self.folder_button, self.project_button):
            b.setMinimumHeight(34)
        self.demo_button.setDefault(True)
        self.demo_button.clicked.connect(self.openDemoRequested.emit)
        self.folder_button.clicked.connect(self.openFolderRequested.emit)
        self.project_button.clicked.connect(lambda: self.openProjectRequested.emit(""))
        self.restore_button = QPushButton("Restore last unsaved session")
        self.restore_button.setObjectName("restoreButton")
        self.restore_button.clicked.connect(self.restoreRequested.emit)
        self.restore_button.hide()
        self.recent_label = QLabel("<b>Recent projects</b> (double-click to open)")
        self.recent = QListWidget()
        self.recent.setObjectName("recentProjects")
        self.recent.setMaximumHeight(150)
        self.recent.itemActivated.connect(lambda item: self.openProjectRequested.emit(item.data(Qt.ItemDataRole.UserRole)))
        buttons = QHBoxLayout()
        for b in (self.demo_button, self.folder_button, self.project_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(text)
        column.addLayout(buttons)
        column.addSpacing(8)
        column.addWidget(self.restore_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addSpacing(8)
        column.addWidget(self.recent_label)
        column.addWidget(self.recent)
        column.addStretch(2)
        box = QWidget()
        box.setLayout(column)
        box.setMaximumWidth(760)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 4)
        outer.addStretch(1)

    def set_autosave(self, when: str) -> None:
        """Offer the autosaved session ("" hides the button)."""
        self.restore_button.setVisible(bool(when))
        self.restore_button.setText(f"Restore last unsaved session ({when})")

    def set_recent(self, paths: List[str]) -> None:
        self.recent.clear()
        for p in paths:
            self.recent.addItem(f"{Path(p).name}  —  {Path(p).parent}")
            self.recent.item(self.recent.count() - 1).setData(Qt.ItemDataRole.UserRole, p)
        self.recent_label.setVisible(bool(paths))
        self.recent.setVisible(bool(paths))
