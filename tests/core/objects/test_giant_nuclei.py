"""A nucleus far larger than the typical one is one object, not several of typical size (a helper's attack: a
nucleus twice the typical diameter came out in 3-6 pieces, each ranked as an ordinary nucleus)."""
import numpy as np
from scipy import ndimage as ndi

from ddrcore.objects.detect import detect_objects


def field_with_giants(seed: int, giant: float, typical: float = 16.0, shape=(256, 256), saturate: bool = False):
    """Typical nuclei and three giant ones (flat on top), apart; returns (image, giant centres)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    placed = []
    giants = [(64.0, 64.0), (64.0, 192.0), (192.0, 128.0)]
    for cy, cx in giants:
        placed.append((cy, cx, giant))
    for _ in range(5000):
        d = typical * rng.uniform(0.9, 1.1)
        cy, cx = rng.uniform(d, h - d, 2)
        if all(np.hypot(cy - y, cx - x) > 0.6 * (d + e) for y, x, e in placed):
            placed.append((cy, cx, d))
    signal = np.zeros(shape)
    for cy, cx, d in placed:
        signal[np.hypot(yy - cy, xx - cx) <= d / 2] = rng.uniform(0.9, 1.1)
    signal = ndi.gaussian_filter(signal, 1.0)
    image = rng.poisson(100 + 1000 * signal) + rng.normal(0, 3, shape)
    if saturate:
        image = np.minimum(image, 800)
    return np.clip(image, 0, 65535).astype(np.uint16), giants


def test_a_giant_flat_nucleus_is_one_object():
    for giant in (32.0, 40.0):
        image, giants = field_with_giants(0, giant)
        found = detect_objects(image, 16.0)
        for cy, cx in giants:
            yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
            inside = np.hypot(yy - cy, xx - cx) <= giant / 2 - 2
            ids = np.unique(found.labels[inside])
            assert (ids > 0).sum() == 1, (giant, (cy, cx), ids)


def test_saturated_nuclei_pressed_together_stay_apart():
    """Four saturated (flat-topped) nuclei pressed together in a square: the cuts between them are as bright
    as they are and their union is wider than any of them, like a giant's pieces; but it has notches, and
    they stay four objects (one, were the union's convexity not asked)."""
    yy, xx = np.mgrid[:96, :96]
    rng = np.random.default_rng(1)
    cluster = np.zeros((96, 96), bool)
    for cy in (40.5, 55.5):
        for cx in (40.5, 55.5):
            cluster |= np.hypot(yy - cy, xx - cx) <= 9
    image = np.minimum(rng.poisson(100 + 3000 * ndi.gaussian_filter(cluster.astype(float), 1.0)), 1500)
    assert len(detect_objects(image.astype(np.uint16), 18.0)) == 4
