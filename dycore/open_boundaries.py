"""Characteristic inflow/outflow boundaries of the shallow-water equations.

A side fill (:data:`parallel.ghosts.SideFill`) that sets the ghost cells of
one side from the boundary data and the Riemann invariant that leaves the
domain through it, taken from the edge cell 1 (``u`` the velocity into the
domain, ``c = sqrt(g h)``; ``u - 2c`` leaves through an inflow,
``u + 2c`` through an outflow):

- ``inflow`` with discharge ``q`` (m^2/s, positive into the domain):
  subcritical, the ghost depth ``h`` solves ``q/h - 2 sqrt(g h) = u_1 -
  2 sqrt(g h_1)`` (the invariant that leaves through the side, from the edge
  cell 1); with a ``depth`` as well, both are imposed (supercritical inflow).
  The tangential velocity is 0.
- ``outflow`` with ``depth`` h_b (m): where the edge cell is subcritical
  (|u_1| < sqrt(g h_1)) the ghost depth is h_b and the normal velocity
  ``u = u_1 + 2 sqrt(g h_1) - 2 sqrt(g h_b)`` keeps the outgoing invariant;
  where it is supercritical, or with no depth, the ghosts copy the edge cell
  (free, transmissive outflow). The tangential velocity is the edge cell's.

The discharge and the depth are constants or functions of the model time
(:mod:`dycore.boundary_values`: a piecewise-linear series or a callable),
evaluated at the time the fill is called with (the Runge-Kutta stage time).
Every ghost cell of the strip gets the same state; the bed's ghosts copy the
edge cell. References: Bristeau & Coussin (2001), INRIA RR-4282, boundary
conditions for the shallow-water equations solved by kinetic schemes;
Delestre et al. (2013), Int. J. Numer. Meth. Fluids 72, 269-300 (SWASHES),
whose bump cases use these conditions. Units: m, s.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from dycore.boundary_values import as_value, check_value, is_timed, value_at

OPEN_KINDS = ("inflow", "outflow")
"""Boundary kinds added by this module (config keys ``bc_<side>``)."""

_NEWTON_STEPS = 30


def _inflow_depth(q, w, g, h0):
    """The depth h > 0 with q/h - 2 sqrt(g h) = w (a decreasing function of
    h for q > 0), by Newton's method on s = sqrt(h) from s = sqrt(h0),
    a fixed number of steps (differentiable, no data-dependent loop)."""
    sg = jnp.sqrt(g)
    s = jnp.sqrt(jnp.maximum(h0, 1e-12))
    for _ in range(_NEWTON_STEPS):
        f = q / (s * s) - 2 * sg * s - w
        df = -2 * q / (s * s * s) - 2 * sg
        s = jnp.maximum(s - f / df, 0.5 * s)
    return s * s


@dataclass(frozen=True)
class OpenBoundary:
    """The side fill of one side: ``kind`` 'inflow' or 'outflow', the
    ``discharge`` (m^2/s into the domain; inflow) and ``depth`` (m; optional
    for both), each a constant or a function of the model time t (s), ``g``
    (m/s^2) and the dry tolerance (m). Called as a side fill with the model
    time ``t`` (s) as a keyword (None: t = 0)."""

    kind: str
    discharge: float | None = None
    depth: float | None = None
    g: float = 9.81
    dry_tolerance: float = 1e-10

    @property
    def timed(self) -> bool:
        """Whether the fill depends on the model time."""
        return is_timed(self.discharge) or is_timed(self.depth)

    def _at(self, value, t, dtype):
        return value_at(value, t, dtype) if is_timed(value) else value

    def __call__(self, side, inner, kinds, t=None):
        normal_index = 0 if side in ("west", "east") else 1
        vectors = [getattr(k, "vector", None) for k in kinds]
        axis = -1 if side in ("west", "east") else -2
        lo = side in ("west", "south")
        n = inner[0].shape[axis]
        edge_at = 0 if lo else n - 1

        def edge(q):
            idx = [slice(None)] * q.ndim
            idx[axis] = slice(edge_at, edge_at + 1)
            return q[tuple(idx)]

        def spread(q):
            return jnp.broadcast_to(q, inner[0].shape) if q.shape != inner[0].shape else q

        if len(inner) != 3 or vectors[0] is not None:
            # The bed (or any other field set): zero gradient.
            return [spread(edge(q)) for q in inner]
        components = {getattr(k, "component", None): i for i, k in enumerate(kinds)
                      if getattr(k, "vector", None) is not None}
        i_n, i_t = components[normal_index], components[1 - normal_index]
        h1 = edge(inner[0])
        wet = h1 > self.dry_tolerance
        safe_h = jnp.where(wet, h1, 1.0)
        sign = 1.0 if lo else -1.0          # inward normal along +axis on a lo side
        u1 = jnp.where(wet, sign * edge(inner[i_n]) / safe_h, 0.0)
        v1 = jnp.where(wet, edge(inner[i_t]) / safe_h, 0.0)
        c1 = jnp.sqrt(self.g * jnp.maximum(h1, 0.0))
        depth = self._at(self.depth, t, h1.dtype)
        if self.kind == "inflow":
            q = jnp.asarray(self._at(self.discharge, t, h1.dtype), h1.dtype)
            if depth is not None:
                h = jnp.full_like(h1, depth)
            else:
                h = _inflow_depth(q, u1 - 2 * c1, self.g, h1)
            hu, hv = q * jnp.ones_like(h1), jnp.zeros_like(h1)
        else:
            if depth is None:
                h, u, v = h1, u1, v1
            else:
                hb = jnp.asarray(depth, h1.dtype)
                subcritical = jnp.abs(u1) < c1
                u = jnp.where(subcritical, u1 + 2 * c1 - 2 * jnp.sqrt(self.g * hb), u1)
                h, v = jnp.where(subcritical, hb, h1), v1
            hu, hv = h * u, h * v
        out = [None, None, None]
        out[0], out[i_n], out[i_t] = spread(h), spread(sign * hu), spread(hv)
        return out


def check_open_boundary(key, kind, discharge, depth, check_positive) -> None:
    """ConfigError (one line) unless the ``<key>_discharge`` and ``<key>_depth``
    keys fit the kind of side ``key`` ('bc_west', ...): an inflow needs a
    discharge, an outflow takes no discharge, other kinds take neither.
    A value is a number, checked by ``check_positive(key, value)``, or a
    time series (:func:`dycore.boundary_values.check_value`)."""
    from dycore.errors import ConfigError

    for suffix, value, unit in (("_discharge", discharge, "m^2/s"), ("_depth", depth, "m")):
        if value is not None:
            if kind not in OPEN_KINDS:
                raise ConfigError(f"config key '{key}{suffix}': only for {key} = 'inflow' "
                                  f"or 'outflow', got {key} = {kind!r}")
            check_value(key + suffix, value, unit, check_positive)
    if kind == "inflow" and discharge is None:
        raise ConfigError(f"config key '{key}_discharge': {key} = 'inflow' needs a discharge "
                          f"(m^2/s into the domain)")
    if kind == "outflow" and discharge is not None:
        raise ConfigError(f"config key '{key}_discharge': an outflow takes a depth "
                          f"('{key}_depth'), not a discharge")


def boundary_kinds(cfg) -> list:
    """The boundary of each side (west, east, south, north) for
    :class:`parallel.ghosts.Boundaries`: the named kind, or for 'inflow' and
    'outflow' the side fill :class:`OpenBoundary` with the config's values."""
    out = []
    for side in ("west", "east", "south", "north"):
        kind = getattr(cfg, "bc_" + side)
        if kind in OPEN_KINDS:
            kind = OpenBoundary(kind, as_value(getattr(cfg, f"bc_{side}_discharge")),
                                as_value(getattr(cfg, f"bc_{side}_depth")), g=float(cfg.g),
                                dry_tolerance=float(cfg.dry_tolerance))
        out.append(kind)
    return out
