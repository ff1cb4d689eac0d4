"""The public entry point: a :class:`Simulation` assembles grid, parallel
context, model and time stepper for this process from a :class:`Config`.

Everything it returns is a pure function of pytrees:

    sim = Simulation(Config(case="inertia_gravity_wave", nx=100))
    state = sim.initial_state()                 # local State (h, hu, hv)
    state = sim.step(state, sim.params)         # one time step
    state = sim.run(state, 100, sim.params)     # 100 steps, lax.scan
    jax.grad(lambda p: loss(sim.run(state, 100, p)))(sim.params)

The time step is ``config.dt`` when set, else CFL-based:
dt = cfl / global_max((|u| + c)/dx + (|v| + c)/dy), with gradients stopped
through dt (the step size is a numerical choice, not physics).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from dycore.cases import get_case, is_sphere
from dycore.config import Config
from dycore.errors import ConfigError
from dycore.runtime import X64_HINT, x64_enabled
from dycore.advance import advance, advance_loop
from dycore.forcing import check_closure_params, legacy_closure
from dycore.equations.shallow_water import BED, ShallowWater
from dycore.grid import Grid, LocalGrid, Tile
from dycore.operators.reconstruction import make_reconstruction
from dycore.open_boundaries import boundary_kinds
from dycore.operators.riemann import make_riemann
from dycore.rollout import check_checkpoint, scan_steps
from dycore.state import Params, State
from dycore.timestepping import advance_stages, make_time_stepper
from parallel import DecompositionError, make_context
from parallel.ghosts import Boundaries


class Simulation:
    """A configured shallow-water model on this process's tile.

    config: a :class:`Config` (or a dict of its keys); case defaults are
            filled in and everything is validated (:class:`ConfigError`).
    comm:   an mpi4py communicator for a decomposed run; None means the
            whole grid on this process unless launched by mpirun with
            several ranks (then MPI.COMM_WORLD).
    forcing: optional extra tendency (a learned closure, a time-dependent
            forcing), ``forcing(padded_state, t, params, local_grid) ->
            State``: a pure JAX function of the state with halos filled (a
            :class:`State` of (ny + 2H, nx + 2H) arrays), the model time
            ``t`` (s; inside a Runge-Kutta step the stage time t + c_i dt),
            all parameters ``params`` (a :class:`Params`: the physical ones
            and ``params.closure``, any pytree of arrays) and a
            :class:`dycore.grid.LocalGrid`; it returns tendencies on the
            interior cells (units of the state per second) that are added
            to the right-hand side. Set its weights with
            ``sim.params.replace(closure=weights)``. See
            docs/differentiation.md, "Closures and forcings".
    closure: the older form of the hook, ``closure(params.closure,
            padded_state, local_grid) -> State`` (no time, no physical
            parameters); still accepted. Give one of the two.
    """

    def __init__(self, config: Config | dict | None = None, comm=None, closure=None,
                 forcing=None):
        if config is None:
            config = Config()
        elif isinstance(config, dict):
            config = Config.from_dict(config)
        cfg = config.resolved()
        if is_sphere(cfg.case):
            raise ConfigError(f"config key 'case': {cfg.case!r} is a case of the cubed sphere; "
                              f"use dycore.sphere.SphereSimulation")
        self.config = cfg
        self.case = get_case(cfg.case)
        if cfg.dtype == "float64" and not x64_enabled():
            raise ConfigError(f"config key 'dtype': {X64_HINT}")
        self.dtype = jnp.float64 if cfg.dtype == "float64" else jnp.float32
        self.grid = Grid(cfg.nx, cfg.ny, cfg.lx, cfg.ly, cfg.x0, cfg.y0)
        reconstruction = make_reconstruction(cfg.scheme, cfg.limiter, cfg.slope_threshold)
        self.halo = reconstruction.halo
        # Named kinds, or side fills for inflow/outflow (dycore.open_boundaries).
        sides = boundary_kinds(cfg)
        self.boundaries = Boundaries(*sides)
        self._timed_boundaries = any(getattr(kind, "timed", False) for kind in sides)
        try:
            self.context = make_context(self.grid, self.halo, procs=cfg.procs, comm=comm)
            self.fill = self.context.halo_filler(self.boundaries, self.halo)
        except DecompositionError as err:
            raise ConfigError(str(err)) from None
        box = self.context.tile
        self.tile = Tile(box.i0, box.j0, box.nx, box.ny, grid=self.grid)
        self.model = ShallowWater(
            reconstruction=reconstruction,
            riemann=make_riemann(cfg.riemann),
            dx=self.grid.dx,
            dy=self.grid.dy,
            y_rel=self.tile.y_centres() - self.grid.y_mid,
            dry_tolerance=cfg.dry_tolerance,
        )
        self.time_stepper = make_time_stepper(cfg.time_stepper)
        self.x = self.tile.x_centres()
        self.y = self.tile.y_centres()
        if closure is not None and forcing is not None:
            raise ConfigError("Simulation: give either forcing= (the hook with time and "
                              "parameters) or closure= (the older form), not both")
        if closure is not None:
            forcing = legacy_closure(closure)
        self.closure = closure
        self.forcing = forcing
        # The model time rides along with the state only where something
        # sees it (a forcing, boundary values that vary in time).
        self._timed = forcing is not None or self._timed_boundaries
        self.local_grid = LocalGrid(self.tile, self.halo)

        h, hu, hv, b = self.case.initial(self.x, self.y, cfg)
        if np.any(~np.isfinite(h)) or np.any(h < 0):
            raise ConfigError(f"config key 'case_params': case {cfg.case!r} gives a negative "
                              f"or non-finite initial depth with these parameters")
        if cfg.initial_file is not None:  # this rank's tile of the user's fields and bed
            from dycore.io.initial import read_initial

            given, bed = read_initial(cfg.initial_file, self.context, self.grid, self.tile,
                                      self.model.fields, b)
            h, hu, hv = (given[f.name] for f in self.model.fields)
            b = b if bed is None else bed
        self._initial = tuple(np.asarray(q, dtype=np.float64) for q in (h, hu, hv))
        # Parameters by declaration: config values for the replicated ones,
        # the case's bed for the per-cell one.
        per_cell = {BED.name: b}
        self.params = self.model.params_type(**{
            p.name: jnp.asarray(per_cell[p.name] if p.per_cell else getattr(cfg, p.config_key),
                                self.dtype)
            for p in self.model.parameters})
        self._run_compiled = jax.jit(self._run, static_argnums=(1, 3))
        self._trajectory_compiled = jax.jit(self._trajectory, static_argnums=(2, 3, 4, 5))
        self._advance_compiled = jax.jit(functools.partial(advance_loop, self))
        self._signal_rate_compiled = jax.jit(self.signal_rate)

    # ------------------------------------------------------------ states
    def _as_state(self, fields) -> State:
        return self.model.state_type(*(jnp.asarray(q, self.dtype) for q in fields))

    def initial_state(self) -> State:
        """The case's initial state on this rank's tile (the one read from
        ``config.initial_file`` when set, see :mod:`dycore.io.initial`)."""
        return self._as_state(self._initial)

    def exact_state(self, t: float) -> State | None:
        """The case's exact solution at time t (s) on this tile, if it has one."""
        exact = self.case.exact(self.x, self.y, float(t), self.config)
        return None if exact is None else self._as_state(exact)

    @property
    def n_cells(self) -> int:
        """Cells of the global grid."""
        return self.grid.n_cells

    # ------------------------------------------------------------ dynamics
    def pad_bed(self, params: Params):
        """Bottom elevation with halo, filled once per step (it does not evolve)."""
        return self.fill((params.b,), (BED,))[0]

    def replicated(self, params: Params) -> Params:
        """``params`` with the values every rank holds marked as replicated.

        All leaves except the bed ``b`` (a tile field) are the same on every
        rank: the physical scalars and the closure weights. Marking them (see
        ``replicate`` in :mod:`parallel`) changes no value; it makes
        ``jax.grad`` sum their cotangents over ranks, so on every rank their
        gradient is that of the global loss, as on one rank. The public
        entry points (:meth:`rhs`, :meth:`step`, :meth:`run`) apply it.
        """
        def mark(x):
            return (self.context.replicate(x)
                    if jnp.issubdtype(jnp.result_type(x), jnp.inexact) else x)

        replicated = {p.name: mark(getattr(params, p.name)) for p in self.model.parameters
                      if not p.per_cell}
        return params.replace(**replicated,
                              closure=jax.tree_util.tree_map(mark, params.closure))

    def rhs(self, state: State, params: Params, b_padded=None, t=0.0) -> State:
        """Tendency d(state)/dt (units of the state per second) at time t (s)."""
        check_closure_params(params)
        return self._tendency(state, self.replicated(params), b_padded, t)

    def _tendency(self, state: State, params: Params, b_padded=None, t=None) -> State:
        if b_padded is None:
            b_padded = self.pad_bed(params)
        fields = self.model.fields
        arrays = tuple(getattr(state, f.name) for f in fields)
        if self._timed:
            t = jnp.asarray(0.0 if t is None else t, jnp.result_type(float))
        # A side fill sees t only where boundary values vary in time (a
        # user's own side fill need not take it).
        padded = (self.fill(arrays, fields, t=t) if self._timed_boundaries
                  else self.fill(arrays, fields))
        tendency = self.model.tendency((*padded, b_padded), state, params)
        if self.forcing is not None:
            extra = self.forcing(self.model.state_type(*padded), t, params, self.local_grid)
            tendency = jax.tree_util.tree_map(jnp.add, tendency, extra)
        return tendency

    def signal_rate(self, state: State, params: Params | None = None):
        """The largest (|u| + c)/dx + (|v| + c)/dy over all cells of all ranks
        (1/s; dt times it is the Courant number); gradients stopped. Collective."""
        params = self.params if params is None else params
        return lax.stop_gradient(self.context.global_max(self.model.max_signal_rate(state,
                                                                                    params)))

    def host_signal_rate(self, state: State, params: Params | None = None) -> float:
        """:meth:`signal_rate` as a float, for callers outside a traced
        function: one compiled program (called eagerly, each of its jnp
        operations would be compiled on its own, ~25 ms each). Collective."""
        params = self.params if params is None else params
        return float(self._signal_rate_compiled(state, params))

    def describe_cell(self, i: int, j: int) -> str:
        """The global cell (i, j) in words, for error messages."""
        x, y = float(self.grid.x_centres()[i]), float(self.grid.y_centres()[j])
        return (f"worst cell (i, j) = ({i}, {j}) of {self.grid.nx}x{self.grid.ny} at "
                f"x = {x:.6g} m, y = {y:.6g} m")

    def stable_dt(self, state: State, params: Params | None = None):
        """CFL time step (s), the same on every rank; gradients stopped."""
        rate = self.signal_rate(state, params)
        return self.config.cfl / jnp.where(rate > 0, rate, jnp.inf)

    def time_step(self, state: State, params: Params | None = None):
        """dt (s) for the next step: the fixed ``config.dt`` or the CFL step."""
        if self.config.dt is not None:
            return jnp.asarray(self.config.dt, self.dtype)
        return self.stable_dt(state, params)

    def _step_dt(self, state, params, dt, b_padded, t=None):
        # Reverse mode keeps only each stage's state and recomputes the
        # tendency and the projection from it (about 5 states per step
        # instead of ~157 residuals; docs/differentiation.md). The forward
        # values are the same bit for bit. The stages are one lax.scan
        # (dycore.timestepping.advance_stages), which hands the tendency the stage
        # time as a fraction c of dt.
        stage_tendency = jax.checkpoint(
            lambda s, t_stage: self._tendency(s, params=params, b_padded=b_padded, t=t_stage))
        t_start = 0.0 if t is None else t

        def rhs(s, c):
            return stage_tendency(s, t_start + c * dt if self._timed else None)
        # Thin layers over a sloping bed get their momentum desingularised
        # after every stage (a no-op elsewhere; see thin_layer_projection).
        project = jax.checkpoint(functools.partial(self.model.thin_layer_projection,
                                                   b_padded=b_padded))
        return advance_stages(self.time_stepper.scheme, rhs, state, dt, project=project)

    def step(self, state: State, params: Params | None = None, dt=None, t=0.0) -> State:
        """One time step of length ``dt`` (default: :meth:`time_step`) from
        model time ``t`` (s; seen by a forcing and by boundary values
        that vary in time)."""
        params = self.params if params is None else params
        check_closure_params(params)
        params = self.replicated(params)
        dt = self.time_step(state, params) if dt is None else dt
        return self._step_dt(state, params, dt, self.pad_bed(params), t)

    def _stepper(self, params, checkpoint):
        """``steps(carry, n)``: n steps with ``lax.scan`` under replicated
        ``params``; the carry is the state, or (state, t) with a forcing (the
        model time rides along beside the state, so that a run without a
        forcing is the same computation as before)."""
        params = self.replicated(params)
        b_padded = self.pad_bed(params)

        def one_step(c):
            if not self._timed:
                return self._step_dt(c, params, self.time_step(c, params), b_padded)
            s, t = c
            dt = self.time_step(s, params)
            return self._step_dt(s, params, dt, b_padded, t), t + dt.astype(t.dtype)

        return lambda carry, length: scan_steps(one_step, carry, length, checkpoint)

    def _carry(self, state, t0):
        if not self._timed:
            return state
        return state, jnp.asarray(t0, jnp.result_type(float))

    def _state_of(self, carry):
        return carry if not self._timed else carry[0]

    def _run(self, state, n_steps, params, checkpoint=None, t0=0.0):
        return self._state_of(self._stepper(params, checkpoint)(self._carry(state, t0), n_steps))

    def _trajectory(self, state, params, outer_steps, inner_steps, post_process, checkpoint,
                    t0=0.0):
        steps = self._stepper(params, checkpoint)

        def block(c, _):
            c = steps(c, inner_steps)
            s = self._state_of(c)
            return c, (s if post_process is None else post_process(s))

        carry, snapshots = lax.scan(block, self._carry(state, t0), None, length=outer_steps)
        return self._state_of(carry), snapshots

    def trajectory(self, state: State, params: Params | None = None, outer_steps: int = 1,
                   inner_steps: int = 1, post_process=None, checkpoint: str | None = "step",
                   t0: float = 0.0):
        """``outer_steps`` snapshots, one every ``inner_steps`` steps (jitted).

        Returns ``(final_state, snapshots)``: ``snapshots`` is the state (or
        ``post_process(state)``, any pytree) after steps inner_steps,
        2 inner_steps, ..., stacked along a new leading axis of length
        ``outer_steps`` (the initial state is not included); ``final_state``
        is the last of them, unprocessed. Like :meth:`run`, it works under
        ``jax.grad``, ``jax.jvp`` and ``jax.vmap``, on any number of ranks,
        with the same ``checkpoint`` modes (applied within each block of
        ``inner_steps``); the final state equals
        ``run(state, outer_steps * inner_steps)`` bit for bit. In the spirit
        of Dinosaur's ``trajectory_from_step``. ``t0``: the model time (s)
        of ``state``, seen by a forcing and by boundary values that
        vary in time.
        """
        params = self.params if params is None else params
        check_closure_params(params)
        for name, value in (("outer_steps", outer_steps), ("inner_steps", inner_steps)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_checkpoint(checkpoint)
        return self._trajectory_compiled(state, params, int(outer_steps), int(inner_steps),
                                         post_process, checkpoint, t0)

    def run(self, state: State, n_steps: int, params: Params | None = None,
            checkpoint: str | None = "step", t0: float = 0.0) -> State:
        """``n_steps`` steps with ``lax.scan`` (jitted; differentiable in state and params).

        Works under ``jax.grad``/``jax.vjp`` (adjoint), ``jax.jvp``
        (tangent-linear) and ``jax.vmap`` (a leading ensemble axis), on one
        rank or many. On N ranks the gradient of a tile field (state, ``b``)
        is this rank's part of the global gradient, and the gradient of a
        replicated parameter (scalars, closure weights) is the full gradient
        on every rank (see :meth:`replicated`), for a loss that is the sum
        over ranks of per-rank losses (e.g. ``sim.global_sum(...)``).

        checkpoint: memory strategy for reverse-mode differentiation:
            "step"    (default) store one state per step, recompute its
                      stages in the backward pass (the fastest measured,
                      ~1 state per step; docs/differentiation.md);
            None      store every stage's state (~5 states per step; each
                      tendency is recomputed from its stage's state);
            "nested"  store one state per block of ~sqrt(T) steps and one
                      per step inside the block being differentiated
                      (memory ~ sqrt(T), about one extra forward run).
        The result is the same (bit for bit) in every mode; gradients agree
        to round-off.
        t0: the model time (s) of ``state``, seen by a forcing and by
            boundary values that vary in time (the time
            rides along beside the state; the state alone is returned).
        """
        params = self.params if params is None else params
        check_closure_params(params)
        if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
        check_checkpoint(checkpoint)
        return self._run_compiled(state, int(n_steps), params, checkpoint, t0)

    def advance(self, state: State, t: float, t_stop: float, params: Params | None = None,
                *, max_steps: int | None = None, report: bool = False):
        """Step from time t to exactly t_stop (s), watching for blow-ups; see
        :func:`dycore.advance.advance` (the driver's stepping loop)."""
        if params is not None:
            check_closure_params(params)
        return advance(self, state, t, t_stop, params, max_steps=max_steps, report=report)

    # ------------------------------------------------------------ reductions
    def global_sum(self, x):
        """Differentiable sum of a local field over all cells of all ranks."""
        return self.context.global_sum(x)

    def invariant(self, name: str, state: State, params: Params | None = None) -> float:
        """The global integral of an invariant of the equation set (e.g.
        ``"mass"``, m^3), identical for every rank count (collective)."""
        params = self.params if params is None else params
        found = {inv.name: inv for inv in self.model.invariants}
        if name not in found:
            raise ValueError(f"unknown invariant {name!r}; valid: {', '.join(found)}")
        density = np.asarray(found[name].density(state, params), dtype=np.float64)
        return self.context.reproducible_sum(density) * self.grid.cell_area

    def mass(self, state: State) -> float:
        """Total water volume (m^3), identical for every rank count (collective)."""
        return self.invariant("mass", state)

    def gather(self, state: State) -> dict | None:
        """Global numpy arrays {field name: array} on the root rank, None elsewhere."""
        out = {f.name: self.context.gather(np.asarray(getattr(state, f.name)))
               for f in self.model.fields}
        return out if self.context.is_root else None
