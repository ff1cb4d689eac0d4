"""Stepping a :class:`dycore.Simulation` from one time to another while
watching for blow-ups: the loop the command-line driver runs between output
and checkpoint times.

The checks come from the equation set's declaration
(:mod:`dycore.equations.base`): every prognostic field must stay finite, and
the equation set's ``violation(state)`` (for shallow water: depth below
``-dry_tolerance``) must stay zero. One scalar reduction over ranks per
step, so every rank stops at the same step.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

FAULT_NON_FINITE, FAULT_VIOLATION, FAULT_TIME_STEP = 2, 1, 3


def _all_finite(state):
    leaves = jax.tree_util.tree_leaves(state)
    finite = jnp.isfinite(leaves[0])
    for leaf in leaves[1:]:
        finite = finite & jnp.isfinite(leaf)
    return finite


def advance_loop(sim, state, t, t_stop, max_steps, params):
    """The stepping loop of :func:`advance` (pure; jitted by the Simulation).

    Returns (state, t, steps, status, dt, worst cell, local status)."""
    b_padded = sim.pad_bed(params)
    model = sim.model

    def cond(carry):
        _, t_now, n, status = carry[:4]
        return (t_now < t_stop) & (n < max_steps) & (status == 0)

    def locate(s):
        # Worst cell of this tile: non-finite first, then the largest violation.
        score = jnp.where(_all_finite(s), model.violation(s), jnp.inf)
        return jnp.argmax(score.ravel()).astype(jnp.int64)

    def body(carry):
        s, t_now, n = carry[:3]
        dt = sim.time_step(s, params).astype(t_now.dtype)
        # A zero, non-finite or negligible step would never reach t_stop.
        dt_ok = jnp.isfinite(dt) & (t_now + dt > t_now)
        last = t_now + dt >= t_stop * (1 - 1e-14)
        dt = jnp.where(last, t_stop - t_now, dt)
        new = sim._step_dt(s, params, dt.astype(sim.dtype), b_padded, t_now)
        violated = jnp.where(jnp.any(model.violation(new) > 0), FAULT_VIOLATION, 0)
        local = jnp.where(jnp.all(_all_finite(new)), violated, FAULT_NON_FINITE)
        status = jnp.where(dt_ok, sim.context.global_max(local.astype(jnp.int32)),
                           FAULT_TIME_STEP)
        ok = status == 0
        cell = lax.cond(local > 0, locate, lambda _: jnp.int64(-1), new)
        s = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, s)
        t_new = jnp.where(ok, jnp.where(last, t_stop, t_now + dt), t_now)
        return s, t_new, n + ok.astype(n.dtype), status, dt, cell, local.astype(jnp.int32)

    zero, ok = jnp.zeros((), jnp.int64), jnp.zeros((), jnp.int32)
    carry = (state, t, zero, ok, jnp.zeros((), t.dtype), zero - 1, ok)
    return lax.while_loop(cond, body, carry)


def advance(sim, state, t: float, t_stop: float, params=None, *, max_steps: int | None = None,
            report: bool = False):
    """Step from time t to exactly t_stop (s); the last step is shortened.

    Returns (state, t_stop, steps taken). Uses a while loop, so it is for
    driving runs, not for reverse-mode differentiation (use ``sim.run``).

    max_steps: stop after this many steps even before t_stop (the steps
        taken are the same as without it: a run cut into pieces this way
        repeats the uncut run bit for bit).
    Faults: after every step the new state is checked on all ranks; if some
        cell is non-finite or violates the equation set's admissibility
        (shallow water: a depth below ``-dry_tolerance``), or the step size
        became zero or non-finite, the loop stops on every rank at that step
        and returns the last good state, with t = NaN (``report=False``).
    report: return (state, t, steps, fault) instead, with t the time of
        the returned (last good) state and fault None or a dict:
        ``kind`` ("non-finite", the equation set's ``violation_name`` such as
        "negative depth", or "time step"), ``dt`` the failed step's length
        (s), ``cell`` this rank's worst cell of the failed step as global
        (i, j) indices (x, y), or None where this rank's tile was fine, and
        ``local`` the kind of fault on this rank's tile (None where fine).
    """
    params = sim.params if params is None else params
    limit = np.iinfo(np.int64).max if max_steps is None else int(max_steps)
    state, t, n, status, dt, cell, local = sim._advance_compiled(
        state, jnp.asarray(t, jnp.float64), jnp.asarray(t_stop, jnp.float64),
        jnp.asarray(limit, jnp.int64), params)
    status, n, t = int(status), int(n), float(t)
    fault = None
    if status:
        cell = int(cell)
        if cell >= 0:
            j, i = divmod(cell, sim.tile.nx)
            cell = (int(sim.tile.i0) + i, int(sim.tile.j0) + j)
        kinds = {0: None, FAULT_VIOLATION: sim.model.violation_name,
                 FAULT_NON_FINITE: "non-finite", FAULT_TIME_STEP: "time step"}
        fault = {"kind": kinds[status], "dt": float(dt), "local": kinds[int(local)],
                 "cell": cell if cell != -1 else None}
    if report:
        return state, t, n, fault
    return state, (float("nan") if fault else t), n
