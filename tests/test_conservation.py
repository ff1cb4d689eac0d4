"""Mass is conserved to round-off with periodic and wall boundaries, and the
depth stays non-negative where the bed dries (Ritter dam break)."""
import math

import numpy as np
import pytest

from dycore import Config, Simulation


def _mass(sim, state):
    return math.fsum(np.asarray(state.h, dtype=np.float64).ravel().tolist())


@pytest.mark.parametrize("config", [
    pytest.param(dict(case="unstable_jet", nx=32, ny=32), id="periodic-x-walls-y"),
    pytest.param(dict(case="inertia_gravity_wave", nx=24, ny=21, scheme="weno5z"),
                 id="doubly-periodic-weno"),
    pytest.param(dict(case="dam_break", nx=64, ny=4, ly=0.125, bc_west="wall",
                      bc_east="wall"), id="walls-dam-break"),
    pytest.param(dict(case="dam_break", nx=64, ny=4, ly=0.125, bc_west="wall",
                      bc_east="wall", case_params={"variant": "ritter"}, riemann="hll"),
                 id="walls-dry-bed"),
    pytest.param(dict(case="lake_at_rest", nx=24, ny=24, bc_west="periodic",
                      bc_east="periodic", case_params={"amplitude": 1.5}, dt=2e-4),
                 id="periodic-x-dry-island-fixed-dt"),
])
def test_mass_conserved_to_round_off(config):
    sim = Simulation(Config(**config))
    start = sim.initial_state()
    end = sim.run(start, 300)
    m0, m1 = _mass(sim, start), _mass(sim, end)
    assert abs(m1 - m0) / m0 < 1e-13
    assert float(np.min(end.h)) >= 0.0
    assert np.all(np.isfinite(np.asarray(end.hu)))


def test_mass_helper_matches_fsum():
    sim = Simulation(Config(case="unstable_jet", nx=16, ny=16))
    state = sim.initial_state()
    assert sim.mass(state) == _mass(sim, state) * sim.grid.cell_area


def test_open_boundaries_let_mass_out():
    """The check above could not fail if the fluxes were zero: with open
    boundaries and a dam break reaching the edge, mass must leave."""
    sim = Simulation(Config(case="dam_break", nx=32, ny=4, ly=0.25))
    start = sim.initial_state()
    end, _, _ = sim.advance(start, 0.0, 8.0)
    assert _mass(sim, end) < 0.99 * _mass(sim, start)
