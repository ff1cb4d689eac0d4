"""The forcing hook (issue 14 item 4): it sees the model time (the stage
time inside a Runge-Kutta step), the physical parameters and any pytree of
closure weights; the older closure form still works; a closure parameter
that is not an array is a one-line ConfigError.

The time test uses an exact answer: a uniform mass source dh/dt = A cos(w t)
on a doubly periodic domain changes the total volume by
area * A sin(w T) / w (the flux divergence sums to zero). SSP-RK3 with the
stage times (0, 1, 1/2) applies Simpson's rule to a pure time source, so
the volume change matches to ~(w dt)^4; evaluating every stage at the step's
start time would be first order only.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dycore import Config, Simulation
from dycore.errors import ConfigError
from dycore.state import State

A, OMEGA, DT, STEPS = 1.0e-5, 2 * math.pi / 2000.0, 100.0, 15


def source(padded, t, params, grid):
    h = grid.interior(padded.h)
    return State(params.closure["amplitude"] * jnp.cos(OMEGA * t) * jnp.ones_like(h),
                 jnp.zeros_like(h), jnp.zeros_like(h))


@pytest.fixture(scope="module")
def forced():
    cfg = Config(case="inertia_gravity_wave", nx=8, ny=8, dt=DT)
    sim = Simulation(cfg, forcing=source)
    return sim, sim.params.replace(closure={"amplitude": jnp.asarray(A)})


def exact_volume_change(sim, t0, t1):
    area = sim.grid.lx * sim.grid.ly
    return area * A * (math.sin(OMEGA * t1) - math.sin(OMEGA * t0)) / OMEGA


def test_forcing_sees_the_stage_time(forced):
    sim, params = forced
    state = sim.initial_state()
    t0 = 300.0
    end = sim.run(state, STEPS, params, t0=t0)
    change = sim.mass(end) - sim.mass(state)
    exact = exact_volume_change(sim, t0, t0 + STEPS * DT)
    # Simpson per step: error ~ (w dt)^4 / 2880 relative; first order would be ~5e-2.
    assert change == pytest.approx(exact, rel=1e-5)


def test_advance_and_step_carry_the_same_time(forced):
    sim, params = forced
    state = sim.initial_state()
    by_run = sim.run(state, 3, params, t0=DT)
    s = state
    for k in range(3):
        s = sim.step(s, params, dt=jnp.asarray(DT), t=DT * (k + 1))
    np.testing.assert_array_equal(np.asarray(s.h), np.asarray(by_run.h))
    adv, t, n = sim.advance(state, DT, 4 * DT, params)
    assert (t, n) == (4 * DT, 3)
    np.testing.assert_array_equal(np.asarray(adv.h), np.asarray(by_run.h))
    final, snaps = sim.trajectory(state, params, outer_steps=3, inner_steps=1, t0=DT)
    np.testing.assert_array_equal(np.asarray(final.h), np.asarray(by_run.h))
    assert snaps.h.shape[0] == 3


def test_forcing_gradient_through_a_pytree_of_weights(forced):
    sim, params = forced
    state = sim.initial_state()

    def volume(amplitude):
        p = params.replace(closure={"amplitude": amplitude})
        return jnp.sum(sim.run(state, 5, p, t0=0.0).h)

    grad = float(jax.grad(volume)(jnp.asarray(A)))
    eps = 1e-7
    fd = (float(volume(jnp.asarray(A + eps))) - float(volume(jnp.asarray(A - eps)))) / (2 * eps)
    assert grad == pytest.approx(fd, rel=1e-6)


def test_forcing_reads_physical_parameters():
    """A forcing that applies the linear drag from params.drag_linear equals
    the built-in drag (config drag_linear), and both gradients agree."""
    def drag(padded, t, params, grid):
        return State(jnp.zeros_like(grid.interior(padded.h)),
                     -params.closure * grid.interior(padded.hu),
                     -params.closure * grid.interior(padded.hv))

    cfg = Config(case="unstable_jet", nx=16, ny=12, dt=200.0)
    builtin = Simulation(cfg.replace(drag_linear=3e-5))
    with_forcing = Simulation(cfg, forcing=drag)
    state = builtin.initial_state()
    params = with_forcing.params.replace(closure=jnp.asarray(3e-5))
    np.testing.assert_allclose(np.asarray(with_forcing.run(state, 4, params).hu),
                               np.asarray(builtin.run(state, 4).hu), rtol=1e-13, atol=1e-9)


def test_legacy_closure_matches_forcing_bit_for_bit():
    def old(rate, padded, grid):
        return State(jnp.zeros_like(grid.interior(padded.h)), -rate * grid.interior(padded.hu),
                     -rate * grid.interior(padded.hv))

    def new(padded, t, params, grid):
        return old(params.closure, padded, grid)

    cfg = Config(case="unstable_jet", nx=16, ny=12, dt=200.0)
    a, b = Simulation(cfg, closure=old), Simulation(cfg, forcing=new)
    state = a.initial_state()
    rate = jnp.asarray(3e-5)
    np.testing.assert_array_equal(np.asarray(a.run(state, 3, a.params.replace(closure=rate)).hu),
                                  np.asarray(b.run(state, 3, b.params.replace(closure=rate)).hu))
    with pytest.raises(ConfigError, match="not both"):
        Simulation(cfg, closure=old, forcing=new)


def test_non_array_closure_leaf_is_a_clear_error(forced):
    sim, params = forced
    bad = params.replace(closure={"amplitude": jnp.asarray(A), "activation": jnp.tanh})
    with pytest.raises(ConfigError, match=r"\['activation'\].*not an array.*eqx.partition"):
        sim.run(sim.initial_state(), 1, bad)
    with pytest.raises(ConfigError, match="not an array"):
        sim.step(sim.initial_state(), params.replace(closure="weights"))
