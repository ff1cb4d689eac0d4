"""Halo (ghost-cell) exchange between the tiles of a decomposed grid.

:func:`make_halo_filler` builds a filler with the signature of
:func:`dycore.boundary.serial_halo_filler`: ``fill(fields, parities)`` takes
interior (ny, nx) arrays of this rank's tile and returns them padded by
``halo`` cells on every side. Per direction it does, like the serial filler,
x first on the interior rows and then y over the full padded width, so the
corners come from the diagonal neighbour in two hops. Each side of the tile

- with a neighbouring rank gets that rank's edge cells through an MPI
  sendrecv (:mod:`parallel.messages`: differentiable in both modes);
- at a non-periodic domain edge gets the physical ghosts of
  :func:`dycore.boundary.physical_ghosts` (wall/open, with parity signs);
- in a periodic direction with a single rank along it wraps locally
  (:func:`dycore.boundary.physical_ghosts`), with no MPI traffic at all.

The padded arrays are built as in the serial filler: a zero frame around the
interior (:func:`dycore.boundary.frame`) with the ghost strips written in
place (:func:`dycore.boundary.place`), one pass over memory. The y messages
and y ghosts are made from the x-padded edge rows
(:func:`dycore.boundary.x_padded_edges`): the same numbers as the rows of the
x-padded tile, with the x ghosts (from the x neighbours) in the corners.

Because ghosts are copies of the same numbers the serial filler copies, the
padded tiles equal the corresponding windows of the serially padded global
array bit for bit.

Messages: all fields of one call are stacked into a single buffer per
shift direction (4 sendrecvs per fill on a 2D process grid, 2 with one
rank along an axis, none on one rank). Every rank of an axis with several
ranks posts the same sendrecvs in the same order, with ``MPI.PROC_NULL`` as
partner across a non-periodic edge, so pairings always match and there is
no deadlock, in the forward pass and in the transposed (backward) pass.

Subtleties (each one was a real failure without the measure taken):

- A receive from ``PROC_NULL`` leaves MPI's output buffer unwritten
  (arbitrary contents), and in the backward pass the transposed sendrecv of
  a message that went to ``PROC_NULL`` receives from ``PROC_NULL``;
  :func:`parallel.messages.exchange` returns zeros there, so unwritten data
  never reaches a value or a cotangent.
- A message to ``PROC_NULL`` still carries the real edge cells, not zeros:
  with a constant buffer XLA scheduled the message before the computation
  of the stage it belongs to, where it waited for its partner, and 2 ranks
  took turns computing (measured: 162 instead of 97 ms/step/Mcell).
- An unused sendrecv result gets a symbolic-zero cotangent, which mpi4jax's
  transpose rule cannot bind (TypeError); the ``where`` keeps every result
  used.
- mpi4jax's ``sendrecv`` runs in reverse mode only (``jax.jvp`` raises), so
  messages go through :func:`parallel.messages.exchange`, a primitive whose
  JVP is the same message of the tangent and whose transpose is the message
  sent back: the fill works under ``jax.jvp`` and ``jax.grad`` alike.
- Every rank must run the same sequence of operations around a sendrecv,
  not only the same sendrecvs: under ``jax.vmap`` the position of the batch
  axis in a message buffer follows the operations that built it, and the
  receiver reads the bytes with its own layout. Hence the ``where`` is applied
  on every rank (with a True or False predicate), never only on edge ranks.
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from dycore.boundary import Boundaries, frame, physical_ghosts, place, x_padded_edges

# One tag per shift direction: sends towards the hi/lo neighbour along x/y.
_TAGS = {(-1, "hi"): 11, (-1, "lo"): 12, (-2, "hi"): 21, (-2, "lo"): 22}


def _strip(q, halo: int, axis: int, end: str):
    n = q.shape[axis]
    if end == "lo":
        return lax.slice_in_dim(q, 0, halo, axis=axis)
    return lax.slice_in_dim(q, n - halo, n, axis=axis)


def make_halo_filler(decomposition, rank: int, boundaries: Boundaries, halo: int, comm):
    """A halo filler for ``rank`` of ``decomposition`` exchanging over ``comm``.

    decomposition: a :class:`parallel.decomposition.Decomposition` whose
                   periodicity matches ``boundaries``
    halo:          ghost-cell width (cells); at most the narrowest tile
    comm:          the mpi4py communicator mpi4jax uses (best a private clone)
    """
    neighbours = decomposition.neighbours(rank)
    exchanged_axes = tuple(axis for axis in (-1, -2) if decomposition.parts_along(axis) > 1)
    if exchanged_axes:
        from mpi4py import MPI

        from parallel.messages import exchange

        proc_null = MPI.PROC_NULL

    def shift(strips, source, dest, tag):
        """Send ``strips`` to ``dest``, return what ``source`` sends (both may be None)."""
        # The real strips even towards PROC_NULL (see the module docstring).
        return exchange(jnp.stack(strips), proc_null if source is None else source,
                        proc_null if dest is None else dest, tag, comm)

    def ghosts_along(cores, signs, axis):
        """Per field, the (lo, hi) ghost strips along ``axis`` of ``cores``.

        ``cores``: the interior arrays (x), or their x-padded edge rows
        (y, :func:`dycore.boundary.x_padded_edges`).
        """
        if axis not in exchanged_axes:
            return [tuple(physical_ghosts(c, halo, axis, end, boundaries.side(axis, end), sign)
                          for end in ("lo", "hi")) for c, sign in zip(cores, signs)]
        lo_rank, hi_rank = neighbours.along(axis)
        # Towards hi: my hi strip feeds the lo ghosts of the hi neighbour.
        from_lo = shift([_strip(c, halo, axis, "hi") for c in cores], lo_rank, hi_rank,
                        _TAGS[axis, "hi"])
        from_hi = shift([_strip(c, halo, axis, "lo") for c in cores], hi_rank, lo_rank,
                        _TAGS[axis, "lo"])
        out = []
        for k, (c, sign) in enumerate(zip(cores, signs)):
            ghosts = []
            for end, nbr, got in (("lo", lo_rank, from_lo), ("hi", hi_rank, from_hi)):
                # Computed on every rank (see above); where a neighbour exists
                # it is discarded (for 'periodic' it is a meaningless local wrap).
                kind = boundaries.side(axis, end)
                phys = physical_ghosts(c, halo, axis, end, kind, sign)
                ghosts.append(jnp.where(nbr is not None, got[k], phys))
            out.append(tuple(ghosts))
        return out

    def fill(fields, parities):
        fields = list(fields)
        dtypes = [q.dtype for q in fields]
        common = jnp.result_type(*dtypes)
        fields = [q.astype(common) for q in fields]
        x_ghosts = ghosts_along(fields, [p[0] for p in parities], -1)
        edges = [x_padded_edges(q, lo, hi, halo) for q, (lo, hi) in zip(fields, x_ghosts)]
        y_ghosts = ghosts_along(edges, [p[1] for p in parities], -2)
        out = []
        for q, (xlo, xhi), (ylo, yhi), dt in zip(fields, x_ghosts, y_ghosts, dtypes):
            p = frame(q, halo)
            p = place(place(p, xlo, halo, -1, "lo"), xhi, halo, -1, "hi")
            p = place(place(p, ylo, halo, -2, "lo"), yhi, halo, -2, "hi")
            out.append(p.astype(dt))
        return tuple(out)

    return fill
