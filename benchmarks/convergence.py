"""Measured error norms and observed orders for the table in docs/numerics.md.

    python -m benchmarks.convergence            # full table (a few minutes)
    python -m benchmarks.convergence --quick    # coarser subset

Runs each verification case of docs/verification.md at several
resolutions with the default Riemann solver (HLLC) and SSP-RK3 at CFL 0.45,
and prints a Markdown table of normalised l1/l2/linf errors (Williamson
1992) and the observed order in l1 between consecutive resolutions.
"""
from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np

from dycore import Config, Simulation, runtime
runtime.configure()  # float64, bit-for-bit XLA:CPU setting
from dycore.diagnostics import error_norms, l1_error, observed_order


def igw(scheme, nx):
    sim = Simulation(Config(case="inertia_gravity_wave", nx=nx, ny=round(nx * math.sqrt(3) / 2),
                            scheme=scheme))
    state, t, _ = sim.advance(sim.initial_state(), 0.0, sim.config.t_end)
    return error_norms(state.h, sim.exact_state(t).h, background=1000.0)


def kelvin(scheme, nx):
    sim = Simulation(Config(case="kelvin_wave", nx=nx, ny=nx, scheme=scheme))
    state, t, _ = sim.advance(sim.initial_state(), 0.0, sim.config.t_end)
    return error_norms(state.h, sim.exact_state(t).h, background=1000.0)


def jet_drift(scheme, nx):
    sim = Simulation(Config(case="geostrophic_jet", nx=nx, ny=nx, scheme=scheme))
    start = sim.initial_state()
    state, _, _ = sim.advance(start, 0.0, sim.config.t_end)
    return error_norms(state.h, start.h, background=1000.0)


class _L1Only:
    def __init__(self, l1):
        self.l1, self.l2, self.linf = l1, float("nan"), float("nan")


def dam_break(variant):
    def run(scheme, nx):
        sim = Simulation(Config(case="dam_break", nx=nx, ny=4, ly=8.0 / nx, scheme=scheme,
                                case_params={"variant": variant}))
        state, t, _ = sim.advance(sim.initial_state(), 0.0, sim.config.t_end)
        # Unnormalised L1 of the depth per unit width (m^2).
        return _L1Only(l1_error(state.h, sim.exact_state(t).h, sim.grid.cell_area) / sim.config.ly)
    return run


CASES = [
    ("inertia-gravity wave, 10 h", igw, [50, 100, 200, 400], [50, 100]),
    ("Kelvin wave, one period", kelvin, [32, 64, 128], [32, 64]),
    ("geostrophic jet drift, 1 day", jet_drift, [32, 64, 128], [32, 64]),
    ("Stoker dam break, L1 (m^2)", dam_break("stoker"), [100, 200, 400, 800], [100, 200]),
    ("Ritter dam break, L1 (m^2)", dam_break("ritter"), [100, 200, 400, 800], [100, 200]),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two coarse resolutions only")
    args = parser.parse_args(argv)
    print(f"# machine: {platform.processor() or platform.machine()}, {platform.platform()}")
    print("| case | scheme | nx | l1 | l2 | linf | order (l1) |")
    print("|---|---|---|---|---|---|---|")
    start = time.time()
    for title, func, full, quick in CASES:
        for scheme in ("muscl", "weno5z"):
            previous = None
            for nx in (quick if args.quick else full):
                e = func(scheme, nx)
                order = "" if previous is None else f"{observed_order(previous[1], e.l1, previous[0], nx):.2f}"
                fmt = lambda v: "" if np.isnan(v) else f"{v:.3e}"
                print(f"| {title} | {scheme} | {nx} | {fmt(e.l1)} | {fmt(e.l2)} | {fmt(e.linf)} | {order} |",
                      flush=True)
                previous = (nx, e.l1)
    print(f"# total wall time {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
