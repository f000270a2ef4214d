"""100,000 patches: the gallery stays virtual and the threshold recount stays instant.

Timings are printed (run with -s), not asserted: shared CI machines vary.
"""

import time

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from ddrid_gui.document import NORMAL, PatchTable  # noqa: E402
from ddrcore.io.images import PatchSet, PatchSource  # noqa: E402
from ddrcore.model.scoring import Scores  # noqa: E402
from gui import find  # noqa: E402

# A scale check (100k patches through the gallery model): the slow tier, which CI also runs.
pytestmark = [pytest.mark.gui, pytest.mark.slow]

N = 100_000


def big_table(n=N, size=8):
    rng = np.random.default_rng(0)
    # Small patches keep memory low; the gallery and recount do not depend on patch size.
    images = rng.normal(1000, 100, (n, 1, size, size)).astype(np.float32)
    sources = [PatchSource(f"/data/plate_{i // 1000:03d}.tif", i % 1000, 0, 0) for i in range(n)]
    table = PatchTable(patch_size=size)
    table.add(PatchSet(images, sources))
    latent = rng.gamma(2.0, 1.0, n).astype(np.float32)
    table.set_scores(np.arange(n), Scores(latent=latent, recon=latent * 3, score_type="latent", threshold=4.0))
    table.set_marks(np.arange(0, n, 7), NORMAL)
    return table


def test_recount_at_100k_patches():
    table = big_table()
    score = table.score
    t0 = time.perf_counter()
    table.count_flagged(1.0)          # first call sorts once
    first = time.perf_counter() - t0
    thresholds = np.linspace(score.min(), score.max(), 500)
    t0 = time.perf_counter()
    counts = [table.count_flagged(t)[0] for t in thresholds]
    per_call = (time.perf_counter() - t0) / len(thresholds)
    t0 = time.perf_counter()
    naive = [(score >= t).sum() for t in thresholds[:50]]
    naive_per = (time.perf_counter() - t0) / 50
    print(f"\nrecount at {N} patches: {per_call * 1e6:.1f} µs per slider move "
          f"(first call incl. sort {first * 1e3:.1f} ms; plain (s >= t).sum() {naive_per * 1e6:.0f} µs)")
    assert counts[:50] == [int(c) for c in naive]
    assert counts == [int((score >= t).sum()) for t in thresholds]


def test_gallery_holds_100k_patches(win, qtbot):
    table = big_table()
    t0 = time.perf_counter()
    win.document.replace_table(table)
    shown = time.perf_counter() - t0
    g = find(win, "galleryView")
    assert g.model().rowCount() == N
    order = g.model().order
    np.testing.assert_array_equal(order, np.argsort(-table.score, kind="stable"))
    win.resize(1400, 900)
    g.setCurrentIndex(g.model().index(0))
    # The gallery lays tiles out in batches between events; wait until it is done.
    bar = g.verticalScrollBar()
    sizes = []
    qtbot.waitUntil(lambda: sizes.append(bar.maximum()) or (len(sizes) > 3 and sizes[-1] == sizes[-4] > 0),
                    timeout=20_000)
    # Scroll through: only visible tiles are rendered, and the thumbnail cache stays bounded.
    paints = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        bar.setValue(int(bar.maximum() * frac))
        t0 = time.perf_counter()
        g.viewport().repaint()
        paints.append(time.perf_counter() - t0)
    assert len(g.cache) <= g.cache.capacity
    assert len(g.cache) < 5000
    # Slider end to end (recount, label, tile flags) at 100k.
    slider = find(win, "thresholdSlider")
    t0 = time.perf_counter()
    for v in np.linspace(slider.minimum(), slider.maximum(), 20):
        slider.setValue(float(v))
    per_move = (time.perf_counter() - t0) / 20
    used = slider.value()
    assert f"<b>{int((table.score >= used).sum())}</b> of {N} flagged" in find(win, "flaggedLabel").text()
    assert f"<b>{int((table.score >= used).sum())}</b> flagged" in find(win, "countsLabel").text()
    # Filters and sorts on 100k.
    filter_box, sort_box = find(win, "filterBox"), find(win, "sortBox")
    t0 = time.perf_counter()
    filter_box.setCurrentIndex(filter_box.findData("normal"))
    filt = time.perf_counter() - t0
    assert g.model().rowCount() == len(range(0, N, 7))
    filter_box.setCurrentIndex(filter_box.findData("all"))
    t0 = time.perf_counter()
    sort_box.setCurrentIndex(sort_box.findData("name"))
    name_sort = time.perf_counter() - t0
    g.select_patches(np.arange(0, 20_000))
    assert len(g.selected_patches()) == 20_000
    print(f"\n100k gallery: shown in {shown * 1e3:.0f} ms; repaint after a scroll jump "
          f"{1e3 * np.median(paints):.0f} ms median (max {1e3 * max(paints):.0f}); slider move end to end "
          f"{per_move * 1e3:.2f} ms; filter {filt * 1e3:.0f} ms; first name sort {name_sort * 1e3:.0f} ms")
