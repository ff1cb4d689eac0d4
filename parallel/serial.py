"""The single-process context: one tile covering the whole grid, physical
boundaries or local periodic wrap on every side, reductions that are plain
local operations. Imports no MPI, so a run without mpirun needs none."""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from parallel.decomposition import Decomposition
from parallel.halo import make_halo_filler
from parallel.topology import Box, CartesianTopology


class SerialContext:
    """Context for a run on one process (see :mod:`parallel`).

    grid: the global grid, anything with ``nx`` and ``ny`` (cells)
    """

    rank = 0
    size = 1
    is_root = True
    procs = (1, 1)

    def __init__(self, grid, halo: int):
        self.grid = grid
        self.tile = Box(0, 0, grid.nx, grid.ny)
        self.halo = halo

    def halo_filler(self, boundaries, halo: int, topology=None):
        """``fill(fields, kinds)`` (:mod:`parallel.halo`); the Cartesian
        topology of ``boundaries`` unless a one-rank ``topology`` is given."""
        if topology is None:
            decomposition = Decomposition(self.grid, (1, 1), halo,
                                          periodic_x=boundaries.periodic(-1),
                                          periodic_y=boundaries.periodic(-2))
            topology = CartesianTopology(decomposition, boundaries)
        return make_halo_filler(topology, 0, halo)

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

    def allgather(self, obj) -> list:
        return [obj]

    def barrier(self):
        pass
