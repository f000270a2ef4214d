"""What the ddrid dock writes into napari: the score layers and the selected object's pictures.

A mixin of :class:`ddrid_gui.napari.widget.DdridWidget`, kept apart so that
the dock's controls and its layers each have a file: it reads the dock's
``viewer``, ``outcome``, ``table``, ``threshold`` and its picture widgets.
"""
from __future__ import annotations

import numpy as np
from qtpy.QtGui import QImage, QPixmap

from ddrcore.model.thresholds import MIN_ROBUST

from . import session as ses

#: The layers the dock writes (and leaves out of its own input combos).
SCORES_LAYER = "ddrid scores"
ANOMALIES_LAYER = "ddrid anomalies"
SELECTED_LAYER = "ddrid selected object"
COLORMAP = "viridis"


def pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb, np.uint8)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())     # copy: the QImage must not outlive the numpy buffer


class ResultLayers:
    """The results as layers: scores coloured per object, flagged objects outlined, the shown object circled."""

    def _write_layers(self) -> None:
        import pandas as pd
        from napari.utils.colormaps import DirectLabelColormap

        o = self.outcome
        self.table = ses.results_table(o, self.threshold)
        labels = o.cut.label_image()
        image_layer, index, lead = self._where
        # A plane of a stack is shown on its own plane: (1, ..., 1, Y, X) moved to its index.
        data = labels.reshape((1,) * lead + labels.shape)
        scale = tuple(image_layer.scale[-data.ndim:]) if len(image_layer.scale) >= data.ndim else None
        translate = np.zeros(data.ndim)
        base = np.asarray(image_layer.translate[-data.ndim:]) if len(image_layer.translate) >= data.ndim else translate
        translate = base + np.r_[np.asarray(index, float), np.zeros(2)] * (np.asarray(scale) if scale else 1)
        colors = ses.score_colors(self.table, COLORMAP)
        cmap = DirectLabelColormap(color_dict={None: np.zeros(4), 0: np.zeros(4), **colors})
        scores = self._layer(SCORES_LAYER)
        if scores is None:
            scores = self.viewer.add_labels(data, name=SCORES_LAYER, opacity=0.55, scale=scale, translate=translate)
            scores.mouse_drag_callbacks.append(self._clicked)
            scores.events.selected_label.connect(self._selected)
        else:
            scores.data = data
            scores.scale, scores.translate = scale or scores.scale, translate
        scores.colormap = cmap
        scores.features = pd.DataFrame(self.table)
        self._update_anomalies()
        finite = self.table["score"][np.isfinite(self.table["score"])]
        self._slider_lo = float(min(finite.min(), self.threshold)) if finite.size else 0.0
        self._slider_hi = float(max(finite.max(), self.threshold)) if finite.size else 1.0
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(self._slider_position(self.threshold))
        self.threshold_slider.blockSignals(False)
        self.threshold_slider.setEnabled(True)
        self.robust_button.setEnabled(int(np.isfinite(self.table["score"]).sum()) >= MIN_ROBUST)
        lo, hi = ses.score_range(self.table["score"])
        self.legend_low.setText(f"typical {lo:.3g}")
        self.legend_high.setText(f"{hi:.3g} unusual")
        self.legend.setToolTip(f"Colour of each object in '{SCORES_LAYER}': its anomaly score, from typical "
                               f"({lo:.3g}) to unusual ({hi:.3g}); grey: at the image edge, not scored")
        self._show_threshold()

    def _update_anomalies(self) -> None:
        from napari.utils.colormaps import DirectLabelColormap

        scores = self._layer(SCORES_LAYER)
        flagged_ids = self.table["index"][self.table["is_anomaly"]]
        data = np.where(np.isin(scores.data, flagged_ids), scores.data, 0).astype(scores.data.dtype)
        red = np.array([1.0, 0.15, 0.1, 1.0])
        cmap = DirectLabelColormap(color_dict={None: red, 0: np.zeros(4)})
        layer = self._layer(ANOMALIES_LAYER)
        if layer is None:
            layer = self.viewer.add_labels(data, name=ANOMALIES_LAYER, scale=scores.scale, translate=scores.translate,
                                           opacity=1.0)
            layer.contour = 2
            # Clicks go through to the scores below: this layer only outlines.
            self.viewer.layers.selection.active = scores
        else:
            layer.data = data
            layer.scale, layer.translate = scores.scale, scores.translate
        layer.colormap = cmap

    def show_object(self, object_id: int) -> None:
        """Show input | X_C | X_N of one object in the dock."""
        if self.outcome is None or self.table is None:
            return
        rows = np.flatnonzero(self.table["index"] == object_id)
        if rows.size == 0:
            return
        k = rows[0]
        self._shown = int(object_id)
        score = self.table["score"][k]
        if not np.isfinite(score):
            why = str(self.table["role"][k]).removeprefix("not scored (").rstrip(")")
            self.object_title.setText(f"Object {object_id}: not scored ({why}).")
            for panel, caption in zip(self.panels, self.panel_captions):
                panel.clear()
                caption.setText("")
            self.captions.setText("")
            return
        ex = ses.explain_object(self.outcome, object_id)
        flag = "flagged" if self.table["is_anomaly"][k] else "not flagged"
        cy, cx = float(self.table["center_y"][k]), float(self.table["center_x"][k])
        self._mark_selected(cy, cx)
        n = int(np.isfinite(self.table["score"]).sum())
        self.object_title.setText(f"<b>Object {object_id}</b> (yellow circle, at x {cx:.0f}, y {cy:.0f}): rank "
                                  f"{self.table['rank'][k]} of {n}, <b>{flag}</b>. "
                                  f"{ses.plain_why(self.model, score, ex.why)}.")
        side = ex.raw.shape[-1]
        pictures = ses.decomposition_panels(ex.raw, ex.x_c, ex.x_n, scale=max(1, 80 // side))
        for panel, caption, picture, name in zip(self.panels, self.panel_captions, pictures, ses.PANELS):
            panel.setPixmap(pixmap(picture))
            caption.setText(name)
        self.captions.setText("X_C: the object as the model of normal objects draws it. X_N and input − X_C: what "
                              "departs from that (red: brighter, blue: dimmer, white: nothing). Flat grey in the "
                              "input: outside the image or another object, set to the local background.")

    def _mark_selected(self, cy: float, cx: float) -> None:
        """A yellow circle around the object the dock shows, so the eye finds it in the field."""
        scores = self._layer(SCORES_LAYER)
        lead = scores.ndim - 2
        point = np.array([[*([0.0] * lead), cy, cx]])
        size = 1.6 * float(self.outcome.cut.patches.patching.object_size or 20)
        layer = self._layer(SELECTED_LAYER)
        if layer is None:
            layer = self.viewer.add_points(point, name=SELECTED_LAYER, size=size, face_color="transparent",
                                           border_color="yellow", border_width=0.12, scale=scores.scale,
                                           translate=scores.translate)
            self.viewer.layers.selection.active = scores     # clicks keep going to the scores
        else:
            layer.data = point
            layer.size = size
            layer.scale, layer.translate = scores.scale, scores.translate
