"""The exact-solution checks of issue 16, as Markdown tables for docs/numerics.md.

    python -m benchmarks.verification            # everything (a few minutes)
    python -m benchmarks.verification --quick    # coarser subset

- mass drift of SSP-RK2/RK3 over 10^4 steps on small periodic grids;
- the steady gradient-wind vortex (docs/verification.md): l1/l2/linf of h
  after 6 h and observed orders for MUSCL-MC and WENO5-Z, and the observed
  order of the truncation error (|dh/dt| of the exact state);
- the planar Thacker paraboloid, one period, without and with the
  thin-layer projection: steps, positivity (the smallest depth over all
  steps), the largest speed over all steps against the exact 0.70 m/s, and
  the L1 error of h at the end (m^3);
- the subcritical flow over a bump (issue 16, item 4): whether the residual
  converges to a steady state for each limiter, with and without the
  small-variation threshold of the slopes;
- the SWASHES flows over a bump through inflow/outflow boundaries
  (subcritical, transcritical, with a hydraulic jump): L1 errors, orders,
  the jump's position.

SSP-RK3, HLLC, CFL 0.45 unless a row says otherwise. The convergence table
of the older cases is ``python -m benchmarks.convergence``.
"""
from __future__ import annotations

import argparse
import math
import pathlib
import platform
import sys
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


def thacker_run(n, scheme, project, **config):
    """One period of the planar Thacker case, stepped like ``Simulation.advance``
    (CFL step, the last one shortened) but through the public pieces, so that
    the thin-layer projection can be applied after every stage. Returns
    (steps, smallest depth and largest wet speed over all steps, L1 error of
    h at the end (m^3))."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    sim = Simulation(Config(case="thacker_planar", nx=n, ny=n, scheme=scheme, **config))
    params, t_end, tol = sim.params, sim.config.t_end, sim.config.dry_tolerance
    b_padded = sim.pad_bed(params)
    projection = (lambda s: sim.model.thin_layer_projection(s, b_padded)) if project else None

    def speed(s):
        wet = s.h > tol
        h = jnp.where(wet, s.h, 1.0)
        return jnp.max(jnp.where(wet, jnp.hypot(s.hu, s.hv) / h, 0.0))

    def body(carry):
        s, t, k, hmin, top = carry
        dt = jnp.minimum(sim.time_step(s, params), t_end - t)
        s = sim.time_stepper(lambda q: sim.rhs(q, params, b_padded), s, dt, project=projection)
        return s, t + dt, k + 1, jnp.minimum(hmin, jnp.min(s.h)), jnp.maximum(top, speed(s))

    start = sim.initial_state()
    run = jax.jit(lambda s: lax.while_loop(lambda c: c[1] < t_end * (1 - 1e-14), body,
                                           (s, jnp.float64(0.0), 0, jnp.min(s.h), speed(s))))
    state, t, steps, hmin, top = run(start)
    err = l1_error(state.h, sim.exact_state(float(t)).h, sim.grid.cell_area)
    return int(steps), float(hmin), float(top), err


def thacker(quick):
    ns = [50] if quick else [50, 100]
    print("\n| scheme | riemann | cfl | n | thin-layer projection | steps | min h (m) | max speed (m/s) | L1 of h (m^3) |")
    print("|---|---|---|---|---|---|---|---|---|")
    runs = [("muscl", "hllc", 0.45), ("weno5z", "hllc", 0.45), ("weno5z", "rusanov", 0.45),
            ("weno5z", "hllc", 0.1)]
    for n in ns:
        for scheme, riemann, cfl in runs:
            for project in (False, True):
                steps, hmin, top, err = thacker_run(n, scheme, project, riemann=riemann, cfl=cfl)
                print(f"| {scheme} | {riemann} | {cfl} | {n} | {'on' if project else 'off'} | {steps} "
                      f"| {hmin:.1e} | {top:.2f} | {err:.3e} |", flush=True)


def bump_residual(quick):
    """Issue 16, item 4: start from the exact subcritical flow over a bump
    (SWASHES 3.1.1: 25 m, b = 0.2 - 0.05 (x - 10)^2 on 8 < x < 12,
    q = 4.42 m^2/s, h = 2 m at both ends, where b = 0) on 100 x 4 cells,
    open ends in x (the uniform end states make zero-gradient ends nearly
    exact), periodic in y, and report max |dh/dt|, max |dhu/dt| and the
    relative residual (dt max_k |dq_k/dt| / max |q_k|, h and hu) after each
    block of 2000 steps, without (``slope_threshold`` 0, the scheme before
    the fix) and with the default small-variation threshold."""
    sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "tests"))
    from test_steady_states import LENGTH, Q, bump_bed, relative_residual, subcritical_depth

    n = 100
    print("\n| scheme | limiter | slope_threshold | steps | max abs dh/dt (m/s) "
          "| max abs dhu/dt (m^2/s^2) | relative residual |")
    print("|---|---|---|---|---|---|---|")
    runs = [("muscl", lim, thr) for lim in ("minmod", "mc", "van_leer") for thr in (0.0, 0.01)]
    for scheme, limiter, threshold in runs + [("weno5z", "mc", 0.0)]:
        sim = Simulation(Config(case="dam_break", nx=n, ny=4, lx=LENGTH, ly=4 * LENGTH / n,
                                x0=0.0, scheme=scheme, limiter=limiter,
                                slope_threshold=threshold, bc_west="open", bc_east="open"))
        bed = bump_bed(np.asarray(sim.x))
        params = sim.params.replace(b=np.tile(bed, (4, 1)))
        h = np.tile(subcritical_depth(bed), (4, 1))
        state = sim._as_state((h, Q * np.ones_like(h), np.zeros_like(h)))
        for block in range(1 if quick else 3):
            state = sim.run(state, 2000, params)
            r = sim.rhs(state, params)
            print(f"| {scheme} | {limiter if scheme == 'muscl' else ''} "
                  f"| {threshold if scheme == 'muscl' else ''} | {2000 * (block + 1)} "
                  f"| {float(np.max(np.abs(r.h))):.1e} | {float(np.max(np.abs(r.hu))):.1e} "
                  f"| {relative_residual(sim, state, params):.1e} |", flush=True)


def swashes_bumps(quick):
    """SWASHES 3.1.1, 3.1.3, 3.1.4 (flows over a bump through inflow/outflow
    boundaries, default scheme; the jump also with the minmod limiter, with
    which it settles): from the exact state, steps until the relative
    residual is below 1e-12 (or 60 n steps), then the L1 error of h (m^2:
    sum |h - h_exact| dx along the channel, one row) and its order, and for
    the jump its computed position against the exact one."""
    from dycore.cases.swashes import numerical_jump_position, shock_position

    sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "tests"))
    from test_steady_states import relative_residual

    ns = [50, 100] if quick else [50, 100, 200, 400]
    print("\n| case | limiter | n | steps | relative residual | L1 of h (m^2) | order "
          "| jump position error (cells) |")
    print("|---|---|---|---|---|---|---|---|")
    runs = [("bump_subcritical", "mc"), ("bump_transcritical", "mc"), ("bump_shock", "mc"),
            ("bump_shock", "minmod")]
    for case, limiter in runs:
        errors = []
        for n in ns:
            sim = Simulation(Config(case=case, nx=n, limiter=limiter))
            state, steps, res = sim.initial_state(), 0, 1.0
            while steps < 60 * n and res > 1e-12:
                state = sim.run(state, 10 * n)
                steps += 10 * n
                res = relative_residual(sim, state, sim.params)
            h, exact = np.asarray(state.h)[0], np.asarray(sim.exact_state(0.0).h)[0]
            errors.append(float(np.sum(np.abs(h - exact))) * sim.grid.dx)
            order = "" if len(errors) < 2 else f"{math.log2(errors[-2] / errors[-1]):.2f}"
            jump = ""
            if case == "bump_shock":
                p = sim.config.case_params
                x_num = numerical_jump_position(sim.x, h, p["q"], p["h_out"], sim.config.g)
                jump = f"{(x_num - shock_position(p['q'], p['h_out'], sim.config.g)) / sim.grid.dx:+.2f}"
            print(f"| {case} | {limiter} | {n} | {steps} | {res:.1e} | {errors[-1]:.3e} | {order} "
                  f"| {jump} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, coarser grids")
    parser.add_argument("--only", choices=("mass", "vortex", "thacker", "bump", "swashes"),
                        action="append")
    args = parser.parse_args(argv)
    print(f"# machine: {platform.processor() or platform.machine()}, {platform.platform()}")
    start = time.time()
    parts = {"mass": mass_drift, "vortex": vortex, "thacker": thacker, "bump": bump_residual,
             "swashes": swashes_bumps}
    for name in (args.only or parts):
        parts[name](args.quick)
    print(f"\n# total wall time {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
