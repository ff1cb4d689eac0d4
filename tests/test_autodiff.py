"""Differentiation through the solver on one process (docs/verification.md):
dot-product test between jvp and vjp, Taylor test, gradients against
central finite differences, checkpointing modes, and the closure hook.
Multi-rank versions live in test_parallel_mpi.py."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dycore import Config, Simulation
from dycore.state import State

N_STEPS = 12


@pytest.fixture(scope="module")
def sim():
    """A smooth, fully two-dimensional flow (a finite-amplitude inertia-gravity
    wave with drag) and the smooth WENO5-Z scheme: limiters are only
    piecewise differentiable, which the Taylor test would (rightly) see.
    Fixed dt: a CFL step depends non-differentiably on the state."""
    return Simulation(Config(case="inertia_gravity_wave", nx=16, ny=14, dt=600.0,
                             drag_linear=1e-5, drag_quadratic=2e-3, scheme="weno5z",
                             case_params={"eta0": 1.0}))


@pytest.fixture(scope="module")
def muscl_sim():
    """MUSCL-MC on the unstable jet: the dot-product test (the linearisation at
    a point is exact even where the limiter has kinks). Forward mode through
    WENO5-Z compiles for minutes on CPU, so it is not in the suite."""
    return Simulation(Config(case="unstable_jet", nx=16, ny=12, dt=200.0, drag_linear=1e-5,
                             drag_quadratic=2e-3))


def _random_like(tree, seed, scale=1.0):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return treedef.unflatten([scale * jax.random.normal(k, jnp.shape(x), jnp.result_type(x))
                              for k, x in zip(keys, leaves)])


def _dot(a, b):
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a),
                                              jax.tree_util.tree_leaves(b)))


def test_dot_product_jvp_vjp(muscl_sim):
    sim = muscl_sim
    state = sim.initial_state()
    forward = lambda s: sim.run(s, N_STEPS, sim.params)
    v = _random_like(state, 1)
    w = _random_like(state, 2)
    _, jv = jax.jvp(forward, (state,), (v,))
    _, pullback = jax.vjp(forward, state)
    (jtw,) = pullback(w)
    lhs, rhs = float(_dot(jv, w)), float(_dot(v, jtw))
    assert abs(lhs - rhs) / abs(lhs) < 1e-12


def _loss(sim, state, params):
    final = sim.run(state, N_STEPS, params)
    return jnp.sum((final.h - 1000.0) ** 2) + jnp.sum(final.hu ** 2) * 1e-6


def _taylor_rates(func, m, direction, grad):
    base = func(m)
    slope = float(_dot(grad, direction))
    residuals = []
    for i in range(4):
        eps = 1e-2 / 2 ** i
        moved = jax.tree_util.tree_map(lambda a, d: a + eps * d, m, direction)
        residuals.append(abs(float(func(moved) - base) - eps * slope))
    return [np.log2(residuals[i] / residuals[i + 1]) for i in range(3)]


def test_taylor_initial_state(sim):
    state = sim.initial_state()
    func = lambda s: _loss(sim, s, sim.params)
    direction = _random_like(state, 3, scale=1e-1)
    rates = _taylor_rates(func, state, direction, jax.grad(func)(state))
    assert min(rates) >= 1.95, rates


@pytest.fixture(scope="module")
def param_loss(sim):
    """The loss as a jitted function of params and its gradient, compiled once."""
    state = sim.initial_state()
    func = jax.jit(lambda p: _loss(sim, state, p))
    return func, jax.jit(jax.grad(func))(sim.params)


def test_taylor_params(sim, param_loss):
    func, grad = param_loss
    params = sim.params
    direction = jax.tree_util.tree_map(jnp.zeros_like, params).replace(
        drag_linear=jnp.asarray(1e-4), f0=jnp.asarray(1e-3),
        b=_random_like(params.b, 4, scale=10.0))
    rates = _taylor_rates(func, params, direction, grad)
    assert min(rates) >= 1.95, rates


@pytest.mark.parametrize("leaf,index,step", [("drag_linear", None, 1e-7),
                                             ("drag_quadratic", None, 1e-5),
                                             ("f0", None, 1e-7),
                                             ("b", (5, 7), 1e-4)])
def test_gradient_against_central_differences(sim, param_loss, leaf, index, step):
    func, grads = param_loss
    grad = getattr(grads, leaf)
    base = getattr(sim.params, leaf)

    def moved(delta):
        value = base + delta if index is None else base.at[index].add(delta)
        return float(func(sim.params.replace(**{leaf: value})))

    fd = (moved(step) - moved(-step)) / (2 * step)
    ad = float(grad if index is None else grad[index])
    assert ad != 0
    assert abs(ad - fd) / abs(ad) < 1e-6, (ad, fd)


def test_checkpointed_gradients_equal_plain(muscl_sim):
    sim = muscl_sim
    state = sim.initial_state()

    def loss(p, mode):
        final = sim.run(state, N_STEPS, p, checkpoint=mode)
        return jnp.sum((final.h - 1000.0) ** 2) + jnp.sum(final.hu ** 2) * 1e-6

    plain = jax.grad(loss)(sim.params, None)
    for mode in ("step", "nested"):
        checkpointed = jax.grad(loss)(sim.params, mode)
        # Recomputation may reorder floating-point operations: equal to round-off.
        for a, b in zip(jax.tree_util.tree_leaves(plain),
                        jax.tree_util.tree_leaves(checkpointed)):
            scale = float(jnp.max(jnp.abs(a)))
            assert float(jnp.max(jnp.abs(a - b))) <= 1e-11 * scale, mode


def test_checkpoint_modes_same_forward(muscl_sim):
    sim = muscl_sim
    state = sim.initial_state()
    plain = sim.run(state, 10)   # the default, checkpoint="step"
    for mode in (None, "nested"):
        np.testing.assert_array_equal(np.asarray(sim.run(state, 10, checkpoint=mode).h),
                                      np.asarray(plain.h))
    with pytest.raises(ValueError, match="checkpoint"):
        sim.run(state, 3, checkpoint="everything")


def test_closure_hook_adds_tendency_and_is_differentiable():
    """A closure that is a linear drag must match the built-in drag exactly."""
    def drag_closure(rate, padded, grid):
        return State(jnp.zeros_like(grid.interior(padded.h)), -rate * grid.interior(padded.hu),
                     -rate * grid.interior(padded.hv))

    cfg = Config(case="unstable_jet", nx=16, ny=12, dt=200.0)
    with_closure = Simulation(cfg, closure=drag_closure)
    builtin = Simulation(cfg.replace(drag_linear=3e-5))
    state = builtin.initial_state()
    params = with_closure.params.replace(closure=jnp.asarray(3e-5))
    a = with_closure.run(state, 5, params)
    b = builtin.run(state, 5)
    np.testing.assert_allclose(np.asarray(a.hu), np.asarray(b.hu), rtol=1e-13, atol=1e-9)
    g_closure = jax.grad(lambda p: jnp.sum(with_closure.run(state, 5, p).hu ** 2))(params)
    g_builtin = jax.grad(lambda p: jnp.sum(builtin.run(state, 5, p).hu ** 2))(builtin.params)
    assert float(g_closure.closure) == pytest.approx(float(g_builtin.drag_linear), rel=1e-10)


def test_vmap_over_an_ensemble(muscl_sim):
    sim = muscl_sim
    state = sim.initial_state()
    members = jax.tree_util.tree_map(lambda q: jnp.stack([q, q * 1.0001, q * 0.9999]), state)
    out = jax.vmap(lambda s: sim.run(s, 3))(members)
    single = sim.run(jax.tree_util.tree_map(lambda q: q[1], members), 3)
    np.testing.assert_allclose(np.asarray(out.h[1]), np.asarray(single.h), rtol=1e-14)


def test_gradient_stores_a_few_states_per_step(muscl_sim):
    """Reverse mode keeps each stage's state and recomputes its tendency
    (jax.checkpoint in Simulation._step_dt): without checkpointing the
    compiled gradient's temporaries grow by about 5 states per step (they
    grew by ~142 when JAX kept every intermediate), with per-step
    checkpointing by about 1. XLA's buffer assignment, not a timing."""
    sim = muscl_sim
    state = sim.initial_state()
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(state))

    def temp_states(steps, mode):
        def loss(s):
            return jnp.sum(sim.run(s, steps, checkpoint=mode).h ** 2)
        compiled = jax.jit(jax.grad(loss)).lower(state).compile()
        return compiled.memory_analysis().temp_size_in_bytes / state_bytes

    per_step_plain = (temp_states(24, None) - temp_states(8, None)) / 16
    per_step_step = (temp_states(24, "step") - temp_states(8, "step")) / 16
    assert 3.0 <= per_step_plain <= 15.0, per_step_plain
    assert 0.5 <= per_step_step <= 2.0, per_step_step
