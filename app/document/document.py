"""The document: what one ddrid session is about, without Qt.

Patches with their marks, roles and scores (a :class:`~ddrid_gui.document.table.PatchTable`),
the model, the threshold, the project's paths, the patch-cutting settings
and the undo history of marks live here.  Every change goes through a method
of :class:`Document`, which emits a ``psygnal`` event; the gallery, threshold
panel, counts, detail, source image and training panel subscribe to those
events instead of being refreshed by hand (napari's model/view split).

Nothing here imports Qt, so the document logic is tested without a window.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence

import numpy as np
from psygnal import Signal

from ddrcore.io.images import BadFile, PatchSource
from ddrcore.io.project import Project

from .marks import MarkEdit, MarkHistory, carried_marks
from .patch_settings import PatchSettings, crop_warning
from .table import EXCLUDED, MARK_NAMES, NORMAL, PatchTable

#: Training needs at least this many patches marked normal.
MIN_NORMALS = 4


@dataclass
class Added:
    """What one finished load changed: the new patch indices, and for a re-cut how many marks followed."""

    new: np.ndarray
    carried: Optional[int] = None
    problems: List[BadFile] = field(default_factory=list)


class Document:
    """One session's patches, marks, model, threshold and files; emits an event for every change.

    Events (``psygnal`` signals; handlers run in the emitting thread, the GUI thread here):

    - ``table_replaced()``: another patch table (new project, re-cut, or one injected by a test)
    - ``patches_added(indices)``: a load finished (``indices`` may be empty)
    - ``marks_changed(indices)``: marks of these patches changed (mark, undo, redo)
    - ``scores_changed()``: scores, roles or the "include training patches" choice changed
    - ``threshold_changed(value)``: the threshold (None while nothing is scored)
    - ``model_changed()``: another model (trained, loaded, dropped)
    - ``settings_changed()``: :attr:`patch_settings` changed
    - ``problems_added(list)``, ``problems_cleared()``: files skipped and other problems
    - ``history_changed()``: undo/redo state or the saved state changed
    - ``path_changed()``: the project file changed
    """

    table_replaced = Signal()
    patches_added = Signal(object)
    marks_changed = Signal(object)
    scores_changed = Signal()
    threshold_changed = Signal(object)
    model_changed = Signal()
    settings_changed = Signal()
    problems_added = Signal(object)
    problems_cleared = Signal()
    history_changed = Signal()
    path_changed = Signal()

    def __init__(self, settings: Optional[PatchSettings] = None) -> None:
        self.patch_settings = settings or PatchSettings()
        # What File ▸ New Project goes back to: nothing of the last data set (its object size) carries over.
        self.default_settings = replace(self.patch_settings)
        self.table = PatchTable(self.patch_settings.patch_size, self.patch_settings.channel)
        self.model = None
        self.model_path: Optional[str] = None
        self.project_path: Optional[str] = None
        self.threshold: Optional[float] = None
        self.history = MarkHistory()
        self.problems: List[BadFile] = []
        # A reopened project's marks, roles and threshold, applied when its patches (and scores) arrive.
        self.pending_marks: Dict[PatchSource, str] = {}
        self.pending_roles: Dict[PatchSource, str] = {}
        self.pending_threshold: Optional[float] = None
        self._recut_from: Optional[tuple] = None     # (sources, marks) of the table being re-cut
        # Marks a re-cut found no patch for (objects re-cut as grid tiles): kept, so that re-cutting back to
        # patches around those objects gives them back; (source, mark) pairs.
        self.unplaced_marks: List[tuple] = []
        # A reopened project's marks that found no patch (their image missing, or giving no patch there now):
        # (source, mark) pairs without a centre, kept and saved with the project, applied when their very patch
        # is loaded again.  Marks kept from a re-cut (above) are not saved: they have a centre to follow only
        # in this session, and read back from a file without it one would come back over the user's later word.
        self.kept_marks: List[tuple] = []

    # ---------------------------------------------------------- contents --
    def __len__(self) -> int:
        return len(self.table)

    @property
    def scored(self) -> bool:
        """A model exists and has scored patches: results can be shown and exported."""
        return self.model is not None and self.table.score is not None

    def replace_table(self, table: PatchTable) -> None:
        """Work on ``table`` (keeps the "include training patches" choice)."""
        table.set_include_training(self.table.include_training)
        self.table = table
        self.table_replaced.emit()

    def reset(self) -> None:
        """A new, empty project: the user's own choices (source, grid tile, channel, border) stay; what the
        last data set settled (object size, its crop side, labels folder, points file) goes back to defaults."""
        last, d = self.patch_settings, self.default_settings
        s = self.patch_settings = replace(
            d, source=last.source, channel=last.channel, border=last.border, chosen=last.chosen,
            patch_size=last.patch_size if last.source == "grid" else d.patch_size)
        self.model = None
        self.model_path = None
        self.threshold = None
        self.pending_marks, self.pending_roles, self.pending_threshold = {}, {}, None
        self._recut_from = None
        self.unplaced_marks = []
        self.kept_marks = []
        self.history.clear()
        table = PatchTable(patch_size=s.patch_size, channel=s.channel)
        self.table = table
        self.set_project_path(None)
        self.clear_problems()
        self.settings_changed.emit()
        self.model_changed.emit()
        self.table_replaced.emit()
        self.history_changed.emit()

    def set_patch_settings(self, **changes) -> None:
        """Change the patch settings (``PatchSettings`` fields); an empty table follows size and channel."""
        self.patch_settings = replace(self.patch_settings, **changes)
        if len(self.table) == 0:
            self.table.patch_size = self.patch_settings.patch_size
            self.table.channel = self.patch_settings.channel
        self.settings_changed.emit()

    def add_problems(self, problems: Sequence[BadFile]) -> None:
        """List files that were skipped (and other problems) for the user."""
        problems = list(problems)
        if problems:
            self.problems.extend(problems)
            self.problems_added.emit(problems)

    def clear_problems(self) -> None:
        """The user dismissed the problems."""
        self.problems = []
        self.problems_cleared.emit()

    def set_project_path(self, path: Optional[str]) -> None:
        """The project file this session is saved to (None: not saved yet)."""
        self.project_path = path
        self.path_changed.emit()

    # ------------------------------------------------------------ loading --
    def add_loaded(self, result) -> Added:
        """Take a finished load (an :class:`ddrid_gui.jobs.tasks.LoadResult`): patches, problems, the marks that wait for them.

        The first load settles how patches are cut (estimated object size); a
        re-cut carries marks over to the new patches; marks and roles of a
        reopened project are applied once, so the user's later changes win.
        """
        problems = list(result.problems)
        added = Added(np.zeros(0, np.int64))
        if result.patches is not None:
            problems += result.patches.bad
            t = self.table
            try:
                if len(t) == 0 and result.patches.patching is not None:
                    t.set_patching(result.patches.patching)
                    p = t.patching
                    self.set_patch_settings(source=p.source, patch_size=p.crop_side(), border=p.border,
                                            object_size=p.object_size or self.patch_settings.object_size)
                    warning = crop_warning(p.patch_size, p.object_size) if not p.is_grid else ""
                    if warning:
                        problems.append(BadFile("patch size", warning))
                added.new = t.add(result.patches, result.inputs)
            except ValueError as exc:
                problems.append(BadFile(", ".join(result.inputs), str(exc)))
            if self._recut_from is not None:
                added.carried = self._carry_recut_marks(added.new, problems)
            if self.kept_marks and len(added.new):
                self._place_kept(added.new)
            if result.mark_normal_under:
                t.set_marks(t.indices_under(result.mark_normal_under), NORMAL)
            if self.pending_marks:
                t.apply_marks(self.pending_marks)
                # Applied marks now live in the table (and its undo history); keeping them
                # pending would re-apply them over the user's later changes.
                self.pending_marks = {s: m for s, m in self.pending_marks.items() if s not in t}
            if self.pending_roles and self.model is not None:
                t.apply_roles(self.pending_roles)
                self.pending_roles = {s: r for s, r in self.pending_roles.items() if s not in t}
            scores = getattr(result, "scores", None)
            if scores is not None and self.model is not None and len(added.new) == len(result.patches):
                # A reopened project's own scores, saved with its patches: nothing is scored again.
                self.set_scores(added.new, scores)
        added.problems = problems
        self.add_problems(problems)
        self.patches_added.emit(added.new)
        return added

    def start_recut(self, table: PatchTable) -> None:
        """Replace the table by an empty ``table`` whose patches (loaded next) take the old marks."""
        old = self.table
        kept = [*self.unplaced_marks, *self.kept_marks]
        self._recut_from = ([*old.sources, *(src for src, _ in kept)],
                            np.concatenate([old.marks, np.array([m for _, m in kept], old.marks.dtype)]))
        self.history.clear()           # its edits name patches of the old table
        self.replace_table(table)
        self.history_changed.emit()

    def _carry_recut_marks(self, new: np.ndarray, problems: List[BadFile]) -> int:
        old_sources, old_marks = self._recut_from
        self._recut_from = None
        t = self.table
        used: set = set()
        carried = carried_marks(old_sources, old_marks, [t.sources[i] for i in new], used)
        left = [(old_sources[i], int(old_marks[i])) for i in np.flatnonzero(old_marks) if int(i) not in used]
        # Those without a centre came from a project file: kept (and saved) as they were.
        self.kept_marks = [(src, m) for src, m in left if not np.isfinite(src.center_y)]
        self.unplaced_marks = [(src, m) for src, m in left if np.isfinite(src.center_y)]
        if self.unplaced_marks:
            problems.append(BadFile("re-cut", f"{len(self.unplaced_marks)} mark(s) found no patch among these "
                                    "(their objects are not cut this way); they are kept for this session and come "
                                    "back when the images are re-cut into patches around those objects again, "
                                    "unless you mark or unmark a patch over them first"))
        for mark in (NORMAL, EXCLUDED):
            idx = [int(new[j]) for j, m in carried.items() if m == mark]
            if idx:
                t.set_marks(idx, mark)
        if self.model is not None:
            why = self.model.incompatibility(t.patch_size, t.channel)
            if why:
                # The model is kept (re-cutting as it was cut makes it score again); it just cannot score these.
                problems.append(BadFile(self.model_path or "model", f"kept, but it cannot score the re-cut patches: "
                                        f"{why}; re-cut as before to score with it, or train again"))
        return len(carried)

    def _place_kept(self, new: np.ndarray) -> None:
        """A reopened project's kept marks whose very patch (same file, page and crop origin) is among the
        ``new`` ones take it: an image that was missing is back.  (Marks kept from a re-cut follow their
        object's centre at the next re-cut instead: a tile may share a crop's corner and not its object.)"""
        t, fresh = self.table, set(int(i) for i in new)
        left = []
        for src, mark in self.kept_marks:
            i = t.index_of(src)
            if i is not None and i in fresh:
                t.set_marks([i], mark)
            else:
                left.append((src, mark))
        self.kept_marks = left

    def settle_pending_marks(self) -> int:
        """Loading is over: a reopened project's marks that found no patch become :attr:`kept_marks`.

        Their image is missing, or no longer gives a patch there (edited, cut
        otherwise).  Waiting for them for ever kept the project "still loading":
        every save said so and it never counted as saved.  Kept, they are saved
        with the project and apply again when their patch is loaded.  Returns
        how many.
        """
        codes = {name: code for code, name in MARK_NAMES.items()}
        left = [(src, codes[name]) for src, name in self.pending_marks.items() if name in codes]
        self.pending_marks = {}
        if left:
            self.kept_marks.extend(left)
            self.add_problems([BadFile(self.project_path or "project", f"{len(left)} saved mark(s) found no patch "
                                       "(their image is missing, or no longer gives a patch there); they are kept "
                                       "in the project and apply again when those patches are loaded")])
        return len(left)

    # -------------------------------------------------------------- marks --
    def mark(self, indices, value: int, what: str = "") -> bool:
        """Set the mark of ``indices`` to ``value`` as one undoable edit; False when ``indices`` is empty.

        ``what`` is added to the edit's name (shown in the Edit menu), e.g. " (whole file)".
        """
        indices = np.asarray(indices, np.int64)
        if len(indices) == 0:
            return False
        n = len(indices)
        name = MARK_NAMES.get(value, "unmarked")
        text = f"{'mark' if value else 'unmark'} {n} patch{'es' if n != 1 else ''}{' ' + name if value else ''}{what}"
        self.history.push(MarkEdit(indices, self.table.marks[indices].copy(), value, text))
        self._set_marks(indices, value)
        self._forget_unplaced_under(indices)
        return True

    def _forget_unplaced_under(self, indices: np.ndarray) -> None:
        """Marks kept from before a re-cut whose object lies in a patch the user has just marked or unmarked:
        the user's newer word on that place wins (a kept mark would come back over it at the next re-cut)."""
        if not self.unplaced_marks:
            return
        boxes: Dict[tuple, list] = {}
        for i in indices:
            s = self.table.sources[int(i)]
            boxes.setdefault((s.path, s.page), []).append((s.y, s.x, s.size))

        def covered(src) -> bool:
            return any(y <= src.center_y < y + size and x <= src.center_x < x + size
                       for y, x, size in boxes.get((src.path, src.page), ()))

        self.unplaced_marks = [(src, m) for src, m in self.unplaced_marks if not covered(src)]

    def _set_marks(self, indices: np.ndarray, marks) -> None:
        self.table.set_marks(indices, marks)
        self.marks_changed.emit(indices)
        self.history_changed.emit()

    def mark_files(self, patches, value: int = NORMAL) -> bool:
        """Mark every patch of the files ``patches`` came from."""
        files = sorted({self.table.sources[i].path for i in patches})
        return self.mark(self.table.indices_in_files(files), value, f" (whole file{'s' if len(files) > 1 else ''})")

    def mark_folders(self, patches, value: int = NORMAL) -> bool:
        """Mark every patch in (or below) the folders of the files ``patches`` came from."""
        folders = sorted({os.path.dirname(self.table.sources[i].path) for i in patches})
        return self.mark(self.table.indices_under(folders), value,
                         f" (folder {', '.join(os.path.basename(f) for f in folders)})")

    def undo(self) -> None:
        """Undo the last mark edit: each patch gets back its own previous mark."""
        edit = self.history.step_back()
        if edit is not None:
            self._set_marks(edit.indices, edit.old)

    def redo(self) -> None:
        """Redo the last undone mark edit."""
        edit = self.history.step_forward()
        if edit is not None:
            self._set_marks(edit.indices, edit.value)

    def set_clean(self) -> None:
        """The marks are saved as they are now."""
        self.history.set_clean()
        self.history_changed.emit()

    def normal_indices(self) -> np.ndarray:
        """Indices of the patches marked normal (what training learns from)."""
        return self.table.normal_indices()

    # ------------------------------------------------------ model, scores --
    def set_model(self, model, path: Optional[str]) -> None:
        """Use ``model`` (saved at ``path``), or none; scores stay until :meth:`set_trained` or new ones."""
        self.model = model
        self.model_path = path
        self.model_changed.emit()

    def set_model_path(self, path: Optional[str]) -> None:
        """Where the model is saved now (it was copied beside the project file)."""
        self.model_path = path

    def set_trained(self, model, path: Optional[str], normal, val_positions) -> None:
        """A model trained here on ``normal``; ``val_positions`` index the validation subset of ``normal``.

        The old scores are cleared (the new model brings its own default threshold).
        """
        self.table.set_used(normal, val_positions)
        self.pending_roles = {}
        self.pending_threshold = None
        self.set_model(model, path)
        self.clear_scores()

    def clear_scores(self) -> None:
        """Forget every score (a new model scores again); the threshold goes too."""
        self.table.clear_scores()
        self.threshold = None
        self.scores_changed.emit()

    def set_scores(self, indices, scores, keep_threshold: Optional[float] = None) -> None:
        """Scores for ``indices`` (a ddrcore Scores).

        The threshold stays where it was: ``keep_threshold`` if given, else a
        reopened project's threshold, else the current one; with none of them
        the threshold panel starts at the model's default.
        """
        keep = keep_threshold
        if keep is None:
            keep = self.pending_threshold if self.pending_threshold is not None else self.threshold
        self.pending_threshold = None
        self.table.set_scores(indices, scores)
        self.threshold = keep
        self.scores_changed.emit()

    def set_include_training(self, include: bool) -> None:
        """Show (or leave out) the patches the model was trained/validated on, everywhere results are shown."""
        self.table.set_include_training(include)
        self.scores_changed.emit()

    def set_threshold(self, value: Optional[float]) -> None:
        """The threshold (flagged: score at or above it); None while nothing is scored."""
        self.threshold = None if value is None else float(value)
        self.threshold_changed.emit(self.threshold)

    def counts(self) -> dict:
        """Patches in total, normal, excluded, scored, flagged at the threshold, used in training, hidden."""
        return self.table.counts(self.threshold)

    def view_order(self, sort: str = "score", filter: str = "all") -> np.ndarray:
        """Patch indices to show, in display order (``filter="flagged"``: at the threshold)."""
        t = self.threshold if self.threshold is not None else float("inf")
        return self.table.view_order(sort, filter, t)

    # ------------------------------------------------------------ project --
    def to_project(self, training: dict, keep_pending: bool = False) -> Project:
        """The project as it would be saved; ``keep_pending`` keeps marks and roles of inputs not loaded yet."""
        proj = self.table.to_project(self.model_path, self.threshold, training)
        # A reopened project's marks that found no patch (an image missing): never dropped.
        for src, mark in self.kept_marks:
            proj.marks.setdefault(src, MARK_NAMES[int(mark)])
        if keep_pending:
            for src, mark in self.pending_marks.items():
                proj.marks.setdefault(src, mark)
            for src, role in self.pending_roles.items():
                proj.roles.setdefault(src, role)
        return proj

    def expect_project(self, proj: Project, with_model: bool) -> None:
        """Remember a reopened project's marks, roles (if its model is used) and threshold until they apply."""
        self.pending_marks = dict(proj.marks)
        self.pending_roles = dict(proj.roles) if with_model else {}
        self.pending_threshold = proj.threshold
