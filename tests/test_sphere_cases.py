"""The passive tracer, Williamson test 1's advection, Galewsky's balanced
jet and the integral diagnostics on the cubed sphere (one process, small
grids; the measured tables are in docs/sphere.md)."""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from dycore.sphere import SphereModel
from dycore.sphere.diagnostics import invariants, vorticity
from dycore.sphere.galewsky import balanced_height


@pytest.fixture(scope="module")
def tracer_model():
    return SphereModel(6, case="williamson2", alpha=math.pi / 4, tracer=True)


def test_tracer_is_declared_and_conserved(tracer_model):
    m = tracer_model
    assert [f.name for f in m.model.fields] == ["h", "mx", "my", "mz", "hq"]
    assert [i.name for i in m.model.invariants] == ["mass", "tracer_mass"]
    s0 = m.initial_state()
    s = m.run(s0, 10)
    drift = (m.tracer_mass(s) - m.tracer_mass(s0)) / m.tracer_mass(s0)
    assert abs(drift) < 1e-14
    # A uniform mixing ratio stays uniform (the flux is mass flux times q).
    uniform = m.run(s0.replace(hq=0.7 * s0.h), 10)
    assert np.max(np.abs(np.asarray(uniform.hq / uniform.h) - 0.7)) < 1e-13


def test_tracer_leaves_the_dynamics_unchanged(tracer_model):
    plain = SphereModel(6, case="williamson2", alpha=math.pi / 4)
    s = plain.run(plain.initial_state(), 3)
    t = tracer_model.run(tracer_model.initial_state(), 3)
    for k in ("h", "mx", "my", "mz"):
        assert np.array_equal(np.asarray(getattr(s, k)), np.asarray(getattr(t, k)))


@pytest.fixture(scope="module")
def bell():
    return SphereModel(8, case="williamson1", alpha=math.pi / 2 - 0.05)


def test_williamson1_winds_are_discretely_non_divergent(bell):
    """A uniform density stays uniform under the prescribed solid-body
    rotation over the cube corners, and the bell's mass is conserved."""
    flat = bell.initial_state().replace(h=jnp.full((6, 8, 8), 1000.0))
    s = bell.run(flat, 20)
    assert np.max(np.abs(np.asarray(s.h) - 1000.0)) < 1e-9
    s0 = bell.initial_state()
    s = bell.run(s0, 20)
    assert abs(bell.mass(s) - bell.mass(s0)) <= 1e-14 * bell.mass(s0)


def test_williamson1_gaussian_hill_converges_at_second_order():
    """One revolution of the Gaussian hill about the axis tilted by pi/4 (it
    crosses four panel edges) with the unlimited slope: the discretisation's
    own order, free of the limiter's clipping of the peak and of the cosine
    bell's curvature jump. Measured C24 -> C48: 1.93, 1.91, 1.91 (docs/sphere.md
    has C24 ... C192). The thresholds are the issue's for test 1."""
    errors = []
    for n in (24, 48):
        m = SphereModel(n, case="williamson1", alpha=math.pi / 4, bell="gaussian",
                        limiter="none")
        s0 = m.initial_state()
        steps = math.ceil(12 * 86400.0 / float(m.stable_dt(s0)))
        errors.append(m.height_errors(m.run(s0, steps, dt=jnp.asarray(12 * 86400.0 / steps)),
                                      s0))
    orders = {k: math.log2(errors[0][k] / errors[1][k]) for k in errors[0]}
    assert orders["l1"] > 1.8 and orders["l2"] > 1.8 and orders["linf"] > 1.5, orders


def test_williamson1_bell_shapes():
    cosine = SphereModel(8, case="williamson1").data.h
    hill = SphereModel(8, case="williamson1", bell="gaussian").data.h
    assert np.min(cosine) == 0.0 and np.min(hill) > 0.0     # the cosine bell has a rim
    assert 900.0 < np.max(hill) <= 1000.0
    with pytest.raises(ValueError, match="unknown bell"):
        SphereModel(8, case="williamson1", bell="square")


def test_galewsky_quadrature_and_mean():
    phi = np.linspace(-1.5, 1.5, 301)
    h128 = balanced_height(phi, 6.37122e6, 7.292e-5, 9.80616)
    h256 = balanced_height(phi, 6.37122e6, 7.292e-5, 9.80616, nodes=256)
    assert np.max(np.abs(h128 - h256)) < 1e-9
    # The jet lowers the height poleward by ~ 1 km (Galewsky et al. 2004, fig. 1).
    assert 500.0 < float(h128[phi < 0.3].max() - h128[phi > 1.2].min()) < 1500.0
    m = SphereModel(8, case="galewsky", perturbed=False)
    mean = float(np.sum(m.areas * np.asarray(m.initial_state().h)) / np.sum(m.areas))
    assert abs(mean - 10000.0) < 5.0          # cell-centre values at C8: O(dx^2)


def test_balanced_jet_has_a_small_momentum_tendency():
    """The balanced jet's momentum tendency is below that of the same jet
    over a flat surface (no pressure gradient to balance f u). Measured at
    C24: 22.2 against 76.2 m^2/s^2 (0.29): the jet (centre 45 N) straddles
    the panel edges between the equatorial faces and the north cap, where
    the one-sided reconstruction is least accurate; see docs/sphere.md."""
    m = SphereModel(24, case="galewsky", perturbed=False)
    s0 = m.initial_state()
    flat = s0.replace(h=jnp.full_like(s0.h, 10000.0))
    flat = flat.replace(mx=s0.mx / s0.h * 1e4, my=s0.my / s0.h * 1e4, mz=s0.mz / s0.h * 1e4)

    def worst(state):
        d = m.rhs(state, m.params)
        return max(float(jnp.max(jnp.abs(q))) for q in (d.mx, d.my, d.mz))

    assert worst(s0) < 0.4 * worst(flat)


def test_vorticity_of_solid_body_rotation_and_invariants():
    m = SphereModel(12, case="williamson2")
    s = m.initial_state()
    zeta = np.asarray(vorticity(m, s))
    u0 = 2 * math.pi * m.radius / (12 * 86400.0)
    exact = 2 * u0 / m.radius * np.asarray(m._r[..., 2])
    assert np.max(np.abs(zeta - exact)) < 0.05 * np.max(np.abs(exact))
    inv = invariants(m, s)
    assert inv["mass"] == m.mass(s) and inv["energy"] > 0 and inv["potential_enstrophy"] > 0
