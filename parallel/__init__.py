"""Everything that knows about MPI: topology, halo exchange, reductions.

A generic layer: it knows nothing about the equations solved on top of it
and imports nothing from ``dycore``. The numerics receive a *context* from
here and never import mpi4py or mpi4jax. A context provides, for the
calling process:

- ``tile``: the :class:`parallel.topology.Box` of cells this rank owns;
- ``rank``, ``size``, ``is_root``;
- ``halo_filler(boundaries, halo, topology=None)``: a function
  ``fill(fields, kinds)`` that pads interior arrays with ``halo`` ghost
  cells (neighbour exchange or physical boundary, whichever applies to each
  side; ``kinds`` says which fields are vector components,
  :mod:`parallel.ghosts`);
- ``global_sum(x)``: differentiable sum of a local array over all cells of
  all ranks; ``global_max(x)`` and ``global_min(x)``: max/min over ranks;
- ``replicate(x)``: marks ``x`` as one value held by every rank (a
  parameter): identity in value and tangent, and its cotangent is summed
  over ranks, so ``jax.grad`` returns the full gradient on every rank;
- ``gather(local)``: the global numpy array on the root rank (None elsewhere);
- ``scatter(global_array)``: this rank's tile of an array given on the root;
- ``reproducible_sum(local)``: a float, identical for every rank count;
- ``bcast(obj)``, ``allgather(obj)`` and ``barrier()`` for the driver.

:func:`make_context` picks the serial context (no MPI import at all) when
there is one process and no communicator was given, and the MPI context
otherwise. Errors are :class:`parallel.errors.DecompositionError`.
"""
from __future__ import annotations

import os

from parallel.errors import DecompositionError
from parallel.serial import SerialContext


def launched_with_several_ranks() -> bool:
    """True when an MPI launcher started this process as one of several ranks."""
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"):
        value = os.environ.get(var)
        if value is not None and value.isdigit() and int(value) > 1:
            return True
    return False


def world_duplicate():
    """A private duplicate of MPI_COMM_WORLD when an MPI launcher started
    several ranks, else None (and mpi4py is not imported). The driver uses it
    for its agreements (stop requests, errors, exits), so that these messages
    can never match a collective of the numerics or the I/O that some rank is
    still in."""
    if not launched_with_several_ranks():
        return None
    from mpi4py import MPI

    return MPI.COMM_WORLD.Dup()


def make_context(grid, halo: int, procs=None, comm=None):
    """The parallel context for this process (see the module docstring).

    grid: the global grid, anything with ``nx`` and ``ny`` (cells)
    """
    if comm is None and not launched_with_several_ranks():
        if procs is not None and tuple(procs) != (1, 1):
            raise DecompositionError(
                f"config key 'procs': {procs[0]}x{procs[1]} process grid needs "
                f"{procs[0] * procs[1]} MPI ranks, but this is a single process (start it "
                f"with mpirun -n {procs[0] * procs[1]})", key="procs")
        return SerialContext(grid, halo)
    # Imported here: a serial run never loads mpi4py or mpi4jax.
    from parallel.mpi import MPIContext

    return MPIContext(grid, halo, procs=procs, comm=comm)


__all__ = ["DecompositionError", "SerialContext", "launched_with_several_ranks", "make_context",
           "world_duplicate"]
