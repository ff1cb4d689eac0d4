"""Characteristic inflow/outflow boundaries (issue 16, item 6) and the SWASHES
flows over a bump (Delestre et al. 2013, sec. 3.1) that they drive."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dycore import Config, ConfigError, Simulation
from dycore.cases.swashes import bernoulli_depth, bump, shock_position
from dycore.equations.shallow_water import FIELDS
from dycore.open_boundaries import OpenBoundary

G = 9.81


@pytest.mark.parametrize("changes, message", [
    (dict(bc_west="inflow"), "'bc_west_discharge': bc_west = 'inflow' needs a discharge"),
    (dict(bc_west="wall", bc_west_discharge=1.0), "'bc_west_discharge': only for bc_west"),
    (dict(bc_east="outflow", bc_east_discharge=1.0), "'bc_east_discharge': an outflow takes"),
    (dict(bc_east="outflow", bc_east_depth=-1.0), "'bc_east_depth': must be > 0"),
    (dict(bc_north="sluice"), "'bc_north': unknown value 'sluice'"),
])
def test_bad_open_boundary_keys_are_one_line_config_errors(changes, message):
    base = dict(case="dam_break", bc_west="open", bc_east="open")
    with pytest.raises(ConfigError, match=message) as err:
        Simulation(Config(**{**base, **changes}))
    assert "\n" not in str(err.value)


def _strip(h, hu, hv, halo=2):
    return [jnp.full((4, halo), v, jnp.float64) for v in (h, hu, hv)]


def _cell(ghosts, k):
    return float(ghosts[k][0, 0])


@pytest.mark.parametrize("side", ["west", "east"])
def test_ghosts_keep_the_outgoing_riemann_invariant(side):
    sign = 1.0 if side == "west" else -1.0     # inward normal along +x on the west side
    h1, u1 = 1.3, 0.7                           # inward velocity, subcritical
    inner = _strip(h1, sign * h1 * u1, 0.2 * h1)
    inflow = OpenBoundary("inflow", discharge=2.0)(side, inner, FIELDS)
    h = _cell(inflow, 0)
    assert sign * _cell(inflow, 1) == 2.0 and _cell(inflow, 2) == 0.0
    assert abs(2.0 / h - 2 * np.sqrt(G * h) - (u1 - 2 * np.sqrt(G * h1))) < 1e-12
    outflow = OpenBoundary("outflow", depth=1.1)(side, inner, FIELDS)
    h, u = _cell(outflow, 0), sign * _cell(outflow, 1) / _cell(outflow, 0)
    assert h == 1.1 and abs(u + 2 * np.sqrt(G * h) - (u1 + 2 * np.sqrt(G * h1))) < 1e-12
    assert abs(_cell(outflow, 2) / h - 0.2) < 1e-14
    # The boundary data of the state itself give the state back.
    same = OpenBoundary("inflow", discharge=h1 * u1)(side, inner, FIELDS)
    assert abs(_cell(same, 0) - h1) < 1e-12
    # Supercritical outflow is free: the ghosts copy the edge cell.
    fast = _strip(0.1, sign * 0.1 * 3.0, 0.0)
    free = OpenBoundary("outflow", depth=1.0)(side, fast, FIELDS)
    assert [_cell(free, k) for k in range(3)] == pytest.approx([0.1, sign * 0.3, 0.0], rel=1e-15)


def test_exact_solutions_satisfy_bernoulli_and_the_jump_condition():
    x = np.linspace(0.0, 25.0, 101)
    h = bernoulli_depth(4.42, 4.42 ** 2 / (2 * G * 4) + 2.0, bump(x), G, True)
    energy = 4.42 ** 2 / (2 * G * h * h) + h + bump(x)
    assert np.max(np.abs(energy - energy[0])) < 1e-12 and h[0] == pytest.approx(2.0, abs=1e-12)
    x_s = shock_position(0.18, 0.33, G)
    assert 11.6 < x_s < 11.7                     # SWASHES: about 11.665 m


@pytest.fixture(scope="module")
def bump_map():
    """h0 -> (h, hu) after 10 steps of bump_shock (20 cells, fixed dt, so the
    step size does not move) from a tie-free state: the exact state has
    exactly flat depth next to the bump, where the limiter sits on its kink
    at a zero one-sided difference (docs/differentiation.md); a 1e-3 random
    relative perturbation of h, hu and v moves it off every such switch.
    Returns (jitted map, its jvp, its vjp, the point, a direction)."""
    from dycore.state import State

    sim = Simulation(Config(case="bump_shock", nx=20, dt=0.02))
    s0 = sim.initial_state()
    rng = np.random.default_rng(1)

    def noise():
        return jnp.asarray(rng.standard_normal(s0.h.shape))

    hu, hv = s0.hu * (1 + 1e-3 * noise()), 1e-3 * noise()
    x = s0.h * (1 + 1e-3 * noise())

    def fmap(h0):
        end = sim.run(State(h0, hu, hv), 10, sim.params)
        return jnp.concatenate([end.h.ravel(), end.hu.ravel()])

    jvp = jax.jit(lambda x, v: jax.jvp(fmap, (x,), (v,)))
    vjp = jax.jit(lambda x, w: jax.vjp(fmap, x)[1](w)[0])
    return jax.jit(fmap), jvp, vjp, x, noise() * 1e-3


def test_adjoint_through_open_boundaries_is_the_transpose_of_the_tangent(bump_map):
    """Dot-product test <J v, w> = <v, J^T w> (jax.jvp vs jax.vjp through the
    inflow's Newton solve and the outflow; measured 5e-16 relative)."""
    fmap, jvp, vjp, x, v = bump_map
    y, jv = jvp(x, v)
    w = jnp.asarray(np.random.default_rng(2).standard_normal(y.shape))
    lhs, rhs = float(jnp.dot(jv, w)), float(jnp.sum(v * vjp(x, w)))
    assert np.isfinite(lhs) and abs(lhs - rhs) <= 1e-12 * abs(lhs)


def test_tangent_through_open_boundaries_has_taylor_order_two(bump_map):
    """|f(x + e v) - f(x) - e J v| falls like e^2 (measured 1.4e-7, 9.8e-11,
    1.6e-13 at e = 1e-2, 1e-3, 1e-4: faster than e^2 at first, limiter
    switches within the larger perturbations), and the gradient of a loss
    matches a central difference at e = 1e-4 (measured 1.9e-9 relative; its
    round-off grows like 1/e below, 1.2e-5 at e = 1e-8)."""
    fmap, jvp, vjp, x, v = bump_map
    y, jv = jvp(x, v)
    rem = [float(jnp.linalg.norm(fmap(x + e * v) - y - e * jv)) for e in (1e-3, 1e-4)]
    assert np.log10(rem[0] / rem[1]) > 1.9, rem
    grad = vjp(x, 2 * y)                     # gradient of sum(f^2)
    assert np.all(np.isfinite(np.asarray(grad)))
    e = 1e-4
    diff = (float(jnp.sum(fmap(x + e * v) ** 2)) - float(jnp.sum(fmap(x - e * v) ** 2))) / (2 * e)
    assert float(jnp.sum(grad * v)) == pytest.approx(diff, rel=1e-7)


def _steady_l1(case, n, steps):
    """L1 error of h (m^2, one row) after ``steps`` steps from the exact state."""
    sim = Simulation(Config(case=case, nx=n))
    state = sim.run(sim.initial_state(), steps)
    h, exact = np.asarray(state.h)[0], np.asarray(sim.exact_state(0.0).h)[0]
    return float(np.sum(np.abs(h - exact))) * sim.grid.dx, sim, h


@pytest.mark.parametrize("case, lowest", [("bump_subcritical", 1.8),
                                          ("bump_transcritical", 1.6)])
def test_bump_flows_converge_at_second_order(case, lowest):
    """SWASHES 3.1.1 and 3.1.3 (docs/numerics.md: 2.56 and 1.98 from 50 to 100
    cells; SWASHES expects about 2 and 1.7)."""
    coarse = _steady_l1(case, 50, 1200)[0]
    fine = _steady_l1(case, 100, 2400)[0]
    assert np.log2(coarse / fine) > lowest


def test_hydraulic_jump_within_two_cells():
    """SWASHES 3.1.4 at 50 cells: the computed jump lies within 2 cells of x_s."""
    from dycore.cases.swashes import numerical_jump_position

    _, sim, h = _steady_l1("bump_shock", 50, 1500)
    p = sim.config.case_params
    x_num = numerical_jump_position(sim.x, h, p["q"], p["h_out"], G)
    assert abs(x_num - shock_position(p["q"], p["h_out"], G)) < 2 * sim.grid.dx


def test_hydraulic_jump_settles_at_first_order_with_minmod():
    """SWASHES 3.1.4 with the minmod limiter (docs/numerics.md, open points:
    with MC the cells behind the jump stay in a limit cycle from 100 cells
    on): the flow settles (relative residual below 1e-8 after 3000 and 5000
    steps), the L1 error falls at about first order from 50 to 200 cells
    (measured 6.08e-2 -> 1.45e-2, order 1.03; SWASHES expects about 1) and
    the jump lies within 2 cells of x_s on both grids."""
    from dycore.cases.swashes import numerical_jump_position
    from test_steady_states import relative_residual

    errors = []
    for n, blocks in ((50, 3), (200, 5)):
        sim = Simulation(Config(case="bump_shock", nx=n, ny=2, ly=25.0 * 2 / n,
                                limiter="minmod"))
        state = sim.initial_state()
        for _ in range(blocks):          # one compiled loop of 1000 steps per grid
            state = sim.run(state, 1000)
        assert relative_residual(sim, state, sim.params) < 1e-8, n
        h, exact = np.asarray(state.h)[0], np.asarray(sim.exact_state(0.0).h)[0]
        errors.append(float(np.sum(np.abs(h - exact))) * sim.grid.dx)
        p = sim.config.case_params
        x_num = numerical_jump_position(sim.x, h, p["q"], p["h_out"], G)
        assert abs(x_num - shock_position(p["q"], p["h_out"], G)) < 2 * sim.grid.dx, n
    order = np.log2(errors[0] / errors[1]) / 2
    assert 0.8 < order < 1.3, (errors, order)
