"""What a run will need, checked before anything is allocated or written:
the memory per rank (refused when it exceeds the machine's physical
memory) and the number of output frames and restart files (refused above
:data:`MAX_EVENTS` unless ``--allow-many-frames``).
"""
from __future__ import annotations

import math
import os

import numpy as np

from dycore.config import ConfigError
from dycore.driver.schedule import count_events
from dycore.equations.shallow_water import FIELDS
from dycore.operators.reconstruction import make_reconstruction

MAX_EVENTS = 10 ** 6
"""Most output frames (or restart files) a run may produce without
``--allow-many-frames``."""

ARRAYS_PER_CELL = 32
"""Arrays of the run's dtype per (padded) cell that a run holds at its peak,
besides the set-up: the state, the Runge-Kutta stages, the padded fields,
the reconstructed face values and fluxes of both directions, XLA's
buffers. Measured (peak RSS, float64, unstable jet, 1 rank, driver with
output): 370 bytes per cell in all for MUSCL between 256^2 and 1024^2
cells, more for WENO5-Z; 32 arrays plus :data:`SETUP_ARRAYS` make 336
bytes, on the low side, so that a run that fits is never refused."""
SETUP_ARRAYS = 10
"""float64 arrays per cell of the set-up (the case's initial state, its
coordinates, the copies kept by the Simulation) and of an output frame."""
BASE_BYTES = 256 * 2 ** 20
"""Memory of a process before the grid (Python, JAX, XLA, MPI): about 330 MiB
measured; counted low."""

_LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE")


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def ranks_on_this_node(size: int) -> int:
    """How many of the run's ranks share this machine, as the launcher says (else all)."""
    for var in _LOCAL_SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) >= 1:
            return min(int(value), size)
    return size


def tile_cells(cfg, size: int, halo: int) -> int:
    """Cells of the largest tile with its halo, for ``size`` ranks (on the
    sphere: six faces on one rank, one tile of a face on each of 6 P^2)."""
    from dycore.cases import is_sphere

    if is_sphere(cfg.case):
        p = max(1, math.isqrt(size // 6))
        return (6 if size == 1 else 1) * (math.ceil(cfg.nx / p) + 2 * halo) ** 2
    if cfg.procs is not None:
        px, py = cfg.procs
    elif size == 1:
        px, py = 1, 1
    else:
        from parallel.decomposition import choose_procs
        px, py = choose_procs(size, cfg.nx, cfg.ny, min_cells=halo)
    return (math.ceil(cfg.nx / px) + 2 * halo) * (math.ceil(cfg.ny / py) + 2 * halo)


def memory_needed(cfg, size: int) -> int:
    """Bytes one rank of a run of ``cfg`` (resolved) on ``size`` ranks needs, about."""
    halo = make_reconstruction(cfg.scheme, cfg.limiter).halo
    cells = tile_cells(cfg, size, halo)
    itemsize = np.dtype(cfg.dtype).itemsize
    per_cell = ARRAYS_PER_CELL * itemsize * len(FIELDS) / 3 + SETUP_ARRAYS * 8  # 3 fields measured
    return BASE_BYTES + int(cells * per_cell)


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def check_memory(cfg, size: int) -> None:
    """Bad input: a run whose ranks on this machine would need more memory
    than it has."""
    total = physical_memory()
    if not total:
        return
    per_rank = memory_needed(cfg, size)
    local = ranks_on_this_node(size)
    if per_rank * local <= total:
        return
    # ranks (on machines like this one, one rank each at most) that would fit
    spare = total - BASE_BYTES
    grid_bytes = per_rank - BASE_BYTES
    ranks = math.ceil(grid_bytes * size / spare) if spare > 0 else math.inf
    on = (f" ({_gib(per_rank * local)} for the {local} ranks on this machine)"
          if local > 1 else "")
    from dycore.driver.progress import grid_text

    raise ConfigError(
        f"config keys 'nx'/'ny': a {grid_text(cfg)} grid needs about {_gib(per_rank)} of "
        f"memory per rank{on}, but this machine has "
        f"{_gib(total)}; use more ranks on more machines (about {ranks:.3g} ranks, e.g. "
        f"mpirun -n {ranks:.0f} on machines like this one) or a smaller grid")


def check_events(t_start: float, t_end: float, output_interval, checkpoint_interval,
                 allow: bool) -> None:
    """Bad input: an output or checkpoint interval that would give more than
    :data:`MAX_EVENTS` frames or restart files (unless ``allow``)."""
    if allow:
        return
    for what, key, interval in (("output frames", "config key 'output_interval'",
                                 output_interval),
                                ("restart files", "option --checkpoint-interval",
                                 checkpoint_interval)):
        n = count_events(t_start, t_end, interval)
        if n > MAX_EVENTS:
            raise ConfigError(
                f"{key}: {interval:g} s gives about {n:.3g} {what} between t = {t_start:g} s "
                f"and t_end = {t_end:g} s (more than {MAX_EVENTS}); use a larger interval, "
                f"or pass --allow-many-frames")
