"""The test-case base class and helpers: initial conditions, domain defaults
and exact solutions of a named case.

Each case sets up the global initial state (and bottom b) on the cell
centres of a tile and, where one exists, the exact solution at time t. Smooth
cases return exact *cell averages* (closed-form integrals over each cell), so
that high-order schemes are not capped at second order by the
point-value/cell-average difference; cases with shocks or dry fronts use
point values at cell centres.

Formulas and references are in docs/verification.md:
- lake at rest: Audusse et al. (2004); discontinuous bed: Chen & Noelle
  (2017), SIAM J. Numer. Anal. 55, 758-784;
- dam breaks: Stoker (1957), Water Waves; Ritter (1892);
- inertia-gravity wave: the E3SM Polaris convergence test;
- geostrophic adjustment: Gill (1982), Atmosphere-Ocean Dynamics, sec. 7.2;
- Kelvin wave: Gill (1982), sec. 10.4;
- unstable jet: Bickley jet, barotropically unstable (Rayleigh-Kuo
  criterion); cf. Poulin & Flierl (2003), J. Phys. Oceanogr. 33, 2173.

All quantities are SI: metres, seconds.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from dycore.errors import ConfigError


# ---------------------------------------------------------------- helpers
def cell_average_cos(phase_centre, k_dx_half, k_dy_half):
    """Exact cell average of cos(kx x + ky y + c) over a dx x dy cell,
    given the phase at the cell centre: cos(phase) sinc(kx dx/2) sinc(ky dy/2)."""
    return np.cos(phase_centre) * np.sinc(k_dx_half / np.pi) * np.sinc(k_dy_half / np.pi)


def cell_average_sin(phase_centre, k_dx_half, k_dy_half):
    return np.sin(phase_centre) * np.sinc(k_dx_half / np.pi) * np.sinc(k_dy_half / np.pi)


def _edges(centres, spacing):
    return centres - 0.5 * spacing, centres + 0.5 * spacing


def _log_cosh(s):
    """log(cosh(s)) without overflow."""
    a = np.abs(s)
    return a + np.log1p(np.exp(-2 * a)) - math.log(2.0)


def stoker_middle_state(h_left: float, h_right: float, g: float):
    """Middle depth h_m (m), velocity u_m (m/s) and shock speed s (m/s) of the
    wet-bed dam break, from the rarefaction relation
    u_m = 2 (sqrt(g h_l) - sqrt(g h_m)) and the Rankine-Hugoniot condition
    u_m = (h_m - h_r) sqrt(g (h_m + h_r) / (2 h_m h_r)), solved by bisection."""

    def mismatch(hm):
        rare = 2 * (math.sqrt(g * h_left) - math.sqrt(g * hm))
        shock = (hm - h_right) * math.sqrt(g * (hm + h_right) / (2 * hm * h_right))
        return rare - shock

    lo, hi = h_right, h_left
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mismatch(mid) > 0:
            lo = mid
        else:
            hi = mid
    hm = 0.5 * (lo + hi)
    um = 2 * (math.sqrt(g * h_left) - math.sqrt(g * hm))
    return hm, um, hm * um / (hm - h_right)


# ------------------------------------------------------------- base class
@dataclass(frozen=True)
class Case:
    """A test case. Subclasses set ``name``, ``summary`` (what it tests),
    ``defaults`` (its parameters), ``choices`` (of the text ones), ``units``
    (of the numeric ones, for ``--list-cases``) and the methods."""

    name: str = ""
    summary: str = ""
    defaults: dict = field(default_factory=dict)
    choices: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)

    geometry = "plane"
    """Where the case lives: "plane" (this module's Config keys) or "sphere"
    (:mod:`dycore.cases.sphere`); a class attribute, not a field."""

    def resolve_params(self, given: dict) -> dict:
        """Case parameters with defaults filled in; unknown or bad ones raise."""
        if not isinstance(given, dict):
            raise ConfigError(f"config key 'case_params': must be a table, got {given!r}")
        params = dict(self.defaults)
        for key, value in given.items():
            if key not in self.defaults:
                valid = ", ".join(self.defaults) or "(none)"
                raise ConfigError(f"config key 'case_params.{key}': unknown for case "
                                  f"{self.name!r}; valid: {valid}")
            default = self.defaults[key]
            if key in self.choices:
                if value not in self.choices[key]:
                    raise ConfigError(f"config key 'case_params.{key}': unknown value {value!r}; "
                                      f"valid: {', '.join(self.choices[key])}")
            elif isinstance(default, (int, float)) and not isinstance(default, bool):
                value = _number(key, value)
            params[key] = value
        self.check_params(params)
        return params

    def check_params(self, p: dict) -> None:
        """Raise ConfigError for physically meaningless parameters."""

    def check_config(self, cfg) -> None:
        """Raise ConfigError for config keys (with the resolved ``cfg``) that
        this case cannot be set up with (e.g. a division by zero)."""

    def config_defaults(self, p: dict) -> dict:
        raise NotImplementedError

    def initial(self, x, y, cfg):
        """(h, hu, hv, b) on the cells with centres x (nx,), y (ny,), each (ny, nx).

        By default the exact solution at t = 0 over a flat bed (b = 0)."""
        h, hu, hv = self.exact(x, y, 0.0, cfg)
        return h, hu, hv, np.zeros_like(h)

    def exact(self, x, y, t, cfg):
        """Exact (h, hu, hv) at time t (s), or None when there is none."""
        return None


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(key, value) -> float:
    """A numeric case parameter as a float: finite and, unless 0, a normal
    float64 (as config keys: subnormals are flushed to zero by XLA)."""
    bad = ConfigError(f"config key 'case_params.{key}': must be a finite number, "
                      f"got {_show(value)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad
    try:
        number = float(value)
    except OverflowError:
        raise bad from None
    if not math.isfinite(number):
        raise bad
    if number != 0 and abs(number) < sys.float_info.min:
        raise ConfigError(f"config key 'case_params.{key}': {number!r} is not a normal "
                          f"number (subnormals are flushed to zero)")
    return number


def _positive(p, *keys):
    for key in keys:
        if p[key] <= 0:
            raise ConfigError(f"config key 'case_params.{key}': must be > 0, got {p[key]}")


def _non_negative(p, *keys):
    for key in keys:
        if p[key] < 0:
            raise ConfigError(f"config key 'case_params.{key}': must be >= 0 "
                              f"(a depth cannot be negative), got {p[key]}")


def _one_dimensional_y(nx_default, lx, ny=4):
    """Domain defaults for a problem along x: a few periodic rows in y, square cells."""
    return {"nx": nx_default, "ny": ny, "lx": lx, "ly": lx * ny / nx_default,
            "bc_south": "periodic", "bc_north": "periodic"}
