"""The forcing hook of a :class:`dycore.Simulation`: the model time seen by
each Runge-Kutta stage, the older closure form, and the check that closure
parameters are arrays.

A forcing is ``forcing(padded_state, t, params, local_grid) -> State``
(tendencies on the interior cells, units of the state per second). Inside
one step from t to t + dt, stage i of an explicit Runge-Kutta scheme
evaluates the right-hand side at the stage time t + c_i dt, where c_i are
the abscissae of its Butcher tableau (Butcher 2016, Numerical Methods for
Ordinary Differential Equations, sec. 23): for the SSP schemes of Shu &
Osher (1988), c = (0, 1) for SSP-RK2 and c = (0, 1, 1/2) for SSP-RK3. A
time-dependent forcing then keeps the scheme's order in time.
"""
from __future__ import annotations

import jax
import numpy as np

from dycore.errors import ConfigError

STAGE_FRACTIONS = {"ssp_rk2": (0.0, 1.0), "ssp_rk3": (0.0, 1.0, 0.5)}
"""c_i of each time stepper's stages, in the order it evaluates them."""

PARTITION_HINT = ("closure parameters must be a pytree of arrays; for an equinox module "
                  "pass the arrays only (weights, static = eqx.partition(model, "
                  "eqx.is_array)) and rebuild it inside the forcing with "
                  "eqx.combine(params.closure, static); see docs/differentiation.md")


def legacy_closure(closure):
    """The older hook ``closure(params.closure, padded_state, local_grid)``
    as a forcing (it sees neither the time nor the physical parameters)."""
    def forcing(padded, t, params, local_grid):
        return closure(params.closure, padded, local_grid)
    forcing.legacy = closure
    return forcing


def staged_rhs(tendency, params, b_padded, t, dt, fractions):
    """``rhs(state)`` for a time stepper: the k-th call (stage k) evaluates
    ``tendency`` at the stage time t + c_k dt. The stepper calls its
    right-hand side once per stage, in stage order, while it is traced;
    a stepper with more stages than ``fractions`` is refused."""
    stages = iter(fractions)

    def rhs(state):
        c = next(stages, None)
        if c is None:
            raise RuntimeError(f"the time stepper has more stages than the {len(fractions)} "
                               f"stage times declared in dycore.forcing.STAGE_FRACTIONS")
        t_stage = 0.0 if t is None else t
        return tendency(state, params=params, b_padded=b_padded,
                        t=t_stage + c * dt if c else t_stage)

    return rhs


def _is_array_like(leaf) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray, np.generic, int, float, complex))


def check_closure_params(params) -> None:
    """ConfigError unless every leaf of ``params.closure`` is an array or a
    number (a function, string or module object left in an unfiltered
    equinox/flax module cannot be traced)."""
    closure = getattr(params, "closure", None)
    if closure is None:
        return
    leaves = jax.tree_util.tree_leaves_with_path(closure)
    for path, leaf in leaves:
        if not _is_array_like(leaf):
            where = jax.tree_util.keystr(path) or "(the root)"
            raise ConfigError(f"closure parameter leaf {where} is a {type(leaf).__name__}, "
                              f"not an array: {PARTITION_HINT}")
