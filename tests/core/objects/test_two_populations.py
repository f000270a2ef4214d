"""A field whose nuclei come in two brightness populations keeps both (a helper's attack: with a nucleus
three to thirty times brighter beside each dim one, the threshold landed between the two and no dim
nucleus was found)."""
import numpy as np
from scipy import ndimage as ndi

from ddrcore.objects.detect import detect_objects


def pairs_of_two_brightnesses(seed: int, ratio: float, d: float = 40.0, gap: float = 2.0):
    """Twelve pairs: a dim nucleus and, ``gap`` px away, one ``ratio`` times brighter; returns (image, dim centres)."""
    rng = np.random.default_rng(seed)
    h, w = 3 * 150, 4 * 150
    yy, xx = np.mgrid[:h, :w]
    signal = np.zeros((h, w))
    dim = []
    for cy in (75.0, 225.0, 375.0):
        for cx in (75.0, 225.0, 375.0, 525.0):
            turn = rng.uniform(0, np.pi)
            half = (d + gap) / 2
            oy, ox = half * np.sin(turn), half * np.cos(turn)
            signal[np.hypot(yy - cy + oy, xx - cx + ox) <= d / 2] = 1.0
            signal[np.hypot(yy - cy - oy, xx - cx - ox) <= d / 2] = ratio
            dim.append((cy - oy, cx - ox))
    image = rng.poisson(100 + 800 * ndi.gaussian_filter(signal, 1.2)) + rng.normal(0, 3, (h, w))
    return np.clip(image, 0, 65535).astype(np.uint16), dim


def test_dim_nuclei_beside_bright_ones_are_found():
    for seed, ratio in ((0, 3.0), (1, 8.0), (2, 30.0)):
        image, dim = pairs_of_two_brightnesses(seed, ratio)
        found = detect_objects(image, 40.0)
        assert len(found) == 24, (seed, ratio, len(found))
        for cy, cx in dim:
            near = np.hypot(found.centers[:, 0] - cy, found.centers[:, 1] - cx).min()
            assert near < 6, (seed, ratio, cy, cx, near)

