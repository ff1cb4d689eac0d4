"""Open-boundary values that vary in time (issue 16, item 6): a discharge or
depth given as a piecewise-linear series [[t, v], ...] or a callable of the
model time, seen by the boundary fill at each Runge-Kutta stage time."""
import jax.numpy as jnp
import numpy as np
import pytest

from dycore import Config, ConfigError, Simulation
from dycore.boundary_values import Series
from dycore.cases.swashes import exact_depth
from dycore.equations.shallow_water import FIELDS
from dycore.open_boundaries import OpenBoundary

G = 9.81
EPS = np.finfo(np.float64).eps


def test_series_is_piecewise_linear_and_held_outside():
    s = Series((1.0, 3.0, 4.0), (2.0, 4.0, 1.0))
    got = [float(s(t)) for t in (0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 9.0)]
    assert got == pytest.approx([2.0, 2.0, 3.0, 4.0, 2.5, 1.0, 1.0], abs=1e-15)
    strip = [jnp.full((4, 2), v) for v in (1.0, 0.5, 0.0)]
    ghosts = OpenBoundary("inflow", discharge=s, depth=0.7)("west", strip, FIELDS, t=2.0)
    assert float(ghosts[1][0, 0]) == pytest.approx(3.0, abs=1e-15)


def test_constant_series_equals_the_constant_keys_bit_for_bit():
    """Subcritical inflow (the Newton solve of the ghost depth sees the
    discharge) and subcritical outflow depth, both given as series."""
    base = dict(case="bump_subcritical", nx=16, ny=2)
    const = Simulation(Config(**base))
    q, h = const.config.bc_west_discharge, const.config.bc_east_depth
    timed = Simulation(Config(**base, bc_west_discharge=[[0.0, q], [0.3, q], [9.0, q]],
                              bc_east_depth=[[0.5, h]]))
    a = const.run(const.initial_state(), 20)
    b = timed.run(timed.initial_state(), 20)
    assert float(jnp.max(jnp.abs(a.h - const.initial_state().h))) > 0   # something moved
    for name in ("h", "hu", "hv"):
        assert np.array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name))), name


Q0, Q1, RAMP, DT, STEPS = 1.53, 1.8, 1.0, 0.04, 50


@pytest.mark.parametrize("form", ["series", "callable"])
def test_volume_follows_the_integral_of_a_ramped_inflow(form):
    """Supercritical uniform flow (Froude 1.9, flat bed: the bump case moved
    to x0 = 30 m) with depth and discharge imposed at the west inflow, the
    discharge ramped from Q0 to Q1 over RAMP s, free outflow east.

    Why the tolerance: with both waves entering, the HLLC flux at the inflow
    face is the ghost state's own flux (upwind), whose mass flux is h (q/h)
    = q(t) to an ulp; with slope_threshold 0 the MC slope of the ghost cell
    next to the face is 0 (one of its differences is), so the face sees the
    ghost state itself. The disturbance does not reach the east end within
    the run (checked: the east cells are unchanged bit for bit), so the
    outflow stays Q0. SSP-RK3's stage weights at c = 0, 1, 1/2 are Simpson's
    rule, exact for q linear within a step, and the ramp ends on a step
    boundary. What is left is round-off: at most ~4 eps h per cell per step,
    bound = STEPS * cells * 4 eps * max h * cell area (2.6e-13 m^3). A fill
    that saw only each step's start time would be off by (Q1 - Q0) * DT / 2
    * ly = 5.4e-3 m^3."""
    hs = float(exact_depth("transcritical", Q0, 0.66, np.array([40.0]), G)[0])
    ramp = ([[0.0, Q0], [RAMP, Q1]] if form == "series"
            else (lambda t: Q0 + (Q1 - Q0) * jnp.clip(t / RAMP, 0.0, 1.0)))
    sim = Simulation(Config(case="bump_transcritical", nx=40, x0=30.0, dt=DT,
                            slope_threshold=0.0, bc_west_depth=hs, bc_west_discharge=ramp))
    start = sim.initial_state()
    assert float(np.max(np.abs(start.hu - Q0))) == 0 and Q0 / hs > 1.5 * np.sqrt(G * hs)
    end = sim.run(start, STEPS)
    for name in ("h", "hu", "hv"):
        assert np.array_equal(np.asarray(getattr(end, name))[:, -3:],
                              np.asarray(getattr(start, name))[:, -3:]), name
    gained = sim.mass(end) - sim.mass(start)
    exact = sim.grid.ly * (Q1 - Q0) * (STEPS * DT - RAMP / 2)
    bound = STEPS * sim.n_cells * 4 * EPS * float(jnp.max(end.h)) * sim.grid.cell_area
    assert abs(gained - exact) < bound, (gained, exact, bound)


@pytest.mark.parametrize("value, message", [
    ([[0.0, 4.0], [0.0, 4.4]], "point 1: time 0.0 s does not follow 0.0 s; times must increase"),
    ([[1.0, 4.0], [0.5, 4.4]], "times must increase strictly"),
    ([[0.0, 4.0], [1.0, float("nan")]], "'bc_west_discharge\\[1\\]': must be a finite number"),
    ([[0.0, 4.0], [1.0, -1.0]], "'bc_west_discharge\\[1\\]': must be > 0"),
    ([[float("inf"), 4.0]], "point 0: time inf is not a finite number of seconds"),
    ([[0.0, 4.0, 1.0]], "point 0 of the time series is \\[0.0, 4.0, 1.0\\], not a pair"),
    ([], "an empty time series"),
    ("4.4", "must be a finite number"),
])
def test_bad_series_are_one_line_config_errors(value, message):
    with pytest.raises(ConfigError, match=message) as err:
        Config(case="bump_subcritical", bc_west_discharge=value).resolved()
    assert "\n" not in str(err.value)


def test_bad_series_through_the_cli_exit_2(capsys):
    from dycore.run import main

    code = main(["--case", "bump_subcritical", "--set",
                 "bc_east_depth=[[0.0, 2.0], [1.0, 0.0]]"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1, (code, err)
    assert err[0].startswith("dycore: error: ") and "'bc_east_depth[1]': must be > 0" in err[0]
