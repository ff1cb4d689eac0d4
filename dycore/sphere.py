"""Global shallow water on the cubed sphere, all six faces on one process (a
first step: the MPI decomposition over 6 PX PY ranks, the driver, output and
restarts on the sphere are not built yet).

    model = SphereModel(24, case="williamson2", alpha=0.0)    # C24
    state = model.initial_state()
    state = model.run(state, 100)                 # lax.scan, differentiable
    model.height_errors(state, model.initial_state())         # Williamson norms

Fields are arrays of shape (6, N, N), indexed [face, j, i] on the faces of
:mod:`parallel.cube` / :mod:`dycore.grids.cubed_sphere`. The numerics are
:mod:`dycore.equations.sphere_shallow_water`, vmapped over the faces; the
halo cells come from :func:`parallel.halo.make_multi_tile_filler` on the
cube topology. Cases (Williamson et al. 1992, J. Comput. Phys. 102,
211-224): ``williamson2`` (steady zonal geostrophic flow, axis tilted by
``alpha``) and ``lake_at_rest`` (fluid at rest over the mountain of test 5).
Constants default to theirs: a = 6.37122e6 m, Omega = 7.292e-5 1/s,
g = 9.80616 m/s^2.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from dycore.equations.sphere_shallow_water import (FIELDS, SphereParams, SphereShallowWater,
                                                   SphereState)
from dycore.grids.cubed_sphere import EARTH_RADIUS, CubedSphereGrid, canonical_edges
from dycore.operators.reconstruction import LIMITERS
from dycore.operators.riemann import make_riemann
from dycore.timestepping import make_time_stepper
from parallel.cube import CubeTopology
from parallel.ghosts import SCALAR
from parallel.halo import make_multi_tile_filler

OMEGA = 7.292e-5
GRAVITY = 9.80616
DAY = 86400.0


def _geometry(grid: CubedSphereGrid, dtype) -> dict:
    """Per-face arrays the tendency needs (see SphereShallowWater)."""
    n = grid.n
    edges = canonical_edges(grid)
    r = grid.centre_points() / grid.radius
    areas = grid.areas()
    geo = {"area": areas, "rx": r[..., 0], "ry": r[..., 1], "rz": r[..., 2]}
    for key in ("i", "j"):
        e = edges[key]
        geo[f"len_{key}"] = e["length"]
        geo[f"flip_{key}"] = e["flip"]
        for k, c in enumerate("xyz"):
            geo[f"n{c}_{key}"] = e["normal"][..., k]
            geo[f"t{c}_{key}"] = e["tangent"][..., k]
    # Cells -1..n along i (j): a panel edge just below cells 0 and n, just above -1 and n - 1.
    k = np.arange(-1, n + 1)
    below, above = (k == 0) | (k == n), (k == -1) | (k == n - 1)
    geo["onesided_lo_i"] = np.broadcast_to(below[None, None, :], (6, n, n + 2))
    geo["onesided_hi_i"] = np.broadcast_to(above[None, None, :], (6, n, n + 2))
    geo["onesided_lo_j"] = np.broadcast_to(below[None, :, None], (6, n + 2, n))
    geo["onesided_hi_j"] = np.broadcast_to(above[None, :, None], (6, n + 2, n))
    perimeter = (edges["i"]["length"][:, :, :-1] + edges["i"]["length"][:, :, 1:]
                 + edges["j"]["length"][:, :-1, :] + edges["j"]["length"][:, 1:, :])
    geo["rate"] = perimeter / (2.0 * areas)
    return {k: jnp.asarray(v) if v.dtype == bool else jnp.asarray(v, dtype)
            for k, v in geo.items()}


def _fill_table(topology, n: int, halo: int):
    """For the padded (6, N + 2H, N + 2H) arrays, the flat index of the cell
    each entry copies: the halo exchange of the cube topology applied once to
    the cells' own indices (exact in float64), so that filling a scalar field
    is a single gather, the same numbers as the exchange (its transpose, a
    scatter-add, is the exchange's adjoint)."""
    fill = make_multi_tile_filler(topology, range(6), halo)
    ids = np.arange(6 * n * n, dtype=np.float64).reshape(6, n, n)
    out = fill({r: [jnp.asarray(ids[r], jnp.float64)] for r in range(6)}, [SCALAR])
    table = np.stack([np.asarray(out[r][0]) for r in range(6)])
    return jnp.asarray(table.astype(np.int64))


class SphereModel:
    """Shallow water on C ``n`` (see the module docstring).

    case:    "williamson2" or "lake_at_rest"
    alpha:   tilt of the rotation axis of test 2 (radians; also of f)
    limiter, riemann, time_stepper, cfl: as on the plane
    """

    def __init__(self, n: int, case: str = "williamson2", alpha: float = 0.0,
                 radius: float = EARTH_RADIUS, omega: float = OMEGA, g: float = GRAVITY,
                 limiter: str = "mc", riemann: str = "hllc", time_stepper: str = "ssp_rk3",
                 cfl: float = 0.45, dtype=jnp.float64):
        if case not in ("williamson2", "lake_at_rest"):
            raise ValueError(f"unknown sphere case {case!r}; valid: williamson2, lake_at_rest")
        self.n, self.case, self.alpha = int(n), case, float(alpha)
        self.radius, self.omega, self.g, self.cfl, self.dtype = radius, omega, g, cfl, dtype
        self.grid = CubedSphereGrid(self.n, radius)
        self.model = SphereShallowWater(LIMITERS[limiter], make_riemann(riemann))
        self.halo = self.model.halo
        self.topology = CubeTopology(self.n, 1, 1, self.halo)
        self._fill_table = _fill_table(self.topology, self.n, self.halo)
        self.geometry = _geometry(self.grid, dtype)
        self.time_stepper = make_time_stepper(time_stepper)
        self.areas = self.grid.areas()
        self.lon, self.lat = self.grid.lon_lat()
        self.axis = np.array([-math.sin(self.alpha), 0.0, math.cos(self.alpha)])
        r = self.grid.centre_points() / radius
        self._r = r
        f = 2.0 * omega * (r @ self.axis)
        self.params = SphereParams(g=jnp.asarray(g, dtype), f=jnp.asarray(f, dtype),
                                   b=jnp.asarray(self._bed(), dtype))
        self._run = jax.jit(self._run_impl, static_argnums=(1,))

    # ------------------------------------------------------------ cases
    def _bed(self):
        if self.case != "lake_at_rest":
            return np.zeros((6, self.n, self.n))
        # Williamson test 5: a cone of 2000 m, radius pi/9, at (3 pi/2, pi/6).
        lon = np.mod(self.lon, 2 * np.pi)
        dist = np.sqrt(np.minimum((lon - 1.5 * np.pi) ** 2, (2 * np.pi - abs(lon - 1.5 * np.pi))
                                  ** 2) + (self.lat - np.pi / 6) ** 2)
        return 2000.0 * (1.0 - np.minimum(dist, np.pi / 9) / (np.pi / 9))

    def initial_state(self) -> SphereState:
        """The case's initial state (cell-centre values, second-order accurate)."""
        r = self._r
        if self.case == "lake_at_rest":
            h = 5960.0 - self._bed()
            zero = np.zeros_like(h)
            return self._state(h, zero, zero, zero)
        u0 = 2.0 * math.pi * self.radius / (12.0 * DAY)
        gh0 = 2.94e4
        s = r @ self.axis
        h = (gh0 - (self.radius * self.omega * u0 + 0.5 * u0 * u0) * s * s) / self.g
        velocity = u0 * np.cross(self.axis, r)          # solid-body rotation about the axis
        return self._state(h, *(h * velocity[..., k] for k in range(3)))

    def _state(self, *fields) -> SphereState:
        return SphereState(*(jnp.asarray(q, self.dtype) for q in fields))

    # ------------------------------------------------------------ dynamics
    def fill(self, fields):
        """Halo-filled copies of face-stacked scalar fields (6, N, N) ->
        (6, N + 2H, N + 2H): one gather per field (see :func:`_fill_table`)."""
        return tuple(q.reshape(-1)[self._fill_table] for q in fields)

    def rhs(self, state: SphereState, params: SphereParams) -> SphereState:
        padded = self.fill((state.h, state.mx, state.my, state.mz, params.b))

        def one_face(pad, st, f, b, geo):
            return self.model.tendency(pad, st, SphereParams(params.g, f, b), geo)

        return jax.vmap(one_face)(padded, state, params.f, params.b, self.geometry)

    def stable_dt(self, state: SphereState, params: SphereParams | None = None):
        """CFL time step (s); gradients stopped."""
        params = self.params if params is None else params
        rates = jax.vmap(lambda st, geo: self.model.max_signal_rate(st, params, geo))(
            state, self.geometry)
        return self.cfl / lax.stop_gradient(jnp.max(rates))

    def step(self, state: SphereState, params: SphereParams | None = None, dt=None):
        params = self.params if params is None else params
        dt = self.stable_dt(state, params) if dt is None else dt
        return self.time_stepper(lambda s: self.rhs(s, params), state, dt)

    def _run_impl(self, state, n_steps, params):
        return lax.scan(lambda s, _: (self.step(s, params), None), state, None,
                        length=n_steps)[0]

    def run(self, state: SphereState, n_steps: int, params: SphereParams | None = None):
        """``n_steps`` CFL steps (jitted ``lax.scan``; differentiable)."""
        return self._run(state, int(n_steps), self.params if params is None else params)

    # ------------------------------------------------------------ diagnostics
    def mass(self, state: SphereState) -> float:
        """Total volume (m^3), an exactly rounded sum."""
        return math.fsum((self.areas * np.asarray(state.h, np.float64)).ravel().tolist())

    def height_errors(self, state: SphereState, exact: SphereState) -> dict:
        """Williamson et al. (1992) normalised l1, l2, linf errors of h (area-weighted)."""
        h, ref = np.asarray(state.h, np.float64), np.asarray(exact.h, np.float64)
        a = self.areas
        return {"l1": float(np.sum(a * np.abs(h - ref)) / np.sum(a * np.abs(ref))),
                "l2": float(np.sqrt(np.sum(a * (h - ref) ** 2) / np.sum(a * ref ** 2))),
                "linf": float(np.max(np.abs(h - ref)) / np.max(np.abs(ref)))}

    def tangential_error(self, state: SphereState) -> float:
        """max |m . r| / max |m|: how far the momentum left the tangent plane."""
        m = np.stack([np.asarray(q) for q in (state.mx, state.my, state.mz)], axis=-1)
        radial = np.abs(np.sum(m * self._r, axis=-1))
        return float(radial.max() / max(np.abs(m).max(), 1e-300))


__all__ = ["FIELDS", "SphereModel"]
