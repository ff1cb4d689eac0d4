"""Cost per cell and step of the cubed sphere beside the plane, one process.

    python -m benchmarks.sphere_speed --sizes 24 48 96 --steps 10

For each C N: williamson2 on all six faces in one process
(:class:`dycore.sphere.model.SphereModel`) and the plane's unstable jet on
a square grid with the same number of cells (nx = ny = round(sqrt(6) N)),
both MUSCL-MC/HLLC/SSP-RK3 in float64 with the CFL step of each state, as
a jitted ``run`` of ``--steps`` steps (compile excluded; best of
``--repeats``). Prints ms per step per million cells (ms/step/Mcell) and
their ratio (issue 13 asks for at most ~1.5) and writes
benchmarks/results/TAG.json. Timings only mean something on a quiet
machine; MPI runs (1, 2, 6 ranks) are not in it yet.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import sys
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def best_time(run, state, steps: int, repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``run(state, steps)``
    after one warm-up call (which compiles)."""
    import jax

    jax.block_until_ready(run(state, steps))
    best = math.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        jax.block_until_ready(run(state, steps))
        best = min(best, time.perf_counter() - tic)
    return best


def measure(n: int, steps: int, repeats: int) -> dict:
    import dycore
    from dycore.config import Config
    from dycore.sphere.model import SphereModel

    sphere = SphereModel(n, case="williamson2")
    cells_sphere = 6 * n * n
    t_sphere = best_time(sphere.run, sphere.initial_state(), steps, repeats)
    side = round(math.sqrt(6) * n)
    plane = dycore.Simulation(Config(case="unstable_jet", nx=side, ny=side, scheme="muscl",
                                     limiter="mc", riemann="hllc", time_stepper="ssp_rk3"))
    t_plane = best_time(plane.run, plane.initial_state(), steps, repeats)
    per = lambda t, cells: t / steps / cells * 1e9  # ms per step per 1e6 cells
    row = {"n": n, "sphere_cells": cells_sphere, "plane_cells": side * side, "steps": steps,
           "sphere_ms_per_step_per_mcell": per(t_sphere, cells_sphere),
           "plane_ms_per_step_per_mcell": per(t_plane, side * side)}
    row["ratio"] = row["sphere_ms_per_step_per_mcell"] / row["plane_ms_per_step_per_mcell"]
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[24, 48, 96])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tag", default="sphere_speed")
    args = p.parse_args(argv)
    import dycore

    dycore.runtime.configure()
    rows = []
    print(f"{'C N':>5} {'sphere cells':>12} {'sphere ms/step/Mcell':>21} "
          f"{'plane ms/step/Mcell':>20} {'ratio':>6}")
    for n in args.sizes:
        r = measure(n, args.steps, args.repeats)
        rows.append(r)
        print(f"{n:5d} {r['sphere_cells']:12d} {r['sphere_ms_per_step_per_mcell']:21.0f} "
              f"{r['plane_ms_per_step_per_mcell']:20.0f} {r['ratio']:6.1f}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": platform.processor() or platform.machine(), "rows": rows,
           "command": "python -m benchmarks.sphere_speed " + " ".join(
               sys.argv[1:] if argv is None else argv)}
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
