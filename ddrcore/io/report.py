"""A one-page PNG/PDF report of a scored patch set (matplotlib, Agg).

The page shows the score histogram (normal-marked patches vs the rest) with
the threshold, montages of the most normal and the most anomalous patches,
and the settings that produced the ranking.  Figures are drawn on a private
``Figure`` with the Agg canvas, never through pyplot, so making a report does
not touch a GUI toolkit or any global matplotlib state.

``display_u8`` (per-patch percentile contrast) lives here because the report
needs it for its montages; the desktop app uses the same function for its
thumbnails so both look alike.  It is display only, never a model input.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from .atomic import atomic_path
from .images import PatchSource

FORMATS = {".png": "png", ".pdf": "pdf"}


def display_u8(patches: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Per-patch contrast stretch to uint8 for display.

    ``patches`` is (N, C, S, S) or (C, S, S) or (S, S).  Returns (N, S, S), or
    (N, S, S, 3) for 3-channel patches (shown as RGB); other channel counts
    show channel 0.  Each patch (each channel) is stretched between its own
    ``low`` and ``high`` percentiles, so dim and bright patches are both
    readable.
    """
    x = np.asarray(patches, np.float32)
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[None]
    n, c, s, t = x.shape
    rgb = c == 3
    x = x if rgb else x[:, :1]
    flat = x.reshape(n, x.shape[1], -1)
    lo, hi = np.percentile(flat, [low, high], axis=2)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    out = (x - lo[..., None, None]) / span[..., None, None]
    out = (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.moveaxis(out, 1, -1) if rgb else out[:, 0]


def montage(tiles: np.ndarray, cols: int, gap: int = 2) -> np.ndarray:
    """Arrange uint8 tiles (N, S, S[, 3]) in a grid with a white gap."""
    n = len(tiles)
    if n == 0:
        return np.full((1, 1), 255, np.uint8)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    s, t = tiles.shape[1:3]
    shape = (rows * (s + gap) - gap, cols * (t + gap) - gap) + tiles.shape[3:]
    out = np.full(shape, 255, np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (s + gap): r * (s + gap) + s, c * (t + gap): c * (t + gap) + t] = tiles[k]
    return out


def common_root(paths: Sequence[str]) -> str:
    """The deepest folder holding every path ("" when there is none, e.g. different drives).

    >>> common_root(["/d/train/normal/a.tif", "/d/test/normal/a.tif"])
    '/d'
    """
    folders = {os.path.dirname(os.path.abspath(p)) for p in paths}
    try:
        return os.path.commonpath(sorted(folders)) if folders else ""
    except ValueError:
        return ""


def patch_label(src: PatchSource, root: str = "", objects: bool = False) -> str:
    """How the report names a patch: its path relative to ``root``, page, and y and x of the crop,
    or for ``objects`` the object's id and centre (a crop's corner, e.g. x-62, names no object).

    Relative to the common root, train/normal/ring_1.tif and test/normal/ring_1.tif stay apart.

    >>> patch_label(PatchSource("/data/train/normal/r.tif", 0, 3, 4), "/data")
    'train/normal/r.tif p0 y3 x4'
    >>> patch_label(PatchSource("/d/f.tif", 0, -62, 10, object_id=7, center_y=23.4, center_x=95.6), "/d", objects=True)
    'f.tif p0 #7 at y 23, x 96'
    """
    from .names import shown

    path = os.path.relpath(os.path.abspath(src.path), root) if root else src.path
    if objects and np.isfinite(src.center_y) and np.isfinite(src.center_x):
        return f"{shown(Path(path).as_posix())} p{src.page} #{src.object_id} at y {src.center_y:.0f}, x {src.center_x:.0f}"
    return f"{shown(Path(path).as_posix())} p{src.page} y{src.y} x{src.x}"


def nice_length(most: float) -> float:
    """The longest of 1, 2, 5 x 10^k not over ``most`` (a scale bar's length).

    >>> nice_length(37.0), nice_length(0.8), nice_length(5.0)
    (20.0, 0.5, 5.0)
    """
    if not most > 0:
        return 0.0
    base = 10.0 ** np.floor(np.log10(most))
    for step in (5.0, 2.0, 1.0):
        if step * base <= most * (1 + 1e-9):
            return float(step * base)
    return float(base)


def _scale_bar(ax, shown: Sequence[PatchSource], tile: int, height: int) -> bool:
    """A scale bar under the first tile of a montage when every shown patch has the same µm per tile pixel.

    Tiles are shown at the network's input size, not the crop's: one tile pixel is ``size / tile`` image
    pixels.  Patches of files with different (or unknown) pixel sizes get no bar rather than a wrong one.
    """
    per_px = {(None if not s.pixel_size or not s.size else
               round(float(np.sqrt(s.pixel_size[0] * s.pixel_size[1])) * s.size / tile, 9)) for s in shown}
    if len(per_px) != 1 or None in per_px:
        return False
    um_per_tile_px = per_px.pop()
    length = nice_length(0.4 * tile * um_per_tile_px)
    if length <= 0:
        return False
    bar = length / um_per_tile_px
    y = tile - 3
    ax.plot([2, 2 + bar], [y, y], color="white", lw=2.5, solid_capstyle="butt")
    ax.text(2, y - 2, f"{length:g} µm", color="white", fontsize=6, va="bottom", ha="left",
            bbox={"facecolor": "black", "alpha": 0.5, "pad": 0.3, "linewidth": 0})
    ax.set_ylim(height - 0.5, -0.5)
    return True


def montage_rows(order: np.ndarray, n_montage: int) -> tuple:
    """(most anomalous, most normal): the patch indices of the report's two montages, ``order`` ranked.

    Up to ``n_montage`` each, never the same patch in both: with fewer than
    two montages' worth the ranking is split between them (six scored had
    the same six in each, most anomalous first and then most normal).

    Examples
    --------
    >>> [r.tolist() for r in montage_rows(np.arange(6), 12)]
    [[0, 1, 2], [5, 4, 3]]
    >>> [r.tolist() for r in montage_rows(np.arange(30), 2)]
    [[0, 1], [29, 28]]
    >>> [r.tolist() for r in montage_rows(np.arange(1), 12)]
    [[0], []]
    """
    order = np.asarray(order)
    n = len(order)
    k = n_montage if n >= 2 * n_montage else (n + 1) // 2
    return order[:k], order[::-1][:min(k, n - k)]


def write_report(
    path: Union[str, os.PathLike],
    scores: np.ndarray,
    threshold: float,
    images: np.ndarray,
    sources: Sequence[PatchSource],
    normal_mask: Optional[np.ndarray] = None,
    settings: Optional[Mapping[str, object]] = None,
    score_label: str = "score",
    n_montage: int = 12,
    force: bool = False,
    objects: bool = False,
) -> Path:
    """Write the report as PNG or PDF (chosen by the suffix), atomically.

    ``scores`` (N,) and ``images`` (N, C, S, S, raw intensities) are aligned
    with ``sources``; ``normal_mask`` marks the user's normal patches.
    ``objects``: the patches are object crops, named by object id and centre.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: report must end in .png or .pdf")
    scores = np.asarray(scores, np.float64)
    if len(scores) != len(images) or len(scores) != len(sources):
        raise ValueError(f"{len(scores)} scores, {len(images)} images and {len(sources)} sources do not match")
    if len(scores) == 0:
        raise ValueError("nothing to report: no scored patches")
    from .outputs import check_output

    # Never one of the images reported on; never a foreign file unless forced.
    check_output(path, "report", {s.path for s in sources}, force)
    normal = np.zeros(len(scores), bool) if normal_mask is None else np.asarray(normal_mask, bool)
    order = np.argsort(-scores, kind="stable")
    top, bottom = montage_rows(order, n_montage)
    flagged = int(np.count_nonzero(scores >= threshold))

    fig = Figure(figsize=(8.27, 11.69), dpi=100)  # A4 portrait
    FigureCanvasAgg(fig)
    fig.suptitle("ddrid report: DDR-ID anomaly ranking", fontsize=14, fontweight="bold")
    grid = fig.add_gridspec(4, 2, height_ratios=[1.1, 1.0, 1.0, 0.9], hspace=0.45, wspace=0.15,
                            left=0.08, right=0.96, top=0.93, bottom=0.04)

    ax = fig.add_subplot(grid[0, :])
    bins = np.histogram_bin_edges(scores, bins=min(60, max(10, len(scores) // 5)))
    rest = scores[~normal]
    if len(rest):
        ax.hist(rest, bins=bins, color="#4c72b0", alpha=0.75, label=f"other patches ({len(rest)})")
    if normal.any():
        ax.hist(scores[normal], bins=bins, color="#55a868", alpha=0.75, label=f"marked normal ({int(normal.sum())})")
    if np.isfinite(threshold):
        ax.axvline(threshold, color="#c44e52", lw=2, label=f"threshold {threshold:.4g}")
    ax.set_xlabel(f"anomaly score ({score_label})")
    ax.set_ylabel("patches")
    ax.set_title(f"{flagged} of {len(scores)} patches flagged ({100.0 * flagged / len(scores):.1f} %)")
    ax.legend(loc="upper right", fontsize=8)

    root = common_root([s.path for s in sources])
    rank_of = np.empty(len(scores), np.int64)
    rank_of[order] = np.arange(1, len(scores) + 1)
    for row, (title, idx) in enumerate((("most anomalous", top), ("most normal", bottom)), start=1):
        if not len(idx):
            continue                     # one patch scored: it is the most anomalous, and there is no other
        cols = 4 if len(idx) > 6 else len(idx)
        tiles = display_u8(images[idx])
        mont = montage(tiles, cols)
        ax = fig.add_subplot(grid[row, 0])
        ax.imshow(mont, cmap="gray", interpolation="nearest", vmin=0, vmax=255)
        ax.set_title(f"{len(idx)} {title} (per-patch contrast; tile number = rank)", fontsize=10)
        ax.set_axis_off()
        side, gap = tiles.shape[1], 2
        for r, i in enumerate(idx):
            ty, tx = divmod(r, cols)
            ax.text(tx * (side + gap) + 1, ty * (side + gap) + 1, str(rank_of[i]), color="yellow", fontsize=6,
                    va="top", ha="left", fontweight="bold",
                    bbox={"facecolor": "black", "alpha": 0.6, "pad": 0.5, "linewidth": 0})
        _scale_bar(ax, [sources[i] for i in idx], side, mont.shape[0])
        lines = [f"{rank_of[i]:>4}. {scores[i]:.4g}  {patch_label(sources[i], root, objects)}" for i in idx]
        tax = fig.add_subplot(grid[row, 1])
        tax.set_axis_off()
        tax.text(0, 1, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=7,
                 transform=tax.transAxes)

    tax = fig.add_subplot(grid[3, :])
    tax.set_axis_off()
    info = {"patches scored": len(scores), "flagged": flagged, "threshold": f"{threshold:.6g}",
            "score": score_label, "paths relative to": root or "(no common folder)",
            **(dict(settings) if settings else {})}
    text = "\n".join(f"{name}: {value}" for name, value in info.items())
    tax.text(0, 1, "Settings\n" + text, va="top", ha="left", family="monospace", fontsize=8,
             transform=tax.transAxes)

    with atomic_path(path, suffix=path.suffix) as tmp:
        # The stamp by which ddrid recognises its own report when asked to replace it (outputs.looks_like).
        from .outputs import REPORT_CREATOR

        fig.savefig(tmp, format=fmt, metadata={"Software" if fmt == "png" else "Creator": REPORT_CREATOR})
    return path
