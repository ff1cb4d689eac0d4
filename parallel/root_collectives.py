"""Host-side collectives shared by the MPI contexts of the plane
(:class:`parallel.mpi.MPIContext`) and the cube
(:class:`parallel.cube_context.MPICubeContext`): anything with ``comm``
(an mpi4py communicator), ``is_root`` and a ``gather(local)`` that returns
the global array on the root rank."""
from __future__ import annotations

import math

import numpy as np

ROOT = 0


class RootCollectives:
    """Reductions and broadcasts through the root rank (not differentiable)."""

    def reproducible_sum(self, local) -> float:
        """Exactly rounded sum over all ranks (gather + math.fsum), same for any N."""
        full = self.gather(np.asarray(local, dtype=np.float64))
        total = math.fsum(full.ravel().tolist()) if self.is_root else None
        return self.comm.bcast(total, root=ROOT)

    def bcast(self, obj):
        """``obj`` from the root rank, on every rank."""
        return self.comm.bcast(obj, root=ROOT)

    def allgather(self, obj) -> list:
        """Every rank's ``obj``, in rank order, on every rank (small objects)."""
        return self.comm.allgather(obj)

    def barrier(self):
        self.comm.Barrier()
