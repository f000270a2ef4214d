"""`ddrid-gui`: start the desktop application."""
from __future__ import annotations

import sys


def main(argv=None) -> int:
    from PySide6.QtWidgets import QApplication, QMainWindow

    argv = list(sys.argv if argv is None else argv)
    app = QApplication.instance() or QApplication(argv)
    win = QMainWindow()
    win.setWindowTitle("ddrid")
    win.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
