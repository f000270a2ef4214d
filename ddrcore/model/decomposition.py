"""What the Detail view shows of a decomposition X = X_C + X_N, in the image's own units.

The networks see preprocessed patches (GCN, then min-max; see preprocess.py),
so X_C and X_N come out in those units.  A microscopist reads intensities, so
both are mapped back through the patch's own GCN constants and the model's
min-max constants: X_C takes the patch's mean (it is the normal-looking
image), X_N is a pure difference (no offset), and X_C + X_N in image units is
the reconstruction in image units.  numpy only: the GUI imports this before
torch is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from .preprocess import Preprocessor, gcn_constants
from .score_type import ScoreType

#: The residual the Detail view shows as "what is anomalous", and the one
#: ``ddrid bench rings`` measures.
RESIDUALS = ("x_n", "input_minus_x_c")


def to_image_units(raw: np.ndarray, x_c: np.ndarray, x_n: np.ndarray,
                   pre: Preprocessor) -> tuple[np.ndarray, np.ndarray]:
    """X_C and X_N of patches in the units of the raw image.

    Parameters
    ----------
    raw : ndarray, shape (N, C, H, W)
        The patches at native intensity, as the network was given them.
    x_c, x_n : ndarray, shape (N, C, H, W)
        The decomposition in preprocessed units.
    pre : Preprocessor
        The model's min-max constants.

    Returns
    -------
    x_c_img, x_n_img : ndarray of float32
        ``x_c_img`` includes the patch's mean; ``x_n_img`` is a difference.

    Examples
    --------
    >>> pre = Preprocessor(-1.0, 1.0)
    >>> raw = np.array([[[[10.0, 30.0]]]])
    >>> x = pre(raw)                       # [0, 1]
    >>> xc, xn = to_image_units(raw, x, np.zeros_like(x), pre)
    >>> xc.ravel().tolist(), xn.ravel().tolist()
    ([10.0, 30.0], [0.0, 0.0])
    """
    mean, scale = gcn_constants(raw)
    span = pre.maximum - pre.minimum
    x_c_img = (np.asarray(x_c, np.float64) * span + pre.minimum) * scale + mean
    x_n_img = np.asarray(x_n, np.float64) * span * scale
    return x_c_img.astype(np.float32), x_n_img.astype(np.float32)


def residual_map(raw: np.ndarray, x_c_img: np.ndarray, x_n_img: np.ndarray, kind: str = "x_n",
                 sigma: float = 1.0) -> np.ndarray:
    """Where a patch departs from normal, as a non-negative map per patch (N, H, W).

    ``kind`` "x_n" is the residual network's output, "input_minus_x_c" what the
    class-specific part leaves unexplained; channels are summed in absolute
    value and the map is smoothed lightly (Gaussian ``sigma`` in pixels) so a
    single noisy pixel does not outshine a spot.

    >>> raw = np.zeros((1, 1, 9, 9)); raw[0, 0, 4, 6] = 10
    >>> m = residual_map(raw, np.zeros_like(raw), raw, "x_n")
    >>> [int(i) for i in np.unravel_index(m[0].argmax(), m[0].shape)]
    [4, 6]
    """
    if kind not in RESIDUALS:
        raise ValueError(f"residual must be one of {', '.join(RESIDUALS)}, got {kind!r}")
    diff = x_n_img if kind == "x_n" else np.asarray(raw, np.float32) - x_c_img
    heat = np.abs(np.asarray(diff, np.float32)).sum(axis=1)
    if sigma > 0:
        heat = np.stack([gaussian_filter(h, sigma) for h in heat])
    return heat


def why_ranked(score_type: str, value: float, validation: Optional[Sequence[float]] = None,
               rule: str = "") -> str:
    """One line saying which score ranked a patch and why that score.

    ``validation``: the chosen score on the model's validation normals, to say
    how unusual ``value`` is; ``rule``: how the score was chosen (stored in
    the model; Algorithm 2 when empty).

    >>> print(why_ranked("latent", 5.0, [1.0, 2.0, 3.0, 9.0]))  # doctest: +NORMALIZE_WHITESPACE
    Ranked by AS_l (far from the normal template in the latent space), chosen by Algorithm 2
    (the lower mean on validation normals); higher than 75 % of validation normals.
    """
    st = ScoreType(score_type)
    rule = rule or "Algorithm 2 (the lower mean on validation normals)"
    line = f"Ranked by {st.label} ({st.meaning}), chosen by {rule}"
    if validation is not None and len(validation) and np.isfinite(value):
        share = float(np.mean(np.asarray(validation) < value))
        line += ("; higher than every validation normal" if share == 1.0 else
                 f"; higher than {100 * share:.0f} % of validation normals")
    return line + "."


#: What the Detail view presents as "what is anomalous" (see RESIDUALS) under the paper profile.
DEFAULT_RESIDUAL = "x_n"
#: ... and under each other profile.  The "explain" profile trains X_N towards zero on normals and X_C
#: to follow the input, so what R_C leaves unexplained is the anomaly (benchmarks/experiments/decomposition.md).
PROFILE_RESIDUAL = {"explain": "input_minus_x_c"}


def default_residual(model) -> str:
    """The residual the Detail view shows for ``model``: by its training profile."""
    return PROFILE_RESIDUAL.get(getattr(model.config, "profile", "paper"), DEFAULT_RESIDUAL)


@dataclass
class Explanation:
    """One patch as the Detail view shows it: every image in the patch's own units."""

    raw: np.ndarray        # (C, S, S) the input at native intensity (resized to the model's input)
    x_c: np.ndarray        # (C, S, S) the normal-looking part
    x_n: np.ndarray        # (C, S, S) the residual part (a difference: no offset)
    heat: np.ndarray       # (S, S) the smoothed residual map
    residual: str          # which residual ``heat`` shows (RESIDUALS)
    latent: float          # AS_l
    recon: float           # AS_r
    why: str               # one line: which score ranked it and why
    residual_score: float = float("nan")   # AS_e, where the model has it (explain profile)
    # The heat a normal patch reaches, in this patch's image units (NaN where the model cannot say):
    # the square root of the validation normals' 99th-percentile AS_e, scaled as X_C is.
    heat_normal: float = float("nan")


def explain(model, raw: np.ndarray, residual: Optional[str] = None, source=None) -> Explanation:
    """Decompose one raw patch (C, S, S) with ``model`` and put every part in image units.

    ``residual`` defaults to :func:`default_residual` of the model.  ``source``
    (the patch's :class:`~ddrcore.io.images.PatchSource`) carries the object's
    measurements: a model that ranks by AS_cell needs them for the score it
    ranks by.  Without them the line says what the network alone gives (AS_c).

    Runs the networks (torch is imported here, not when the module loads).
    """
    from ..io.images import PatchSet
    from ..progress import run_to_end
    from .scoring import score_patches

    raw = np.asarray(raw, np.float32)[None]
    patches = PatchSet(raw, [source]) if source is not None else raw
    s = run_to_end(score_patches(model, patches, decompose=True))
    x_c, x_n = to_image_units(raw, s.x_c, s.x_n, model.preprocessor)
    residual = residual or default_residual(model)
    score_type = model.score_type
    if score_type in ("cell", "measure") and s.cell is None and s.combined is not None:
        # A patch without its object's measurements: the network's part of the cell score.
        score_type = "combined"
    value = float(s.of(score_type)[0])
    why = why_ranked(score_type, value, model.validation_scores.get(score_type),
                     model.validation.get("score_rule", "") if score_type == model.score_type else
                     "the network alone (this patch came without its object's measurements)")
    if score_type == "cell" and model.measure is not None:
        from .combined import calibration, standardised

        by_shape = float(standardised(np.asarray(s.measure, np.float64), model.measure.calibration)[0])
        if "latent" in model.config.cell_rule.split("+"):
            # Older models: the image's part is AS_c (AS_l unless the residual peak stands out).
            by_image, image = float(s.combined[0]), "its image (AS_c)"
        else:
            by_image = float(standardised(np.asarray(s.residual, np.float64),
                                          calibration(model.validation_scores)["residual"])[0])
            image = "what the network could not reconstruct (AS_e: look at the heat layer)"
        # Compared on the normals' scale (z), not as the raw scores the rows beside this line show, which
        # have units of their own: "AS_e 0.8 weighs more than AS_m 5.4" read as a contradiction.
        high, low = max(by_shape, by_image), min(by_shape, by_image)
        zs = f"z {high:.1f} against {low:.1f}, in standard deviations of the normals"
        why += (f" Here its measurements (AS_m: size, shape, brightness) weigh more than {image} ({zs})."
                if by_shape > by_image else f" Here {image} weighs more than its measurements (AS_m) ({zs}).")
    if score_type == "combined":
        from .combined import calibration, residual_decides

        cal = calibration(model.validation_scores)
        if cal is not None and residual_decides(float(s.latent[0]), float(s.residual[0]), cal):
            why += " Here the residual peak (AS_e) decided: look at the heat layer."
        else:
            why += " Here the latent code (AS_l) decided: the patch as a whole."
    return Explanation(raw=raw[0], x_c=x_c[0], x_n=x_n[0], heat=residual_map(raw, x_c, x_n, residual)[0],
                       residual=residual, latent=float(s.latent[0]), recon=float(s.recon[0]), why=why,
                       residual_score=float("nan") if s.residual is None else float(s.residual[0]),
                       heat_normal=normal_heat_level(model, raw) if residual == "input_minus_x_c" else float("nan"))


#: Which validation normals' residual peak counts as "what a normal patch shows" in the heat layer.
NORMAL_HEAT_QUANTILE = 0.99


def normal_heat_level(model, raw: np.ndarray) -> float:
    """How much |input - X_C| heat a normal patch shows, in the units of ``raw`` (1, C, S, S).

    AS_e is the peak of the smoothed squared residual in preprocessed units; the root of its
    validation quantile, scaled to the patch's units as X_C is, bounds the smoothed absolute
    residual of those normals.  NaN when the model holds no AS_e validation scores.
    """
    val = model.validation_scores.get("residual")
    if val is None or len(val) == 0:
        return float("nan")
    _, scale = gcn_constants(np.asarray(raw, np.float64))
    span = model.preprocessor.maximum - model.preprocessor.minimum
    peak = float(np.quantile(np.asarray(val, np.float64), NORMAL_HEAT_QUANTILE))
    return float(np.sqrt(max(peak, 0.0)) * span * float(np.ravel(scale)[0]))
