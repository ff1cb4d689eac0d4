"""Physical boundary conditions as halo (ghost-cell) fills.

A halo filler is any function ``fill(fields, parities) -> padded_fields``
taking a tuple of interior arrays of shape (ny, nx) and returning them with
``halo`` ghost cells on every side, shape (ny + 2 halo, nx + 2 halo). The
numerics receive the filler and never know whether a side is a neighbouring
process or a physical boundary (communication is a boundary condition).

``parities[k] = (sign_x, sign_y)`` gives how field k behaves under a mirror:
-1 for the momentum component normal to that wall (hu at west/east walls,
hv at south/north walls), +1 for scalars.

Boundary kinds per side:
- ``periodic``: the ghosts hold the cells from the opposite end of the domain;
- ``wall``: free-slip reflective wall; ghosts mirror the interior across the
  face, normal momentum negated (zero normal mass flux, Toro 2001, sec. 5.4);
- ``open``: zero-gradient outflow; ghosts copy the edge cell.

Fills are done x first on interior rows, then y over the full padded width,
so corners are filled too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import jax.numpy as jnp
from jax import lax

BOUNDARY_KINDS = ("periodic", "wall", "open")

SCALAR = (1, 1)
X_MOMENTUM = (-1, 1)
Y_MOMENTUM = (1, -1)

HaloFiller = Callable[[Sequence, Sequence], tuple]


@dataclass(frozen=True)
class Boundaries:
    """Boundary kind on each side of the global domain."""

    west: str = "periodic"
    east: str = "periodic"
    south: str = "periodic"
    north: str = "periodic"

    def side(self, axis: int, end: str) -> str:
        """Kind at ``end`` ('lo' or 'hi') of ``axis`` (-1: x, -2: y)."""
        if axis in (-1, 1):
            return self.west if end == "lo" else self.east
        return self.south if end == "lo" else self.north

    def periodic(self, axis: int) -> bool:
        return self.side(axis, "lo") == "periodic"


def _take(q, start: int, stop: int, axis: int):
    return lax.slice_in_dim(q, start, stop, axis=axis)


def physical_ghosts(q, halo: int, axis: int, end: str, kind: str, sign: int):
    """The ``halo``-wide ghost strip beyond the ``end`` side of ``q`` along ``axis``.

    ``kind`` is 'wall' or 'open' (or 'periodic', valid only when ``q`` spans
    the whole periodic axis). Returned strips are ordered as they sit in the
    padded array (outermost ghost first on the 'lo' side).
    """
    n = q.shape[axis]
    if kind == "periodic":
        return _take(q, n - halo, n, axis) if end == "lo" else _take(q, 0, halo, axis)
    if kind == "open":
        edge = _take(q, 0, 1, axis) if end == "lo" else _take(q, n - 1, n, axis)
        reps = [1] * q.ndim
        reps[axis] = halo
        return jnp.tile(edge, reps)
    if kind == "wall":
        inner = _take(q, 0, halo, axis) if end == "lo" else _take(q, n - halo, n, axis)
        mirrored = jnp.flip(inner, axis=axis)
        return mirrored if sign == 1 else -mirrored
    raise ValueError(f"unknown boundary kind {kind!r}; valid: {', '.join(BOUNDARY_KINDS)}")


def pad_physical(q, halo: int, axis: int, boundaries: Boundaries, sign: int):
    """Pad ``q`` along ``axis`` using the physical boundary kinds of both ends."""
    lo = physical_ghosts(q, halo, axis, "lo", boundaries.side(axis, "lo"), sign)
    hi = physical_ghosts(q, halo, axis, "hi", boundaries.side(axis, "hi"), sign)
    return jnp.concatenate([lo, q, hi], axis=axis)


def serial_halo_filler(boundaries: Boundaries, halo: int) -> HaloFiller:
    """A halo filler for a single process owning the whole domain (no MPI)."""

    def fill(fields, parities):
        out = []
        for q, (sign_x, sign_y) in zip(fields, parities):
            q = pad_physical(q, halo, -1, boundaries, sign_x)
            q = pad_physical(q, halo, -2, boundaries, sign_y)
            out.append(q)
        return tuple(out)

    return fill
