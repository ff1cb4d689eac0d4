"""The exact-solution checks of issue 16, as Markdown tables for docs/numerics.md.

    python -m benchmarks.verification            # everything (a few minutes)
    python -m benchmarks.verification --quick    # coarser subset

- mass drift of SSP-RK2/RK3 over 10^4 steps on small periodic grids;
- the steady gradient-wind vortex (docs/verification.md): l1/l2/linf of h
  after 6 h and observed orders for MUSCL-MC and WENO5-Z, and the observed
  order of the truncation error (|dh/dt| of the exact state);
- the planar Thacker paraboloid, one period: steps, positivity (first
  fault, smallest depth), the largest speed seen during the run against the
  exact 0.70 m/s, and the L1 error of h (m^3).

SSP-RK3, HLLC, CFL 0.45 unless a row says otherwise. The convergence table
of the older cases is ``python -m benchmarks.convergence``.
"""
from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np

from dycore import Config, Simulation, runtime
runtime.configure()  # float64, bit-for-bit XLA:CPU setting
from dycore.diagnostics import error_norms, l1_error, observed_orders


def _mass(state):
    return math.fsum(np.asarray(state.h, dtype=np.float64).ravel().tolist())


def mass_drift(quick):
    print("\n| case | time stepper | steps | relative mass drift |")
    print("|---|---|---|---|")
    steps = 2000 if quick else 10_000
    for case, grid in (("unstable_jet", dict(nx=16, ny=16)),
                       ("inertia_gravity_wave", dict(nx=16, ny=14))):
        for stepper in ("ssp_rk2", "ssp_rk3"):
            sim = Simulation(Config(case=case, time_stepper=stepper, **grid))
            start = sim.initial_state()
            end = sim.run(start, steps)
            drift = (_mass(end) - _mass(start)) / _mass(start)
            print(f"| {case} {grid['nx']}x{grid['ny']} | {stepper} | {steps} | {drift:.2e} |",
                  flush=True)


def vortex(quick):
    ns = [32, 64, 128] if quick else [32, 64, 128, 256]
    print("\n| scheme | n | steps | l1 | l2 | linf | order (l1) | mean abs dh/dt of exact state (m/s) | order |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scheme in ("muscl", "weno5z"):
        l1s, res = [], []
        for n in ns:
            sim = Simulation(Config(case="gaussian_vortex", nx=n, ny=n, scheme=scheme))
            start = sim.initial_state()
            res.append(float(np.mean(np.abs(np.asarray(sim.rhs(start, sim.params).h)))))
            state, t, steps = sim.advance(start, 0.0, sim.config.t_end)
            e = error_norms(state.h, sim.exact_state(t).h,
                            background=sim.config.case_params["depth"])
            l1s.append(e.l1)
            order = "" if len(l1s) < 2 else f"{observed_orders(l1s[-2:], ns[len(l1s) - 2:len(l1s)])[0]:.2f}"
            rorder = "" if len(res) < 2 else f"{observed_orders(res[-2:], ns[len(res) - 2:len(res)])[0]:.2f}"
            print(f"| {scheme} | {n} | {steps} | {e.l1:.3e} | {e.l2:.3e} | {e.linf:.3e} | {order} "
                  f"| {res[-1]:.3e} | {rorder} |", flush=True)


def _speed(state, tol=1e-10):
    h = np.asarray(state.h)
    wet = h > tol
    safe = np.where(wet, h, 1.0)
    return float(np.max(np.where(wet, np.hypot(np.asarray(state.hu), np.asarray(state.hv)) / safe, 0.0)))


def thacker_run(n, scheme, snapshots=40, **config):
    """One period of the planar Thacker case: (steps, fault or None, min h,
    max speed over 40 snapshots, L1 error of h at the end (m^3))."""
    sim = Simulation(Config(case="thacker_planar", nx=n, ny=n, scheme=scheme, **config))
    # The step count of one uninterrupted run (the snapshots below shorten steps).
    _, _, total, _ = sim.advance(sim.initial_state(), 0.0, sim.config.t_end, report=True)
    state, t, top, fault = sim.initial_state(), 0.0, 0.0, None
    for k in range(1, snapshots + 1):
        state, t, _, fault = sim.advance(state, t, sim.config.t_end * k / snapshots,
                                         report=True)
        top = max(top, _speed(state))
        if fault is not None:
            break
    err = l1_error(state.h, sim.exact_state(t).h, sim.grid.cell_area)
    return total, fault, float(np.min(np.asarray(state.h))), top, err, t


def thacker(quick):
    ns = [50] if quick else [50, 100]
    print("\n| scheme | riemann | cfl | n | steps | first fault | min h (m) | max speed (m/s) | L1 of h (m^3) at t |")
    print("|---|---|---|---|---|---|---|---|---|")
    runs = [("muscl", "hllc", 0.45), ("weno5z", "hllc", 0.45), ("weno5z", "rusanov", 0.45),
            ("weno5z", "hllc", 0.1)]
    for n in ns:
        for scheme, riemann, cfl in runs:
            steps, fault, hmin, top, err, t = thacker_run(n, scheme, riemann=riemann, cfl=cfl)
            where = "none" if fault is None else f"{fault['kind']} at step {steps + 1}"
            print(f"| {scheme} | {riemann} | {cfl} | {n} | {steps} | {where} | {hmin:.1e} | {top:.2f} "
                  f"| {err:.3e} at {t:.3f} s |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, coarser grids")
    parser.add_argument("--only", choices=("mass", "vortex", "thacker"), action="append")
    args = parser.parse_args(argv)
    print(f"# machine: {platform.processor() or platform.machine()}, {platform.platform()}")
    start = time.time()
    parts = {"mass": mass_drift, "vortex": vortex, "thacker": thacker}
    for name in (args.only or parts):
        parts[name](args.quick)
    print(f"\n# total wall time {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
