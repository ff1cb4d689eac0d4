"""Shallow water on the cubed sphere (dycore.sphere), all faces on one process.
Small grids; the convergence tables come from benchmarks/sphere_convergence.py."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dycore.sphere import SphereModel
from parallel.cube import fold


@pytest.fixture(scope="module")
def lake():
    return SphereModel(6, case="lake_at_rest")


@pytest.fixture(scope="module")
def tc2():
    return SphereModel(6, case="williamson2", alpha=math.pi / 4)


def test_fill_table_copies_the_folded_cells(tc2):
    n, H = tc2.n, tc2.halo
    ids = np.arange(6 * n * n, dtype=np.float64).reshape(6, n, n)
    (padded,) = tc2.fill((jnp.asarray(ids),))
    padded = np.asarray(padded)
    for face in range(6):
        for jj in range(n + 2 * H):
            for ii in range(n + 2 * H):
                f, i, j = fold(n, face, ii - H, jj - H)
                assert padded[face, jj, ii] == ids[f, j, i]


def test_lake_at_rest_over_the_mountain_stays_at_rest(lake):
    s0 = lake.initial_state()
    assert float(jnp.max(lake.params.b)) > 500.0       # the mountain is on the grid
    s = lake.run(s0, 10)
    surface = np.asarray(s.h + lake.params.b)
    assert np.max(np.abs(surface - 5960.0)) < 1e-9
    speed = np.sqrt(sum(np.asarray(q) ** 2 for q in (s.mx, s.my, s.mz))) / np.asarray(s.h)
    assert speed.max() < 1e-12                          # m/s, round-off


def test_williamson2_conserves_mass_and_stays_tangent(tc2):
    s0 = tc2.initial_state()
    s = tc2.run(s0, 20)
    drift = (tc2.mass(s) - tc2.mass(s0)) / tc2.mass(s0)
    assert abs(drift) < 1e-14
    assert tc2.tangential_error(s) < 1e-13
    # A steady state: after 20 steps (~0.2 days at C6) the error is small.
    errors = tc2.height_errors(s, s0)
    assert errors["l2"] < 2e-2 and errors["linf"] < 5e-2


def test_gradient_crosses_panel_edges(tc2):
    """Dot-product test of the tangent-linear and adjoint of the tendency
    (the halo gather and its scatter-add transpose across every panel edge),
    and a loss on face 0 whose gradient reaches exactly its four neighbours."""
    s0 = tc2.initial_state()
    rng = np.random.default_rng(0)

    def tendency_h(h):
        return tc2.rhs(s0.replace(h=h), tc2.params).h

    v = jnp.asarray(rng.standard_normal(s0.h.shape))
    w = jnp.asarray(rng.standard_normal(s0.h.shape))
    jv = jax.jit(lambda h, t: jax.jvp(tendency_h, (h,), (t,))[1])(s0.h, v)
    jtw = jax.jit(lambda h, c: jax.vjp(tendency_h, h)[1](c)[0])(s0.h, w)
    lhs, rhs = float(jnp.vdot(jv, w)), float(jnp.vdot(v, jtw))
    assert abs(lhs - rhs) <= 1e-12 * abs(lhs)
    g = jax.jit(jax.grad(lambda h: jnp.sum(tendency_h(h)[0] ** 2)))(s0.h)
    touched = {f for f in range(6) if float(jnp.max(jnp.abs(g[f]))) > 0}
    assert touched == {0, 1, 3, 4, 5}                  # face 2 is opposite face 0


def test_checkpoint_modes_same_forward_and_gradient_memory():
    """The sphere's run takes the plane's checkpoint modes: the forward state
    is the same bit for bit in each, the gradients agree to round-off, and
    the default "step" stores about one state per step where None keeps
    every intermediate (XLA's buffer assignment, not a timing)."""
    m = SphereModel(4, case="williamson2", alpha=math.pi / 4)
    s0 = m.initial_state()
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(s0))
    plain = np.asarray(m.run(s0, 6, checkpoint=None).h)
    for mode in ("step", "nested"):
        assert np.array_equal(np.asarray(m.run(s0, 6, checkpoint=mode).h), plain)

    compiled = {(mode, n): jax.jit(jax.grad(
        lambda s, mode=mode, n=n: jnp.sum(m.run(s, n, checkpoint=mode).h ** 2))).lower(s0).compile()
        for mode, n in ((None, 6), ("step", 6), ("step", 12))}
    g_plain, g_step = compiled[None, 6](s0).h, compiled["step", 6](s0).h
    assert float(jnp.max(jnp.abs(g_step - g_plain))) <= 1e-12 * float(jnp.max(jnp.abs(g_plain)))

    temps = {key: c.memory_analysis().temp_size_in_bytes / state_bytes
             for key, c in compiled.items()}
    per_step = (temps["step", 12] - temps["step", 6]) / 6
    assert 0.5 <= per_step <= 2.0, per_step
    assert temps[None, 6] > 5 * temps["step", 6], temps
    with pytest.raises(ValueError, match="checkpoint mode"):
        m.run(s0, 2, checkpoint="everything")
