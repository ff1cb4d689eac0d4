"""Numerical trouble: a time step above the stability limit (refused before
the run as bad input), and a blow-up during the run (reported with where,
when and why, after saving the last good state).

The state is checked on all ranks after every step by
:meth:`Simulation.advance` (one scalar reduction). On a non-finite value or
a negative depth every rank stops, the last good state is written to the
restart file, the output is closed, and the message names the step, the
time, the worst cell and the likely cause; exit status 1.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from dycore.config import ConfigError
from dycore.driver.cli import resume_hint
from dycore.io import allgather

CFL_LIMIT = 1.0
"""Largest stable Courant number dt * max((|u| + c)/dx + (|v| + c)/dy): the
limit of the TVD/positivity argument for the MUSCL schemes with SSP-RK2/3
(Gottlieb, Shu & Tadmor 2001, SIAM Rev. 43, 89-112); a fixed dt above it at
the initial state (or cfl above it) needs --allow-unstable."""


class NonFinite(Exception):
    """The state blew up (non-finite values or negative depth); exit status 1."""


def signal_rate(sim, state) -> float:
    """The simulation's max CFL rate over all ranks (1/s); collective."""
    return sim.host_signal_rate(state)


def check_stability(sim, state, allow: bool) -> None:
    """Bad input: a fixed dt (or a cfl) above the CFL limit of ``state``.
    Collective (the signal rate is reduced over all ranks), so every rank
    raises the same error."""
    cfg = sim.config
    if allow:
        return
    if cfg.dt is None:
        if cfg.cfl > CFL_LIMIT:
            raise ConfigError(f"config key 'cfl': {cfg.cfl:g} is above the stability limit "
                              f"{CFL_LIMIT:g}; use cfl <= {CFL_LIMIT:g} (default 0.45), or pass "
                              f"--allow-unstable")
        return
    rate = signal_rate(sim, state)
    courant = cfg.dt * rate
    if courant > CFL_LIMIT:
        raise ConfigError(f"config key 'dt': {cfg.dt:g} s is above the CFL stability limit of "
                          f"the initial state, {CFL_LIMIT / rate:.3g} s (Courant number "
                          f"{courant:.3g} > {CFL_LIMIT:g}); use a smaller --dt (the CFL step at "
                          f"cfl = {cfg.cfl:g} is {cfg.cfl / rate:.3g} s), or pass "
                          f"--allow-unstable")


def blow_up(sim, team, fault, state, t, step, ckpt_path, write_ckpt, writer, last_output):
    """Report a blow-up (all ranks): locate the worst cell, write the last
    good state (``state`` at ``t`` s, ``step``) to the restart file, close
    the output, raise NonFinite. ``fault`` is what ``advance`` reported:
    its kind (agreed over the ranks), this rank's kind and worst cell, and
    the step ``dt`` (s) that failed."""
    ctx, cfg = sim.context, sim.config
    kind, dt = fault["kind"], fault["dt"]
    found = [(r, cell) for r, (local, cell) in
             enumerate(allgather(team, (fault["local"], fault["cell"])))
             if local == kind and cell is not None]
    rate = signal_rate(sim, state)
    courant = dt * rate
    write_ckpt(state, t, step)
    if writer:
        writer.close()
    what = {"non-finite": "non-finite values (NaN or inf)",
            "time step": "the time step became zero or non-finite"}.get(kind, kind)
    # otherwise the equation set's violation_name: "negative depth", or
    # "negative density" (the sphere's Williamson test 1)
    if found:
        rank, (i, j) = found[0]
        what += f", {sim.describe_cell(i, j)}" + (f" (rank {rank})" if ctx.size > 1 else "")
    if courant > CFL_LIMIT:
        cause = (f"the time step {dt:.3g} s is above the CFL stability limit {CFL_LIMIT / rate:.3g}"
                 f" s (Courant number {courant:.3g} > {CFL_LIMIT:g})")
        retry = f" --dt {cfg.cfl / rate:.3g}" if cfg.dt is not None else " --cfl 0.45"
    else:
        cause = (f"not the CFL limit (Courant number {courant:.3g} <= {CFL_LIMIT:g}); the flow "
                 f"may be under-resolved: try a smaller --cfl, --limiter minmod, --riemann hll "
                 f"or a finer grid")
        retry = " --cfl 0.3" if cfg.dt is None else f" --dt {0.5 * dt:.3g}"
    kept = (f"; the output up to t = {last_output:g} s is kept in {cfg.output}"
            if writer and last_output is not None else "")
    raise NonFinite(f"blow-up at step {step + 1}, t = {t + dt:.6g} s: {what}; likely cause: "
                    f"{cause}; the last good state (step {step}, t = {t:.6g} s) is in the "
                    f"restart file {ckpt_path}{kept}; to go on from it: "
                    + resume_hint(ctx.size, ckpt_path, cfg.output, step, retry))


def check_state(sim, team, state, source: str) -> None:
    """Bad input: a state to start from (the case's initial state or a
    restart file's, named by ``source``) that the run cannot compute with:
    non-finite values, a state the equation set does not admit (shallow
    water: a depth below ``-dry_tolerance``), values so large that the
    fluxes would overflow the dtype, or a total mass that overflows.
    Every rank reaches the same verdict (the facts are exchanged first)."""
    fields = [np.asarray(getattr(state, f.name)) for f in sim.model.fields]
    finite = all(bool(np.all(np.isfinite(q))) for q in fields)
    # One compiled program (eagerly, each jnp operation of violation compiles on its own).
    violation = jax.jit(lambda s: jnp.any(sim.model.violation(s) > 0))
    admissible = finite and not bool(violation(state))
    largest = [float(np.max(np.abs(q))) if q.size and finite else 0.0 for q in fields]
    facts = allgather(team, (finite, admissible, largest))
    if not all(f for f, _, _ in facts):
        raise ConfigError(f"{source} has non-finite values (NaN or inf)")
    if not all(a for _, a, _ in facts):
        raise ConfigError(f"{source} is not an admissible state of the equations: "
                          f"{sim.model.violation_name} (below -dry_tolerance = "
                          f"{-sim.config.dry_tolerance:g})")
    limit = float(np.finfo(sim.dtype).max)
    g = max(float(sim.config.g), 1.0)
    for k, field in enumerate(sim.model.fields):
        top = max(facts_k[2][k] for facts_k in facts)
        if top * top * g > limit / 16:
            raise ConfigError(f"{source}: |{field.name}| up to {top:.3g} {field.units} is too "
                              f"large to compute with (the fluxes would overflow "
                              f"{np.dtype(sim.dtype).name})")
    try:
        mass = sim.mass(state)
    except OverflowError:
        mass = math.inf
    if not math.isfinite(mass):
        raise ConfigError(f"{source}: its total mass overflows")


def check_time_step(sim, state, t: float) -> None:
    """Bad input: a first time step (the fixed ``dt``, or the CFL step of
    ``state``) that is not a normal number of the run's dtype, or too small
    to advance the time at t_end (the run would never end). Collective."""
    cfg = sim.config
    rate = signal_rate(sim, state)
    if not math.isfinite(rate):
        raise ConfigError(f"the wave speeds of the state at t = {t:g} s are too large to "
                          f"compute a time step with; check the grid (lx, ly, nx, ny) and the "
                          f"case parameters")
    if cfg.dt is not None:
        dt, key = cfg.dt, "config key 'dt'"
    elif rate > 0:
        dt, key = cfg.cfl / rate, f"the CFL time step (cfl = {cfg.cfl:g})"
    else:
        return
    tiny = float(np.finfo(sim.dtype).tiny)
    if not (math.isfinite(dt) and dt >= tiny):
        raise ConfigError(f"{key}: {dt:g} s is not a normal {np.dtype(sim.dtype).name} number; "
                          f"the cells are too small or the waves too fast for this dtype")
    if cfg.t_end + dt <= cfg.t_end:
        raise ConfigError(f"{key}: {dt:g} s is below the resolution of the time at t_end = "
                          f"{cfg.t_end:g} s (the time would stop advancing); use a smaller "
                          f"t_end or a coarser grid")
