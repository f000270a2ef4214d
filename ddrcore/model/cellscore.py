"""The cell score: what DDR-ID cannot reconstruct in an object and what its own measurements say.

DDR-ID sees a crop resized to the network's input.  That hides what a
microscopist reads first: a condensed nucleus is anomalous *because* it is
small and bright, a fragmented one because it is not solid.  The object's
measurements (:mod:`ddrcore.objects.measure`) say it directly, and cheaply.

So for objects whose extent is known, ddrid keeps a second, small model of
the training normals: their measurements (logs of the scale measures),
standardised and then whitened (:func:`whitening`).  AS_m, the measurement
score, is the mean Euclidean distance to the ``K`` nearest training normals in
that space (a k-NN density score: it needs no assumption about the shape of
the normal cloud).  Then, each on the
normals' own scale (log, standardised, as AS_c already does for AS_l and AS_e):

    AS_cell = (z(AS_e) + z(AS_m)) / sqrt(2)

its most unusual spot (AS_e) and its measurements (AS_m), in equal parts.
An anomaly that one of them sees still rises; one that both see rises most;
noise in one alone is diluted.  Until 2026-12-06 DDR-ID's latent score AS_l
was a third part, (z(AS_l) + z(AS_e) + z(AS_m)) / sqrt(3); model files from
before keep it (``TrainConfig.cell_rule``).  Measured on four real fields
(two from outside the repository) over four seeds with implanted odd nuclei
(``ddrid bench real``, benchmarks/results/real-fields-seed*.md), AS_l was
the weakest view on every field and its scale, taken from a few held-out
objects, let it outweigh the others; without it the mean AUC rose on all
four fields (0.920 / 0.947 / 0.952 / 0.878 against 0.907 / 0.939 / 0.952 /
0.873).  Torch-free.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

#: Neighbours of the k-NN measurement score.
K = 5
#: Columns of :data:`ddrcore.objects.measure.MEASUREMENTS` taken as logs (scale measures).
_LOG = (0, 1, 4, 5, 6, 7, 8, 9, 10)
_TINY = 1e-6
#: Floor on AS_m before its log, and on its spread (as combined.py floors AS_l and AS_e).
_FLOOR = 1e-12
#: The sizes a stored measure model's arrays may have (lower bound 0: none): the measurements are logs,
#: shape ratios and intensities standardised, so anything near these bounds is forged or damaged.
#: (A spread may be tiny where the normals barely differ, e.g. all solid; squared differences over 1e-100
#: still stay finite.)
_RANGES = {"mean": (0, 1e6), "std": (1e-100, 1e6), "train": (0, 1e6), "calibration": (0, 1e6)}


def feature_matrix(sources: Sequence, relative: bool = False, reference: Optional[Sequence[float]] = None
                   ) -> np.ndarray:
    """(N, F) features of patches from their measurements; rows of NaN where a patch has none.

    With ``relative``, the intensities are read against the object's page
    (its ``against_page``: background, typical object, and the object's CV
    and centre-over-rim ratio above that background): mean and brightest
    pixel as (value - background) / (typical - background), the integrated
    intensity above the background in the same unit, the two ratios above
    the background.  A field taken at 1.2 times the exposure, or with another
    camera offset, then measures as it did; an object twice as bright as its
    page's typical one still measures 2.  (Read raw, a brighter field moved
    every object's intensities alike, and the measurement score flagged 30
    of its 40 normal nuclei.)  A source whose page says nothing (too few
    objects clearly above its background) is read against ``reference``,
    the training pages' (background, typical object) in native units; with
    no reference, raw.

    Examples
    --------
    >>> from types import SimpleNamespace as S
    >>> m = (100.0, 40.0, 0.5, 0.9, 12.0, 10.0, 50.0, 80.0, 5000.0, 0.2, 1.1)
    >>> f = feature_matrix([S(measurements=m), S(measurements=())])
    >>> f.shape, round(float(f[0, 0]), 3), bool(np.isnan(f[1]).all())
    ((2, 11), 4.605, True)
    >>> brighter = tuple(v * 1.2 if j in (6, 7, 8) else v for j, v in enumerate(m))
    >>> a, b = (feature_matrix([S(measurements=x, against_page=(10.0 * k, 60.0 * k, 0.25, 1.2))], relative=True)
    ...         for x, k in ((m, 1.0), (brighter, 1.2)))
    >>> bool(np.allclose(a, b)), round(float(np.exp(a[0, 6])), 3)
    (True, 0.8)
    >>> c = feature_matrix([S(measurements=m, against_page=())], relative=True, reference=(10.0, 60.0))
    >>> round(float(np.exp(c[0, 6])), 3)
    0.8
    """
    from ..objects.measure import DIMMEST, MEASUREMENTS

    out = np.full((len(sources), len(MEASUREMENTS)), np.nan)
    for i, s in enumerate(sources):
        m = getattr(s, "measurements", ())
        if len(m) == len(MEASUREMENTS):
            out[i] = m
            page = getattr(s, "against_page", ())
            if relative and len(page) == 4:
                out[i, 6:11] = _relative_intensities(out[i], *page)
            elif relative and reference is not None:
                # Its CV taken above the reference's background too (measured above zero: its spread is
                # cv * mean); its centre ratio as measured.
                background, unit = reference[0], reference[1] - reference[0]
                cv = out[i, 9] * out[i, 6] / max(out[i, 6] - background, DIMMEST * unit)
                out[i, 6:11] = _relative_intensities(out[i], background, reference[1], cv, out[i, 10])
    logs = list(_LOG)
    out[:, logs] = np.log(np.maximum(out[:, logs], _TINY))
    return out


def page_reference(sources: Sequence) -> Optional[tuple]:
    """(background, typical object) of the pages the sources come from, their medians; None where none says.

    >>> from types import SimpleNamespace as S
    >>> page_reference([S(against_page=(10.0, 60.0, 0.1, 1.0)), S(against_page=()), S(against_page=(20.0, 80.0, 0.1, 1.0))])
    (15.0, 70.0)
    """
    pages = np.array([s.against_page[:2] for s in sources if len(getattr(s, "against_page", ())) == 4], float)
    if not len(pages):
        return None
    background, typical = (float(v) for v in np.median(pages, axis=0))
    return (background, typical) if typical > background else None


def _relative_intensities(m: np.ndarray, background: float, typical: float, cv: float, ratio: float) -> np.ndarray:
    """Columns 6-10 of a measurement row (mean, max, integrated, CV, centre ratio) against the page."""
    from ..objects.measure import DIMMEST

    unit = typical - background
    return np.array([max((m[6] - background) / unit, DIMMEST), max((m[7] - background) / unit, DIMMEST),
                     max((m[8] - background * m[0]) / unit, DIMMEST * m[0]), cv, ratio])


def has_features(features: np.ndarray) -> bool:
    """Whether every patch has its measurements (objects with a known extent)."""
    return features.size > 0 and bool(np.isfinite(features).all())


#: Eigenvalues of the shrunk covariance below this share of their mean are raised to it before
#: whitening, so no direction is stretched more than sqrt(10) times the typical one: a combination the
#: normals never vary in (log integrated intensity = log mean intensity + log area, exactly, for objects
#: of even brightness) must not make every tiny difference in it odd.  On the 16 real-field runs kept by
#: benchmarks/experiments/capture_dump.py, 0.1 and 0.001 rank alike (AS_cell within 0.001).
_EIGEN_FLOOR = 0.1


def whitening(standardised: np.ndarray) -> np.ndarray:
    """(F, F) matrix W such that ``standardised @ W`` has about unit covariance (Ledoit-Wolf, to the power -1/2).

    Why: the eleven measurements are not eleven independent views.  Five say
    size (area, perimeter, both axis lengths, integrated intensity), so in a
    plain standardised space a nucleus odd in size is five axes away and one
    odd in its centre ratio (a hollow one) one axis away, diluted among the
    normal spread of the other ten.  Whitening counts each independent way
    the normals vary once.  Ledoit-Wolf shrinks the covariance towards a
    multiple of the identity by as much as the few objects call for (13-173
    training objects in 11 dimensions on the real fields measured), so W
    stays finite and smooth where a plain sample covariance would not.
    Measured with ``ddrid bench real`` on four real fields x four seeds
    (docs/benchmarks.md, "Real fields"): AS_cell 0.938 / 0.957 / 0.963 /
    0.896 against 0.927 / 0.959 / 0.955 / 0.892 without it (DSB / U2OS /
    HT29 / Kc167), 15 of 16 runs higher.

    Examples
    --------
    Two columns that both say size and one that says something else: an
    object 3 sd off in size is as far out as one 3 sd off in the third
    measurement, not sqrt(2) times farther.

    >>> rng = np.random.default_rng(0)
    >>> size = rng.normal(0, 1, 500)
    >>> x = np.c_[size, size + rng.normal(0, 0.1, 500), rng.normal(0, 1, 500)]
    >>> x = (x - x.mean(0)) / x.std(0)
    >>> odd = np.array([[3.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    >>> np.linalg.norm(odd, axis=1).round(1).tolist(), np.linalg.norm(odd @ whitening(x), axis=1).round(1).tolist()
    ([4.2, 3.0], [3.0, 3.0])
    """
    from sklearn.covariance import ledoit_wolf

    x = np.asarray(standardised, np.float64)
    n_features = x.shape[1]
    if len(x) < 2:
        return np.eye(n_features)
    cov, _ = ledoit_wolf(x)
    values, vectors = np.linalg.eigh(cov)
    mean = float(values.mean())
    if not np.isfinite(mean) or mean <= 0:
        return np.eye(n_features)
    values = np.maximum(values, _EIGEN_FLOOR * mean)
    # Symmetric (ZCA) form: distances are the same for any orthogonal W, and this one keeps each
    # axis nearest to its own measurement.
    return (vectors / np.sqrt(values)) @ vectors.T


class MeasureModel:
    """The training normals' measurements, standardised and whitened; scores new objects by k-NN distance.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(0, 1, (50, 3))
    >>> m = MeasureModel.fit(train)
    >>> near, far = m.score(np.array([[0.0, 0, 0], [6.0, 6, 6]]))
    >>> bool(far > 3 * near)
    True
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, train: np.ndarray, calibration=None,
                 whiten: Optional[np.ndarray] = None, reference: Optional[Sequence[float]] = None):
        self.mean = np.asarray(mean, np.float64)
        self.std = np.asarray(std, np.float64)
        # The whitening applied after standardising (:func:`whitening`); the identity for model files
        # written before it existed, which then score exactly as they did.
        self.whiten = np.eye(len(self.mean)) if whiten is None else np.asarray(whiten, np.float64)
        self.train = np.asarray(train, np.float64)      # standardised, whitened training features
        # The training pages' (background, typical object) in native units (page_reference): what a page
        # that says nothing itself is read against; None in models reading raw intensities.
        self.reference = None if reference is None else (float(reference[0]), float(reference[1]))
        # (mean, std) of log AS_m over the normals, each scored against the others: AS_m's scale.
        self.calibration = tuple(calibration) if calibration is not None else measure_calibration(
            self.score_left_out())

    @staticmethod
    def fit(features: np.ndarray) -> "MeasureModel":
        features = np.asarray(features, np.float64)
        mean = features.mean(0)
        # A measure that never varies among the normals (e.g. all solidity 1) must not divide by zero,
        # nor make any tiny difference infinitely unusual: its spread is floored at a tenth of the typical one.
        std = features.std(0)
        floor = 0.1 * float(np.median(std[std > 0])) if (std > 0).any() else 1.0
        std = np.maximum(std, floor)
        z = (features - mean) / std
        w = whitening(z)
        return MeasureModel(mean, std, z @ w, whiten=w)

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Measurements in AS_m's space: standardised by the normals, then whitened."""
        return ((np.asarray(features, np.float64) - self.mean) / self.std) @ self.whiten

    def score(self, features: np.ndarray, batch: int = 4096) -> np.ndarray:
        """AS_m: mean distance to the ``K`` nearest training normals (standardised, whitened space)."""
        x = self.transform(features)
        k = min(K, len(self.train))
        out = np.empty(len(x))
        for i in range(0, len(x), batch):
            d = np.sqrt(((x[i: i + batch, None, :] - self.train[None]) ** 2).sum(-1))
            out[i: i + batch] = np.sort(d, axis=1)[:, :k].mean(1)
        return out

    def score_left_out(self) -> np.ndarray:
        """AS_m of each training normal against the others (itself left out): the score's spread on normals."""
        d = np.sqrt(((self.train[:, None, :] - self.train[None]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        k = min(K, len(self.train) - 1)
        return np.sort(d, axis=1)[:, :k].mean(1)

    def to_dict(self) -> dict:
        # float64 as computed: a reloaded model scores exactly as the one that was saved.
        return {"mean": self.mean, "std": self.std, "train": self.train,
                "calibration": np.asarray(self.calibration, np.float64), "whiten": self.whiten,
                **({"reference": np.asarray(self.reference, np.float64)} if self.reference is not None else {})}

    @staticmethod
    def from_dict(d: dict, n_features: int) -> "MeasureModel":
        """From a model file; every array is checked for shape and finiteness."""
        arrays = {}
        for key in ("mean", "std", "train", "calibration"):
            v = np.asarray(d.get(key), np.float64)
            if not np.isfinite(v).all():
                raise ValueError(f"measure model {key} holds NaN or infinite values")
            arrays[key] = v
        if arrays["mean"].shape != (n_features,) or arrays["std"].shape != (n_features,):
            raise ValueError("measure model mean/std have the wrong length")
        if arrays["train"].ndim != 2 or arrays["train"].shape[1] != n_features or len(arrays["train"]) < 2:
            raise ValueError("measure model training features are malformed")
        if not (arrays["std"] > 0).all():
            raise ValueError("measure model spreads must be positive")
        if arrays["calibration"].shape != (2,) or not arrays["calibration"][1] >= _FLOOR:
            raise ValueError("measure model calibration must be a mean and a positive spread")
        # Finite is not enough either: the measurements are logs and ratios of modest size, and values far
        # from them overflow (a spread of 1e-300 divides into infinity, a mean of 1e308 into NaN).
        for key, (lo, hi) in _RANGES.items():
            v = np.abs(arrays[key])
            if v.size and (v.max() > hi or (lo and v.min() < lo)):
                raise ValueError(f"measure model {key} holds values outside {lo:g}..{hi:g} in size, which "
                                 "no measurement has")
        whiten = None
        if d.get("whiten") is not None:       # absent in model files from before the whitening
            whiten = np.asarray(d["whiten"], np.float64)
            if (whiten.shape != (n_features, n_features) or not np.isfinite(whiten).all()
                    or np.abs(whiten).max() > _RANGES["train"][1]):
                raise ValueError(f"measure model whitening must be a finite {n_features} x {n_features} matrix "
                                 "of modest values")
        reference = None
        if d.get("reference") is not None:        # absent in model files reading raw intensities
            reference = np.asarray(d["reference"], np.float64)
            if (reference.shape != (2,) or not np.isfinite(reference).all() or not reference[1] > reference[0]
                    or np.abs(reference).max() > 1e300):
                raise ValueError("measure model reference must be a finite background below a typical object")
        return MeasureModel(arrays["mean"], arrays["std"], arrays["train"], arrays["calibration"], whiten, reference)


def cell_score(latent: np.ndarray, residual: np.ndarray, measure: np.ndarray, cal, measure_cal,
               rule: str = "residual+measure") -> np.ndarray:
    """AS_cell: the parts ``rule`` names (:data:`ddrcore.config.CELL_RULES`), each standardised, in equal parts.

    ``cal`` is :func:`ddrcore.model.combined.calibration` (the validation
    normals' log mean and spread of AS_l and AS_e), ``measure_cal`` AS_m's.
    The sum is divided by the square root of the number of parts, so that
    AS_cell of a normal object has a spread of about 1 whatever the rule.

    Examples
    --------
    >>> cal = {"latent": (0.0, 1.0), "residual": (0.0, 1.0)}
    >>> e = np.exp(np.array([0.0, 1.0]))
    >>> cell_score(e, e, e, cal, (0.0, 1.0)).round(3).tolist()
    [0.0, 1.414]
    >>> cell_score(e, e, e, cal, (0.0, 1.0), "latent+residual+measure").round(3).tolist()
    [0.0, 1.732]
    """
    from .combined import standardised

    z = {"latent": lambda: standardised(latent, cal["latent"]),
         "residual": lambda: standardised(residual, cal["residual"]),
         "measure": lambda: standardised(measure, measure_cal)}
    parts = rule.split("+")
    if not parts or any(p not in z for p in parts):
        raise ValueError(f"unknown cell rule {rule!r}")
    return sum(z[p]() for p in parts) / np.sqrt(len(parts))


#: How each part of AS_cell is named to users.
_PART_TEXT = {"latent": "AS_l", "residual": "AS_e", "measure": "the objects' measurements (AS_m)"}


def cell_parts_text(rule: str) -> str:
    """The parts of AS_cell a rule joins, in words.

    Examples
    --------
    >>> cell_parts_text("residual+measure")
    "AS_e and the objects' measurements (AS_m)"
    >>> cell_parts_text("latent+residual+measure")
    "AS_l, AS_e and the objects' measurements (AS_m)"
    """
    words = [_PART_TEXT[p] for p in rule.split("+")]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def measure_calibration(validation_measure: np.ndarray) -> Optional[tuple]:
    """(mean, std) of log AS_m over the validation normals."""
    v = np.asarray(validation_measure, np.float64)
    if v.size == 0:
        return None
    logs = np.log(np.maximum(v, _FLOOR))
    return float(logs.mean()), max(float(logs.std()), _FLOOR)
