"""Drift of mass, tracer mass, total energy and potential enstrophy on the
cubed sphere (Williamson et al. 1992 tests 5 and 6; the jet of Galewsky,
Scott & Polvani 2004), over the cases' run lengths.

    python -m benchmarks.sphere_invariants --sizes 24 48 --cases williamson5 williamson6 galewsky

MUSCL-MC/HLLC/SSP-RK3, float64, all six faces on one process, the passive
tracer on (a cosine bell of q). The time step is the CFL step of the
initial state (cfl 0.45), shortened so that a whole number of steps makes
each sample interval (``--every``, days), then fixed. Each run lasts the
case's length (W92: 15 days for test 5, 14 for test 6; Galewsky: 6 days)
unless ``--days`` is given. Reported: the relative drifts (I(t) - I(0)) /
I(0) of the exactly rounded area integrals of
:mod:`dycore.sphere.diagnostics` at every sample, and the wall time of the
stepping (compile included: the first interval's). Writes
benchmarks/results/sphere_invariants.{json,md} (or --tag) and prints the
table of the end-time drifts.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
KEYS = ("mass", "tracer_mass", "energy", "potential_enstrophy")


def fixed_step(model, s0, days, every):
    """(days, samples, interval s, steps per interval, dt) of a run of ``days``
    (None: the case's length) sampled every ``every`` days: the CFL step of
    ``s0`` shortened so that a whole number of steps makes each interval."""
    import jax.numpy as jnp

    from dycore.sphere import DAY

    days = model.data.days if days is None else days
    samples = max(1, round(days / every))
    interval = days * DAY / samples
    steps = math.ceil(interval / float(model.stable_dt(s0)))
    return days, samples, interval, steps, jnp.asarray(interval / steps)


def run_case(case, n, days, every):
    """One run; returns the row (drifts per sample, end-time drift, timings)."""
    from dycore.sphere import DAY, SphereModel
    from dycore.sphere.diagnostics import invariants

    model = SphereModel(n, case=case, tracer=True)
    s0 = model.initial_state()
    days, samples, interval, steps, dt = fixed_step(model, s0, days, every)
    i0 = invariants(model, s0)
    series, s, tic = [], s0, time.perf_counter()
    for k in range(samples):
        s = model.run(s, steps, dt=dt)
        i1 = invariants(model, s)
        series.append({"day": (k + 1) * interval / DAY,
                       "drift": {key: (i1[key] - i0[key]) / i0[key] for key in KEYS}})
        print(json.dumps({"case": case, "n": n, **series[-1]}), flush=True)
    return {"case": case, "n": n, "days": days, "dt": float(dt), "steps": steps * samples,
            "drift": series[-1]["drift"], "series": series,
            "seconds": time.perf_counter() - tic}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[24, 48])
    p.add_argument("--days", type=float, default=None,
                   help="run length in days (default: each case's own)")
    p.add_argument("--every", type=float, default=1.0, help="sample interval (days)")
    p.add_argument("--cases", nargs="+", default=["williamson5", "williamson6", "galewsky"])
    p.add_argument("--tag", default="sphere_invariants")
    args = p.parse_args(argv)

    import dycore
    dycore.runtime.configure()

    rows = [run_case(case, n, args.days, args.every) for case in args.cases
            for n in args.sizes]
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}"
    (RESULTS / f"{args.tag}.json").write_text(json.dumps({"machine": machine, "rows": rows},
                                                          indent=1))
    lines = ["Relative drift of the invariants at the end time, MUSCL-MC/HLLC/SSP-RK3, "
             "float64, tracer on", "", "| case | C N | days | steps | dt s | mass | "
             "tracer mass | energy | potential enstrophy | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = r["drift"]
        lines.append(f"| {r['case']} | C{r['n']} | {r['days']:g} | {r['steps']} | "
                     f"{r['dt']:.1f} | " + " | ".join(f"{d[k]:.2e}" for k in KEYS)
                     + f" | {r['seconds']:.0f} |")
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
