"""Every use of a private API of mpi4jax or JAX, in one place, with a check
of the versions it was written for.

- mpi4jax's ``ordered_effect`` (the effect its MPI primitives carry, so that
  XLA keeps messages in program order), ``wrap_as_hashable`` /
  ``unpack_hashable`` (communicators as primitive parameters) and its
  allreduce primitive with ``transpose=True`` (identity forward, SUM as
  transpose: how a replicated parameter's gradient is summed over ranks);
- JAX's ``effects.remat_allowed_effects`` registry, which lets the MPI
  effect through ``jax.checkpoint``.

Supported: mpi4jax 0.9.x with JAX 0.10.x (the pinned versions). Outside that
range importing this module raises ImportError with one line saying so; set
``DYCORE_SKIP_VERSION_CHECK=1`` to try anyway.
"""
from __future__ import annotations

import os

import jax
import mpi4jax

SUPPORTED = {"mpi4jax": ((0, 9), (0, 10)), "jax": ((0, 10), (0, 11))}
"""Per package, the [lowest, first unsupported) (major, minor) versions."""


def _major_minor(version: str) -> tuple[int, int]:
    parts = version.split(".")
    return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)


def check_versions() -> None:
    """ImportError (one line) if mpi4jax or JAX is outside the supported range."""
    if os.environ.get("DYCORE_SKIP_VERSION_CHECK"):
        return
    for name, module in (("mpi4jax", mpi4jax), ("jax", jax)):
        lo, hi = SUPPORTED[name]
        have = _major_minor(module.__version__)
        if not lo <= have < hi:
            raise ImportError(
                f"parallel: {name} {module.__version__} is not supported (this code uses its "
                f"private API as of {name} {lo[0]}.{lo[1]}.x; install that version, e.g. with "
                f"`make setup`, or set DYCORE_SKIP_VERSION_CHECK=1 to try anyway)")


check_versions()

from jax._src import effects as _jax_effects  # noqa: E402
from mpi4jax._src.collective_ops.allreduce import mpi_allreduce_p  # noqa: E402
from mpi4jax._src.utils import (OrderedMPIEffect, ordered_effect,  # noqa: E402
                                unpack_hashable, wrap_as_hashable)


def allow_mpi_in_checkpoint() -> None:
    """Register mpi4jax's ordered effect as allowed inside ``jax.checkpoint``.

    Without it, ``jax.grad`` through a checkpointed (rematerialised) function
    that exchanges halos fails with "Effects not supported in partial-eval
    of checkpoint/remat". Recomputing a forward segment in the backward pass
    repeats its messages, which is safe because every rank recomputes the
    same segments in the same order.
    """
    _jax_effects.remat_allowed_effects.add_type(OrderedMPIEffect)


def transposed_allreduce_sum(x, comm, sum_op):
    """Identity on ``x``; its transpose is an allreduce SUM over ``comm``."""
    return mpi_allreduce_p.bind(x, op=wrap_as_hashable(sum_op), comm=wrap_as_hashable(comm),
                                transpose=True)


__all__ = ["allow_mpi_in_checkpoint", "check_versions", "ordered_effect", "unpack_hashable",
           "wrap_as_hashable", "transposed_allreduce_sum"]
