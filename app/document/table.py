"""The patch table the GUI works on: patches, marks, scores (plain Python, no Qt).

Everything per patch is a numpy array aligned with ``sources`` so that
counting, sorting and filtering 100,000 patches are vectorised operations.
The GUI owns one :class:`PatchTable`; widgets read it and call its methods.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from ddrcore.io.images import BadFile, PatchSet, PatchSource
from ddrcore.base import default_input_size
from ddrcore.model.score_type import ScoreType
from ddrcore.objects import Patching
from ddrcore.io.project import Project

UNMARKED, NORMAL, EXCLUDED = 0, 1, 2
MARK_NAMES = {NORMAL: "normal", EXCLUDED: "excluded"}

# What a patch was to the current model (PatchTable.used): not used, trained on, held out for validation.
NOT_USED, USED_TRAIN, USED_VAL = 0, 1, 2

SORTS = ("score", "name", "file")
FILTERS = ("all", "normal", "flagged", "unmarked", "excluded")


def input_size_for(patch_size: int) -> int:
    """Network input side for a patch size (the CLI's rule, ddrcore.base.default_input_size)."""
    return default_input_size(patch_size)


def patching_to_dict(p: Patching) -> dict:
    """A Patching for a project file: the model-relevant settings plus where labels/points live."""
    d = p.to_dict()
    d["labels_dir"] = p.labels_dir
    d["points"] = p.points
    return d


def patching_from_dict(d) -> Optional[Patching]:
    """The Patching a project stored (None when absent or unreadable)."""
    from dataclasses import replace

    if not isinstance(d, dict):
        return None
    try:
        p = Patching.from_dict(d)
    except ValueError:
        return None
    labels, points = d.get("labels_dir"), d.get("points")
    return replace(p, labels_dir=labels if isinstance(labels, str) else None,
                   points=points if isinstance(points, str) else None)


class PatchTable:
    def __init__(self, patch_size: int = 32, channel=None):
        self.patch_size = patch_size
        self.channel = channel
        # How patches are cut; after the first load the resolved settings (object size known).
        self.patching: Optional[Patching] = None
        self.images: Optional[np.ndarray] = None        # (N, C, S, S) float32, native intensities
        self.sources: List[PatchSource] = []
        self.marks = np.zeros(0, np.int8)
        self.used = np.zeros(0, np.int8)                # NOT_USED / USED_TRAIN / USED_VAL by the current model
        # After training, results (gallery, histogram, counts, exports) leave out the patches the model
        # was trained or validated on unless this is set (the "Include training patches" box).
        self.include_training = False
        self.latent = np.zeros(0, np.float64)           # AS_l, NaN where not scored
        self.recon = np.zeros(0, np.float64)            # AS_r, NaN where not scored
        self.residual = np.zeros(0, np.float64)         # AS_e, NaN where not scored
        self.combined = np.zeros(0, np.float64)         # AS_c (explain profile), NaN where not scored
        self.measure = np.zeros(0, np.float64)          # AS_m (objects with measurements), NaN where none
        self.cell = np.zeros(0, np.float64)             # AS_cell (cellscore.py), NaN where none
        self.score_type: Optional[str] = None
        self.inputs: List[str] = []
        self.bad: List[BadFile] = []
        self._index: Dict[PatchSource, int] = {}
        self._name_order: Optional[np.ndarray] = None
        self._sorted_active: Optional[np.ndarray] = None
        self._pages: Optional[Dict[tuple, tuple]] = None   # (path, page) -> (indices, ys, xs), built on demand
        self._pages_n = 0

    # ------------------------------------------------------------ contents --
    def __len__(self) -> int:
        return len(self.sources)

    @property
    def input_size(self) -> int:
        return input_size_for(self.patch_size)

    @property
    def is_objects(self) -> bool:
        """Patches are crops around objects (not grid tiles)."""
        return self.patching is not None and not self.patching.is_grid

    def set_patching(self, patching: Optional[Patching]) -> None:
        """Keep the resolved patch-source settings; the patch size becomes their crop side."""
        if patching is None:
            return
        self.patching = patching
        self.patch_size = patching.crop_side()

    def add(self, patches: PatchSet, inputs: Sequence[str] = ()) -> np.ndarray:
        """Append new patches (ones already present are skipped); returns their indices."""
        for p in inputs:
            if p not in self.inputs:
                self.inputs.append(p)
        self.bad.extend(patches.bad)
        if len(patches) == 0:
            return np.zeros(0, np.int64)
        if self.images is not None and patches.images.shape[1:] != self.images.shape[1:]:
            raise ValueError(
                f"these patches are {patches.images.shape[1]}-channel {patches.images.shape[-1]} px, the project's are "
                f"{self.images.shape[1]}-channel {self.images.shape[-1]} px; start a new project (File > New) "
                "to use other settings")
        keep = [i for i, s in enumerate(patches.sources) if s not in self._index]
        if not keep:
            return np.zeros(0, np.int64)
        start = len(self.sources)
        new_images = patches.images if len(keep) == len(patches) else patches.images[keep]
        self.images = new_images if self.images is None else np.concatenate([self.images, new_images])
        for k, i in enumerate(keep):
            self._index[patches.sources[i]] = start + k
            self.sources.append(patches.sources[i])
        n = len(keep)
        self.marks = np.concatenate([self.marks, np.zeros(n, np.int8)])
        self.used = np.concatenate([self.used, np.zeros(n, np.int8)])
        self.latent = np.concatenate([self.latent, np.full(n, np.nan)])
        self.recon = np.concatenate([self.recon, np.full(n, np.nan)])
        self.residual = np.concatenate([self.residual, np.full(n, np.nan)])
        self.combined = np.concatenate([self.combined, np.full(n, np.nan)])
        self.measure = np.concatenate([self.measure, np.full(n, np.nan)])
        self.cell = np.concatenate([self.cell, np.full(n, np.nan)])
        self._name_order = None
        self._sorted_active = None
        return np.arange(start, start + n)

    def index_of(self, source: PatchSource) -> Optional[int]:
        return self._index.get(source)

    def patches_on_page(self, path: str, page: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indices, ys, xs) of every patch cut from one page of one file (for the source-image view).

        Built once per table size, so a slider move redraws outlines without a Python loop.
        """
        if self._pages is None or self._pages_n != len(self.sources):
            pages: Dict[tuple, list] = {}
            for i, src in enumerate(self.sources):
                pages.setdefault((src.path, src.page), []).append(i)
            self._pages = {}
            for k, v in pages.items():
                idx = np.array(v, np.int64)
                self._pages[k] = (idx, np.array([self.sources[i].y for i in v], float),
                                  np.array([self.sources[i].x for i in v], float),
                                  np.array([self.sources[i].object_id for i in v], np.int64),
                                  np.array([self.sources[i].size or self.patch_size for i in v], float))
            self._pages_n = len(self.sources)
        return self._pages.get((path, page), self._no_page)[:3]

    _no_page = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0))

    def objects_on_page(self, path: str, page: int) -> tuple[np.ndarray, np.ndarray]:
        """(object ids, crop sides) of the patches of one page, aligned with :meth:`patches_on_page`."""
        self.patches_on_page(path, page)
        return self._pages.get((path, page), self._no_page)[3:]

    # --------------------------------------------------------------- marks --
    def set_marks(self, indices, value) -> np.ndarray:
        """Set marks (one value or one per index); returns the previous marks."""
        idx = np.asarray(indices, np.int64)
        old = self.marks[idx].copy()
        self.marks[idx] = value
        self._sorted_active = None
        return old

    def indices_in_files(self, paths: Sequence[str]) -> np.ndarray:
        wanted = set(paths)
        return np.array([i for i, s in enumerate(self.sources) if s.path in wanted], np.int64)

    def indices_under(self, folders: Sequence[str]) -> np.ndarray:
        """Patches whose file lies in (or below) one of ``folders``."""
        prefixes = tuple(os.path.join(os.path.abspath(f), "") for f in folders)
        return np.array([i for i, s in enumerate(self.sources) if os.path.abspath(s.path).startswith(prefixes)],
                        np.int64)

    def normal_indices(self) -> np.ndarray:
        return np.flatnonzero(self.marks == NORMAL)

    # --------------------------------------------------------------- roles --
    def set_used(self, trained_on, val_positions=()) -> None:
        """Record which patches a new model used: ``trained_on`` are the patch indices given to training,
        ``val_positions`` the positions in ``trained_on`` that training held out for validation."""
        self.used = np.zeros(len(self), np.int8)
        idx = np.asarray(trained_on, np.int64)
        self.used[idx] = USED_TRAIN
        val = np.asarray(val_positions, np.int64)
        if len(val):
            self.used[idx[val]] = USED_VAL
        self._sorted_active = None

    def clear_used(self) -> None:
        self.used = np.zeros(len(self), np.int8)
        self._sorted_active = None

    def set_include_training(self, include: bool) -> None:
        self.include_training = bool(include)
        self._sorted_active = None

    def shown_mask(self) -> np.ndarray:
        """Patches that results show: all, or only those the model was not trained/validated on."""
        return np.ones(len(self), bool) if self.include_training else self.used == NOT_USED

    def n_used(self) -> int:
        return int(np.count_nonzero(self.used))

    def roles(self, indices=None) -> List[str]:
        """Each patch's role (ddrcore.io.export.ROLES): train, validation, normal, unmarked or excluded."""
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, np.int64)
        out = []
        for i in idx:
            if self.marks[i] == EXCLUDED:
                out.append("excluded")
            elif self.used[i] == USED_TRAIN:
                out.append("train")
            elif self.used[i] == USED_VAL:
                out.append("validation")
            else:
                out.append("normal" if self.marks[i] == NORMAL else "unmarked")
        return out

    # -------------------------------------------------------------- scores --
    @property
    def score(self) -> Optional[np.ndarray]:
        """The chosen score per patch (NaN where unscored), or None before any scoring."""
        if self.score_type is None:
            return None
        return self.of(self.score_type)

    def of(self, score_type: str) -> np.ndarray:
        """The scores of one type per patch (NaN where the model or the patch has none)."""
        return {ScoreType.LATENT: self.latent, ScoreType.RECON: self.recon, ScoreType.RESIDUAL: self.residual,
                ScoreType.COMBINED: self.combined, ScoreType.MEASURE: self.measure,
                ScoreType.CELL: self.cell}[ScoreType(score_type)]

    def set_scores(self, indices, scores) -> None:
        idx = np.asarray(indices, np.int64)
        self.latent[idx] = scores.latent
        self.recon[idx] = scores.recon
        for name in ("residual", "combined", "measure", "cell"):
            values = getattr(scores, name, None)
            getattr(self, name)[idx] = np.nan if values is None else values
        self.score_type = scores.score_type
        self._sorted_active = None

    def clear_scores(self) -> None:
        for values in (self.latent, self.recon, self.residual, self.combined, self.measure, self.cell):
            values[:] = np.nan
        self.score_type = None
        self._sorted_active = None

    def unscored(self) -> np.ndarray:
        return np.flatnonzero(np.isnan(self.latent))

    def nothing_ranked(self) -> Optional[str]:
        """Why no scored patch is ranked (all used in training and hidden, or all excluded), or None."""
        if self.score is None or self.active_mask().any():
            return None
        used = self.n_used()
        if used and not self.include_training:
            return (f"all {used} scored patches were used to train or validate the model, so none is left to "
                    "rank: open the images to screen (File ▸ Open Folder), or tick “Include training patches”")
        return "every scored patch is excluded: nothing is ranked"

    def active_mask(self) -> np.ndarray:
        """Scored, not excluded: the patches that count in results and exports."""
        s = self.score
        if s is None:
            return np.zeros(len(self), bool)
        return ~np.isnan(s) & (self.marks != EXCLUDED) & self.shown_mask()

    def flagged_mask(self, threshold: float, indices: Optional[np.ndarray] = None) -> np.ndarray:
        """Active patches at or above ``threshold``; for ``indices`` only when given."""
        s = self.score
        n = len(self) if indices is None else len(indices)
        if s is None:
            return np.zeros(n, bool)
        marks, shown = self.marks, self.shown_mask()
        if indices is not None:
            s, marks, shown = s[indices], marks[indices], shown[indices]
        with np.errstate(invalid="ignore"):
            return ~np.isnan(s) & (marks != EXCLUDED) & shown & (s >= threshold)

    def count_flagged(self, threshold: float) -> tuple[int, int]:
        """(flagged, scored) among active patches, in O(log N) after one sort.

        The slider calls this on every move; the sorted scores are cached
        until marks or scores change, so a recount is one binary search.
        """
        if self._sorted_active is None:
            s = self.score
            self._sorted_active = np.sort(s[self.active_mask()]) if s is not None else np.zeros(0)
        arr = self._sorted_active
        return int(len(arr) - np.searchsorted(arr, threshold, side="left")), int(len(arr))

    def score_range(self) -> Optional[tuple[float, float]]:
        s = self.score
        if s is None or np.isnan(s).all():
            return None
        return float(np.nanmin(s)), float(np.nanmax(s))

    def scores_for(self, indices):
        """A ddrcore Scores object for a subset (for CSV export and reports)."""
        from ddrcore.model.scoring import Scores

        idx = np.asarray(indices, np.int64)
        def opt(values):
            # A column the model never filled stays None (empty in the CSV), not a column of NaN.
            sub = values[idx]
            return None if np.isnan(sub).all() else sub.astype(np.float32)

        return Scores(latent=self.latent[idx].astype(np.float32), recon=self.recon[idx].astype(np.float32),
                      residual=self.residual[idx].astype(np.float32), combined=self.combined[idx].astype(np.float32),
                      measure=opt(self.measure), cell=opt(self.cell),
                      score_type=self.score_type or ScoreType.LATENT, threshold=float("inf"))

    # -------------------------------------------------------- view order --
    def _names(self) -> np.ndarray:
        if self._name_order is None:
            src = self.sources
            # numpy's lexsort over string/int columns: several times faster than sorting tuples.
            paths = np.array([s.path for s in src])
            names = np.array([os.path.basename(s.path) for s in src])
            pages = np.fromiter((s.page for s in src), np.int64, len(src))
            ys = np.fromiter((s.y for s in src), np.int64, len(src))
            xs = np.fromiter((s.x for s in src), np.int64, len(src))
            self._name_order = np.lexsort((xs, ys, pages, paths, names)).astype(np.int64)
        return self._name_order

    def view_order(self, sort: str = "score", filter: str = "all", threshold: float = float("inf")) -> np.ndarray:
        """Patch indices to show, in display order."""
        n = len(self)
        if sort == "name":
            order = self._names()
        elif sort == "score" and self.score is not None:
            s = np.where(np.isnan(self.score), -np.inf, self.score)
            # Most anomalous first; ties (and unscored patches) keep load order.  Excluded patches are
            # not part of the ranking: shown after every ranked one, whatever their score.
            ranked = self.marks != EXCLUDED
            order = np.lexsort((-s, ~ranked)).astype(np.int64)
        else:
            order = np.arange(n)
        if not self.include_training and self.n_used():
            order = order[self.used[order] == NOT_USED]
        if filter == "all":
            return order
        if filter == "normal":
            keep = self.marks == NORMAL
        elif filter == "excluded":
            keep = self.marks == EXCLUDED
        elif filter == "unmarked":
            keep = self.marks == UNMARKED
        elif filter == "flagged":
            keep = self.flagged_mask(threshold)
        else:
            raise ValueError(f"unknown filter {filter!r}")
        return order[keep[order]]

    def counts(self, threshold: Optional[float] = None) -> dict:
        flagged, scored = self.count_flagged(threshold) if threshold is not None else (0, 0)
        return {"total": len(self), "normal": int(np.count_nonzero(self.marks == NORMAL)),
                "excluded": int(np.count_nonzero(self.marks == EXCLUDED)), "scored": scored, "flagged": flagged,
                "used": self.n_used(), "hidden": 0 if self.include_training else self.n_used()}

    # ------------------------------------------------------------ project --
    def to_project(self, model_path: Optional[str], threshold: Optional[float], training: dict) -> Project:
        marked = np.flatnonzero(self.marks != UNMARKED)
        training = dict(training)
        if self.patching is not None:
            training["patching"] = patching_to_dict(self.patching)
        used = np.flatnonzero(self.used)
        return Project(inputs=list(self.inputs), patch_size=self.patch_size, channel=self.channel,
                       marks={self.sources[i]: MARK_NAMES[int(self.marks[i])] for i in marked},
                       model_path=model_path, threshold=threshold, training=training,
                       roles={self.sources[i]: "train" if self.used[i] == USED_TRAIN else "validation"
                              for i in used})

    def __contains__(self, source: PatchSource) -> bool:
        return source in self._index

    def apply_roles(self, roles: Dict[PatchSource, str]) -> None:
        """Restore which patches the project's model was trained/validated on (from a project file)."""
        for src, role in roles.items():
            i = self._index.get(src)
            if i is not None:
                self.used[i] = USED_TRAIN if role == "train" else USED_VAL
        self._sorted_active = None

    def apply_marks(self, marks: Dict[PatchSource, str]) -> int:
        """Apply a project's marks to loaded patches; returns how many were not found."""
        values = {name: code for code, name in MARK_NAMES.items()}
        missing = 0
        for src, name in marks.items():
            i = self._index.get(src)
            if i is None:
                missing += 1
            else:
                self.marks[i] = values[name]
        self._sorted_active = None
        return missing
