"""Cost of reverse-mode differentiation through the solver (issue 4).

    .venv/bin/python -m benchmarks.gradient [--n 256] [--steps 20] [--lengths 100 1000 10000]
                                            [--scheme muscl|weno5z] [--out FILE]

Two measurements on the unstable jet (MUSCL-MC, HLLC, SSP-RK3, fixed dt):

1. Wall time of ``jax.grad`` of a global loss of ``sim.run(state, steps)``
   relative to the forward run alone (both compiled first, median of 3).
2. Memory of the gradient versus rollout length T for each checkpoint mode
   (None, "step", "nested"): the size of the temporary buffers XLA assigns
   for the compiled gradient (``compiled.memory_analysis()``), which is the
   peak working set of the computation besides its inputs and outputs. It
   comes from XLA's buffer assignment, so T = 10000 is measured without
   running 10000 steps. A mode whose compile fails is reported as such.

Prints a Markdown table and writes benchmarks/results/gradient.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp

from dycore import Config, Simulation, runtime
runtime.configure()  # float64, bit-for-bit XLA:CPU setting

MODES = (None, "step", "nested")


def build(n: int, scheme: str = "muscl") -> Simulation:
    return Simulation(Config(case="unstable_jet", nx=n, ny=n, dt=20.0 * 256 / n, scheme=scheme))


def loss_fn(sim, steps, checkpoint):
    def loss(state, params):
        final = sim.run(state, steps, params, checkpoint=checkpoint)
        return sim.global_sum((final.h - 100.0) ** 2 + 1e-4 * (final.hu ** 2 + final.hv ** 2))
    return loss


def median_time(fn, *args, repeats=3) -> float:
    jax.block_until_ready(fn(*args))  # compile + warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timing(sim, steps: int) -> dict:
    state, params = sim.initial_state(), sim.params
    forward = jax.jit(lambda s, p: sim.run(s, steps, p))
    out = {"steps": steps, "forward_s": median_time(forward, state, params)}
    for mode in MODES:
        grad = jax.jit(jax.grad(loss_fn(sim, steps, mode), argnums=(0, 1)))
        out[f"grad_{mode}_s"] = median_time(grad, state, params)
        out[f"ratio_{mode}"] = out[f"grad_{mode}_s"] / out["forward_s"]
    return out


def memory(sim, lengths) -> list[dict]:
    state, params = sim.initial_state(), sim.params
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(state))
    rows = []
    for steps in lengths:
        for mode in MODES:
            row = {"steps": steps, "checkpoint": str(mode)}
            try:
                grad = jax.jit(jax.grad(loss_fn(sim, steps, mode), argnums=(0, 1)))
                stats = grad.lower(state, params).compile().memory_analysis()
                row["temp_mib"] = stats.temp_size_in_bytes / 2 ** 20
                row["states"] = stats.temp_size_in_bytes / state_bytes
            except Exception as err:  # report, keep going
                row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
            rows.append(row)
            print(row, flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gradient", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=256, help="grid cells per side")
    p.add_argument("--steps", type=int, default=20, help="rollout length for the timing")
    p.add_argument("--lengths", type=int, nargs="+", default=[100, 1000, 10000],
                   help="rollout lengths for the memory table")
    p.add_argument("--scheme", default="muscl", choices=("muscl", "weno5z"))
    p.add_argument("--out", default="benchmarks/results/gradient.json")
    args = p.parse_args(argv)
    sim = build(args.n, args.scheme)
    result = {"n": args.n, "scheme": args.scheme,
              "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "jax": jax.__version__,
              "xla_flags": os.environ.get("XLA_FLAGS", ""),
              "load_average": os.getloadavg()}
    result["timing"] = timing(sim, args.steps)
    print(result["timing"], flush=True)
    result["memory"] = memory(sim, args.lengths)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)

    t = result["timing"]
    print(f"\n{args.n}x{args.n}, {t['steps']} steps: forward {t['forward_s']:.3f} s; gradient "
          + ", ".join(f"{m}: {t[f'grad_{m}_s']:.3f} s ({t[f'ratio_{m}']:.2f}x)" for m in MODES))
    print("\n| T | " + " | ".join(f"checkpoint={m}" for m in MODES) + " |")
    print("|---|" + "---|" * len(MODES))
    for steps in args.lengths:
        cells = []
        for row in result["memory"]:
            if row["steps"] == steps:
                cells.append(f"{row['temp_mib']:.0f} MiB ({row['states']:.0f} states)"
                             if "temp_mib" in row else row["error"])
        print(f"| {steps} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
