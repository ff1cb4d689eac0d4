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


def test_gradients_through_inflow_and_outflow_are_finite_and_match_differences():
    """jax.grad of a loss through 10 steps with an inflow (Newton solve of the
    ghost depth) and a subcritical outflow: finite, and equal to a central
    difference along a direction (fixed dt, so the step size does not move)."""
    from dycore.state import State

    sim = Simulation(Config(case="bump_shock", nx=20, dt=0.02))
    start = sim.initial_state()

    def loss(h0, params):
        end = sim.run(State(h0, start.hu, start.hv), 10, params)
        return jnp.sum(end.h ** 2) + jnp.sum(end.hu ** 2)

    grad_h, grad_p = jax.grad(loss, argnums=(0, 1))(start.h, sim.params)
    assert np.all(np.isfinite(np.asarray(grad_h))) and np.all(np.isfinite(np.asarray(grad_p.b)))
    direction = jnp.asarray(np.random.default_rng(0).standard_normal(start.h.shape)) * 1e-3
    eps = 1e-4
    diff = (loss(start.h + eps * direction, sim.params)
            - loss(start.h - eps * direction, sim.params)) / (2 * eps)
    # Measured: they differ by 2.2e-5 relative here (7e-4 on bump_subcritical),
    # far above the difference quotient's round-off (~1e-8): not diagnosed
    # (a kink of the scheme inside the perturbation, or an inexact adjoint
    # somewhere); docs/numerics.md lists it as open.
    assert float(jnp.sum(grad_h * direction)) == pytest.approx(float(diff), rel=1e-3)


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
