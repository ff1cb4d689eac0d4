"""Lake at rest (Audusse et al. 2004; Chen & Noelle 2017): a flat surface at
rest over any bed, with or without dry cells, must stay at rest to round-off
(here: below 1e-12 after 1000 steps) for every scheme and Riemann solver."""
import numpy as np
import pytest

from dycore import Config, Simulation

VARIANTS = [
    pytest.param({"variant": "smooth"}, id="smooth-bump"),
    pytest.param({"variant": "smooth", "amplitude": 1.5}, id="smooth-dry-island"),
    pytest.param({"variant": "discontinuous"}, id="chen-noelle-dry-cells"),
]


def _surface_and_speeds(sim, state):
    h = np.asarray(state.h)
    eta = h + np.asarray(sim.params.b)
    return h, eta


@pytest.mark.parametrize("case_params", VARIANTS)
@pytest.mark.parametrize("scheme,riemann", [("muscl", "hllc"), ("weno5z", "hll"),
                                            ("muscl", "rusanov")])
def test_lake_stays_at_rest_for_1000_steps(case_params, scheme, riemann):
    sim = Simulation(Config(case="lake_at_rest", case_params=case_params, scheme=scheme,
                            riemann=riemann, nx=32 if case_params["variant"] == "smooth" else 100,
                            ny=32 if case_params["variant"] == "smooth" else 4,
                            ly=None if case_params["variant"] == "smooth" else 0.04))
    start = sim.initial_state()
    h0, eta0 = _surface_and_speeds(sim, start)
    end = sim.run(start, 1000)
    h, eta = _surface_and_speeds(sim, end)
    wet = h0 > 0
    if case_params != {"variant": "smooth"}:
        assert (~wet).any(), "this variant is meant to include dry cells"
    assert np.max(np.abs(eta - eta0)[wet]) < 1e-12
    assert np.max(np.abs(h - h0)[~wet], initial=0.0) < 1e-12   # dry cells stay dry
    assert np.max(np.abs(np.asarray(end.hu))) < 1e-12
    assert np.max(np.abs(np.asarray(end.hv))) < 1e-12
    assert np.min(h) >= 0.0


def test_lake_at_rest_with_cfl_time_step_and_rk2():
    sim = Simulation(Config(case="lake_at_rest", nx=24, ny=24, time_stepper="ssp_rk2",
                            limiter="van_leer"))
    state, t, steps = sim.advance(sim.initial_state(), 0.0, 0.2)
    assert steps > 10 and t == 0.2
    eta = np.asarray(state.h + sim.params.b)
    assert np.ptp(eta) < 1e-12
