"""`ddrid-gui [FOLDER|FILE|PROJECT ...]`: start the desktop application."""
from __future__ import annotations

import argparse
import signal
import sys
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from ddrcore import __version__

    parser = argparse.ArgumentParser(prog="ddrid-gui", description="ddrid desktop application: find anomalous "
                                     "image patches with DDR-ID.")
    parser.add_argument("paths", nargs="*", metavar="FOLDER|FILE|PROJECT",
                        help="folders or image files to load, or a .ddridproj project to open")
    parser.add_argument("--version", action="version", version=f"ddrid-gui {__version__}")
    from ddrcore.objects import SOURCES
    from ddrcore.objects.patching import object_size_arg

    g = parser.add_argument_group("patch source (preset in the toolbar; as for `ddrid train`)")
    g.add_argument("--objects", choices=SOURCES,
                   help="grid: square tiles; auto: one crop per detected object; labels: one per object of a "
                        "label image; points: one per centre in --points")
    g.add_argument("--object-size", type=object_size_arg, metavar="PX",
                   help="typical object diameter in pixels (default: estimated); crops are twice this a side")
    g.add_argument("--labels", metavar="DIR", help="labels: folder of label images (default: beside the images)")
    g.add_argument("--points", metavar="CSV", help="points: CSV of centres, columns path,y,x")
    args = parser.parse_args(argv)
    if args.objects is None and (args.labels or args.points):
        args.objects = "labels" if args.labels else "points"
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the GUI; ``argv`` are the arguments without the program name (default: sys.argv[1:])."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    from .compat import protect_none_refcount
    from .main_window import MainWindow

    protect_none_refcount()
    # Ctrl+C in the terminal ends the app (Qt's loop would otherwise swallow it);
    # annotations are autosaved after every change, so nothing marked is lost.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "ddrid-gui"])
    app.setApplicationName("ddrid")
    app.setOrganizationName("ddrid")
    app.setDesktopFileName("ddrid-gui")   # lets Linux desktops match the window to an installed launcher
    from .icon import app_icon
    app.setWindowIcon(app_icon())
    win = MainWindow()
    win.show()
    win.preset_patching(args.objects, args.object_size, args.labels, args.points)
    if args.paths:
        # Once the event loop runs: the window is drawn first, then the project or folder loads with progress.
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: win.open_paths(args.paths))
    code = app.exec()
    # Workers still finishing must not emit into a torn-down interpreter.
    QThreadPool.globalInstance().waitForDone(30000)
    return code


if __name__ == "__main__":
    sys.exit(main())
