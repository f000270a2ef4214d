"""How the views follow the document: gallery, threshold panel, counts, detail and source image.

:class:`DocumentViews` subscribes to the document's events and updates each
widget through its public methods; widgets never reach into each other.
The only things it keeps are view state: which decomposition was computed
last (the detail panel's cache) and which patch the source image outlines.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, QTimer

from .detail import DetailView
from ..document.document import Document
from .gallery import GalleryView
from .source_view import SourceView, crop_reader, page_reader
from ..document.table import MARK_NAMES, NORMAL
from .threshold import ThresholdPanel
from .toolbars import ViewBar
from ..jobs.runner import decomposer


def counts_text(document: Document) -> str:
    """The status bar's counts: patches, normal, excluded, unmarked, and flagged of scored once scored."""
    c = document.counts()
    unmarked = c["total"] - c["normal"] - c["excluded"]
    text = (f"<b>{c['total']}</b> patches · <span style='color:#2ca02c'><b>{c['normal']}</b> normal</span> · "
            f"{c['excluded']} excluded · {unmarked} unmarked")
    if document.table.score is not None:
        if c["scored"] == 0 and c["hidden"]:
            # Every scored patch was trained or validated on: "0 flagged of 0 scored" read as a failure.
            text += f" · all {c['hidden']} scored patches were used in training"
        else:
            text += f" · <span style='color:#d62728'><b>{c['flagged']}</b> flagged</span> of {c['scored']} scored"
            if c["hidden"]:
                text += f" (not counting {c['hidden']} used in training)"
    return text


def nothing_to_rank_text(document: Document) -> Optional[str]:
    """Why the threshold panel has nothing to show although the model has scored, or None."""
    why = document.table.nothing_ranked()
    if why is None:
        return None
    return (f"Trained. {why[0].upper()}{why[1:]}." if why.startswith("all ") else f"{why[0].upper()}{why[1:]}.")


class DocumentViews(QObject):
    """Keeps the result views in step with a :class:`Document`."""

    def __init__(self, document: Document, gallery: GalleryView, threshold: ThresholdPanel, counts,
                 detail: DetailView, source: SourceView, source_dock, view_bar: ViewBar, notify, parent=None):
        super().__init__(parent)
        self.doc, self.gallery, self.threshold, self.counts = document, gallery, threshold, counts
        self.detail, self.source, self.source_dock, self.view_bar = detail, source, source_dock, view_bar
        self.notify = notify                      # notify(text, ms): a status bar message
        self._decomposed: tuple = (-1, None)      # (patch, ddrcore Explanation) last computed
        self._source_patch = -1                   # the patch outlined in the source image
        self.decomposer = decomposer(self)
        self.decomposer.ready.connect(lambda key, parts: self._decomposition_ready(key[0], key[1], parts))
        self.decomposer.failed.connect(lambda _p, msg: notify(f"Decomposition failed: {msg}", 8000))
        self.page_reader = page_reader(self)
        self.page_reader.ready.connect(self._page_ready)
        # Detail's native-resolution crop, read from the image file (the table holds the network-size input).
        self.crop_reader = crop_reader(self)
        self.crop_reader.ready.connect(self._crop_ready)
        self.crop_reader.failed.connect(lambda _k, msg: detail.native_label.setText("object in the image: not readable"))
        self._native: tuple = (None, None)        # (patch key, crop) last read
        self.page_reader.failed.connect(self._page_failed)
        # Re-filtering and the histogram after marks: debounced, at most every 120 ms.
        self.view_timer = QTimer(self, singleShot=True, interval=120)
        self.view_timer.timeout.connect(self._refresh_after_marks)

        document.table_replaced.connect(self._table_replaced)
        document.patches_added.connect(self._patches_added)
        document.marks_changed.connect(self._marks_changed)
        document.scores_changed.connect(self._scores_changed)
        document.threshold_changed.connect(self._threshold_changed)
        document.model_changed.connect(self._forget_decomposition)
        threshold.thresholdChanged.connect(lambda _v: document.set_threshold(threshold.threshold()))
        gallery.currentPatchChanged.connect(self.show_detail)
        detail.stepRequested.connect(gallery.step)
        source.patchClicked.connect(self.go_to_patch)
        view_bar.orderChanged.connect(self.refresh_order)
        view_bar.includeTrainingToggled.connect(document.set_include_training)
        view_bar.contrastChanged.connect(gallery.set_contrast)
        view_bar.tileSizeChanged.connect(gallery.set_thumb_size)
        # Deferred: when the tab is being raised, its area is not laid out yet.
        source_dock.visibilityChanged.connect(lambda shown: shown and QTimer.singleShot(0, self.update_source))
        self.update_counts()

    # ---------------------------------------------------------- document --
    def _table_replaced(self) -> None:
        t = self.doc.table
        # Another table may cut the same page differently (other patch source): read it again when shown.
        self.source.set_page(None, None)
        self.gallery.set_table(t)
        self.view_bar.set_include_training(t.include_training)
        self._forget_decomposition()
        if t.score is None:
            self.threshold.reset()
            self.detail.clear()
        self._scores_changed()

    def _patches_added(self, _new) -> None:
        self.refresh_order()
        self.update_counts()
        self._update_histogram()

    def _marks_changed(self, _indices) -> None:
        self.gallery.refresh_flags()
        self.update_counts()
        self.view_timer.start()
        cur = self.gallery.current_patch()
        if cur >= 0:
            self.show_detail(cur)

    def _refresh_after_marks(self) -> None:
        # Excluded patches leave the ranking (they go after every ranked one), so a ranked view re-sorts too.
        if self.view_bar.filter() != "all" or (self.view_bar.sort() == "score" and self.doc.table.score is not None):
            self.refresh_order()
        self._update_histogram()
        # Excluded patches leave the flagged count: the panel's "n of N flagged" follows the status bar's.
        self.threshold.recount()

    def _scores_changed(self) -> None:
        t = self.doc.table
        s = t.score
        default = self.doc.model.threshold if self.doc.model is not None else float("nan")
        # The panel starts at the kept threshold (or the model's default) and reports it back to the document.
        self.threshold.set_scores(None if s is None else np.where(t.active_mask(), s, np.nan),
                                  t.marks == NORMAL, t.count_flagged, default, t.score_type, keep=self.doc.threshold,
                                  empty_text=nothing_to_rank_text(self.doc))
        model = self.doc.model
        training = getattr(model, "training", None) or {}
        val_indices = training.get("val_indices") if isinstance(training, dict) else None
        self.threshold.set_validation(None if model is None or s is None else
                                      (getattr(model, "validation_scores", None) or {}).get(t.score_type),
                                      len(val_indices) if isinstance(val_indices, (list, tuple)) else None)
        used = t.n_used()
        self.threshold.set_note(("training patches included" if t.include_training else
                                 f"{used} training/validation patches left out") if used and s is not None else None)
        if s is not None and self.view_bar.sort() != "score":
            self.view_bar.set_sort("score")   # refreshes the order
        else:
            self.refresh_order()
        self._forget_decomposition()
        self.update_counts()
        self.update_source(outlines_only=True)

    def _threshold_changed(self, value: Optional[float]) -> None:
        self.update_source(outlines_only=True)
        self.gallery.set_threshold(value if value is not None else float("inf"))
        self.update_counts()
        if self.view_bar.filter() == "flagged":
            self.view_timer.start()
        self.detail.update_threshold(value)

    # ------------------------------------------------------------ gallery --
    def refresh_order(self) -> None:
        """Sort and filter the gallery as the view bar says."""
        self.gallery.set_threshold(self.doc.threshold if self.doc.threshold is not None else float("inf"))
        self.gallery.set_order(self.doc.view_order(self.view_bar.sort(), self.view_bar.filter()))

    def show_ranking_top(self) -> None:
        """After scoring: the top of the new ranking, rank 1 selected (when sorted by score)."""
        if self.view_bar.sort() == "score":
            self.gallery.show_top()

    def update_counts(self) -> None:
        """Rewrite the status bar's counts."""
        self.counts.setText(counts_text(self.doc))

    def _update_histogram(self) -> None:
        t = self.doc.table
        if t.score is not None:
            self.threshold.update_histogram(np.where(t.active_mask(), t.score, np.nan), t.marks == NORMAL)

    # ------------------------------------------------------------- detail --
    def _forget_decomposition(self) -> None:
        self._decomposed = (-1, None)

    def show_detail(self, patch: int) -> None:
        """Show ``patch`` in the detail panel (and its page in the source image, if that tab shows)."""
        self.update_source(patch)
        t, model = self.doc.table, self.doc.model
        if patch is None or patch < 0 or patch >= len(t):
            self.detail.clear()
            return
        decomposition = None
        if model is not None and not np.isnan(t.latent[patch]):
            if self._decomposed[0] == patch:
                decomposition = self._decomposed[1]
            else:
                # Computed in a worker; the panel shows the input now and the parts when ready.
                self.decomposer.request((patch, model), model, t.images[patch], t.sources[patch])
        self.detail.objects = t.is_objects
        src = t.sources[patch]
        side = int(src.size or t.patch_size)
        key = (src.path, src.page, src.y, src.x, side, t.channel)
        native = self._native[1] if self._native[0] == key else None
        if native is None:
            self.crop_reader.request(key, src.path, src.page, t.channel, src.y, src.x, side)
        self.detail.show_patch(patch, src, t.images[patch], MARK_NAMES.get(int(t.marks[patch]), ""),
                               decomposition, float(t.latent[patch]), float(t.recon[patch]), t.score_type,
                               self.doc.threshold, residual=float(t.residual[patch]),
                               combined=float(t.combined[patch]), measure=float(t.measure[patch]),
                               cell=float(t.cell[patch]), native=native)

    def _crop_ready(self, key: tuple, crop) -> None:
        self._native = (key, crop)
        t, patch = self.doc.table, self.detail.patch
        if 0 <= patch < len(t) and not self.crop_reader.superseded:
            src = t.sources[patch]
            if key[:4] == (src.path, src.page, src.y, src.x):
                self.detail.show_native(crop, key[4])

    def _decomposition_ready(self, patch: int, model, parts) -> None:
        if model is not self.doc.model:
            return   # computed with a model that has since been replaced
        self._decomposed = (patch, parts)
        if self.detail.patch == patch:
            self.show_detail(patch)

    def go_to_patch(self, patch: int) -> None:
        """Make ``patch`` the current one (from a click in the source image)."""
        if not self.gallery.shows(patch):
            self.notify("That patch is hidden by the Show filter; showing it in Detail only", 5000)
            self.show_detail(patch)
            return
        self.gallery.select_patches([patch], current=patch)
        self.update_source(patch)   # also when it already was the current patch

    # ------------------------------------------------------- source image --
    def _source_showing(self) -> bool:
        return self.source_dock.isVisible() and not self.source_dock.visibleRegion().isEmpty()

    def update_source(self, patch: Optional[int] = None, outlines_only: bool = False) -> None:
        """Show the page ``patch`` (default: the current one) came from, if the Source tab is showing."""
        if not self._source_showing():
            return   # a hidden tab reads no files
        t = self.doc.table
        if patch is None:
            patch = self.detail.patch if self.detail.patch is not None else -1
        if patch < 0 or patch >= len(t):
            return
        src = t.sources[patch]
        key = (src.path, src.page, t.channel)
        if key != self.source.key:
            if outlines_only:
                return
            self.source.show_message(f"Reading {Path(src.path).name}, page {src.page}…")
            self.source.set_page(key, None)
            self.page_reader.request(key, *key, t.patching)
        self._source_patch = patch
        self._draw_outlines()

    def _draw_outlines(self) -> None:
        key = self.source.key
        if key is None:
            return
        t = self.doc.table
        idx, ys, xs = t.patches_on_page(key[0], key[1])
        ids, sizes = t.objects_on_page(key[0], key[1])
        threshold = self.doc.threshold
        flagged = t.flagged_mask(threshold, idx) if threshold is not None else np.zeros(len(idx), bool)
        score = t.score
        self.source.set_outlines(idx, ys, xs, t.patch_size, self._source_patch, flagged, t.marks[idx] == NORMAL,
                                 object_ids=ids if t.is_objects else None, sizes=sizes,
                                 scores=None if score is None else score[idx], score_range=t.score_range(),
                                 objects=t.is_objects)

    def _page_ready(self, key: tuple, page) -> None:
        if self.page_reader.superseded:
            return   # a newer page was asked for meanwhile
        self.source.set_page(key, page)
        self._draw_outlines()

    def _page_failed(self, key: tuple, message: str) -> None:
        self.source.set_page(key, None)
        self.source.show_message(f"Cannot show the source image: {message}")
