"""Profile the compiled JAX time step on one process (issue #5).

    python -m benchmarks.profile_step --nx 1024 --ny 1024 [--scheme muscl|weno5z]
           [--dtype float64|float32] [--steps 4] [--repeats 5] [--parts]
           [--dump-hlo DIR] [--case unstable_jet] [--kernels N]

Builds a :class:`dycore.Simulation` for the case on an nx x ny grid (one
process, the whole domain) and reports, for ``sim.run(state, S, params)``
(a jitted ``lax.scan`` of S SSP-RK steps with the CFL time step):

- the median wall time of ``--repeats`` calls (compilation excluded, each
  call ended with ``block_until_ready``), as ms per step per million cells;
- the optimized HLO of one step (``jax.jit(step).lower(...).compile()``):
  the number of fusions (XLA:CPU kernels) and of other top-level
  instructions in the entry computation and in the scan body;
- XLA's ``cost_analysis()`` of that compiled step: flops and bytes accessed
  per cell per step (XLA's own estimate: every operand and result of every
  fusion counted once, so it is the memory traffic if nothing stays in cache).

``--parts`` also times the pieces of one tendency evaluation at the same size
(halo fill, whole right-hand side, the x and y sweeps, the reconstruction
of one field, the Riemann solver on one set of face states), each jitted on
its own, so their sum can be compared with the whole. ``--dump-hlo DIR``
writes the optimized HLO text of the step and the rhs there. ``--kernels N``
traces 5 calls of the compiled rhs with ``jax.profiler`` and prints the N
XLA:CPU kernels (fusions) that took the most time, summed over the XLA
threads, per call, with their output shapes.

The XLA flags in effect (``XLA_FLAGS``; ``dycore.runtime.configure()`` caps the ISA at
AVX unless an ``--xla_cpu_max_isa`` is given) are printed with the results,
so set e.g. ``XLA_FLAGS=--xla_cpu_max_isa=AVX512`` to compare ISAs.

Exit status: 0 done, 2 bad arguments (one line on stderr).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

PROG = "profile_step"


class UsageError(Exception):
    """Bad command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_args(argv):
    p = _Parser(prog=PROG, description="profile the compiled JAX step")
    p.add_argument("--nx", type=int, default=512)
    p.add_argument("--ny", type=int, default=512)
    p.add_argument("--scheme", default="muscl", choices=("muscl", "weno5z"))
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--case", default="unstable_jet")
    p.add_argument("--steps", type=int, default=4, help="steps per timed call (scan length)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--parts", action="store_true", help="also time the pieces of the rhs")
    p.add_argument("--dump-hlo", metavar="DIR")
    p.add_argument("--kernels", type=int, default=0, metavar="N",
                   help="print the N most expensive kernels of one rhs (profiler trace)")
    args = p.parse_args(argv)
    if args.nx < 8 or args.ny < 8 or args.steps < 1 or args.repeats < 1 or args.kernels < 0:
        raise UsageError("--nx/--ny must be >= 8, --steps and --repeats >= 1, --kernels >= 0")
    return args


def timed(fn, *args, repeats: int):
    """(median wall, min wall, median CPU) time in s of fn(*args) over repeats.

    One untimed call first. The CPU time is this process's (all XLA threads);
    on a machine shared with other jobs it is the steadier measure of the work.
    """
    import jax

    jax.block_until_ready(fn(*args))
    times, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), min(times), statistics.median(cpu)


_FUSION = re.compile(r"^\s*(ROOT\s+)?\S+\s*=\s*\S+\s+fusion\(", re.M)


def hlo_counts(text: str) -> dict:
    """Counts of fusions and other top-level ops in an optimized HLO module."""
    computations = re.split(r"\n(?=\S)", text)
    n_fusion_calls = len(_FUSION.findall(text))
    n_fused_computations = sum(1 for c in computations if c.lstrip().startswith("%fused")
                               or c.lstrip().startswith("fused"))
    ops = {}
    for name in ("copy", "concatenate", "slice", "pad", "dynamic-update-slice", "reduce",
                 "while", "call", "custom-call", "transpose", "select"):
        ops[name] = len(re.findall(rf"=\s*\S+\s+{name}\(", text))
    return {"fusion_calls": n_fusion_calls, "fused_computations": n_fused_computations,
            **ops}


def cost_per_cell(compiled, n_cells: int) -> dict:
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else {}
    cost = cost or {}
    return {"flops_per_cell": cost.get("flops", float("nan")) / n_cells,
            "transcendentals_per_cell": cost.get("transcendentals", float("nan")) / n_cells,
            "bytes_per_cell": cost.get("bytes accessed", float("nan")) / n_cells}


def kernel_times(compiled, args_, calls: int = 5):
    """{kernel name: seconds per call, summed over threads} from a profiler trace."""
    import collections
    import glob
    import tempfile

    import jax
    from jax.profiler import ProfileData

    jax.block_until_ready(compiled(*args_))
    with tempfile.TemporaryDirectory() as d:
        with jax.profiler.trace(d):
            for _ in range(calls):
                jax.block_until_ready(compiled(*args_))
        data = ProfileData.from_file(glob.glob(f"{d}/**/*.xplane.pb", recursive=True)[0])
        total = collections.Counter()
        for plane in data.planes:
            for line in plane.lines:
                if "XLA" not in line.name:          # the XLA:CPU executor threads
                    continue
                for event in line.events:
                    if "Thunk" not in event.name:   # executor bookkeeping, not a kernel
                        total[event.name] += event.duration_ns * 1e-9 / calls
    return total


def main(argv=None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp

    from dycore import Config, ConfigError, Simulation, runtime
    runtime.configure()  # float64, bit-for-bit XLA:CPU setting
    from dycore.equations.shallow_water import FIELDS

    try:
        sim = Simulation(Config(case=args.case, nx=args.nx, ny=args.ny, scheme=args.scheme,
                                dtype=args.dtype))
    except (ConfigError, ValueError) as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    mcells = args.nx * args.ny / 1e6
    state, params = sim.initial_state(), sim.params
    print(f"grid {args.nx}x{args.ny} scheme {args.scheme} riemann {sim.config.riemann} "
          f"{sim.config.time_stepper} dtype {args.dtype} case {args.case}")
    print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} jax {jax.__version__} "
          f"load {os.getloadavg()[0]:.2f}")

    # --- the whole run: S steps in one lax.scan -------------------------
    run = jax.jit(lambda s, p: sim._run(s, args.steps, p))
    t0 = time.perf_counter()
    compiled_run = run.lower(state, params).compile()
    compile_s = time.perf_counter() - t0
    med, best, cpu = timed(compiled_run, state, params, repeats=args.repeats)
    per = 1e3 / args.steps / mcells
    print(f"run: {args.steps} steps/call, median {med * 1e3:.1f} ms/call; "
          f"{med * per:.1f} ms/step/Mcell (min {best * per:.1f}, CPU time {cpu * per:.1f}), "
          f"{args.nx * args.ny * args.steps / med:.3g} cell-steps/s; compile {compile_s:.1f} s")

    # --- one step: HLO and cost analysis ---------------------------------
    step = jax.jit(lambda s, p: sim.step(s, p))
    compiled_step = step.lower(state, params).compile()
    step_text = compiled_step.as_text()
    counts = hlo_counts(step_text)
    cost = cost_per_cell(compiled_step, args.nx * args.ny)
    print("step HLO: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    print(f"step cost_analysis: {cost['flops_per_cell']:.0f} flops/cell, "
          f"{cost['transcendentals_per_cell']:.1f} transcendentals/cell, "
          f"{cost['bytes_per_cell']:.0f} bytes/cell")
    run_counts = hlo_counts(compiled_run.as_text())
    print("run HLO: " + ", ".join(f"{k} {v}" for k, v in run_counts.items() if v))

    rhs = jax.jit(lambda s, p: sim.rhs(s, p))
    compiled_rhs = rhs.lower(state, params).compile()
    rhs_text = compiled_rhs.as_text()
    rc = cost_per_cell(compiled_rhs, args.nx * args.ny)
    print("rhs HLO: " + ", ".join(f"{k} {v}" for k, v in hlo_counts(rhs_text).items() if v))
    print(f"rhs cost_analysis: {rc['flops_per_cell']:.0f} flops/cell, "
          f"{rc['bytes_per_cell']:.0f} bytes/cell")
    if args.dump_hlo:
        os.makedirs(args.dump_hlo, exist_ok=True)
        for name, text in (("step", step_text), ("rhs", rhs_text),
                           ("run", compiled_run.as_text())):
            with open(os.path.join(args.dump_hlo, f"{name}.hlo.txt"), "w") as fh:
                fh.write(text)
        print(f"HLO written to {args.dump_hlo}/{{step,rhs,run}}.hlo.txt")

    if args.kernels:
        shapes = {m.group(1): m.group(2)
                  for m in re.finditer(r"%(\S+) = (\S+\[[\d,]*\])", rhs_text)}
        times = kernel_times(compiled_rhs, (state, params))
        print(f"rhs kernels (profiler, summed over threads, per call): "
              f"{sum(times.values()) * 1e3:.2f} ms in {len(times)} kernels")
        for name, sec in times.most_common(args.kernels):
            print(f"  kernel {name:40s} {shapes.get(name, ''):22s} {sec * 1e3:8.2f} ms")

    if args.parts:
        model, H = sim.model, sim.halo
        nx, ny = args.nx, args.ny
        fill = jax.jit(lambda s: sim.fill((s.h, s.hu, s.hv), FIELDS))
        padded = fill(state)
        b_pad = sim.pad_bed(params)
        h, hu, hv = padded
        eta = h + b_pad
        wet = h > model.dry_tolerance
        u = jnp.where(wet, hu / jnp.where(wet, h, 1.0), 0.0)
        v = jnp.where(wet, hv / jnp.where(wet, h, 1.0), 0.0)
        rows = slice(H, H + ny)
        xs = tuple(q[rows, :] for q in (h, eta, u, v))
        ys = tuple(q[:, H:H + nx] for q in (h, eta, v, u))
        rec = model.reconstruction
        one = jnp.ones((), state.h.dtype)   # the run-time 1 of shallow_water.keep
        sweep_x = jax.jit(lambda a, b, c, d, g, o: model._sweep(a, b, c, d, nx, -1, model.dx, g, o))
        sweep_y = jax.jit(lambda a, b, c, d, g, o: model._sweep(a, b, c, d, ny, -2, model.dy, g, o))
        recon = jax.jit(lambda q: rec(q, nx, -1))
        m, p_ = recon(xs[0])
        hl, hr = p_[:, :-1], m[:, 1:]
        ul, ur = recon(xs[2])[1][:, :-1], recon(xs[2])[0][:, 1:]
        vl, vr = recon(xs[3])[1][:, :-1], recon(xs[3])[0][:, 1:]
        riemann = jax.jit(model.riemann)
        rows_out = []
        for name, fn, fargs in (
                ("halo fill (h, hu, hv)", fill, (state,)),
                ("rhs (fill + tendency)", compiled_rhs, (state, params)),
                ("x sweep", sweep_x, xs + (params.g, one)),
                ("y sweep", sweep_y, ys + (params.g, one)),
                ("reconstruct 1 field (x)", recon, (xs[0],)),
                ("riemann on x faces", riemann, (hl, ul, vl, hr, ur, vr, params.g))):
            med, _, cpu = timed(fn, *fargs, repeats=args.repeats)
            rows_out.append((name, med, cpu))
        for name, med, cpu in rows_out:
            print(f"  part {name:28s} {med * 1e3:8.2f} ms (CPU {cpu * 1e3:8.2f} ms) "
                  f"{med / mcells * 1e3:8.1f} ms/Mcell")
    print(f"load after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
