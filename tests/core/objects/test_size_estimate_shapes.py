"""The size estimate where parts are not simply one object each: elongated and crescent nuclei, pages of
photon-counting noise, a page that is one merged blob (helpers' attacks on the confluent-field change)."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from ddrcore.objects.detect import detect_objects, estimate_object_size


def render(shape, bodies, rng, amplitude=1000.0, background=100.0):
    """Flat ellipses ``(cy, cx, a, b, angle)`` blurred a little, photon and read noise; uint16."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    signal = np.zeros(shape)
    for cy, cx, a, b, th in bodies:
        u = (yy - cy) * np.cos(th) + (xx - cx) * np.sin(th)
        v = -(yy - cy) * np.sin(th) + (xx - cx) * np.cos(th)
        signal[(u / a) ** 2 + (v / b) ** 2 <= 1] = 1.0
    signal = ndi.gaussian_filter(signal, 1.0)
    image = rng.poisson(background + amplitude * signal) + rng.normal(0, 3, shape)
    return np.clip(image, 0, 65535).astype(np.uint16)


def apart(rng, n, shape, gap, margin):
    centres = []
    while len(centres) < n:
        c = rng.uniform(margin, np.array(shape) - margin)
        if all(np.hypot(*(c - o)) > gap for o in centres):
            centres.append(c)
    return centres


def test_elongated_nuclei_are_not_taken_for_clumps():
    """Nuclei of axis ratio 0.3-0.5 (equivalent diameter 24 px) are wide for their inscribed disc, as clumps
    are, but convex: they read 14-16 px when taken for clumps, and came out in two."""
    rng = np.random.default_rng(0)
    bodies = []
    for cy, cx in apart(rng, 30, (384, 384), 40, 24):
        q = rng.uniform(0.3, 0.5)
        bodies.append((cy, cx, 12 / np.sqrt(q), 12 * np.sqrt(q), rng.uniform(0, np.pi)))
    image = render((384, 384), bodies, rng)
    size = estimate_object_size(image)
    assert size is not None and 21 <= size <= 27, size
    assert len(detect_objects(image, size)) == 30


def test_crescent_nuclei_are_not_taken_for_clumps():
    """Kidney- and crescent-shaped nuclei are wide for their inscribed disc and not convex, as clumps are,
    but no larger than the rest: read as clumps they came out at 12 px for 18 and each cut in two."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:384, :384]
    signal = np.zeros((384, 384))
    centres = apart(rng, 25, (384, 384), 50, 30)
    for cy, cx in centres:
        th = rng.uniform(0, 2 * np.pi)
        body = np.hypot(yy - cy, xx - cx) <= 13
        bite = np.hypot(yy - cy - 9 * np.sin(th), xx - cx - 9 * np.cos(th)) <= 9
        signal[body & ~bite] = 1.0
    image = np.clip(rng.poisson(100 + 1000 * ndi.gaussian_filter(signal, 1.0)), 0, None).astype(np.uint16)
    truth = 2 * np.sqrt(ndi.label(signal > 0)[0].astype(bool).sum() / 25 / np.pi)
    size = estimate_object_size(image)
    assert size is not None and 0.85 * truth <= size <= 1.2 * truth, (size, truth)
    assert len(detect_objects(image, size)) == 25


@pytest.mark.parametrize("mean", [0.1, 0.5])
def test_pages_of_photon_counting_noise_stay_empty(mean):
    """Counts of a fraction of a photon per pixel pile on zero; their spread below the histogram's mode says
    nothing of the noise (read as thousands of objects)."""
    for seed in range(3):
        page = np.random.default_rng(100 + seed).poisson(mean, (256, 256)).astype(np.uint16)
        assert estimate_object_size(page) is None
        assert len(detect_objects(page, 5.0)) == 0 and len(detect_objects(page, 8.0)) == 0


def test_a_page_that_is_one_merged_blob_has_no_size():
    """Nuclei packed tighter than their own width at low signal merge into one blob across the page; its
    inscribed disc (160-250 px) is no object's size."""
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:256, :256]
    # Overlapping discs along two crossing bands: one part, not convex, far wider than its inscribed disc.
    blob = np.zeros((256, 256), bool)
    for t in np.linspace(30, 226, 40):
        blob |= np.hypot(yy - 128 - 10 * np.sin(t / 9), xx - t) <= 14
        blob |= np.hypot(yy - t, xx - 128 - 10 * np.cos(t / 11)) <= 14
    image = np.clip(rng.poisson(100 + 500 * ndi.gaussian_filter(blob.astype(float), 1.0)), 0, None).astype(np.uint16)
    assert estimate_object_size(image) is None
