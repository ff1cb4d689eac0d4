"""Values of open-boundary data (discharge in m^2/s, depth in m) that are
constant or vary in model time t (s).

A value is given as

- a number: constant;
- a time series ``[[t0, v0], [t1, v1], ...]`` (config keys, TOML arrays):
  piecewise linear in t between the points, held at v0 before t0 and at the
  last value after the last time; the times must increase strictly;
- from Python, a callable ``v(t)`` of the model time (a JAX scalar inside a
  jitted run, so it must be a jit-compatible function of it).

The boundary fill sees the stage time t + c_i dt of each Runge-Kutta stage
(:mod:`dycore.forcing`), so a value linear in time within a step is
integrated exactly by the third-order scheme (its quadrature weights 1/6,
1/6, 2/3 at c = 0, 1, 1/2 are Simpson's rule).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp

from dycore.errors import ConfigError


@dataclass(frozen=True)
class Series:
    """A piecewise-linear time series: ``times`` (s, strictly increasing)
    and ``values`` (units of the boundary value), tuples of floats."""

    times: tuple
    values: tuple

    def __call__(self, t):
        t = jnp.asarray(t)
        value = jnp.asarray(self.values[0], t.dtype)
        # Segment by segment: v_{k-1} + w (v_k - v_{k-1}), w clipped to [0, 1],
        # is exactly v_{k-1} at t = t_{k-1} and where the two values are
        # equal (a constant series gives its value bit for bit).
        for k in range(1, len(self.times)):
            t0, t1 = self.times[k - 1], self.times[k]
            v0, v1 = self.values[k - 1], self.values[k]
            w = jnp.clip((t - t0) / (t1 - t0), 0.0, 1.0)
            value = jnp.where(t >= t0, v0 + w * (v1 - v0), value)
        return value


def is_timed(value) -> bool:
    """True for a value that varies in time (a series or a callable)."""
    return value is not None and not isinstance(value, (int, float))


def as_value(value):
    """The config form of a value as used by the fill: a number stays a
    float, a list of pairs becomes a :class:`Series`, a callable stays."""
    if value is None or callable(value):
        return value
    if isinstance(value, (list, tuple)):
        return Series(tuple(float(p[0]) for p in value), tuple(float(p[1]) for p in value))
    return float(value)


def value_at(value, t, dtype):
    """The value at model time ``t`` (s) as a ``dtype`` scalar."""
    if not is_timed(value):
        return jnp.asarray(value, dtype)
    return jnp.asarray(value(jnp.asarray(0.0 if t is None else t, dtype)), dtype)


def check_value(key: str, value, unit: str, check_positive) -> None:
    """ConfigError (one line, naming ``key``) unless ``value`` is a positive
    number (checked by ``check_positive(key, value)``), a callable, or a
    series of [time (s), value (``unit``)] pairs with finite, strictly
    increasing times and positive values."""
    if callable(value):
        return
    if not isinstance(value, (list, tuple)):
        check_positive(key, value)
        return
    form = f"a number or a time series [[t0, v0], [t1, v1], ...] (t in s, v in {unit})"
    if not value:
        raise ConfigError(f"config key {key!r}: an empty time series; expected {form}")
    previous = -math.inf
    for n, point in enumerate(value):
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise ConfigError(f"config key {key!r}: point {n} of the time series is "
                              f"{_show(point)}, not a pair [t, v]; expected {form}")
        t, v = point
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise ConfigError(f"config key {key!r}: point {n}: time {_show(t)} is not a "
                              f"finite number of seconds")
        if t <= previous:
            raise ConfigError(f"config key {key!r}: point {n}: time {t!r} s does not follow "
                              f"{previous!r} s; times must increase strictly")
        previous = t
        check_positive(f"{key}[{n}]", v)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
