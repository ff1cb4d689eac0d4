"""Compile times a user meets (issue 17, goal 5).

    .venv/bin/python -m benchmarks.compile_time [--n 128] [--steps 20] [--repeats 3]
                                                [--out benchmarks/results/compile_time.json]

Two figures, each measured in fresh processes (``--repeats`` of them, the
median reported) so that nothing is already compiled:

1. Start to first step of the default run: the wall time of the whole
   process ``python -m dycore.run --t-end 60`` (60 s of model time, less
   than the default run's first CFL step, so one step: launch, imports,
   set-up, compiles, the step, its output, exit), once with an empty persistent compilation cache ("cold", a
   first run) and once more on the cache that run left ("warm", every
   later run of the same configuration).
2. The first gradient of an N-step rollout at n^2 (the unstable jet,
   MUSCL-MC/HLLC/SSP-RK3, float64, the default checkpoint mode): the time
   to trace and compile ``jax.jit(jax.grad(loss))`` and that of the
   forward rollout alone, with no persistent cache.

Prints a table and writes the JSON file. Timings depend on the machine and
its load (the load average is recorded).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

GRADIENT_PROBE = r"""
import json, sys, time
import jax
from benchmarks.gradient import build, loss_fn  # the gradient benchmark's jet and loss
n, steps = int(sys.argv[1]), int(sys.argv[2])
sim = build(n)
state, params = sim.initial_state(), sim.params
loss = loss_fn(sim, steps, "step")  # the default checkpoint mode

out = {}
for name, fn in (("forward", lambda s, p: sim.run(s, steps, p)),
                 ("gradient", jax.grad(loss, argnums=(0, 1)))):
    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(state, params)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    jax.block_until_ready(compiled(state, params))
    out[name] = {"trace_s": t1 - t0, "compile_s": t2 - t1, "first_call_s": time.perf_counter() - t2}
print("RESULT " + json.dumps(out))
"""


def _env(cache: str | None) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["DYCORE_JAX_CACHE"] = cache if cache else "off"
    return env


def startup(n_repeats: int) -> dict:
    """Median whole-process wall times of a one-step default run, cold and warm."""
    cold, warm = [], []
    for _ in range(n_repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cache = os.path.join(tmp, "cache")
            cmd = [sys.executable, "-m", "dycore.run", "--output", os.path.join(tmp, "o.h5"),
                   "--overwrite", "--quiet", "--t-end", "60"]
            for times in (cold, warm):
                t0 = time.perf_counter()
                subprocess.run(cmd, cwd=ROOT, env=_env(cache), check=True, capture_output=True)
                times.append(time.perf_counter() - t0)
    return {"command": "python -m dycore.run --t-end 60 (one step of the default run)",
            "cold_s": statistics.median(cold), "warm_s": statistics.median(warm),
            "cold_all_s": cold, "warm_all_s": warm}


def gradient(n: int, steps: int, n_repeats: int) -> dict:
    runs = []
    for _ in range(n_repeats):
        done = subprocess.run([sys.executable, "-c", GRADIENT_PROBE, str(n), str(steps)], cwd=ROOT,
                              env=_env(None), check=True, capture_output=True, text=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        runs.append(json.loads(line[len("RESULT "):]))
    med = {name: {k: statistics.median(r[name][k] for r in runs) for k in runs[0][name]}
           for name in runs[0]}
    return {"n": n, "steps": steps, **med, "all": runs}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.compile_time",
                                description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=128, help="grid cells per side of the gradient probe")
    p.add_argument("--steps", type=int, default=20, help="rollout length of the gradient probe")
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per figure (median)")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/compile_time.json"))
    args = p.parse_args(argv)
    result = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "load_average_before": os.getloadavg()}
    result["startup"] = startup(args.repeats)
    result["gradient"] = gradient(args.n, args.steps, args.repeats)
    result["load_average_after"] = os.getloadavg()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    s, g = result["startup"], result["gradient"]
    print(f"start to first step of the default run: {s['cold_s']:.1f} s cold cache, "
          f"{s['warm_s']:.1f} s warm cache")
    print(f"{args.n}^2, {args.steps} steps: forward trace {g['forward']['trace_s']:.2f} s + compile "
          f"{g['forward']['compile_s']:.2f} s; gradient trace {g['gradient']['trace_s']:.2f} s + "
          f"compile {g['gradient']['compile_s']:.2f} s (first call {g['gradient']['first_call_s']:.2f} s)")
    print(f"load average {result['load_average_before']} -> {result['load_average_after']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
