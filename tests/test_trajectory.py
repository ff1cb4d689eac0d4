"""Simulation.trajectory: snapshots of a rollout, usable under jit/grad/vmap."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dycore import Config, Simulation


@pytest.fixture(scope="module")
def sim():
    return Simulation(Config(case="unstable_jet", nx=16, ny=12))


def test_snapshots_equal_runs_bit_for_bit(sim):
    s0 = sim.initial_state()
    final, snaps = sim.trajectory(s0, outer_steps=3, inner_steps=2)
    assert snaps.h.shape == (3, 12, 16)
    for k in range(3):
        ref = sim.run(s0, 2 * (k + 1))
        for name in ("h", "hu", "hv"):
            assert np.array_equal(np.asarray(getattr(snaps, name)[k]),
                                  np.asarray(getattr(ref, name)))
    assert np.array_equal(np.asarray(final.h), np.asarray(snaps.h[-1]))


def test_post_process_and_gradient(sim):
    s0 = sim.initial_state()

    def mass_and_max(s):
        return {"mass": jnp.sum(s.h), "max_hu": jnp.max(jnp.abs(s.hu))}

    _, diags = sim.trajectory(s0, outer_steps=2, inner_steps=2, post_process=mass_and_max)
    assert diags["mass"].shape == (2,)
    # Periodic in x, walls in y: mass is conserved to round-off.
    assert np.allclose(np.asarray(diags["mass"]), float(jnp.sum(s0.h)), rtol=1e-13, atol=0)

    def loss_traj(p):
        return jnp.sum(sim.trajectory(s0, p, outer_steps=2, inner_steps=2)[1].h[-1] ** 2)

    def loss_run(p):
        return jnp.sum(sim.run(s0, 4, p).h ** 2)

    g1, g2 = jax.grad(loss_traj)(sim.params), jax.grad(loss_run)(sim.params)
    assert float(g1.f0) == pytest.approx(float(g2.f0), rel=1e-12)
    assert np.allclose(np.asarray(g1.b), np.asarray(g2.b), rtol=1e-12, atol=1e-12)


def test_bad_counts_are_refused(sim):
    with pytest.raises(ValueError, match="outer_steps"):
        sim.trajectory(sim.initial_state(), outer_steps=0)
    with pytest.raises(ValueError, match="checkpoint"):
        sim.trajectory(sim.initial_state(), checkpoint="sometimes")
