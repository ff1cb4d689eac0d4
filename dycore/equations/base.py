"""What an equation set declares, so that everything outside it (halo
exchange, output, restarts, blow-up checks, gradients across ranks, the
driver's summary) can work from the declaration instead of field names.

An equation set is an object with

- ``name``: a short identifier stored in restart files (e.g.
  ``"shallow_water"``);
- ``fields``: the prognostic fields, a tuple of :class:`Field`, in the order
  of the state pytree; vector components say which vector they belong to
  and which component they are, so that a halo exchange can transform them
  (sign at walls, rotation across rotated tile edges);
- ``parameters``: a tuple of :class:`Parameter`: replicated scalars (the
  same value on every rank: physical constants, drag coefficients) and
  per-cell fields (a tile's part of a global field, like the bed);
- ``state_type`` / ``params_type``: the pytree classes of state and
  parameters (fields named as declared);
- ``tendency(padded, state, params)``: d(state)/dt on the interior cells,
  from the halo-filled prognostic fields plus the halo-filled per-cell
  parameters (a tuple in declaration order);
- ``max_signal_rate(state, params)``: the local maximum over cells of the
  CFL rate sum_d (|u_d| + c)/dx_d (1/s); the time step is cfl / that rate;
- ``violation(state)``: per cell, how far the state is from physically
  admissible (0 where it is, e.g. the negative part of a depth); blow-up
  detection flags cells where it is positive and reports the worst one
  (non-finite values are checked apart), naming it ``violation_name``;
- ``invariants``: a tuple of :class:`Invariant`, quantities whose global
  integral the scheme conserves (or should), reported by diagnostics.

Adding a passive tracer or another layer is then a change to one equation
set: its declaration drives the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

SCALAR = (1, 1)
"""Wall-mirror signs (x, y) of a scalar field."""


@dataclass(frozen=True)
class Field:
    """A prognostic field on the cell centres.

    name:          the name in the state pytree, output and restart files
    units:         UDUNITS string (e.g. ``"m"``, ``"m2 s-1"``)
    long_name:     a human-readable description
    standard_name: the CF standard name, where one exists
    vector:        name of the vector this is a component of (None: scalar)
    component:     0 for the x component (along the last array axis), 1 for y
    """

    name: str
    units: str
    long_name: str
    standard_name: str | None = None
    vector: str | None = None
    component: int | None = None

    def __post_init__(self):
        if (self.vector is None) != (self.component is None):
            raise ValueError(f"field {self.name!r}: give both vector and component, or neither")
        if self.component not in (None, 0, 1):
            raise ValueError(f"field {self.name!r}: component must be 0 (x) or 1 (y)")

    @property
    def parity(self) -> tuple[int, int]:
        """Signs (x, y) under a mirror at a wall normal to x / to y: -1 for
        the vector component normal to that wall, +1 otherwise."""
        if self.component is None:
            return SCALAR
        return (-1, 1) if self.component == 0 else (1, -1)


@dataclass(frozen=True)
class Parameter:
    """A parameter of an equation set.

    per_cell:  True for a field on the tile's cells (each rank holds its own
               part; halo-filled once per step), False for a value every rank
               holds (its gradient is summed over ranks, see
               ``Simulation.replicated``)
    config_key: the config key that sets it (None if none)
    """

    name: str
    units: str
    long_name: str
    per_cell: bool = False
    config_key: str | None = None
    standard_name: str | None = None


@dataclass(frozen=True)
class Invariant:
    """A conserved quantity: ``density(state, params)`` per unit area, whose
    area integral over the domain is the invariant (units of density x m^2)."""

    name: str
    units: str
    density: Callable


def parities(fields) -> tuple[tuple[int, int], ...]:
    """The wall-mirror signs of each field, in order."""
    return tuple(f.parity for f in fields)


def names(fields) -> tuple[str, ...]:
    return tuple(f.name for f in fields)
