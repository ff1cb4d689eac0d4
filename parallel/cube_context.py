"""The parallel context of a cubed sphere: which tiles of the six faces this
process holds, their halo fill, and the reductions over all of them.

Two layouts, one interface. Local fields are stacked over the tiles this
process holds, (T, ny, nx):

- one process (no mpirun, or a communicator of one rank): all six faces,
  T = 6, tiles of N x N; the halo fill is a single gather from a table made
  by applying the cube's halo exchange (:func:`parallel.halo.make_multi_tile_filler`)
  to the cells' own indices (its transpose, a scatter-add, is its adjoint);
- 6 P^2 ranks: each face split into P x P tiles (:class:`parallel.cube.CubeTopology`),
  one per rank, T = 1; the halo fill is :func:`parallel.halo.make_halo_filler`
  with one packed message per neighbouring rank per phase, through the
  differentiable exchange primitive of :mod:`parallel.messages`.

Both fills copy the same cells, so a tile's padded fields equal the
single-process ones bit for bit. Reductions: ``global_max`` (CFL; exact in
any order) and the differentiable ``global_sum``; ``reproducible_sum``
gathers to the root and sums with :func:`math.fsum` (exactly rounded, hence
identical for every rank count). Any other rank count is refused with a
one-line :class:`parallel.errors.DecompositionError` naming the valid counts
near it (:func:`cube_tiles_per_edge`).
"""
from __future__ import annotations

import math

import numpy as np

from parallel.cube import CubeTopology
from parallel.errors import DecompositionError
from parallel.ghosts import SCALAR
from parallel.halo import make_halo_filler, make_multi_tile_filler
from parallel.root_collectives import RootCollectives

ROOT = 0


def valid_cube_counts(upto: int) -> list[int]:
    """Rank counts a cube can use up to ``upto``: 1 and 6 P^2."""
    counts, p = [1], 1
    while 6 * p * p <= upto:
        counts.append(6 * p * p)
        p += 1
    return counts


def cube_tiles_per_edge(n_ranks: int, n: int, halo: int) -> int:
    """P for ``n_ranks`` = 6 P^2 (0 for one process holding all six faces);
    DecompositionError (one line) when the count does not fit the cube or
    gives tiles narrower than the halo."""
    if n_ranks == 1:
        return 0
    p = math.isqrt(n_ranks // 6) if n_ranks >= 6 else 0
    if n_ranks < 6 or 6 * p * p != n_ranks:
        below = [c for c in valid_cube_counts(n_ranks) if c < n_ranks][-1:]
        above = [c for c in valid_cube_counts(6 * (math.isqrt(n_ranks // 6) + 1) ** 2)
                 if c > n_ranks][:1]
        raise DecompositionError(
            f"{n_ranks} MPI ranks do not fit the cubed sphere: it needs 1 or 6 x P x P ranks "
            f"(P tiles along each face edge); nearest valid counts: "
            f"{', '.join(str(c) for c in below + above)}", key="procs")
    if n // p < halo:
        most = 6 * (n // halo) ** 2
        raise DecompositionError(
            f"config key 'nx': {n} cells per face edge over {p} x {p} tiles per face give tiles "
            f"narrower than the halo of {halo}; use at most {most} ranks or more cells",
            key="nx")
    return p


def _fill_table(topology, n: int, halo: int) -> np.ndarray:
    """The flat index (into the (6, N, N) fields) of the cell each entry of
    the padded (6, N + 2H, N + 2H) arrays copies (exact in float64)."""
    import jax.numpy as jnp

    fill = make_multi_tile_filler(topology, range(6), halo)
    ids = np.arange(6 * n * n, dtype=np.float64).reshape(6, n, n)
    out = fill({r: [jnp.asarray(ids[r], jnp.float64)] for r in range(6)}, [SCALAR])
    return np.stack([np.asarray(out[r][0]) for r in range(6)]).astype(np.int64)


class _Base:
    """What both layouts share; ``boxes`` are the tiles held, in stack order."""

    def __init__(self, n: int, halo: int, p: int):
        self.n, self.halo = int(n), int(halo)
        self.topology = CubeTopology(self.n, max(p, 1), max(p, 1), self.halo)
        self.tiles_per_edge = max(p, 1)

    def take(self, global_field):
        """This process's tiles (T, ..., ny, nx) of a global (6, ..., N, N) array."""
        a = np.asarray(global_field)
        return np.stack([a[b.face][..., b.y_slice, b.x_slice] for b in self.boxes])


class SerialCubeContext(_Base):
    """All six faces on one process (see the module docstring)."""

    rank, size, is_root = 0, 1, True

    def __init__(self, n: int, halo: int):
        super().__init__(n, halo, 0)
        self.boxes = [self.topology.box(r) for r in range(6)]
        self._table = None

    def halo_filler(self):
        import jax.numpy as jnp

        if self._table is None:
            self._table = jnp.asarray(_fill_table(self.topology, self.n, self.halo))
        table = self._table
        return lambda fields: tuple(q.reshape(-1)[table] for q in fields)

    def global_sum(self, x):
        import jax.numpy as jnp
        return jnp.sum(x)

    def global_max(self, x):
        import jax.numpy as jnp
        return jnp.max(x)

    def replicate(self, x):
        return x

    def gather(self, local):
        return np.asarray(local)

    def reproducible_sum(self, local) -> float:
        return math.fsum(np.asarray(local, dtype=np.float64).ravel().tolist())

    def bcast(self, obj):
        return obj

    def barrier(self):
        pass


class MPICubeContext(_Base, RootCollectives):
    """One tile of a face per rank of ``comm`` (6 P^2 ranks)."""

    def __init__(self, n: int, halo: int, comm):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.is_root = self.rank == ROOT
        # Deterministic on every rank, so the error is raised everywhere alike.
        super().__init__(n, halo, cube_tiles_per_edge(self.size, n, halo))
        self.boxes = [self.topology.box(self.rank)]
        self._jax_comm = comm.Clone()

    def halo_filler(self):
        from parallel.messages import exchange

        comm = self._jax_comm

        def transport(buffer, partner, tag):
            return exchange(buffer, partner, partner, tag, comm)

        fill = make_halo_filler(self.topology, self.rank, self.halo, transport)

        def fill_tile(fields):
            # The filler takes (ny, nx) arrays: drop and restore the tile axis (T = 1).
            padded = fill([q[0] for q in fields], [SCALAR] * len(fields))
            return tuple(p[None] for p in padded)

        return fill_tile

    def _allreduce(self, x, op):
        import mpi4jax
        return mpi4jax.allreduce(x, op=op, comm=self._jax_comm)

    def global_sum(self, x):
        """Differentiable sum over all cells of all ranks (rounding depends on N)."""
        import jax.numpy as jnp
        from mpi4py import MPI
        return self._allreduce(jnp.sum(x), MPI.SUM)

    def global_max(self, x):
        """Max over all ranks, gradient stopped (no AD rule for MAX); exact."""
        import jax.numpy as jnp
        from jax import lax
        from mpi4py import MPI
        return self._allreduce(lax.stop_gradient(jnp.max(x)), MPI.MAX)

    def replicate(self, x):
        """Identity; its cotangent is summed over ranks (a replicated parameter)."""
        import jax.numpy as jnp
        from mpi4py import MPI

        from parallel.compat import transposed_allreduce_sum
        return transposed_allreduce_sum(jnp.asarray(x), self._jax_comm, MPI.SUM)

    def gather(self, local):
        """The global (6, ..., N, N) array on the root, None elsewhere (collective)."""
        parts = self.comm.gather(np.ascontiguousarray(np.asarray(local)[0]), root=ROOT)
        if not self.is_root:
            return None
        out = np.empty((6,) + parts[0].shape[:-2] + (self.n, self.n), parts[0].dtype)
        for r, part in enumerate(parts):
            b = self.topology.box(r)
            out[b.face][..., b.y_slice, b.x_slice] = part
        return out


def make_cube_context(n: int, halo: int, comm=None):
    """The context of this process for C ``n`` with ``halo`` ghost cells:
    serial (no MPI import) without mpirun and ``comm``, or with one rank."""
    from parallel import launched_with_several_ranks

    if comm is None:
        if not launched_with_several_ranks():
            return SerialCubeContext(n, halo)
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return SerialCubeContext(n, halo)
    return MPICubeContext(n, halo, comm)
