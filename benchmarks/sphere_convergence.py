"""Williamson test 2 (steady zonal geostrophic flow) on the cubed sphere:
Williamson-normalised height errors and observed orders.

    python -m benchmarks.sphere_convergence --sizes 12 24 48 --days 1 --alphas 0 0.785398

Each run takes the CFL step at t = 0 (cfl 0.45), shortened so that a whole
number of steps reaches the end time, MUSCL-MC/HLLC/SSP-RK3, float64, all
six faces on one process (dycore.sphere). Writes benchmarks/results/
sphere_tc2.{json,md} (or --tag) and prints the table.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[12, 24, 48])
    p.add_argument("--days", type=float, default=1.0)
    p.add_argument("--alphas", type=float, nargs="+", default=[0.0, math.pi / 4])
    p.add_argument("--tag", default="sphere_tc2")
    args = p.parse_args(argv)

    import jax
    import jax.numpy as jnp

    import dycore
    dycore.runtime.configure()
    from dycore.sphere import DAY, SphereModel

    rows = []
    for alpha in args.alphas:
        previous = None
        for n in args.sizes:
            model = SphereModel(n, case="williamson2", alpha=alpha)
            s0 = model.initial_state()
            steps = math.ceil(args.days * DAY / float(model.stable_dt(s0)))
            dt = jnp.asarray(args.days * DAY / steps)
            step = jax.jit(lambda s: model.step(s, model.params, dt))
            tic = time.perf_counter()
            s = s0
            for _ in range(steps):
                s = step(s)
            s.h.block_until_ready()
            errors = model.height_errors(s, s0)
            drift = (model.mass(s) - model.mass(s0)) / model.mass(s0)
            orders = ({k: math.log(previous[k] / errors[k]) / math.log(2) for k in errors}
                      if previous else None)
            rows.append({"alpha": alpha, "n": n, "steps": steps, "errors": errors,
                         "orders": orders, "mass_drift": drift,
                         "seconds": time.perf_counter() - tic})
            print(json.dumps(rows[-1]), flush=True)
            previous = errors
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}"
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(
        {"days": args.days, "machine": machine, "rows": rows}, indent=1))
    lines = [f"Williamson test 2, {args.days:g} day(s), MUSCL-MC/HLLC/SSP-RK3, float64",
             "", "| alpha | C N | steps | l1 | l2 | linf | order l1 | order l2 | order linf "
             "| mass drift |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        o = r["orders"] or {}
        e = r["errors"]
        lines.append(f"| {r['alpha']:.4f} | C{r['n']} | {r['steps']} | {e['l1']:.3e} | "
                     f"{e['l2']:.3e} | {e['linf']:.3e} | "
                     + " | ".join(f"{o[k]:.2f}" if k in o else "" for k in ("l1", "l2", "linf"))
                     + f" | {r['mass_drift']:.1e} |")
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
