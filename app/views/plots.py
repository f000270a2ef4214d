"""pyqtgraph, imported when the first plot is built instead of at start-up.

Importing pyqtgraph (and matplotlib, which its colour-map menu pulls in) took
about 0.7 s of the 2.4 s the window needed to appear.  The plotting widgets sit
in docks that the start screen hides, so each builds its plots the first time
it is shown or given something to draw (:class:`PlotsOnDemand`).
"""
from __future__ import annotations

_configured = False


def pyqtgraph():
    """The pyqtgraph module, with ddrid's global options set on first use."""
    global _configured
    import pyqtgraph as pg

    if not _configured:
        pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="k", antialias=True)
        _configured = True
    return pg


class PlotsOnDemand:
    """Mixin for a QWidget whose pyqtgraph parts are made by ``_build_plots(pg)`` when first needed.

    Methods that draw call :meth:`ensure_plots` first; showing the widget builds them too, so the
    dock never appears half-empty.
    """

    plots_built = False

    def ensure_plots(self) -> None:
        if not self.plots_built:
            self.plots_built = True
            self._build_plots(pyqtgraph())

    def _build_plots(self, pg) -> None:  # pragma: no cover - each widget defines it
        raise NotImplementedError

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.ensure_plots()
        super().showEvent(event)
