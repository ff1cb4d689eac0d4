"""The JAX solver under the baseline protocol (``benchmarks/PROTOCOL.md``).

    mpirun -n N python -m benchmarks.jax_bench PROBLEM_DIR --procs PX PY --steps S
           [--warmup W] [--repeats R] [--final FILE] [--precision float64|float32]
           [--device cpu|gpu]

Builds a :class:`dycore.Simulation` from the problem's ``config.json`` with
the fixed ``dt`` of ``problem.nml``, the given process grid and precision,
puts this rank's tile of ``initial.bin`` (h, hu, hv and the bed b) into the
state and parameters, and times ``sim.run(state, S, params)`` (a jitted
``lax.scan`` of S steps). The compilation is excluded: one untimed call of
``run`` with the same S compiles it and serves as the warm-up (so the
warm-up is S steps whatever W is; W = 0 skips nothing but the extra steps
are not timed either way). Each of the R repeats is timed on every rank
between two barriers, until ``block_until_ready``; the repeat's time is the
max over ranks. Rank 0 prints one JSON line.

Devices and XLA flags (set before JAX is imported):
- ``--device cpu`` (default) sets JAX_PLATFORMS=cpu; ``--device gpu`` sets
  CUDA_VISIBLE_DEVICES to the rank's local rank (one rank per GPU);
- ``dycore.runtime.configure()`` caps XLA:CPU at AVX (no FMA: bit-for-bit
  results for every tile shape; see dycore/runtime.py) unless XLA_FLAGS names an ISA
  (the runner's ``jax-avx2`` sets ``--xla_cpu_max_isa=AVX2``). The flags used
  are recorded in the JSON line.

Exit status: 0 done, 2 bad problem or usage (one line on stderr, rank 0).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

from benchmarks.protocol import ProblemError, check_counts, protocol_parser

PROG = "jax_bench"
ROOT = 0
LOCAL_RANK_VARS = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID",
                   "PMI_LOCAL_RANK")


# Bad command line or problem: one line on stderr, exit status 2.
UsageError = ProblemError


def parse_args(argv):
    p = protocol_parser(PROG, "JAX solver under the baseline protocol")
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    args = p.parse_args(argv)
    check_counts(args)
    return args


def local_rank() -> int:
    for var in LOCAL_RANK_VARS:
        value = os.environ.get(var)
        if value is not None and value.isdigit():
            return int(value)
    return 0


def configure_environment(args) -> None:
    """Environment that must be set before jax (and dycore) are imported."""
    if args.device == "gpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", str(local_rank()))
    else:
        os.environ["JAX_PLATFORMS"] = "cpu"


def read_tile(path, nx, ny, tile):
    """(h, hu, hv, b) of ``tile`` from a global initial.bin (float64)."""
    import numpy as np

    expected = 4 * nx * ny * 8
    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    if size != expected:
        raise UsageError(f"{path}: {size} bytes, expected {expected}")
    data = np.memmap(path, dtype="<f8", mode="r", shape=(4, ny, nx))
    return [np.array(tile.take(data[k])) for k in range(4)]


def build(args, comm):
    """(simulation, state, params) for this rank; raises UsageError/ConfigError."""
    import jax.numpy as jnp

    from benchmarks.problem import read_namelist
    from dycore import Config, Simulation, runtime
    runtime.configure()  # float64, bit-for-bit XLA:CPU setting
    from dycore.state import State

    size = comm.Get_size()
    procs = tuple(args.procs) if args.procs else (size, 1)
    if procs[0] * procs[1] != size:
        raise UsageError(f"--procs {procs[0]} {procs[1]} needs {procs[0] * procs[1]} ranks, "
                         f"{size} were started")
    try:
        saved = json.load(open(os.path.join(args.problem, "config.json")))
        nml = read_namelist(os.path.join(args.problem, "problem.nml"))
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read the problem in {args.problem}: {err}") from None
    cfg = Config.from_dict({**saved, "dt": nml["dt"], "dtype": args.precision,
                            "procs": list(procs)})
    if (cfg.nx, cfg.ny) != (nml["nx"], nml["ny"]):
        raise UsageError("config.json and problem.nml disagree on the grid")
    sim = Simulation(cfg, comm=comm if size > 1 else None)
    h, hu, hv, b = read_tile(os.path.join(args.problem, "initial.bin"), cfg.nx, cfg.ny,
                             sim.tile)
    state = State(*(jnp.asarray(q, sim.dtype) for q in (h, hu, hv)))
    params = sim.params.replace(b=jnp.asarray(b, sim.dtype))
    return sim, state, params, procs


def main(argv=None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as err:
        if local_rank() == 0 and os.environ.get("OMPI_COMM_WORLD_RANK", "0") == "0":
            sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    configure_environment(args)
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    import jax
    import numpy as np

    from dycore import ConfigError

    try:
        sim, state, params, procs = build(args, comm)
    except (UsageError, ConfigError) as err:
        if rank == ROOT:
            sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2

    compile_seconds = None
    times = []
    if args.final:
        out = jax.block_until_ready(sim.run(state, args.steps, params))
        fields = sim.gather(out)
        if rank == ROOT:
            np.stack([fields[k] for k in ("h", "hu", "hv")]).astype("<f8").tofile(args.final)
    else:
        comm.Barrier()
        t0 = time.perf_counter()
        state = jax.block_until_ready(sim.run(state, args.steps, params))
        compile_seconds = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        for _ in range(args.repeats):
            comm.Barrier()
            t0 = time.perf_counter()
            state = jax.block_until_ready(sim.run(state, args.steps, params))
            elapsed = time.perf_counter() - t0
            comm.Barrier()
            times.append(comm.allreduce(elapsed, op=MPI.MAX))
        out = state
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rss_all = comm.gather(rss, root=ROOT)
    finite = bool(np.isfinite(np.asarray(out.h)).all())
    if rank == ROOT:
        print(json.dumps({
            "impl": "jax", "ranks": comm.Get_size(), "procs": list(procs),
            "nx": sim.grid.nx, "ny": sim.grid.ny, "precision": args.precision,
            "steps": args.steps, "repeat_seconds": times, "peak_rss_mib": rss_all,
            "first_call_seconds": compile_seconds,
            "device": args.device, "backend": jax.default_backend(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "jax_version": jax.__version__, "finite_on_root": finite}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
