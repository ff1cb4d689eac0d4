"""The MPI context: this rank's tile of a 2D Cartesian process grid, halo
exchange through mpi4jax, global reductions, and gather/scatter of numpy
arrays through mpi4py (see :mod:`parallel` for the interface).

Two communicators are used: ``comm`` (the one given, default
``MPI.COMM_WORLD``) for the mpi4py calls of the driver (gather, scatter,
bcast, barrier), and a private clone of it for the mpi4jax operations inside
compiled code, so that messages of the two never match each other.

Reductions:
- :meth:`global_sum` is an ``allreduce(SUM)`` of the local sums, differentiable
  (its transpose is the identity on every rank); its rounding depends on the
  partition, so use it for losses, not for printed diagnostics;
- :meth:`replicate` is the adjoint partner of that sum: the identity on a
  value every rank holds (a physical parameter, network weights), whose
  cotangent is ``allreduce(SUM)``-ed, so the gradient of a replicated
  parameter is the global gradient on every rank. mpi4jax implements exactly
  this as the transposed form of its allreduce primitive (``transpose=True``:
  identity forward, tangent mapped alike, transpose an allreduce SUM), which
  is used here through :mod:`parallel.compat` (the one home of private APIs);
- :meth:`global_max`/:meth:`global_min` (for the CFL time step) stop the
  gradient of their argument, because mpi4jax has no AD rule for MAX/MIN;
- :meth:`reproducible_sum` gathers the values to the root and sums them with
  :func:`math.fsum` (exactly rounded), so it is identical for any rank count.

On a communicator of one rank the reductions are local and the halo filler
posts no message at all.

Importing this module also lets mpi4jax's ordered effect through
``jax.checkpoint`` (:func:`parallel.compat.allow_mpi_in_checkpoint`), which
checkpointed reverse-mode runs need.
"""
from __future__ import annotations


import jax.numpy as jnp
import numpy as np
from jax import lax
from mpi4py import MPI

from parallel.compat import allow_mpi_in_checkpoint, transposed_allreduce_sum
from parallel.decomposition import Decomposition
from parallel.halo import make_halo_filler
from parallel.messages import exchange
from parallel.root_collectives import RootCollectives
from parallel.topology import CartesianTopology

ROOT = 0

allow_mpi_in_checkpoint()


class MPIContext(RootCollectives):
    """Context for this rank of ``comm`` (see :mod:`parallel`).

    grid:  the global grid, anything with ``nx`` and ``ny`` (cells)
    halo:  ghost-cell width of the scheme (cells)
    procs: (PX, PY) process grid, or None to choose one from the rank count
    comm:  an mpi4py intracommunicator, None for ``MPI.COMM_WORLD``
    """

    def __init__(self, grid, halo: int, procs=None, comm=None):
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.grid = grid
        self.halo = int(halo)
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.is_root = self.rank == ROOT
        # Deterministic on every rank, so a ConfigError is raised everywhere alike.
        self.decomposition = Decomposition.for_ranks(grid, self.size, self.halo, procs)
        self.procs = self.decomposition.procs
        self.tile = self.decomposition.tile(self.rank)
        self._jax_comm = self.comm.Clone() if self.size > 1 else None

    # ------------------------------------------------------------ halo
    def halo_filler(self, boundaries, halo: int, topology=None):
        """``fill(fields, kinds)`` for this rank (see :mod:`parallel.halo`), on
        the Cartesian topology of ``boundaries`` unless ``topology`` is given."""
        if topology is None:
            decomposition = Decomposition(self.grid, self.procs, halo,
                                          periodic_x=boundaries.periodic(-1),
                                          periodic_y=boundaries.periodic(-2))
            topology = CartesianTopology(decomposition, boundaries)
        comm = self._jax_comm

        def transport(buffer, partner, tag):
            return exchange(buffer, partner, partner, tag, comm)

        return make_halo_filler(topology, self.rank, halo, transport)

    # ------------------------------------------------------------ reductions (jax)
    def _allreduce(self, x, op):
        import mpi4jax

        return mpi4jax.allreduce(x, op=op, comm=self._jax_comm)

    def global_sum(self, x):
        """Sum of a local array over all cells of all ranks (differentiable)."""
        local = jnp.sum(x)
        return local if self.size == 1 else self._allreduce(local, MPI.SUM)

    def replicate(self, x):
        """``x`` as a value replicated on all ranks: identity, cotangents summed over ranks.

        Apply it where a parameter that every rank holds enters the
        computation; then ``jax.grad`` gives each rank the sum over ranks of
        the local contributions, i.e. the gradient of the global loss.
        """
        if self.size == 1:
            return x
        return transposed_allreduce_sum(jnp.asarray(x), self._jax_comm, MPI.SUM)

    def global_max(self, x):
        """Max over all cells of all ranks; gradient stopped (no AD rule for MAX)."""
        local = lax.stop_gradient(jnp.max(x))
        return local if self.size == 1 else self._allreduce(local, MPI.MAX)

    def global_min(self, x):
        """Min over all cells of all ranks; gradient stopped (no AD rule for MIN)."""
        local = lax.stop_gradient(jnp.min(x))
        return local if self.size == 1 else self._allreduce(local, MPI.MIN)

    # ------------------------------------------------------------ numpy (mpi4py)
    def gather(self, local):
        """The global array on the root rank, None elsewhere (collective).

        ``local`` has shape (..., ny_tile, nx_tile), with the same leading
        shape and dtype on every rank; the result has shape (..., ny, nx).
        """
        local = np.ascontiguousarray(np.asarray(local))
        lead = local.shape[:-2]
        tiles = self.decomposition.tiles()
        counts = [int(np.prod(lead, dtype=np.int64)) * t.nx * t.ny for t in tiles]
        if not self.is_root:
            self.comm.Gatherv(local, None, root=ROOT)
            return None
        flat = np.empty(sum(counts), dtype=local.dtype)
        self.comm.Gatherv(local, [flat, counts], root=ROOT)
        out = np.empty(lead + (self.grid.ny, self.grid.nx), dtype=local.dtype)
        start = 0
        for tile, count in zip(tiles, counts):
            out[..., tile.y_slice, tile.x_slice] = flat[start:start + count].reshape(
                lead + tile.shape)
            start += count
        return out

    def scatter(self, global_array):
        """This rank's tile of an array of shape (..., ny, nx) given on the root."""
        meta = None
        if self.is_root:
            global_array = np.asarray(global_array)
            meta = (global_array.shape[:-2], global_array.dtype.str)
        lead, dtype = self.comm.bcast(meta, root=ROOT)
        tiles = self.decomposition.tiles()
        counts = [int(np.prod(lead, dtype=np.int64)) * t.nx * t.ny for t in tiles]
        local = np.empty(tuple(lead) + self.tile.shape, dtype=np.dtype(dtype))
        if self.is_root:
            flat = np.concatenate([np.ascontiguousarray(t.take(global_array)).ravel()
                                   for t in tiles])
            self.comm.Scatterv([flat, counts], local, root=ROOT)
        else:
            self.comm.Scatterv(None, local, root=ROOT)
        return local


    def __repr__(self) -> str:
        return (f"MPIContext(rank {self.rank} of {self.size}, procs {self.procs[0]}x"
                f"{self.procs[1]}, tile i0={self.tile.i0} j0={self.tile.j0} "
                f"{self.tile.nx}x{self.tile.ny})")
