"""Ghost cells at physical boundaries, and the array pieces a halo fill is
built from. Generic: arrays of shape (..., ny, nx), indexed [j, i].

A field's *kind* says how it transforms: a scalar, or component 0 (x, along
the last axis) or 1 (y) of a named vector (:class:`FieldKind`; any object
with ``vector`` and ``component`` attributes will do). At a wall the
component normal to it changes sign; across a rotated tile edge the
components of a vector are permuted and signed (:mod:`parallel.topology`).

Boundary kinds per side of the global domain (:class:`Boundaries`):
- ``periodic``: the ghosts hold the cells from the opposite end;
- ``wall``: the ghosts mirror the interior across the face, the normal
  vector component negated (a free-slip reflective wall: zero normal flux;
  Toro 2001, Shock-Capturing Methods for Free-Surface Shallow Flows, 5.4);
- ``open``: zero-gradient outflow; the ghosts copy the edge cell;
- a *side fill* (any callable, :data:`SideFill`): the caller's own condition.
  It is called as ``fill(side, inner, kinds)`` with ``inner`` the ``halo``
  cells of every field next to ``side`` (:func:`strip`; the y sides get rows
  that span the padded width, as for the other kinds) and returns the ghost
  strips, one per field, shaped like ``inner`` and ordered as they sit in the
  padded array (outermost ghost first on the 'lo' side). All fields of one
  fill come together, so a condition may couple them. Keyword arguments
  given to the halo fill (``fill(fields, kinds, t=...)``) are passed on:
  ``fill(side, inner, kinds, t=...)``.

The padded array is built as a zero frame around the interior with the ghost
strips written in place (``dynamic_update_slice``): one pass over memory on
XLA:CPU, where nested concatenates take two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
from jax import lax

BOUNDARY_KINDS = ("periodic", "wall", "open")
SIDES = ("west", "east", "south", "north")


@dataclass(frozen=True)
class FieldKind:
    """How a field transforms: a scalar (both None) or a vector component."""

    vector: str | None = None
    component: int | None = None

    @property
    def parity(self) -> tuple[int, int]:
        return wall_parity(self)


SCALAR = FieldKind()
X_COMPONENT = FieldKind("vector", 0)
Y_COMPONENT = FieldKind("vector", 1)


SideFill = Callable
"""``fill(side, inner, kinds, **side_args) -> ghosts``: a user-supplied
boundary condition for one side (module docstring)."""


def is_side_fill(kind) -> bool:
    """True for a side fill (a callable) rather than a named boundary kind."""
    return callable(kind)


def wall_parity(kind) -> tuple[int, int]:
    """Signs (x, y) of a field mirrored at a wall normal to x / to y."""
    component = getattr(kind, "component", None)
    if component is None:
        return (1, 1)
    return (-1, 1) if component == 0 else (1, -1)


@dataclass(frozen=True)
class Boundaries:
    """Boundary kind on each side of the global domain: a name of
    :data:`BOUNDARY_KINDS` or a side fill (see the module docstring)."""

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
        kind = self.side(axis, "lo")
        return not is_side_fill(kind) and kind == "periodic"


def side_axis_end(side: str) -> tuple[int, str]:
    """(array axis, 'lo'/'hi') of a side name."""
    return {"west": (-1, "lo"), "east": (-1, "hi"), "south": (-2, "lo"),
            "north": (-2, "hi")}[side]


def strip(q, halo: int, side: str):
    """The ``halo`` cells of ``q`` next to ``side``, in ``q``'s own layout."""
    axis, end = side_axis_end(side)
    n = q.shape[axis]
    if end == "lo":
        return lax.slice_in_dim(q, 0, halo, axis=axis)
    return lax.slice_in_dim(q, n - halo, n, axis=axis)


def physical_ghosts(q, halo: int, axis: int, end: str, kind: str, sign: int):
    """The ``halo``-wide ghost strip beyond the ``end`` side of ``q`` along ``axis``.

    ``kind`` is 'wall' or 'open' (or 'periodic', valid only when ``q`` spans
    the whole periodic axis). Strips are ordered as they sit in the padded
    array (outermost ghost first on the 'lo' side).
    """
    n = q.shape[axis]
    if kind == "periodic":
        return (lax.slice_in_dim(q, n - halo, n, axis=axis) if end == "lo"
                else lax.slice_in_dim(q, 0, halo, axis=axis))
    if kind == "open":
        edge = (lax.slice_in_dim(q, 0, 1, axis=axis) if end == "lo"
                else lax.slice_in_dim(q, n - 1, n, axis=axis))
        reps = [1] * q.ndim
        reps[axis] = halo
        return jnp.tile(edge, reps)
    if kind == "wall":
        inner = (lax.slice_in_dim(q, 0, halo, axis=axis) if end == "lo"
                 else lax.slice_in_dim(q, n - halo, n, axis=axis))
        mirrored = jnp.flip(inner, axis=axis)
        return mirrored if sign == 1 else -mirrored
    raise ValueError(f"unknown boundary kind {kind!r}; valid: {', '.join(BOUNDARY_KINDS)}")


def frame(q, halo: int):
    """``q`` (..., ny, nx) inside a zero frame of ``halo`` cells."""
    zero = jnp.zeros((), q.dtype)
    lead = ((0, 0, 0),) * (q.ndim - 2)
    return lax.pad(q, zero, lead + ((halo, halo, 0), (halo, halo, 0)))


def x_padded_edges(q, west, east, halo: int):
    """The first and last ``halo`` rows of ``q`` extended along x by the x
    ghost strips ``west`` and ``east``: shape (2 halo, nx + 2 halo). The y
    ghosts (corners included) are made of these rows (:func:`edge_rows`), so
    the y fill never reads the array being built and every :func:`place`
    can write in place."""
    def ends(a):
        n = a.shape[-2]
        return jnp.concatenate([lax.slice_in_dim(a, 0, halo, axis=-2),
                                lax.slice_in_dim(a, n - halo, n, axis=-2)], axis=-2)

    return jnp.concatenate([ends(west), ends(q), ends(east)], axis=-1)


def edge_rows(edges, halo: int, end: str):
    """The south ('lo') or north ('hi') half of :func:`x_padded_edges`."""
    return (lax.slice_in_dim(edges, 0, halo, axis=-2) if end == "lo"
            else lax.slice_in_dim(edges, halo, 2 * halo, axis=-2))


def y_extended_columns(q, south, north, halo: int, end: str):
    """The ``halo`` columns of ``q`` next to its west ('lo') or east ('hi') side,
    extended along y by the y ghost strips: shape (ny + 2 halo, halo)."""
    def cols(a):
        n = a.shape[-1]
        return (lax.slice_in_dim(a, 0, halo, axis=-1) if end == "lo"
                else lax.slice_in_dim(a, n - halo, n, axis=-1))

    return jnp.concatenate([cols(south), cols(q), cols(north)], axis=-2)


def place(p, ghosts, halo: int, axis: int, end: str):
    """Write the ghost strip of ``end`` along ``axis`` into the padded ``p``
    (x strips span the interior rows, y strips the full padded width)."""
    ny, nx = p.shape[-2:]
    if axis in (-1, 1):
        start = (halo, 0 if end == "lo" else nx - halo)
    else:
        start = (0 if end == "lo" else ny - halo, 0)
    return lax.dynamic_update_slice(p, ghosts.astype(p.dtype), (0,) * (p.ndim - 2) + start)
