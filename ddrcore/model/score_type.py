"""The anomaly scores of DDR-ID (paper Section 3.3, plus ours) and their names.

``AS_l`` (latent) is the squared distance of a patch's latent code E_C(X) to
the normal template Z_C; ``AS_r`` (recon) is the squared distance of X_C to the
template image D_C(Z_C) (Eq. 8).  Algorithm 2 picks one of them per model.
``AS_e`` (residual, ours) is the peak of the smoothed squared residual
(X - X_C)^2.  For objects with a known extent, ``AS_m`` (measure) scores
their measurements and ``AS_cell`` (cell) joins it with AS_e (with AS_l too
in model files from before 2026-12-06; see cellscore.py).  ``AS_c`` (combined, ours; the "explain" profile's score) is
AS_l unless the residual peak is much more unusual (see combined.py).  This
module is torch-free: the GUI names the scores before torch is loaded.
"""
from __future__ import annotations

from enum import Enum


class ScoreType(str, Enum):
    """Which anomaly score a model ranks by.

    A ``str`` enum: ``ScoreType.LATENT == "latent"``, so model files, CSVs and
    JSON keep the plain words.

    Examples
    --------
    >>> ScoreType("recon").label, ScoreType.LATENT == "latent"
    ('AS_r', True)
    >>> ScoreType.label_of("latent"), ScoreType.label_of(None)
    ('AS_l', 'None')
    """

    LATENT = "latent"
    RECON = "recon"
    RESIDUAL = "residual"
    COMBINED = "combined"
    MEASURE = "measure"
    CELL = "cell"

    @property
    def label(self) -> str:
        """The paper's name, AS_l or AS_r, or ours, AS_e and AS_c."""
        return {ScoreType.LATENT: "AS_l", ScoreType.RECON: "AS_r", ScoreType.RESIDUAL: "AS_e",
                ScoreType.COMBINED: "AS_c", ScoreType.MEASURE: "AS_m", ScoreType.CELL: "AS_cell"}[self]

    @property
    def meaning(self) -> str:
        """One line for users: what a high value of this score means."""
        if self is ScoreType.LATENT:
            return "far from the normal template in the latent space"
        if self is ScoreType.RESIDUAL:
            return "holds a spot that the normal part X_C cannot reproduce"
        if self is ScoreType.COMBINED:
            return "far from the normal template, or with a residual spot that stands out"
        if self is ScoreType.MEASURE:
            return "measured unlike the normal objects (size, shape, brightness, texture)"
        if self is ScoreType.CELL:
            return "looks and measures unlike the normal objects (AS_e and AS_m together; AS_l too in older models)"
        return "poorly reconstructed as normal part + residual"

    @classmethod
    def label_of(cls, value) -> str:
        """The label of ``value`` if it names a score, else ``str(value)`` (for display only)."""
        try:
            return cls(value).label
        except ValueError:
            return str(value)


#: The plain words, e.g. for argparse choices and model-file checks.
SCORE_TYPES = tuple(s.value for s in ScoreType)
