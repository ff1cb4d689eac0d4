"""Williamson et al. (1992) tests 1 and 2 on the cubed sphere:
Williamson-normalised errors and observed orders.

    python -m benchmarks.sphere_convergence --sizes 12 24 48 96 --days 1 --alphas 0 0.785398
    python -m benchmarks.sphere_convergence --case williamson1 --sizes 12 24 48 96
    python -m benchmarks.sphere_convergence --case williamson1 --bell gaussian --limiter none

Test 2 (``williamson2``, the default): steady zonal geostrophic flow, the
exact solution is the initial state; errors of the depth h after ``--days``
(default 1). Test 1 (``williamson1``): the cosine bell (1000 m, radius
a/3) carried once around the sphere by solid-body rotation in 12 days
(``--days`` default 12), so the exact solution after a revolution is the
initial bell; default axis tilts alpha = 0, pi/4 and pi/2 - 0.05 (over the
cube's vertices). ``--bell gaussian``: test 1 with Lauritzen et al.'s
(2012) Gaussian hill instead of the C1 cosine bell; ``--limiter``: the
MUSCL limiter (default mc; ``none`` the unlimited central slope). Errors are W92's area-weighted normalised l1, l2, linf
(their eqs. 82-84) of h against the initial (cell-centre) field; for test
1 also W92's normalised extrema (max h - max h_T) / max h_T and
(min h - min h_T) / max h_T (h_T the exact field: min 0, max 1000 m at a
cell centre near the bell's centre).

Each run takes the CFL step at t = 0 (cfl 0.45), shortened so that a whole
number of steps reaches the end time, stepped in one jitted lax.scan
(``SphereModel.run``; the same errors to the last digit as a loop of
jitted steps, checked at C12 and C24 on test 2, and some 25x faster at
C48), MUSCL-MC (HLLC for test 2),
SSP-RK3, float64, all six faces on one process (dycore.sphere). Writes
benchmarks/results/sphere_tc2.{json,md} (sphere_tc1 for test 1, with
_<bell> and _<limiter> appended when not the defaults; or --tag) and prints
the table.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import time

import numpy as np

from dycore.cases.sphere import BELLS
from dycore.operators.reconstruction import LIMITERS

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
CASES = {"williamson1": ("sphere_tc1", 12.0, [0.0, math.pi / 4, math.pi / 2 - 0.05]),
         "williamson2": ("sphere_tc2", 1.0, [0.0, math.pi / 4])}


def table(case, days, rows, limiter="mc", bell="cosine"):
    """The markdown table of ``rows``."""
    tc1 = case == "williamson1"
    muscl = "MUSCL-" + ("unlimited" if limiter == "none" else limiter)
    shape = "Gaussian hill" if bell == "gaussian" else "cosine bell"
    title = (f"Williamson test 1 ({shape}, one revolution), {muscl}/SSP-RK3" if tc1 else
             f"Williamson test 2, {muscl}/HLLC/SSP-RK3")
    extra = " max | min |" if tc1 else ""
    lines = [f"{title}, {days:g} day(s), float64", "",
             "| alpha | C N | steps | l1 | l2 | linf | order l1 | order l2 | order linf "
             "| mass drift |" + extra,
             "|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if tc1 else "")]
    for r in rows:
        o = r["orders"] or {}
        e = r["errors"]
        line = (f"| {r['alpha']:.4f} | C{r['n']} | {r['steps']} | {e['l1']:.3e} | "
                f"{e['l2']:.3e} | {e['linf']:.3e} | "
                + " | ".join(f"{o[k]:.2f}" if k in o else "" for k in ("l1", "l2", "linf"))
                + f" | {r['mass_drift']:.1e} |")
        if tc1:
            line += f" {r['max']:.3e} | {r['min']:.3e} |"
        lines.append(line)
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", choices=sorted(CASES), default="williamson2")
    p.add_argument("--sizes", type=int, nargs="+", default=[12, 24, 48])
    p.add_argument("--days", type=float, default=None,
                   help="run length (default: 1 for test 2, 12 (a revolution) for test 1)")
    p.add_argument("--alphas", type=float, nargs="+", default=None,
                   help="axis tilts (rad; default: 0, pi/4 for test 2, and pi/2 - 0.05 for 1)")
    p.add_argument("--limiter", default="mc", choices=sorted(LIMITERS),
                   help="MUSCL slope limiter (default mc; none: unlimited central slope)")
    p.add_argument("--bell", default="cosine", choices=BELLS,
                   help="test 1's density: W92's cosine bell or a Gaussian hill")
    p.add_argument("--tag", default=None, help="results file name (default: sphere_tc1/2)")
    args = p.parse_args(argv)
    if args.bell != "cosine" and args.case != "williamson1":
        p.error("--bell is a parameter of test 1 (--case williamson1)")
    default_tag, default_days, default_alphas = CASES[args.case]
    default_tag += "".join(f"_{v}" for v, d in ((args.bell, "cosine"), (args.limiter, "mc"))
                           if v != d)
    days = default_days if args.days is None else args.days
    alphas = default_alphas if args.alphas is None else args.alphas
    tag = args.tag or default_tag

    import jax.numpy as jnp

    import dycore
    dycore.runtime.configure()
    from dycore.sphere import DAY, SphereModel

    rows = []
    for alpha in alphas:
        previous = None
        for n in args.sizes:
            options = {"bell": args.bell} if args.case == "williamson1" else {}
            model = SphereModel(n, case=args.case, alpha=alpha, limiter=args.limiter, **options)
            s0 = model.initial_state()
            steps = math.ceil(days * DAY / float(model.stable_dt(s0)))
            tic = time.perf_counter()
            s = model.run(s0, steps, dt=jnp.asarray(days * DAY / steps))   # one lax.scan
            s.h.block_until_ready()
            errors = model.height_errors(s, s0)
            drift = (model.mass(s) - model.mass(s0)) / model.mass(s0)
            orders = ({k: math.log(previous[k] / errors[k]) / math.log(2) for k in errors}
                      if previous else None)
            row = {"alpha": alpha, "n": n, "steps": steps, "errors": errors,
                   "orders": orders, "mass_drift": drift,
                   "seconds": time.perf_counter() - tic}
            if args.case == "williamson1":
                h, ref = np.asarray(s.h), np.asarray(s0.h)
                row["max"] = float((h.max() - ref.max()) / ref.max())
                row["min"] = float((h.min() - ref.min()) / ref.max())
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
            previous = errors
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}"
    (RESULTS / f"{tag}.json").write_text(json.dumps(
        {"case": args.case, "days": days, "limiter": args.limiter, "bell": args.bell,
         "machine": machine, "rows": rows}, indent=1))
    lines = table(args.case, days, rows, args.limiter, args.bell)
    (RESULTS / f"{tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
