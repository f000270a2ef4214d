"""Preferences: where scoring runs (this computer, or a Dask cluster).

The scheduler address is kept in the app's settings.  When one is set, the
Score command (and scoring after training) sends the patches' files to that
cluster, which reads them and the model file from the same paths; progress
and Cancel work as for local scoring.
"""
from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout

from .. import settings as appsettings

KEY = "scoring/cluster"


def scoring_cluster() -> str:
    """The Dask scheduler scoring runs on ("" = this computer)."""
    return str(appsettings.get(KEY, "") or "").strip()


def check_cluster(text: str) -> str:
    """"" when ``text`` is empty or a valid cluster; otherwise the one-line reason."""
    if not text.strip():
        return ""
    from ddrcore.cluster.connect import parse_cluster   # no Dask import: the address is only parsed

    try:
        parse_cluster(text)
    except ValueError as exc:
        return str(exc).replace("--cluster", "the scheduler")
    return ""


class PreferencesDialog(QDialog):
    """Edit the preferences; OK stores them (an invalid address keeps the dialog open and says why)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle("Preferences")
        self.scheduler = QLineEdit(scoring_cluster())
        self.scheduler.setObjectName("schedulerEdit")
        self.scheduler.setPlaceholderText("empty: score on this computer")
        self.scheduler.setClearButtonEnabled(True)
        self.scheduler.setMinimumWidth(380)
        help_text = QLabel(
            "<b>Score on a Dask cluster</b> (leave empty to score here):<br>"
            "<code>tcp://HOST:8786</code> a running scheduler (e.g. started by dask-jobqueue on SLURM), "
            "<code>local:N</code> N worker processes on this computer, or a scheduler file (<code>.json</code>).<br>"
            "The workers read the images and the model file at the same paths as this computer: "
            "they must see the same file system. Training always runs here.")
        help_text.setWordWrap(True)
        self.problem = QLabel("")
        self.problem.setObjectName("preferencesProblem")
        self.problem.setStyleSheet("color: #b00020")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(help_text)
        layout.addWidget(self.scheduler)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def accept(self) -> None:  # noqa: D102 (Qt API)
        why = check_cluster(self.scheduler.text())
        self.problem.setText(why)
        if why:
            return
        appsettings.put(KEY, self.scheduler.text().strip())
        super().accept()
