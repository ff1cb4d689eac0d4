"""Strong-stability-preserving Runge-Kutta time steppers (Shu & Osher 1988,
J. Comput. Phys. 77, 439-471; Gottlieb, Shu & Tadmor 2001, SIAM Rev. 43,
89-112), written as convex combinations of forward-Euler stages so that any
property of the Euler step (positivity, well-balancing) carries over.

A stepper is built from a right-hand side ``rhs(state) -> tendency`` (both
pytrees with the same structure) and advances ``state`` by ``dt`` seconds.
"""
from __future__ import annotations

from typing import Callable

import jax


def _euler(state, tendency, dt):
    return jax.tree_util.tree_map(lambda q, dq: q + dt * dq, state, tendency)


def _blend(a, x, b, y):
    return jax.tree_util.tree_map(lambda p, q: a * p + b * q, x, y)


def ssp_rk2(rhs: Callable, state, dt):
    """Two-stage, second-order SSP-RK (Heun); CFL coefficient 1."""
    s1 = _euler(state, rhs(state), dt)
    return _blend(0.5, state, 0.5, _euler(s1, rhs(s1), dt))


def ssp_rk3(rhs: Callable, state, dt):
    """Three-stage, third-order SSP-RK of Shu & Osher; CFL coefficient 1."""
    s1 = _euler(state, rhs(state), dt)
    s2 = _blend(0.75, state, 0.25, _euler(s1, rhs(s1), dt))
    return _blend(1.0 / 3.0, state, 2.0 / 3.0, _euler(s2, rhs(s2), dt))


TIME_STEPPERS: dict[str, Callable] = {"ssp_rk2": ssp_rk2, "ssp_rk3": ssp_rk3}


def make_time_stepper(name: str) -> Callable:
    if name not in TIME_STEPPERS:
        raise ValueError(f"unknown time stepper {name!r}; valid: {', '.join(TIME_STEPPERS)}")
    return TIME_STEPPERS[name]
