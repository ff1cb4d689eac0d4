"""A sphere case behind the interface that the run loop, the driver and
the writers use (:class:`dycore.Simulation`'s): ``config``, ``context``,
``model`` (the equation set's declarations), ``params``, ``grid`` and
``tile`` for the files, ``initial_state``, ``advance`` (with the blow-up
checks of :mod:`dycore.advance`), ``mass``, ``n_cells``.

    sim = SphereSimulation(Config(case="williamson2", nx=24))   # C24; under mpirun: a tile
    loop = Loop(sim, sim.initial_state(), t_end=86400.0)        # dycore.loop
    state = loop.run()

The numerics are :class:`dycore.sphere.SphereModel`'s (wrapped, not
copied): one step is ``SphereModel.step``, the CFL step its
``stable_dt`` (or the config's fixed ``dt``). What the output holds beside
the state (u, v eastward and northward, in m/s) is :meth:`output_fields`.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dycore.advance import advance, advance_loop
from dycore.cases import get_case, is_sphere
from dycore.config import Config
from dycore.equations.base import Field
from dycore.equations.sphere_shallow_water import TRACER
from dycore.errors import ConfigError
from dycore.runtime import X64_HINT, x64_enabled
from dycore.sphere.cases import lon_lat
from dycore.sphere.files import SphereFileGrid, lon_lat_degrees, tile_of
from dycore.sphere.model import SphereModel
from parallel import DecompositionError

VELOCITY = (
    Field("u", "m s-1", "eastward velocity (0 in dry cells)", "eastward_sea_water_velocity"),
    Field("v", "m s-1", "northward velocity (0 in dry cells)", "northward_sea_water_velocity"),
)
"""The velocity as users read it (the state holds the Cartesian momentum)."""
VORTICITY = Field("vorticity", "s-1", "relative vorticity (circulation around each cell by "
                  "Stokes' theorem over its area)")


def east_north(r):
    """Unit eastward and northward vectors (..., 3) at unit vectors r (..., 3)."""
    lon, lat = lon_lat(r)
    east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=-1)
    north = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)],
                     axis=-1)
    return east, north


class SphereSimulation:
    """A sphere case from a :class:`Config` (see the module docstring);
    ``comm``: an mpi4py communicator (None: MPI_COMM_WORLD under mpirun)."""

    def __init__(self, config: Config | dict | None = None, comm=None):
        if config is None:
            config = Config(case="williamson2")
        elif isinstance(config, dict):
            config = Config.from_dict(config)
        cfg = config.resolved()
        if not is_sphere(cfg.case):
            raise ConfigError(f"config key 'case': {cfg.case!r} is a case of the plane; use "
                              f"dycore.Simulation")
        if cfg.dtype == "float64" and not x64_enabled():
            raise ConfigError(f"config key 'dtype': {X64_HINT}")
        self.config = cfg
        self.case = get_case(cfg.case)
        self.dtype = jnp.float64 if cfg.dtype == "float64" else jnp.float32
        try:
            self.sphere = SphereModel(
                cfg.nx, case=self.case.model_case, g=cfg.g, limiter=cfg.limiter,
                riemann=cfg.riemann, time_stepper=cfg.time_stepper, cfl=cfg.cfl,
                dtype=self.dtype, comm=comm, tracer=bool(cfg.tracer),
                **self.case.model_options(cfg.case_params))
        except DecompositionError as err:
            raise ConfigError(str(err)) from None
        s = self.sphere
        self.model, self.context, self.params, self.halo = s.model, s.context, s.params, s.halo
        self.grid = SphereFileGrid(s.grid)
        self.tile = tile_of(s.boxes, s.n)
        east, north = east_north(s._r)
        self._east, self._north = (jnp.asarray(v, self.dtype) for v in (east, north))
        self._initial = None
        if cfg.initial_file is not None:  # this process's tiles of the file's state and bed
            self._initial = self._read_initial(cfg.initial_file, east, north)
        self._advance_compiled = jax.jit(functools.partial(advance_loop, self))
        self._signal_rate_compiled = jax.jit(self.sphere.signal_rate)
        self._derive = {}

    @property
    def n_cells(self) -> int:
        """Cells of the whole sphere, 6 N^2."""
        return self.sphere.grid.n_cells

    # ------------------------------------------------------------ states
    def _read_initial(self, path, east, north):
        """The state from ``config.initial_file`` (see :mod:`dycore.sphere.initial`);
        its bed, if it has one, replaces the case's in ``params``."""
        from dycore.sphere.initial import read_sphere_initial

        s = self.sphere
        given, bed = read_sphere_initial(path, s, momentum=not s.advection, tracer=s.tracer,
                                         east=east, north=north)
        if s.tracer and "hq" not in given:
            given["hq"] = given["h"] * s.initial_mixing_ratio()
        if bed is not None and not s.advection:
            self.params = s.params = self.params.replace(b=jnp.asarray(bed, self.dtype))
        state = s.initial_state()
        return state.replace(**{k: jnp.asarray(v, self.dtype) for k, v in given.items()})

    def initial_state(self):
        """The case's initial state on this process's tiles, (T, ny, nx)
        arrays (the one read from ``config.initial_file`` when set, see
        :mod:`dycore.sphere.initial`)."""
        return self.sphere.initial_state() if self._initial is None else self._initial

    def exact_state(self, t: float):
        """The exact state at time t (s) where the case has one (Williamson
        test 2, the lake at rest: the initial state), else None."""
        steady = self.case.model_case in ("williamson2", "lake_at_rest")
        return self.sphere.initial_state() if steady else None

    # ------------------------------------------------------------ dynamics
    def pad_bed(self, params):
        """Nothing: the sphere's step fills the bed's halo with the fields."""
        return None

    def time_step(self, state, params=None):
        """dt (s): the fixed ``config.dt`` or the CFL step of ``state``."""
        if self.config.dt is not None:
            return jnp.asarray(self.config.dt, self.dtype)
        return self.sphere.stable_dt(state, self.params if params is None else params)

    def _step_dt(self, state, params, dt, b_padded=None, t=None):
        return self.sphere.step(state, params, dt)

    def step(self, state, params=None, dt=None):
        """One step of ``dt`` (s; default :meth:`time_step`)."""
        params = self.params if params is None else params
        return self.sphere.step(state, params, self.time_step(state, params) if dt is None
                                else dt)

    def run(self, state, n_steps: int, params=None, checkpoint="step"):
        """``n_steps`` steps (jitted ``lax.scan``; differentiable; ``checkpoint``
        as for :meth:`dycore.Simulation.run`)."""
        dt = None if self.config.dt is None else jnp.asarray(self.config.dt, self.dtype)
        return self.sphere.run(state, n_steps, params, dt, checkpoint)

    def advance(self, state, t: float, t_stop: float, params=None, *,
                max_steps: int | None = None, report: bool = False):
        """Step from t to exactly t_stop (s), watching for blow-ups (see
        :func:`dycore.advance.advance`)."""
        return advance(self, state, t, t_stop, params, max_steps=max_steps, report=report)

    def signal_rate(self, state, params=None):
        """The global max CFL rate (1/s; :meth:`SphereModel.signal_rate`). Collective."""
        return self.sphere.signal_rate(state, params)

    def host_signal_rate(self, state, params=None) -> float:
        """:meth:`signal_rate` as a float, as one compiled program (see
        :meth:`dycore.Simulation.host_signal_rate`). Collective."""
        params = self.params if params is None else params
        return float(self._signal_rate_compiled(state, params))

    # ------------------------------------------------------------ diagnostics
    def global_sum(self, x):
        return self.context.global_sum(x)

    def mass(self, state) -> float:
        """Total volume (m^3), exactly rounded: the same on every rank count (collective)."""
        return self.sphere.mass(state)

    def tracer_mass(self, state):
        """Total tracer volume hq (m^3), exactly rounded, or None without the
        tracer (collective)."""
        return self.sphere.tracer_mass(state) if self.sphere.tracer else None

    def gather(self, state) -> dict | None:
        """Global (6, N, N) numpy arrays {field name: array} on the root, None elsewhere."""
        out = {f.name: self.context.gather(np.asarray(getattr(state, f.name)))
               for f in self.model.fields}
        return out if self.context.is_root else None

    def describe_cell(self, i: int, j: int) -> str:
        """A cell given as (i, stacked j) (see :mod:`dycore.sphere.files`), in words."""
        n = self.sphere.n
        face, jj = divmod(int(j), n)
        lon, lat = lon_lat_degrees(self.sphere.grid.centre_points()[face, jj, int(i)])
        return (f"worst cell (face, j, i) = ({face}, {jj}, {int(i)}) of C{n} at lon = "
                f"{float(lon):.4g} deg, lat = {float(lat):.4g} deg")

    def velocity(self, state):
        """Eastward and northward velocity (m/s) on this process's tiles (0 where dry)."""
        if not hasattr(state, "mx"):  # test 1: the prescribed wind
            w = jnp.asarray(self.sphere.take(self.sphere.data.velocity), self.dtype)
            return jnp.sum(w * self._east, -1), jnp.sum(w * self._north, -1)
        m = jnp.stack([state.mx, state.my, state.mz], axis=-1)
        wet = state.h > self.model.dry_tolerance
        h = jnp.where(wet, state.h, 1.0)
        return tuple(jnp.where(wet, jnp.sum(m * e, -1) / h, 0.0)
                     for e in (self._east, self._north))

    def output_fields(self, params=None):
        """(fields, derive) for :class:`dycore.io.OutputWriter`: h, u, v and
        the config's ``outputs`` (vorticity), and ``derive(state)`` giving
        them on this process's tiles (collective: the vorticity fills halos)."""
        from types import SimpleNamespace

        from dycore.sphere.diagnostics import vorticity

        names = tuple(self.config.outputs)
        extra = (VORTICITY,) if "vorticity" in names else ()
        tracer = (TRACER,) if self.sphere.tracer else ()
        if names not in self._derive:
            def compute(state):
                u, v = self.velocity(state)
                out = {"u": u, "v": v}
                if extra:
                    out["vorticity"] = vorticity(self.sphere, state)
                return out
            self._derive[names] = jax.jit(compute)
        compute = self._derive[names]

        def derive(state):
            passive = {"hq": state.hq} if tracer else {}
            return SimpleNamespace(h=state.h, **passive, **compute(state))

        return (self.model.fields[0],) + tracer + VELOCITY + extra, derive
