"""The quality check for object models: odd cells made from the validation normals.

The pixel-level synthetic anomalies of :mod:`ddrcore.model.quality` (a
pasted spot, a shuffled square, a flipped half) are easy for any model that
learnt something, so on real nuclei the check passed (AUC 0.74) while the
real ranking was near chance (0.55).  For a model that ranks *objects*, the
check now changes each validation object into an odd cell of one of the
kinds a microscopist looks for (condensed, fragmented, hollow, micronucleus,
textured: :mod:`ddrcore.objects.oddities`, the same recipes ``ddrid bench
real`` implants into real fields) and scores both with the model's own
score, network and measurements together.

It works on the patches as the model sees them (resized to its input): the
object's outline is found again in the patch (the connected part above
half-way between its background and its bright pixels, around the centre),
changed, measured again, and its measurements brought back to page pixels
with the patch's scale.  Normals are measured the same way, so both sides
share any bias of measuring at the network's size.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

#: Below this AUC of validation normals against odd cells made from them, the model is reported as weak.
WARN_AUC = 0.8


def object_mask(grey: np.ndarray) -> Optional[np.ndarray]:
    """The object at the centre of a patch: pixels above half-way from its background to its bright part.

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> patch = np.where((yy - 16) ** 2 + (xx - 16) ** 2 <= 36, 100.0, 10.0)
    >>> int(object_mask(patch).sum())
    113
    """
    from scipy import ndimage as ndi

    edge = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    bg = float(np.median(edge))
    s = grey.shape[0]
    centre = grey[s // 4: s - s // 4, s // 4: s - s // 4]
    hi = float(np.percentile(centre, 95))
    if not hi > bg:
        return None
    parts, n = ndi.label(grey > (bg + hi) / 2)
    if n == 0:
        return None
    c = s // 2
    k = parts[c, c]
    if k == 0:      # the centre falls in a hole (a ring): the part nearest the centre
        ys, xs = np.nonzero(parts)
        j = int(np.argmin((ys - c) ** 2 + (xs - c) ** 2))
        k = parts[ys[j], xs[j]]
    return ndi.binary_fill_holes(parts == k)


def _measure(grey: np.ndarray, mask: np.ndarray, scale: float, page: tuple = ()) -> tuple:
    """The object's measurements from a patch, brought back to page pixels (``scale``: page px per patch px),
    and what AS_m reads its intensities against: ``page`` (its source's ``against_page``) with the two
    texture ratios taken again on this patch, or () without one."""
    from ..objects.measure import MEASUREMENTS, measure_objects

    if len(page) == 4:
        rows, texture = measure_objects(grey, mask.astype(np.int32), [1], texture_above=page[0])
        m, page = rows[0], (page[0], page[1], float(texture[0, 0]), float(texture[0, 1]))
    else:
        m, page = measure_objects(grey, mask.astype(np.int32), [1])[0], ()
    units = {"area": 2, "perimeter": 1, "axis_major_length": 1, "axis_minor_length": 1, "intensity_integrated": 2}
    for j, name in enumerate(MEASUREMENTS):
        m[j] *= scale ** units.get(name, 0)
    return m, page


def odd_cells(raw: np.ndarray, sides: Sequence[int], seed: int = 0, scales: Optional[Sequence[tuple]] = None,
              reference: Optional[Sequence[float]] = None):
    """Validation patches (N, C, S, S) and odd cells made from them, with both sides' measurements.

    ``scales``: each patch's ``PatchSource.against_page``; given, the intensities are read against its
    page, as AS_m of a model with ``measure_intensity`` "page" reads them.
    Returns ``(normal_patches, normal_features, odd_patches, odd_features, kinds)``; patches in which no
    object is found are left out of both sides.
    """
    from ..objects.measure import MEASUREMENTS
    from ..objects.oddities import KINDS, implant
    from .cellscore import feature_matrix

    rng = np.random.default_rng(seed)
    keep, odd, kinds, m_normal, m_odd, p_normal, p_odd = [], [], [], [], [], [], []
    for i, patch in enumerate(np.asarray(raw, np.float64)):
        grey = patch.mean(0)
        mask = object_mask(grey)
        if mask is None or mask.sum() < 6:
            continue
        scale = float(sides[i]) / grey.shape[0]
        kind = KINDS[i % len(KINDS)]
        labels = mask.astype(np.int32)
        edge = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        changed = patch.copy()
        state = rng.bit_generator.state
        for c in range(patch.shape[0]):
            rng.bit_generator.state = state        # the same change in every channel
            implant(changed[c], labels, 1, kind, rng, float(np.median(edge)))
        new_grey = changed.mean(0)
        new_mask = object_mask(new_grey)
        if new_mask is None:
            continue
        keep.append(i)
        odd.append(changed)
        kinds.append(kind)
        page = tuple(scales[i]) if scales is not None else ()
        for rows, pages, g, msk in ((m_normal, p_normal, grey, mask), (m_odd, p_odd, new_grey, new_mask)):
            m, p = _measure(g, msk, scale, page)
            rows.append(m)
            pages.append(p)

    def features(rows, pages):
        from types import SimpleNamespace

        return feature_matrix([SimpleNamespace(measurements=tuple(r), against_page=p) for r, p in zip(rows, pages)],
                              relative=scales is not None, reference=reference) if rows else \
            np.zeros((0, len(MEASUREMENTS)))

    return (np.asarray(raw)[keep].astype(np.float32), features(m_normal, p_normal),
            np.asarray(odd, np.float32).reshape(-1, *np.asarray(raw).shape[1:]), features(m_odd, p_odd), kinds)


def check_cells(model, raw_val: np.ndarray, sides: Sequence[int], seed: int = 0,
                scales: Optional[Sequence[tuple]] = None) -> dict:
    """AUC of the model's own score (AS_cell) for validation normals against odd cells made from them.

    Returns ``cell_auc``, ``cell_auc_<kind>``, ``cell_n`` and ``cell_warning`` (empty when fine).
    """
    from ..progress import run_to_end
    from .cellscore import cell_score
    from .combined import calibration
    from .scoring import roc_auc, score_patches

    reference = getattr(model.measure, "reference", None)
    page = scales if reference is not None and scales is not None else None
    normal, f_normal, odd, f_odd, kinds = odd_cells(raw_val, sides, seed, page, reference)
    out: dict = {"cell_n": int(len(normal))}
    if len(normal) < 2 or model.measure is None:
        out.update(cell_auc=None, cell_warning="")
        return out

    cal = calibration(model.validation_scores)

    def cell(patches, feats):
        s = run_to_end(score_patches(model, patches))
        return cell_score(s.latent, s.residual, model.measure.score(feats), cal, model.measure.calibration,
                          model.config.cell_rule)

    a, b = cell(normal, f_normal), cell(odd, f_odd)
    kinds = np.array(kinds)
    for k in sorted(set(kinds)):
        out[f"cell_auc_{k}"] = round(roc_auc(np.r_[a, b[kinds == k]], np.r_[np.zeros(len(a)),
                                                                              np.ones(int((kinds == k).sum()))]), 4)
    auc = roc_auc(np.r_[a, b], np.r_[np.zeros(len(a)), np.ones(len(b))])
    out["cell_auc"] = round(auc, 4)
    weakest = min((k for k in out if k.startswith("cell_auc_")), key=out.get)
    warnings = [] if auc >= WARN_AUC else [
        f"this model tells odd cells made from its own normals from normal ones only weakly (AUC {auc:.2f}; "
        f"weakest: {weakest[len('cell_auc_'):]} {out[weakest]:.2f}): mark more normal objects or train longer"]
    warnings += few_objects_warning(len(raw_val))
    out["cell_warning"] = "; ".join(warnings)
    return out


def few_objects_warning(n_val: int) -> list:
    """The warning for a model held out on fewer objects than training holds out when it can
    (:data:`ddrcore.model.minibatch.MIN_VALIDATION`, a quarter of the normals at most).

    With fewer, the scales of AS_cell's parts and the threshold are shaky: on real fields with
    4-6 held-out objects the spread of one part over unseen normals came out 3x what its scale said,
    and AUC moved from 0.81 to 0.97 between seeds (benchmarks/experiments/cell_scale_probe.py,
    docs/benchmarks.md "Real fields").

    Examples
    --------
    >>> few_objects_warning(25)
    []
    >>> few_objects_warning(5)[0][:40]
    'its scales and threshold rest on only 5 '
    """
    from .minibatch import MIN_VALIDATION

    if n_val >= MIN_VALIDATION:
        return []
    return [f"its scales and threshold rest on only {n_val} held-out normal objects, so its ranking can change "
            f"much from one training to the next: mark at least {4 * MIN_VALIDATION} normal objects"]
