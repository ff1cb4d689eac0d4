"""Pytree containers: the prognostic state and the physical parameters.

Both are frozen dataclasses registered with JAX, so they pass through
``jit``, ``grad``, ``vmap`` and ``lax.scan`` like tuples of arrays.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class State:
    """Conserved variables on the interior cells of a tile, each (ny, nx).

    h:  water depth (m)
    hu: x momentum per unit area divided by density (m^2/s)
    hv: y momentum per unit area divided by density (m^2/s)
    """

    h: jax.Array
    hu: jax.Array
    hv: jax.Array

    def replace(self, **changes) -> "State":
        return dataclasses.replace(self, **changes)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Params:
    """Physical parameters; every leaf is differentiable.

    g:              gravitational acceleration (m/s^2)
    f0:             Coriolis parameter at the domain's mid y (1/s)
    beta:           meridional gradient of the Coriolis parameter (1/(m s))
    drag_linear:    Rayleigh drag rate r in d(hu)/dt = -r hu (1/s)
    drag_quadratic: dimensionless bottom-drag coefficient C_d in
                    d(hu)/dt = -C_d |U| u
    b:              bottom elevation on the tile's interior cells (m), (ny, nx)
    closure:        parameters of the learned closure (any pytree; None when
                    the simulation has no closure), replicated on all ranks
    """

    g: jax.Array
    f0: jax.Array
    beta: jax.Array
    drag_linear: jax.Array
    drag_quadratic: jax.Array
    b: jax.Array
    closure: Any = None

    def replace(self, **changes) -> "Params":
        """A copy with some leaves replaced, e.g. ``params.replace(closure=weights)``."""
        return dataclasses.replace(self, **changes)
