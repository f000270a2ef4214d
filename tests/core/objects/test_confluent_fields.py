"""Confluent fields: nuclei over half of the page, most of them touching (a helper's attack found that such a
field gave no objects at all, and a size estimate 30-70 % too large)."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from ddrcore.objects.detect import background_noise, detect_objects, estimate_object_size


def confluent_field(seed: int, d: float = 16.0, spacing: float = 0.85, shape=(256, 256)):
    """Nuclei of diameter ``d`` (± 10 %) packed until no more fit with centres ``spacing`` diameters apart,
    at 80-120 % brightness, slightly blurred, with photon and read noise; returns (image, n, cover)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    centres = []
    for _ in range(20000):
        dd = d * rng.uniform(0.9, 1.1)
        cy, cx = rng.uniform(dd / 2, h - dd / 2), rng.uniform(dd / 2, w - dd / 2)
        if all((cy - y) ** 2 + (cx - x) ** 2 >= (0.5 * (dd + e) * spacing) ** 2 for y, x, e in centres):
            centres.append((cy, cx, dd))
    signal = np.zeros(shape)
    for cy, cx, dd in centres:
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= (dd / 2) ** 2
        signal[disc] = np.maximum(signal[disc], rng.uniform(0.8, 1.2))
    signal = ndi.gaussian_filter(signal, 1.0)
    image = rng.poisson(100 + 1000 * signal) + rng.normal(0, 3, shape)
    return np.clip(image, 0, 65535).astype(np.uint16), len(centres), float((signal > 0.5).mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_confluent_field_gets_its_nuclei_size_and_nuclei(seed):
    image, n, cover = confluent_field(seed)
    assert cover > 0.55                      # the case: over half of the page is nuclei
    size = estimate_object_size(image)
    assert size is not None and 14.0 <= size <= 18.5, size       # clumps' median read 22-28 px here
    found = detect_objects(image, size)
    assert 0.85 * n <= len(found) <= 1.15 * n, (len(found), n)
    # ... and at the true size too (before: none in a field this dense).
    assert 0.85 * n <= len(detect_objects(image, 16.0)) <= 1.15 * n


def test_background_noise_reads_the_background_not_the_flanks():
    rng = np.random.default_rng(3)
    background = rng.normal(0, 10, 30000)
    flanks = rng.uniform(0, 600, 30000)             # the sides of touching nuclei, below the threshold
    assert 8 < background_noise(np.concatenate([background, flanks])) < 12
    # Noise alone reads as noise, and too few values give no reading rather than a wrong one.
    assert 8 < background_noise(background) < 12
    assert background_noise(background[:5]) == float("inf")
