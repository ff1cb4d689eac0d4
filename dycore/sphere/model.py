"""Global shallow water (and Williamson test 1's advection) on the cubed
sphere, on one process (all six faces) or on 6 P^2 MPI ranks (a P x P
tile of one face each).

    model = SphereModel(24, case="williamson2", alpha=0.0)    # C24; under mpirun: this rank's tile
    state = model.initial_state()
    state = model.run(state, 100)                 # lax.scan, differentiable
    model.height_errors(state, model.initial_state())         # Williamson norms

Local fields are arrays (T, ny, nx), stacked over the tiles this process
holds (:mod:`parallel.cube_context`): (6, N, N) on one process, indexed
[face, j, i], and (1, N/P, N/P) on a rank of 6 P^2. The numerics are
:mod:`dycore.equations.sphere_shallow_water` (or
:mod:`dycore.equations.sphere_advection` for ``williamson1``), vmapped over
the tiles. The fields are bit-for-bit identical on every rank count: the
halo cells are copies, the geometry is cut from one global float64
computation, the CFL time step is a global max (exact), and the reported
integrals are exactly rounded sums (:func:`math.fsum`).

Cases (:mod:`dycore.sphere.cases`, :mod:`dycore.sphere.galewsky`):
williamson1 (alpha), williamson2 (alpha), williamson5, williamson6,
galewsky (``perturbed``), lake_at_rest. Constants default to Williamson et
al. (1992): a = 6.37122e6 m, Omega = 7.292e-5 1/s, g = 9.80616 m/s^2.
``tracer=True`` adds the passive tracer hq (initial q: a cosine bell of
amplitude 1 at (3 pi/2, 0)).
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from dycore.equations.sphere_advection import AdvectionParams, AdvectionState, SphereAdvection
from dycore.equations.sphere_shallow_water import SphereParams, SphereShallowWater, SphereState
from dycore.grids.cubed_sphere import EARTH_RADIUS, CubedSphereGrid
from dycore.operators.reconstruction import LIMITERS
from dycore.operators.riemann import make_riemann
from dycore.sphere.cases import CASES, TILTED, williamson1
from dycore.sphere.galewsky import galewsky
from dycore.sphere.geometry import global_geometry, tile_geometry
from dycore.rollout import check_checkpoint, scan_steps
from dycore.timestepping import make_time_stepper
from parallel.cube_context import make_cube_context

OMEGA = 7.292e-5
GRAVITY = 9.80616
DAY = 86400.0
UNDERSHOOT_FRACTION = 0.05
"""Williamson test 1: the blow-up check flags a negative density only below
-UNDERSHOOT_FRACTION times the bell's peak (50 m of 1000 m). The panel-edge
values are unlimited one-sided extrapolations, so the bell's foot
undershoots (min -9.4 m at C12, -1.5 m at C96, -0.42 m at C192 over 12
days, benchmarks/results/sphere_tc1.md)."""
SPHERE_CASES = tuple(CASES) + ("galewsky",)


def solid_body_fluxes(grid: CubedSphereGrid, axis, u0: float):
    """Per edge, the exact flux u0 k . (p_start - p_end) (m^2/s) of solid-body
    rotation about ``axis`` along each face's +index normal (see
    :mod:`dycore.equations.sphere_advection`)."""
    from parallel.cube import FRAMES

    c = grid.corner_points()
    k = np.asarray(axis, dtype=np.float64)
    out = []
    for p1, p2, e in ((c[:, :-1, :], c[:, 1:, :], 1), (c[:, :, 1:], c[:, :, :-1], 2)):
        # p1 x p2 is the edge's raw normal (cubed_sphere.edge_geometry);
        # V . (p1 x p2)/|...| integrated is u0 k . (p1 - p2).
        raw = np.cross(p1, p2)
        flux = u0 * ((p1 - p2) @ k)
        for f in range(6):
            flux[f] *= np.sign(np.sum(raw[f] * FRAMES[f][e], axis=-1))
        out.append(flux)
    return tuple(out)


class SphereModel:
    """Shallow water on C ``n`` (see the module docstring).

    case:      one of SPHERE_CASES
    alpha:     axis tilt of williamson1/2 (radians; also of f in test 2)
    bell:      williamson1's density, "cosine" (W92) or "gaussian"
               (:func:`dycore.sphere.cases.williamson1`)
    perturbed: galewsky with (True) or without the height bump
    tracer:    carry the passive tracer hq (shallow-water cases)
    comm:      an mpi4py communicator (None: MPI_COMM_WORLD under mpirun)
    limiter, riemann, time_stepper, cfl: as on the plane
    """

    def __init__(self, n: int, case: str = "williamson2", alpha: float = 0.0,
                 perturbed: bool = True, tracer: bool = False, bell: str = "cosine",
                 radius: float = EARTH_RADIUS, omega: float = OMEGA, g: float = GRAVITY,
                 limiter: str = "mc", riemann: str = "hllc", time_stepper: str = "ssp_rk3",
                 cfl: float = 0.45, dtype=jnp.float64, comm=None):
        if case not in SPHERE_CASES:
            raise ValueError(f"unknown sphere case {case!r}; valid: {', '.join(SPHERE_CASES)}")
        self.n, self.case, self.alpha = int(n), case, float(alpha)
        self.radius, self.omega, self.g, self.cfl, self.dtype = radius, omega, g, cfl, dtype
        self.perturbed, self.bell = bool(perturbed), bell
        self.grid = CubedSphereGrid(self.n, radius)
        self.advection = case == "williamson1"
        if self.advection:
            self.model = SphereAdvection(LIMITERS[limiter])
        else:
            self.model = SphereShallowWater(LIMITERS[limiter], make_riemann(riemann),
                                            tracer=bool(tracer))
        self.tracer = bool(tracer) and not self.advection
        self.halo = self.model.halo
        self.context = make_cube_context(self.n, self.halo, comm)
        self.boxes = self.context.boxes
        self._fill = self.context.halo_filler()
        self._r_global = self.grid.centre_points() / radius
        self.data = self._case_data()
        extra = None
        if self.advection:
            # Undershoots of the advected density within UNDERSHOOT_FRACTION
            # of its initial peak are the scheme's, not a blow-up.
            self.model = dataclasses.replace(
                self.model, undershoot_tolerance=UNDERSHOOT_FRACTION * float(np.max(self.data.h)))
            u0 = 2.0 * math.pi * radius / (12.0 * DAY)
            extra = {"flux": solid_body_fluxes(self.grid, self.data.axis, u0)}
        self.geometry = tile_geometry(global_geometry(self.grid, extra), self.n, self.boxes, dtype)
        self.time_stepper = make_time_stepper(time_stepper)
        self.areas = self.take(self.grid.areas())
        self._r = self.take(self._r_global)
        self.axis = self.data.axis
        if self.advection:
            self.params = AdvectionParams()
        else:
            f = 2.0 * omega * (self._r @ self.axis)
            self.params = SphereParams(g=jnp.asarray(g, dtype), f=jnp.asarray(f, dtype),
                                       b=jnp.asarray(self.take(self.data.bed), dtype))
        self._run = jax.jit(self._run_impl, static_argnums=(1, 4))

    # ------------------------------------------------------------ cases
    def take(self, global_field):
        """This process's tiles (T, ..., ny, nx) of a global (6, N, N, ...) array."""
        a = np.asarray(global_field)
        return np.stack([a[b.face, b.y_slice, b.x_slice] for b in self.boxes])

    def _case_data(self):
        args = (self._r_global, self.radius, self.omega, self.g)
        if self.case == "galewsky":
            return galewsky(*args, perturbed=self.perturbed)
        if self.case == "williamson1":
            return CASES[self.case](*args, alpha=self.alpha, bell=self.bell)
        if self.case in TILTED:
            return CASES[self.case](*args, alpha=self.alpha)
        return CASES[self.case](*args)

    def initial_state(self):
        """The case's initial state on this process's tiles (cell-centre values)."""
        d = self.data
        h = self.take(d.h)
        if self.advection:
            return AdvectionState(jnp.asarray(h, self.dtype))
        m = [h * self.take(d.velocity[..., k]) for k in range(3)]
        hq = jnp.asarray(h * self.initial_mixing_ratio(), self.dtype) if self.tracer else None
        return SphereState(*(jnp.asarray(q, self.dtype) for q in (h, *m)), hq=hq)

    def initial_mixing_ratio(self):
        """The tracer's initial q (1) on this process's tiles: a cosine bell
        of amplitude 1 at (3 pi/2, 0), radius a/3 (Williamson test 1's)."""
        bell = williamson1(self._r_global, self.radius, self.omega, self.g).h / 1000.0
        return self.take(bell)

    # ------------------------------------------------------------ dynamics
    def fill(self, fields):
        """Halo-filled copies (T, ny + 2H, nx + 2H) of local scalar fields (T, ny, nx)."""
        return self._fill(tuple(fields))

    def rhs(self, state, params):
        if self.advection:
            padded = self.fill((state.h,))
            return jax.vmap(lambda pad, st, geo: self.model.tendency(pad, st, params, geo))(
                padded, state, self.geometry)
        fields = (state.h, state.mx, state.my, state.mz, params.b)
        padded = self.fill(fields + ((state.hq,) if self.tracer else ()))
        g = self.context.replicate(params.g)

        def one_tile(pad, st, f, b, geo):
            return self.model.tendency(pad, st, SphereParams(g, f, b), geo)

        return jax.vmap(one_tile)(padded, state, params.f, params.b, self.geometry)

    def signal_rate(self, state, params=None):
        """The global max CFL rate (1/s; dt times it is the Courant number)
        over all tiles of all ranks; gradients stopped. Collective."""
        params = self.params if params is None else params
        rates = jax.vmap(lambda st, geo: self.model.max_signal_rate(st, params, geo))(
            state, self.geometry)
        return lax.stop_gradient(self.context.global_max(rates))

    def stable_dt(self, state, params=None):
        """CFL time step (s): cfl over the global max rate; gradients stopped."""
        return self.cfl / self.signal_rate(state, params)

    def step(self, state, params=None, dt=None):
        params = self.params if params is None else params
        dt = self.stable_dt(state, params) if dt is None else dt
        return self.time_stepper(lambda s: self.rhs(s, params), state, dt)

    def _run_impl(self, state, n_steps, params, dt, checkpoint):
        return scan_steps(lambda s: self.step(s, params, dt), state, n_steps, checkpoint)

    def run(self, state, n_steps: int, params=None, dt=None, checkpoint="step"):
        """``n_steps`` steps of ``dt`` (s; None: the CFL step of each state)
        (jitted ``lax.scan``; differentiable). ``checkpoint``: the memory
        strategy of reverse mode, as on the plane ("step", the default: one
        state stored per step; None: every intermediate of every step;
        "nested": ~sqrt(T) states; :mod:`dycore.rollout`); the result is
        the same bit for bit in every mode."""
        check_checkpoint(checkpoint)
        return self._run(state, int(n_steps), self.params if params is None else params, dt,
                         checkpoint)

    # ------------------------------------------------------------ diagnostics
    def global_sum(self, x):
        """Differentiable sum of a local array over all tiles of all ranks."""
        return self.context.global_sum(x)

    def gather(self, local):
        """The global (6, N, N) numpy array on the root (None elsewhere)."""
        return self.context.gather(local)

    def integral(self, density) -> float:
        """Exactly rounded area integral (density x m^2), the same on every rank count."""
        return self.context.reproducible_sum(self.areas * np.asarray(density, np.float64))

    def mass(self, state) -> float:
        """Total volume (m^3)."""
        return self.integral(state.h)

    def tracer_mass(self, state) -> float:
        """Total tracer volume hq (m^3)."""
        return self.integral(state.hq)

    def height_errors(self, state, exact) -> dict:
        """Williamson et al. (1992) normalised l1, l2, linf errors of h (area-weighted)."""
        h, ref = self.gather(np.asarray(state.h)), self.gather(np.asarray(exact.h))
        out = None
        if self.context.is_root:
            a = self.grid.areas()
            out = {"l1": float(np.sum(a * np.abs(h - ref)) / np.sum(a * np.abs(ref))),
                   "l2": float(np.sqrt(np.sum(a * (h - ref) ** 2) / np.sum(a * ref ** 2))),
                   "linf": float(np.max(np.abs(h - ref)) / np.max(np.abs(ref)))}
        return self.context.bcast(out)

    def tangential_error(self, state) -> float:
        """max |m . r| / max |m| over this process's tiles."""
        m = np.stack([np.asarray(q) for q in (state.mx, state.my, state.mz)], axis=-1)
        radial = np.abs(np.sum(m * self._r, axis=-1))
        return float(radial.max() / max(np.abs(m).max(), 1e-300))
