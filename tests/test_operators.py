"""Unit checks of the building blocks against properties that define them."""
import jax.numpy as jnp
import numpy as np
import pytest

from dycore.operators.reconstruction import LIMITERS, TVD_LIMITERS, Muscl, Weno5Z
from dycore.operators.riemann import RIEMANN_SOLVERS, physical_flux


@pytest.mark.parametrize("name", TVD_LIMITERS)
def test_limiters_are_tvd_and_symmetric(name):
    limit = LIMITERS[name]
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=1000), rng.normal(size=1000)
    s = np.asarray(limit(jnp.asarray(a), jnp.asarray(b)))
    assert np.all(s[a * b <= 0] == 0)                      # zero at extrema
    assert np.all(np.abs(s) <= 2 * np.minimum(np.abs(a), np.abs(b)) + 1e-15)  # TVD region
    np.testing.assert_allclose(s, np.asarray(limit(jnp.asarray(b), jnp.asarray(a))))
    # Linear data: every limiter returns the exact slope.
    np.testing.assert_allclose(np.asarray(limit(jnp.ones(3), jnp.ones(3))), 1.0)


def _order_on_sine(rec, n):
    """Max error of reconstructed face values of the cell averages of sin(2 pi x)."""
    h = rec.halo
    dx = 1.0 / n
    edges = (np.arange(-h, n + h + 1)) * dx
    averages = -(np.cos(2 * np.pi * edges[1:]) - np.cos(2 * np.pi * edges[:-1])) / (2 * np.pi * dx)
    minus, plus = rec(jnp.asarray(averages), n, 0)
    faces_lo = edges[h - 1:h + n + 1]
    return max(np.max(np.abs(np.asarray(plus) - np.sin(2 * np.pi * (faces_lo + dx)))),
               np.max(np.abs(np.asarray(minus) - np.sin(2 * np.pi * faces_lo))))


def test_unlimited_slope_is_central_and_keeps_extrema():
    a, b = jnp.asarray([1.0, -2.0, 0.5]), jnp.asarray([3.0, 1.0, 0.5])
    np.testing.assert_array_equal(np.asarray(LIMITERS["none"](a, b)), [2.0, -0.5, 0.5])
    assert set(LIMITERS) - set(TVD_LIMITERS) == {"none"}


# The TVD limiters clip the sine's extrema (order ~1.5 in max norm); the
# unlimited slope is second order there too.
@pytest.mark.parametrize("rec,order", [(Weno5Z(), 4.5), (Muscl("mc"), 1.3),
                                       (Muscl("van_leer"), 1.3), (Muscl("none"), 1.9)])
def test_reconstruction_order_on_smooth_data(rec, order):
    e1, e2 = _order_on_sine(rec, 64), _order_on_sine(rec, 128)
    assert np.log2(e1 / e2) > order


@pytest.mark.parametrize("name", list(RIEMANN_SOLVERS))
def test_riemann_flux_is_consistent_and_handles_dry_states(name):
    flux = RIEMANN_SOLVERS[name]
    h, u, v, g = jnp.array([0.7, 2.0]), jnp.array([0.3, -1.1]), jnp.array([0.2, 0.5]), 9.81
    got = flux(h, u, v, h, u, v, g)
    for a, b in zip(got, physical_flux(h, u, v, g)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-14)
    zero = jnp.zeros(2)
    dry = flux(zero, zero, zero, zero, zero, zero, g)
    assert all(np.all(np.asarray(f) == 0) for f in dry)
    wet_dry = flux(jnp.array([1.0]), jnp.array([0.0]), jnp.array([0.0]),
                   jnp.array([0.0]), jnp.array([0.0]), jnp.array([0.0]), g)
    assert float(wet_dry[0][0]) > 0 and all(np.isfinite(float(f[0])) for f in wet_dry)
