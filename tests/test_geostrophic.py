"""Rotating cases with exact answers (docs/verification.md):

- steady geostrophic jet: an exact steady state of the nonlinear f-plane
  equations; the discrete drift after one day is small and falls at second
  order with resolution;
- Kelvin wave along a wall: the error after one period falls with resolution
  (the mirror-ghost wall limits the order to about 1.6-1.9, see docs/numerics.md);
- geostrophic adjustment: the time mean of v over inertial periods
  approaches the balanced exponential profile.
"""
import math

import numpy as np
import pytest

from dycore import Config, Simulation
from dycore.diagnostics import error_norms, observed_order


def test_geostrophic_jet_drift_is_small_and_converges():
    drifts = []
    for n in (32, 64):
        sim = Simulation(Config(case="geostrophic_jet", nx=n, ny=n))
        start = sim.initial_state()
        end, t, _ = sim.advance(start, 0.0, sim.config.t_end)
        h_drift = error_norms(end.h, start.h, background=sim.config.case_params["depth"])
        hu_drift = error_norms(end.hu, start.hu)
        print(f"\njet n={n}: h drift {h_drift}, hu drift {hu_drift}, "
              f"max|hv| {float(np.max(np.abs(end.hv))):.3g} m^2/s")
        drifts.append(h_drift.l1)
        assert hu_drift.l1 < 1e-2
    assert drifts[1] < 5e-3
    assert observed_order(drifts[0], drifts[1], 32, 64) > 1.8


def test_kelvin_wave_converges():
    errors = []
    for n in (32, 64):
        sim = Simulation(Config(case="kelvin_wave", nx=n, ny=n))
        end, t, _ = sim.advance(sim.initial_state(), 0.0, sim.config.t_end)
        errors.append(error_norms(end.h, sim.exact_state(t).h, background=1000.0).l1)
        # The wave travels along the wall: v stays small compared with u.
        assert float(np.max(np.abs(end.hv))) < 0.2 * float(np.max(np.abs(end.hu)))
    order = observed_order(errors[0], errors[1], 32, 64)
    print(f"\nKelvin wave l1 {errors}, order {order:.2f}")
    assert errors[1] < 0.12 and order > 1.5


def test_geostrophic_adjustment_mean_flow_approaches_balance():
    sim = Simulation(Config(case="geostrophic_adjustment", nx=400))
    period = 2 * math.pi / sim.config.f0
    state, t, _ = sim.advance(sim.initial_state(), 0.0, 2 * period)
    samples = []
    for k in range(1, 33):
        state, t, _ = sim.advance(state, t, 2 * period + k * 2 * period / 32)
        samples.append(np.asarray(state.hv) / np.asarray(state.h))
    v_mean = np.mean(samples, axis=0)
    h_bal, _, hv_bal = sim.case.balanced(sim.x, sim.y, sim.config)
    norms = error_norms(v_mean, hv_bal / h_bal)
    print(f"\ngeostrophic adjustment, time-mean v vs balanced: {norms}")
    assert norms.l2 < 0.08
    # Mass stays where it was: the surface step is still there, smoothed.
    eta = np.asarray(state.h)[0] - 1000.0
    assert eta[0] < -0.09 and eta[-1] > 0.09
