"""Convergence against exact solutions (docs/verification.md).

- inertia-gravity wave (E3SM Polaris setup, 200/100/50 km): observed order
  >= 1.8 with MUSCL-MC and > 2.5 with WENO5-Z at fixed CFL;
- Stoker and Ritter dam breaks: the L1 depth error falls with resolution at
  about first order (shock / dry front).
The measured numbers are printed (pytest -s) and tabulated in the README by
``python -m benchmarks.convergence``.
"""
import math

import numpy as np
import pytest

from dycore import Config, Simulation
from dycore.diagnostics import error_norms, l1_error, observed_orders


def igw_errors(scheme, nxs, limiter="mc"):
    errors = []
    for nx in nxs:
        sim = Simulation(Config(case="inertia_gravity_wave", nx=nx,
                                ny=round(nx * math.sqrt(3) / 2), scheme=scheme, limiter=limiter))
        state, t, _ = sim.advance(sim.initial_state(), 0.0, sim.config.t_end)
        exact = sim.exact_state(t)
        errors.append(error_norms(state.h, exact.h, background=sim.config.case_params["depth"]))
    return errors


@pytest.mark.parametrize("scheme,minimum", [("muscl", 1.8), ("weno5z", 2.5)])
def test_inertia_gravity_wave_order(scheme, minimum):
    nxs = [50, 100, 200]
    errors = igw_errors(scheme, nxs)
    l1 = [e.l1 for e in errors]
    l2 = [e.l2 for e in errors]
    orders_l1 = observed_orders(l1, nxs)
    orders_l2 = observed_orders(l2, nxs)
    print(f"\nIGW {scheme}: l1 {l1} orders {orders_l1}; l2 orders {orders_l2}")
    assert min(orders_l1) >= minimum
    assert min(orders_l2) >= minimum


def dam_break_errors(variant, scheme, nxs):
    errors = []
    for nx in nxs:
        sim = Simulation(Config(case="dam_break", nx=nx, ny=4, ly=4 * 2.0 / nx, scheme=scheme,
                                case_params={"variant": variant}))
        state, t, _ = sim.advance(sim.initial_state(), 0.0, sim.config.t_end)
        exact = sim.exact_state(t)
        errors.append(l1_error(state.h, exact.h, sim.grid.cell_area) / sim.config.ly)
        assert float(np.min(state.h)) >= 0.0
    return errors


@pytest.mark.parametrize("variant", ["stoker", "ritter"])
@pytest.mark.parametrize("scheme", ["muscl", "weno5z"])
def test_dam_break_error_falls_with_resolution(variant, scheme):
    nxs = [100, 200, 400]
    errors = dam_break_errors(variant, scheme, nxs)
    orders = observed_orders(errors, nxs)
    print(f"\ndam break {variant} {scheme}: L1 {errors} orders {orders}")
    assert errors[0] > errors[1] > errors[2]
    assert min(orders) > 0.8


def test_stoker_middle_state_matches_published_values():
    from dycore.cases import stoker_middle_state

    hm, um, s = stoker_middle_state(0.005, 0.001, 9.81)
    assert hm == pytest.approx(2.53936e-3, rel=2e-6)
    assert um == pytest.approx(0.127280, rel=4e-6)
    assert s == pytest.approx(0.209963, rel=5e-6)
