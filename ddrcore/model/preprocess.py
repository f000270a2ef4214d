"""Preprocessing as DDR-ID adopts it from Deep SVDD.

1. Per patch, global contrast normalisation with the l1 norm: subtract the
   patch mean, divide by the mean absolute deviation from that mean.
2. Min-max scaling with one minimum and one maximum taken over the normalised
   *normal training* patches only.  Validation and test patches use the same
   constants, so their values may fall outside [0, 1] — that is signal, not
   an error.

The constants are stored in the model file so scoring reproduces training.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# A patch whose mean absolute deviation is below this is treated as constant:
# it normalises to all zeros instead of dividing by (almost) zero.
GCN_EPS = 1e-8


def global_contrast_normalize(x: np.ndarray) -> np.ndarray:
    """l1 global contrast normalisation of each patch in (N, C, H, W).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Patches at native intensity.

    Returns
    -------
    ndarray of float32, same shape
        Each patch minus its mean, divided by its mean absolute deviation; a
        constant patch becomes all zeros.

    Examples
    --------
    >>> global_contrast_normalize(np.array([[[[10.0, 30.0]]], [[[5.0, 5.0]]]]))[:, 0, 0]
    array([[-1.,  1.],
           [ 0.,  0.]], dtype=float32)
    """
    x = np.asarray(x, dtype=np.float64)
    mean, scale = gcn_constants(x)
    return ((x - mean) / scale).astype(np.float32)


def gcn_constants(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each patch's mean and l1 scale (mean absolute deviation; 1 for a constant patch), shaped to broadcast.

    >>> mean, scale = gcn_constants(np.array([[[[10.0, 30.0]]]]))
    >>> mean.ravel().tolist(), scale.ravel().tolist()
    ([20.0], [10.0])
    """
    x = np.asarray(x, dtype=np.float64)
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    scale = np.abs(x - mean).mean(axis=axes, keepdims=True)
    return mean, np.where(scale < GCN_EPS, 1.0, scale)


@dataclass(frozen=True)
class Preprocessor:
    """GCN (l1) followed by min-max scaling with fitted constants."""

    minimum: float
    maximum: float

    @staticmethod
    def fit(normal_patches: np.ndarray) -> "Preprocessor":
        """Fit the min-max constants on the normal training patches (after GCN).

        Parameters
        ----------
        normal_patches : ndarray, shape (N, C, H, W)
            The normal training subset, native intensity.

        Returns
        -------
        Preprocessor
            Maps those patches into [0, 1]; other patches may fall outside.

        Examples
        --------
        >>> x = np.array([[[[0.0, 2.0]]], [[[0.0, 4.0]]]])
        >>> pre = Preprocessor.fit(x)
        >>> pre.minimum, pre.maximum
        (-1.0, 1.0)
        >>> pre(np.array([[[[0.0, 8.0]]]]))[0, 0, 0].tolist()
        [0.0, 1.0]
        """
        g = global_contrast_normalize(normal_patches)
        lo, hi = float(g.min()), float(g.max())
        if not np.isfinite([lo, hi]).all():
            raise ValueError("normal patches contain NaN or infinite values")
        if hi - lo < GCN_EPS:
            # Every training patch is constant: keep a unit range so nothing divides by zero.
            hi = lo + 1.0
        return Preprocessor(lo, hi)

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        g = global_contrast_normalize(patches)
        return ((g - self.minimum) / (self.maximum - self.minimum)).astype(np.float32)

    def to_dict(self) -> dict:
        return {"method": "gcn-l1+minmax", **asdict(self)}

    @staticmethod
    def from_dict(d: dict) -> "Preprocessor":
        return Preprocessor(float(d["minimum"]), float(d["maximum"]))
