"""Steady flows over a bump in a channel, driven through inflow/outflow
boundaries (SWASHES, Delestre et al. 2013, Int. J. Numer. Meth. Fluids 72,
269-300, sec. 3.1; after Goutal & Maurel 1997): 25 m long, bed
b = 0.2 - 0.05 (x - 10)^2 for 8 < x < 12 m, else 0; discharge q (m^2/s)
prescribed upstream (west), depth h_out (m) downstream (east) while the
outflow is subcritical, free outflow when supercritical.

- ``bump_subcritical`` (3.1.1): q = 4.42, h_out = 2, subcritical everywhere;
- ``bump_transcritical`` (3.1.3): q = 1.53, critical at the crest, then
  supercritical to a free outflow;
- ``bump_shock`` (3.1.4): q = 0.18, h_out = 0.33, critical at the crest,
  supercritical downstream of it until a hydraulic jump at x_s.

Exact solution (point values): Bernoulli's relation
q^2/(2 g h^2) + h + b = H on each smooth branch, with H from the outflow
depth (subcritical) or from the critical depth h_c = (q^2/g)^(1/3) at the
crest, H = 3 h_c / 2 + 0.2; the jump sits where the two branches' momentum
functions q^2/h + g h^2/2 agree (Rankine-Hugoniot for a steady jump).
Periodic rows in y. SI units.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dycore.cases.base import Case, _positive

_BISECTIONS = 200
CREST = 10.0


def bump(x):
    """The bed (m) at x (m)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where((x > 8) & (x < 12), 0.2 - 0.05 * (x - CREST) ** 2, 0.0)


def bernoulli_depth(q, head, bed, g, subcritical: bool):
    """The subcritical (h >= h_c) or supercritical (h <= h_c) root of
    q^2/(2 g h^2) + h = head - bed, elementwise, by bisection (m)."""
    bed = np.asarray(bed, dtype=np.float64)
    hc = (q * q / g) ** (1.0 / 3.0)
    lo = np.full_like(bed, hc if subcritical else 1e-9 * hc)
    hi = np.full_like(bed, max(head, hc) + 1.0 if subcritical else hc)
    target = head - bed
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        energy = q * q / (2 * g * mid * mid) + mid
        too_high = energy > target
        if subcritical:
            lo, hi = np.where(too_high, lo, mid), np.where(too_high, mid, hi)
        else:
            lo, hi = np.where(too_high, mid, lo), np.where(too_high, hi, mid)
    return 0.5 * (lo + hi)


def _momentum(q, h, g):
    return q * q / h + 0.5 * g * h * h


def shock_position(q, h_out, g):
    """x_s (m) of the steady hydraulic jump of ``bump_shock``: on (10, 12) the
    supercritical branch from the crest and the subcritical branch of the
    outflow depth have equal momentum functions (bisection)."""
    hc = (q * q / g) ** (1.0 / 3.0)
    up = 1.5 * hc + 0.2
    down = q * q / (2 * g * h_out * h_out) + h_out

    def mismatch(x):
        b = bump(np.array([x]))
        h1 = bernoulli_depth(q, up, b, g, False)
        h2 = bernoulli_depth(q, down, b, g, True)
        return float(_momentum(q, h1, g)[0] - _momentum(q, h2, g)[0])

    lo, hi = CREST + 1e-9, 12.0
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if (mismatch(mid) > 0) == (mismatch(lo) > 0):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def exact_depth(regime, q, h_out, x, g):
    """Exact steady depth (m) at x (m) for ``regime`` 'subcritical',
    'transcritical' or 'shock'."""
    x = np.asarray(x, dtype=np.float64)
    b = bump(x)
    if regime == "subcritical":
        return bernoulli_depth(q, q * q / (2 * g * h_out * h_out) + h_out, b, g, True)
    hc = (q * q / g) ** (1.0 / 3.0)
    crest_head = 1.5 * hc + 0.2
    upstream = bernoulli_depth(q, crest_head, b, g, True)
    downstream = bernoulli_depth(q, crest_head, b, g, False)
    h = np.where(x < CREST, upstream, downstream)
    if regime == "shock":
        x_s = shock_position(q, h_out, g)
        after = bernoulli_depth(q, q * q / (2 * g * h_out * h_out) + h_out, b, g, True)
        h = np.where(x > x_s, after, h)
    return h


@dataclass(frozen=True)
class BumpFlow(Case):
    """Steady flow over a bump (module docstring); case_params ``q`` (m^2/s)
    and ``h_out`` (m; unused by the free outflow of the transcritical case)."""

    regime: str = "subcritical"

    def check_params(self, p):
        _positive(p, "q", "h_out")

    def config_defaults(self, p):
        nx, ny, length = 100, 4, 25.0
        out = {"nx": nx, "ny": ny, "lx": length, "ly": length * ny / nx, "x0": 0.0, "y0": 0.0,
               "t_end": 100.0, "g": 9.81, "f0": 0.0, "beta": 0.0,
               "bc_west": "inflow", "bc_west_discharge": p["q"], "bc_east": "outflow",
               "bc_south": "periodic", "bc_north": "periodic"}
        if self.regime != "transcritical":
            out["bc_east_depth"] = p["h_out"]
        return out

    def bed(self, x, y):
        return np.tile(bump(x), (len(y), 1))

    def initial(self, x, y, cfg):
        h, hu, hv = self.exact(x, y, 0.0, cfg)
        return h, hu, hv, self.bed(x, y)

    def exact(self, x, y, t, cfg):
        p = cfg.case_params
        h = np.tile(exact_depth(self.regime, p["q"], p["h_out"], x, cfg.g), (len(y), 1))
        return h, np.full_like(h, p["q"]), np.zeros_like(h)


SWASHES_CASES: dict[str, Case] = {
    "bump_subcritical": BumpFlow(
        "bump_subcritical", "subcritical steady flow over a bump, inflow/outflow (SWASHES 3.1.1)",
        {"q": 4.42, "h_out": 2.0}, regime="subcritical"),
    "bump_transcritical": BumpFlow(
        "bump_transcritical", "transcritical steady flow over a bump, free outflow "
        "(SWASHES 3.1.3)", {"q": 1.53, "h_out": 0.66}, regime="transcritical"),
    "bump_shock": BumpFlow(
        "bump_shock", "transcritical steady flow over a bump with a hydraulic jump "
        "(SWASHES 3.1.4)", {"q": 0.18, "h_out": 0.33}, regime="shock"),
}


def jump_depths(q, h_out, g):
    """(upstream, downstream) exact depths (m) at the jump of ``bump_shock``."""
    x_s = shock_position(q, h_out, g)
    b = bump(np.array([x_s]))
    hc = (q * q / g) ** (1.0 / 3.0)
    h1 = bernoulli_depth(q, 1.5 * hc + 0.2, b, g, False)[0]
    h2 = bernoulli_depth(q, q * q / (2 * g * h_out * h_out) + h_out, b, g, True)[0]
    return float(h1), float(h2)


def numerical_jump_position(x, h, q, h_out, g):
    """Where a computed depth profile h(x) (cell centres x, m) downstream of
    the crest first crosses the mean of the two exact depths at the jump,
    linearly interpolated between cell centres (m)."""
    x, h = np.asarray(x, dtype=np.float64), np.asarray(h, dtype=np.float64)
    level = 0.5 * sum(jump_depths(q, h_out, g))
    i = int(np.argmax((x > CREST) & (h > level)))
    return float(x[i - 1] + (level - h[i - 1]) / (h[i] - h[i - 1]) * (x[i] - x[i - 1]))
