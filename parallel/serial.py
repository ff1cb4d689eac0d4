"""The single-process context: one tile covering the whole grid, physical
boundaries on every side, reductions that are plain local operations.
Imports no MPI, so ``python -m dycore.run`` works without mpirun."""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from dycore.boundary import serial_halo_filler
from dycore.config import ConfigError


class SerialContext:
    """Context for a run on one process (see :mod:`parallel`)."""

    rank = 0
    size = 1
    is_root = True
    procs = (1, 1)

    def __init__(self, grid, halo: int):
        self.grid = grid
        self.tile = grid.whole_tile()
        self.halo = halo

    def halo_filler(self, boundaries, halo: int):
        for axis, n, name in ((-1, self.tile.nx, "nx"), (-2, self.tile.ny, "ny")):
            if boundaries.periodic(axis) and n < halo:
                raise ConfigError(f"config key {name!r}: a periodic direction needs at least "
                                  f"{halo} cells for this scheme's halo, got {n}")
        return serial_halo_filler(boundaries, halo)

    def global_sum(self, x):
        return jnp.sum(x)

    def replicate(self, x):
        """Identity: with one rank a replicated value has one copy."""
        return x

    def global_max(self, x):
        return jnp.max(x)

    def global_min(self, x):
        return jnp.min(x)

    def gather(self, local):
        return np.asarray(local)

    def scatter(self, global_array):
        return np.asarray(global_array)

    def reproducible_sum(self, local) -> float:
        """Exactly rounded sum (math.fsum), hence independent of the rank count."""
        return math.fsum(np.asarray(local, dtype=np.float64).ravel().tolist())

    def bcast(self, obj):
        return obj

    def barrier(self):
        pass
