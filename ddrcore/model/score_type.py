"""The two anomaly scores of DDR-ID (paper Section 3.3) and their names.

``AS_l`` (latent) is the squared distance of a patch's latent code E_C(X) to
the normal template Z_C; ``AS_r`` (recon) is how badly X_C + X_N reconstructs
the patch.  Algorithm 2 picks one of them per model.  This module is
torch-free: the GUI names the scores before torch is loaded.
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

    @property
    def label(self) -> str:
        """The paper's name: AS_l or AS_r."""
        return "AS_l" if self is ScoreType.LATENT else "AS_r"

    @property
    def meaning(self) -> str:
        """One line for users: what a high value of this score means."""
        if self is ScoreType.LATENT:
            return "far from the normal template in the latent space"
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
