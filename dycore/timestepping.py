"""Strong-stability-preserving Runge-Kutta time steppers (Shu & Osher 1988,
J. Comput. Phys. 77, 439-471; Gottlieb, Shu & Tadmor 2001, SIAM Rev. 43,
89-112), written as convex combinations of forward-Euler stages so that any
property of the Euler step (positivity, well-balancing) carries over.

A stepper is built from a right-hand side ``rhs(state) -> tendency`` (both
pytrees with the same structure) and advances ``state`` by ``dt`` seconds.

The stages run as one ``lax.scan`` over the stage index (:func:`advance_stages`):
the tendency appears once in the compiled program instead of once per
stage, which cuts XLA's compile time of a step about threefold for SSP-RK3
(docs/performance.md). Each stage's combination is chosen by a select on
the stage index, so the arithmetic, and every result bit, is that of the
stages written out one after another.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax


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


def _take_euler(start, euler):
    return euler


@dataclass(frozen=True)
class StageScheme:
    """An SSP-RK scheme as Euler stages: stage k takes the previous stage's
    state s, forms the Euler update e = s + dt L(s, t + c_k dt) and makes the
    next state ``combine[k](u, e)`` from the step's initial state u and e.

    fractions: the stage times c_k as fractions of dt (the abscissae of the
        Butcher tableau; Butcher 2016, Numerical Methods for Ordinary
        Differential Equations, sec. 23), in the order the stages run.
    combine: one function ``(u, e) -> state`` per stage.
    """
    name: str
    fractions: tuple[float, ...]
    combine: tuple[Callable, ...]

    @property
    def stages(self) -> int:
        return len(self.fractions)


SSP_RK2 = StageScheme(
    "ssp_rk2", (0.0, 1.0),
    (_take_euler, lambda u, e: _blend(0.5, u, 0.5, e)))
"""Two-stage, second-order SSP-RK (Heun); CFL coefficient 1."""

SSP_RK3 = StageScheme(
    "ssp_rk3", (0.0, 1.0, 0.5),
    (_take_euler, lambda u, e: _blend(0.75, u, 0.25, e),
     lambda u, e: _toward(u, 2.0 / 3.0, e)))
"""Three-stage, third-order SSP-RK of Shu & Osher; CFL coefficient 1. The
stages are u1 = u + dt L(u), u2 = (3/4) u + (1/4)(u1 + dt L(u1)) (weights
exact in binary) and u_new = u + (2/3)(u2 + dt L(u2) - u): the last is the
convex combination (1/3) u + (2/3)(...) written so that the inexact 1/3 and
2/3 do not bias the total mass (see :func:`_toward`)."""

SCHEMES: dict[str, StageScheme] = {s.name: s for s in (SSP_RK2, SSP_RK3)}


def _select(k, candidates):
    """The candidates[k] pytree for a traced stage index k (an elementwise
    select: no arithmetic, so the chosen values keep every bit)."""
    chosen = candidates[-1]
    for i in range(len(candidates) - 2, -1, -1):
        chosen = jax.tree_util.tree_map(lambda a, b, i=i: jnp.where(k == i, a, b),
                                        candidates[i], chosen)
    return chosen


def advance_stages(scheme: StageScheme, rhs: Callable, state, dt, project: Callable | None = None):
    """One step of ``scheme`` from ``state`` over ``dt`` (s).

    rhs: ``rhs(state, c) -> tendency``, c the stage time as a fraction of
        dt (a traced scalar of dt's dtype; the stage time is t + c dt).
    project: optional map applied to every stage's state (e.g.
        :meth:`dycore.equations.shallow_water.ShallowWater.thin_layer_projection`);
        None changes nothing.
    """
    project = project or _identity
    fractions = jnp.asarray(scheme.fractions, jnp.result_type(dt))

    def stage(s, k):
        e = _euler(s, rhs(s, fractions[k]), dt)
        return project(_select(k, [combine(state, e) for combine in scheme.combine])), None

    return lax.scan(stage, state, jnp.arange(scheme.stages))[0]


def _stepper(scheme: StageScheme) -> Callable:
    def step(rhs: Callable, state, dt, project: Callable | None = None):
        return advance_stages(scheme, lambda s, c: rhs(s), state, dt, project)
    step.__name__ = scheme.name
    step.__doc__ = (f"One {scheme.name} step with ``rhs(state)`` (no stage time); "
                    f"``project`` as in :func:`advance_stages`. See {scheme.name.upper()}.")
    step.scheme = scheme
    return step


TIME_STEPPERS: dict[str, Callable] = {name: _stepper(s) for name, s in SCHEMES.items()}
ssp_rk2 = TIME_STEPPERS["ssp_rk2"]
ssp_rk3 = TIME_STEPPERS["ssp_rk3"]


def make_time_stepper(name: str) -> Callable:
    if name not in TIME_STEPPERS:
        raise ValueError(f"unknown time stepper {name!r}; valid: {', '.join(TIME_STEPPERS)}")
    return TIME_STEPPERS[name]
