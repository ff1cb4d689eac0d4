"""Drift of mass, tracer mass, total energy and potential enstrophy on the
cubed sphere (Williamson tests 5 and 6, Galewsky's jet), over short runs.

    python -m benchmarks.sphere_invariants --sizes 24 48 --hours 6 --cases williamson5 williamson6 galewsky

MUSCL-MC/HLLC/SSP-RK3, float64, the CFL step at cfl 0.45 of the initial
state (fixed afterwards), all six faces on one process, the passive tracer
on. Relative drifts (I(t) - I(0)) / I(0) of exactly rounded area integrals
(:mod:`dycore.sphere.diagnostics`). Writes benchmarks/results/
sphere_invariants.{json,md} (or --tag) and prints the table.
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[24, 48])
    p.add_argument("--hours", type=float, default=6.0)
    p.add_argument("--cases", nargs="+", default=["williamson5", "williamson6", "galewsky"])
    p.add_argument("--tag", default="sphere_invariants")
    args = p.parse_args(argv)

    import jax.numpy as jnp

    import dycore
    dycore.runtime.configure()
    from dycore.sphere import SphereModel
    from dycore.sphere.diagnostics import invariants

    rows = []
    for case in args.cases:
        for n in args.sizes:
            model = SphereModel(n, case=case, tracer=True)
            s0 = model.initial_state()
            seconds = args.hours * 3600.0
            steps = math.ceil(seconds / float(model.stable_dt(s0)))
            dt = jnp.asarray(seconds / steps)
            tic = time.perf_counter()
            s = model.run(s0, steps, dt=dt)
            s.h.block_until_ready()
            wall = time.perf_counter() - tic
            i0, i1 = invariants(model, s0), invariants(model, s)
            drift = {k: (i1[k] - i0[k]) / i0[k] for k in KEYS}
            rows.append({"case": case, "n": n, "hours": args.hours, "steps": steps,
                         "drift": drift, "seconds": wall})
            print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}"
    (RESULTS / f"{args.tag}.json").write_text(json.dumps({"machine": machine, "rows": rows},
                                                          indent=1))
    lines = [f"Relative drift of the invariants over {args.hours:g} h, MUSCL-MC/HLLC/SSP-RK3, "
             "float64", "", "| case | C N | steps | mass | tracer mass | energy | "
             "potential enstrophy | wall s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = r["drift"]
        lines.append(f"| {r['case']} | C{r['n']} | {r['steps']} | "
                     + " | ".join(f"{d[k]:.2e}" for k in KEYS) + f" | {r['seconds']:.0f} |")
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
