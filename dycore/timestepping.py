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


def _toward(x, c, y):
    """x + c (y - x): the convex combination (1 - c) x + c y written so that
    its weights sum to exactly 1 whatever the rounding of c (with
    ``(1 - c) * x + c * y`` and c = 2/3 the rounded weights sum to
    1 - 2^-54, a relative bias of the same sign in every cell and step),
    and y == x gives x exactly. For 0 <= c <= 1 the result lies between x
    and y in floating point too (rounding is monotone), so positivity of
    the stages carries over."""
    return jax.tree_util.tree_map(lambda p, q: p + c * (q - p), x, y)


def _identity(state):
    return state


def ssp_rk2(rhs: Callable, state, dt, project: Callable | None = None):
    """Two-stage, second-order SSP-RK (Heun); CFL coefficient 1.

    ``project``: optional map applied to every stage's state (e.g.
    :meth:`dycore.equations.shallow_water.ShallowWater.thin_layer_projection`);
    None changes nothing."""
    project = project or _identity
    s1 = project(_euler(state, rhs(state), dt))
    return project(_blend(0.5, state, 0.5, _euler(s1, rhs(s1), dt)))


def ssp_rk3(rhs: Callable, state, dt, project: Callable | None = None):
    """Three-stage, third-order SSP-RK of Shu & Osher; CFL coefficient 1.

    The stages are u1 = u + dt L(u), u2 = (3/4) u + (1/4)(u1 + dt L(u1))
    (weights exact in binary) and u_new = u + (2/3)(u2 + dt L(u2) - u):
    the last is the convex combination (1/3) u + (2/3)(...) written so that
    the inexact 1/3 and 2/3 do not bias the total mass (see :func:`_toward`).
    ``project``: as in :func:`ssp_rk2`.
    """
    project = project or _identity
    s1 = project(_euler(state, rhs(state), dt))
    s2 = project(_blend(0.75, state, 0.25, _euler(s1, rhs(s1), dt)))
    return project(_toward(state, 2.0 / 3.0, _euler(s2, rhs(s2), dt)))


TIME_STEPPERS: dict[str, Callable] = {"ssp_rk2": ssp_rk2, "ssp_rk3": ssp_rk3}


def make_time_stepper(name: str) -> Callable:
    if name not in TIME_STEPPERS:
        raise ValueError(f"unknown time stepper {name!r}; valid: {', '.join(TIME_STEPPERS)}")
    return TIME_STEPPERS[name]
