"""The ring variations of `ddrid bench rings`: each draws what its name says."""
import numpy as np
import pytest

from ddrcore.bench.rings import VARIATIONS, RingStyle, ring_patches


def spot_distance(style, n=40):
    _, c = ring_patches(n, seed=3, spot=True, style=style)
    middle = 32 / 2 - 0.5
    return np.hypot(c[:, 0] - middle, c[:, 1] - middle)


def test_spots_lie_where_the_variation_puts_them():
    hole = VARIATIONS["spot-in-hole"]
    # In the hole: within half the inner radius of the centre (+1 px for the ring's own offset).
    assert (spot_distance(hole) <= 0.5 * hole.inner[1] * hole.radius[1] + 1.5).all()
    edge = VARIATIONS["spot-on-edge"]
    d = spot_distance(edge)
    assert (d >= edge.radius[0] - 1.5).all() and (d <= edge.radius[1] + 1.5).all()
    ring = RingStyle()
    d = spot_distance(ring)
    assert (d >= 0.6 * ring.radius[0] - 1.5).all() and (d <= ring.radius[1] + 1.5).all()


@pytest.mark.parametrize("name", sorted(VARIATIONS))
def test_every_variation_gives_finite_patches_with_a_brighter_spot(name):
    style = VARIATIONS[name]
    x, c = ring_patches(6, seed=1, spot=True, style=style)
    assert x.shape == (6, 1, 32, 32) and np.isfinite(x).all() and np.isfinite(c).all()
    # The same rings (the same random draws) with no spot gain: the spot adds light where it sits.
    lo, hi = style.spot_gain
    flat = RingStyle(**{**style.__dict__, "spot_gain": (0.0, 0.0) if lo == hi else (0.0, 1e-9)})
    y, _ = ring_patches(6, seed=1, spot=True, style=flat)
    assert (x.sum((1, 2, 3)) > y.sum((1, 2, 3))).all()


def test_ellipses_are_not_circles():
    x, _ = ring_patches(8, seed=2, style=VARIATIONS["ellipses"])
    from skimage.measure import regionprops

    ecc = [regionprops((im[0] > np.percentile(im[0], 80)).astype(int))[0].eccentricity for im in x]
    assert np.median(ecc) > 0.5
