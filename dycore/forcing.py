"""The forcing hook of a :class:`dycore.Simulation`: the older closure form,
and the check that closure parameters are arrays.

A forcing is ``forcing(padded_state, t, params, local_grid) -> State``
(tendencies on the interior cells, units of the state per second). Inside
one step from t to t + dt, stage i of an explicit Runge-Kutta scheme
evaluates the right-hand side at the stage time t + c_i dt, where c_i are
the abscissae of its Butcher tableau (Butcher 2016, Numerical Methods for
Ordinary Differential Equations, sec. 23): for the SSP schemes of Shu &
Osher (1988), c = (0, 1) for SSP-RK2 and c = (0, 1, 1/2) for SSP-RK3
(``dycore.timestepping.SSP_RK2.fractions``, ``SSP_RK3.fractions``). A
time-dependent forcing then keeps the scheme's order in time.
"""
from __future__ import annotations

import jax
import numpy as np

from dycore.errors import ConfigError

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
