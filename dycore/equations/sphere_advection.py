"""Advection of a scalar density by a prescribed, non-divergent wind on the
cubed sphere (Williamson et al. 1992, J. Comput. Phys. 102, 211-224, test
1: the cosine bell carried around the sphere by solid-body rotation):

    d h/dt + div(h V) = 0,      V given

The wind enters only through its flux per unit density through each edge,
F_e = integral over the edge of V . n (m^2/s), given along the edge's
canonical normal (:func:`dycore.grids.cubed_sphere.canonical_edges`, key
``flux``). For solid-body rotation V = u0 k x r/|r| about the axis k,
V . n = u0 k . tau on a great-circle arc of direction tau, so
F_e = u0 k . (p_start - p_end) exactly (the points in m): the fluxes of a
cell sum to zero up to round-off (discretely non-divergent), and a uniform
h stays uniform. The flux of h is F_e times the upwind face value from the
same MUSCL reconstruction with one-sided panel-edge values as the shallow
water (:func:`dycore.equations.sphere_shallow_water.reconstruct`), in the
canonical orientation, so both sides of an edge agree bit for bit and the
total sum of A h is conserved to round-off.

Units: h in m (any unit works), fluxes in m^2/s, areas in m^2.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp

from dycore.equations.base import Field, Invariant
from dycore.equations.sphere_shallow_water import _edges, reconstruct

FIELDS = (Field("h", "m", "advected height (Williamson test 1's cosine bell)"),)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AdvectionState:
    """The advected density on a tile's cells."""

    h: jax.Array

    def replace(self, **changes) -> "AdvectionState":
        return dataclasses.replace(self, **changes)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AdvectionParams:
    """No parameters: the wind lives in the geometry (edge fluxes)."""

    def replace(self, **changes) -> "AdvectionParams":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SphereAdvection:
    """The tendency on one tile (``geometry`` as for the shallow water plus
    the canonical edge fluxes ``flux_i``, ``flux_j``)."""

    limiter: Callable
    halo: int = 2
    undershoot_tolerance: float = 0.0
    """Depth (m) of negative density that :meth:`violation` still accepts."""

    name = "sphere_advection"
    fields = FIELDS
    parameters = ()
    invariants = (Invariant("mass", "m3", lambda state, params: state.h),)
    state_type = AdvectionState
    params_type = AdvectionParams
    violation_name = "negative density"

    def violation(self, state):
        """Per cell, the negative density beyond ``undershoot_tolerance`` (m), else 0."""
        return jnp.where(state.h < -self.undershoot_tolerance, -state.h, 0.0)

    def max_signal_rate(self, state, params, geometry):
        """Max over cells of the outflow through its edges over its area (1/s)."""
        fi, fj = jnp.abs(geometry["flux_i"]), jnp.abs(geometry["flux_j"])
        total = fi[:, :-1] + fi[:, 1:] + fj[:-1, :] + fj[1:, :]
        return jnp.max(0.5 * total / geometry["area"])

    def _sweep(self, h, geo, key, n, axis):
        _, faces = reconstruct([h], geo, key, n, axis, self.halo, self.limiter)
        minus, plus = faces[0]
        flip = geo[f"flip_{key}"]
        left = jnp.where(flip, _edges(minus, False, axis), _edges(plus, True, axis))
        right = jnp.where(flip, _edges(plus, True, axis), _edges(minus, False, axis))
        flux = geo[f"flux_{key}"]
        canonical = flux * jnp.where(flux > 0, left, right)
        along = jnp.where(flip, -canonical, canonical)  # towards our +index
        return _edges(along, False, axis) - _edges(along, True, axis)

    def tendency(self, padded, state, params, geometry):
        """d h/dt on the tile from the halo-filled (h,)."""
        (h,) = padded
        H = self.halo
        ny, nx = state.h.shape
        d_x = self._sweep(h[H:H + ny, :], geometry, "i", nx, -1)
        d_y = self._sweep(h[:, H:H + nx], geometry, "j", ny, -2)
        return AdvectionState(-(d_x + d_y) / geometry["area"])
