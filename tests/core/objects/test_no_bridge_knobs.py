"""Two nuclei a few pixels apart keep outlines that follow them: the closing that makes each nucleus whole
bridged the gap, the watershed halved the bridge and each nucleus kept a knob where there is no signal
(seen on the U2OS field: square knobs at nuclei 10 px from a neighbour)."""
import numpy as np
from scipy import ndimage as ndi

from ddrcore.objects.detect import detect_objects


def pairs_field(seed: int, d: float = 48.0, gap: float = 7.0, shape=(220, 420)):
    """Three pairs of round nuclei, each pair ``gap`` px apart; returns (image, [(cy, cx)...], d)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    half = (d + gap) / 2
    # Side by side, one above the other, side by side: gaps across and along the image's axes.
    centres = [(100.0, 70.0 - half), (100.0, 70.0 + half), (100.0 - half, 210.0), (100.0 + half, 210.0),
               (100.0, 350.0 - half), (100.0, 350.0 + half)]
    signal = np.zeros(shape)
    for cy, cx in centres:
        signal[np.hypot(yy - cy, xx - cx) <= d / 2] = rng.uniform(0.9, 1.1)
    signal = ndi.gaussian_filter(signal, 1.5)
    image = rng.poisson(100 + 1000 * signal) + rng.normal(0, 3, shape)
    return np.clip(image, 0, 65535).astype(np.uint16), centres, d


def test_nuclei_beside_each_other_keep_no_knob_in_the_gap():
    for seed in (0, 1):
        image, centres, d = pairs_field(seed)
        found = detect_objects(image, d)
        assert len(found) == len(centres)
        yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
        for cy, cx in centres:
            oid = int(found.labels[int(cy), int(cx)])
            assert oid > 0
            # No pixel of the object lies more than 2.5 px outside its nucleus (the blur reaches ~2 px).
            beyond = (found.labels == oid) & (np.hypot(yy - cy, xx - cx) > d / 2 + 2.5)
            assert int(beyond.sum()) == 0, (seed, cy, cx, int(beyond.sum()))
            # Nor does the knob stay in the object's footprint (what other objects' crops mask out).
            if found.footprint is not None:
                far = (found.footprint == oid) & (np.hypot(yy - cy, xx - cx) > d / 2 + 2.5) & (found.labels == 0)
                assert int(far.sum()) == 0, (seed, cy, cx, int(far.sum()))


def _noisy(signal: np.ndarray, rng) -> np.ndarray:
    image = rng.poisson(100 + 1000 * ndi.gaussian_filter(signal, 1.2)) + rng.normal(0, 3, signal.shape)
    return np.clip(image, 0, 65535).astype(np.uint16)


def test_an_anaphase_pair_beside_a_nucleus_keeps_both_daughters():
    # Two bright bars 6 px apart, the gap between them opening onto a round nucleus 3 px away: the closing
    # joins the bars (one object) and reaches the nucleus.  Dropping the bridge to the nucleus once took a
    # whole bar with it.
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[:120, :160]
        signal = np.zeros((120, 160))
        bars = []
        for side in (-1, 1):
            bar = ((xx - 50) / 14.0) ** 2 + ((yy - 60 - side * 7) / 4.0) ** 2 <= 1
            signal[bar] = 1.3
            bars.append(bar)
        signal[np.hypot(yy - 60, xx - 87) <= 20] = 1.0
        found = detect_objects(_noisy(signal, rng), 40.0)
        for bar in bars:
            assert (found.labels[bar] > 0).mean() > 0.9, seed


def test_a_cluster_of_dots_keeps_every_dot():
    # Clusters of nine bright dots (a ring of eight and one in the middle), each alone: the watershed cuts
    # a cluster into several objects, and the closing's runs between their dots touch a sibling piece; a
    # dot is signal and never goes with a dropped run.
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[:240, :640]
        signal = np.zeros((240, 640))
        for cy in (60.0, 180.0):
            for cx in (80.0, 240.0, 400.0, 560.0):
                turn = rng.uniform(-0.2, 0.2, 8)
                dots = [(cy, cx)] + [(cy + 16.5 * np.sin(a), cx + 16.5 * np.cos(a))
                                     for a in np.linspace(0, 2 * np.pi, 8, endpoint=False) + turn]
                for dy, dx in dots:
                    signal[np.hypot(yy - dy, xx - dx) <= 3.5] = rng.uniform(0.8, 1.2)
        found = detect_objects(_noisy(signal, rng), 40.0)
        spots, n = ndi.label(signal > 0)
        covered = ndi.mean(found.labels > 0, spots, np.arange(1, n + 1))
        assert (covered > 0.5).all(), (seed, int((covered <= 0.5).sum()))
