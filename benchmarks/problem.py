"""Problem directories shared by the JAX, NumPy+MPI and Fortran+MPI solvers.

A problem directory (see ``benchmarks/PROTOCOL.md``) holds

- ``problem.nml``: the scheme's parameters as a Fortran namelist ``&problem``
  (reals written with ``repr``, so they round-trip exactly);
- ``initial.bin``: raw little-endian float64 h, hu, hv, b (m, m2/s, m2/s, m),
  each a global (ny, nx) array in C order (x fastest);
- ``config.json``: the resolved dycore :class:`~dycore.Config` it came from
  (with the fixed ``dt``), which the JAX side uses to build its Simulation.

The initial state is the dycore case's initial condition, computed once in
this (serial) process; all implementations start from these exact numbers.

    from benchmarks.problem import write_problem, benchmark_config
    write_problem("/tmp/jet256", benchmark_config(256))
"""
from __future__ import annotations

import json
import os
import pathlib

import numpy as np

# The options the baselines implement (PROTOCOL.md); everything else is
# refused by them with exit status 2.
BASELINE_SCHEME = "muscl"

FIELDS = ("h", "hu", "hv", "b")


def benchmark_config(nx: int, ny: int | None = None, dtype: str = "float64", **changes):
    """The default benchmark problem: the unstable Bickley jet (periodic in x,
    walls in y) on an nx x ny grid over the case's 2000 km square domain,
    MUSCL with the MC limiter, HLLC and SSP-RK3 (the dycore defaults)."""
    from dycore import Config

    values = {"case": "unstable_jet", "nx": int(nx), "ny": int(nx if ny is None else ny),
              "scheme": "muscl", "limiter": "mc", "riemann": "hllc",
              "time_stepper": "ssp_rk3", "dtype": dtype}
    values.update(changes)
    return Config.from_dict(values)


def _simulation(config):
    """A serial Simulation of ``config``, also inside an mpirun-started process."""
    from dycore import Simulation, runtime
    runtime.configure()  # float64, bit-for-bit XLA:CPU setting
    from parallel import launched_with_several_ranks

    if launched_with_several_ranks():
        from mpi4py import MPI

        return Simulation(config, comm=MPI.COMM_SELF)
    return Simulation(config)


def _nml_value(value) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return ".true." if value else ".false."
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def write_problem(directory, config) -> dict:
    """Write problem.nml, initial.bin and config.json of ``config`` into ``directory``.

    config: a :class:`dycore.Config` (or dict of its keys). Its ``dt`` is
            kept when set; otherwise dt = 0.5 x the CFL time step (s) of the
            initial state. Only scheme 'muscl' can be written (the namelist
            has no scheme key); other choices are written as they are and a
            baseline that lacks them refuses the problem.
    Returns the namelist values as a dict.
    """
    from dycore import Config

    if isinstance(config, dict):
        config = Config.from_dict(config)
    # The baselines limit every slope (no small-variation threshold): the
    # problem written, and its JAX reference, has slope_threshold = 0.
    cfg = config.resolved().replace(slope_threshold=0.0)
    if cfg.scheme != BASELINE_SCHEME:
        raise ValueError(f"the baselines implement only scheme {BASELINE_SCHEME!r}, "
                         f"got {cfg.scheme!r}")
    # The initial state is always computed in float64 (initial.bin is float64).
    sim = _simulation(cfg.replace(dtype="float64", procs=None, output=None))
    state = sim.initial_state()
    if cfg.dt is None:
        dt = 0.5 * float(sim.stable_dt(state))
        cfg = cfg.replace(dt=dt)
    grid = sim.grid
    values = {
        "nx": grid.nx, "ny": grid.ny, "dx": grid.dx, "dy": grid.dy,
        "y0": grid.y0, "ly": grid.ly, "g": cfg.g, "f0": cfg.f0, "beta": cfg.beta,
        "drag_linear": cfg.drag_linear, "drag_quadratic": cfg.drag_quadratic,
        "dry_tolerance": cfg.dry_tolerance, "dt": float(cfg.dt),
        "limiter": cfg.limiter, "riemann": cfg.riemann, "time_stepper": cfg.time_stepper,
        "bc_west": cfg.bc_west, "bc_east": cfg.bc_east,
        "bc_south": cfg.bc_south, "bc_north": cfg.bc_north,
    }
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["&problem"] + [f"  {k} = {_nml_value(v)}" for k, v in values.items()] + ["/"]
    (out / "problem.nml").write_text("\n".join(lines) + "\n")
    with open(out / "initial.bin", "wb") as fh:
        for q in (state.h, state.hu, state.hv, sim.params.b):
            np.ascontiguousarray(np.asarray(q), dtype="<f8").tofile(fh)
    saved = cfg.replace(procs=None, output=None, output_interval=None).to_dict()
    (out / "config.json").write_text(json.dumps(saved, indent=1) + "\n")
    return values


def read_namelist(path) -> dict:
    """The ``key = value`` pairs of a simple one-group namelist file (as written here)."""
    values = {}
    for raw in pathlib.Path(path).read_text().splitlines():
        line = raw.split("!")[0].strip().rstrip(",")
        if not line or line.startswith("&") or line == "/":
            continue
        key, _, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        if value[:1] in ("'", '"'):
            values[key] = value[1:-1]
        elif value.lower() in (".true.", ".false."):
            values[key] = value.lower() == ".true."
        else:
            try:
                values[key] = int(value)
            except ValueError:
                values[key] = float(value.replace("d", "e").replace("D", "e"))
    return values


def read_fields(path, nx: int, ny: int, count: int = 4, mmap: bool = False) -> np.ndarray:
    """``count`` global float64 (ny, nx) arrays stored one after the other in
    ``path`` (initial.bin: h, hu, hv, b; a --final file: h, hu, hv), shape
    (count, ny, nx). With ``mmap`` the file is mapped, not read."""
    expected = count * nx * ny * 8
    size = os.path.getsize(path)
    if size != expected:
        raise ValueError(f"{path}: {size} bytes, expected {expected} "
                         f"({count} float64 arrays of {ny} x {nx})")
    if mmap:
        return np.memmap(path, dtype="<f8", mode="r", shape=(count, ny, nx))
    return np.fromfile(path, dtype="<f8").reshape(count, ny, nx)
