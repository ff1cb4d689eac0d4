"""Verification cases off the beaten path (issue 16): a moving shoreline in a
paraboloid and a nonlinear steady vortex. Formulas, derivations and sources
are in docs/verification.md; results in docs/numerics.md.

- ``thacker_planar``: the planar surface in a paraboloid of Thacker (1981),
  J. Fluid Mech. 107, 499-508, as set up in SWASHES (Delestre et al. 2013,
  Int. J. Numer. Meth. Fluids 72, 269-300, sec. 4.2.2): a wet/dry front
  that moves around a bowl, with an exact solution at every time.
- ``gaussian_vortex``: a steady cyclo-geostrophic (gradient-wind balanced)
  Gaussian depression on a doubly periodic f-plane: an exact steady state of
  the nonlinear equations, smooth, genuinely 2-D, with exact cell averages
  (Gauss-Legendre quadrature, 6 x 6 points per cell).

All quantities are SI: metres, seconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dycore.cases.base import Case, _positive
from dycore.errors import ConfigError


# ------------------------------------------------------- Thacker, planar
@dataclass(frozen=True)
class ThackerPlanar(Case):
    """Planar surface oscillating in a paraboloid bowl (SWASHES 4.2.2).

    b = -h0 (1 - r^2/a^2) with r the distance from the domain centre;
    h = max(0, (eta h0 / a^2)(2 X cos(w t) + 2 Y sin(w t) - eta) - b),
    u = -eta w sin(w t), v = eta w cos(w t) where wet, w = sqrt(2 g h0)/a,
    (X, Y) relative to the centre. Walls; no rotation, no drag. Point
    values at cell centres (there is a dry front)."""

    def check_params(self, p):
        _positive(p, "h0", "a", "eta", "periods")
        if p["eta"] >= p["a"]:
            raise ConfigError("config key 'case_params.eta': must be below a (the wet disc "
                              "must stay inside the bowl)")

    def omega(self, p, g):
        return math.sqrt(2 * g * p["h0"]) / p["a"]

    def config_defaults(self, p):
        g = 9.81
        period = 2 * math.pi / self.omega(p, g)
        return {"nx": 100, "ny": 100, "lx": 4.0, "ly": 4.0, "x0": 0.0, "y0": 0.0,
                "t_end": p["periods"] * period, "g": g, "f0": 0.0, "beta": 0.0,
                "bc_west": "wall", "bc_east": "wall", "bc_south": "wall", "bc_north": "wall"}

    def _relative(self, x, y, cfg):
        X, Y = np.meshgrid(x, y)
        return X - (cfg.x0 + 0.5 * cfg.lx), Y - (cfg.y0 + 0.5 * cfg.ly)

    def bed(self, x, y, cfg):
        p = cfg.case_params
        X, Y = self._relative(x, y, cfg)
        return -p["h0"] * (1 - (X * X + Y * Y) / p["a"] ** 2)

    def initial(self, x, y, cfg):
        h, hu, hv = self.exact(x, y, 0.0, cfg)
        return h, hu, hv, self.bed(x, y, cfg)

    def exact(self, x, y, t, cfg):
        p = cfg.case_params
        w = self.omega(p, cfg.g)
        X, Y = self._relative(x, y, cfg)
        a2, eta = p["a"] ** 2, p["eta"]
        surface = eta * p["h0"] / a2 * (2 * X * math.cos(w * t) + 2 * Y * math.sin(w * t) - eta)
        h = np.maximum(0.0, surface - self.bed(x, y, cfg))
        wet = h > 0
        u = np.where(wet, -eta * w * math.sin(w * t), 0.0)
        v = np.where(wet, eta * w * math.cos(w * t), 0.0)
        return h, h * u, h * v

    def max_speed(self, cfg):
        """The exact speed |(u, v)| = eta w (m/s), the same everywhere wet."""
        return cfg.case_params["eta"] * self.omega(cfg.case_params, cfg.g)


# ------------------------------------------------- steady Gaussian vortex
_GAUSS_POINTS = 6


def _cell_average(func, x, y, dx, dy):
    """Cell averages of func(X, Y) over dx x dy cells centred on x (nx,), y (ny,),
    by tensor Gauss-Legendre quadrature (6 x 6 points: error O(dx^12))."""
    nodes, weights = np.polynomial.legendre.leggauss(_GAUSS_POINTS)
    total = 0.0
    for xi, wx in zip(nodes, weights):
        for yj, wy in zip(nodes, weights):
            X, Y = np.meshgrid(x + 0.5 * dx * xi, y + 0.5 * dy * yj)
            total = total + 0.25 * wx * wy * func(X, Y)
    return total


@dataclass(frozen=True)
class GaussianVortex(Case):
    """A steady cyclonic Gaussian depression in gradient-wind balance.

    h = H - A exp(-r^2 / (2 R^2)); azimuthal velocity
    V(r) = (r/2) (-f + sqrt(f^2 + 4 g h_r / r)), the root of
    V^2/r + f V = g dh/dr that tends to geostrophy for small V; u = -V Y/r,
    v = V X/r (counter-clockwise for f > 0). R follows from the Rossby
    number Ro = U_g / (f R) of the peak geostrophic speed
    U_g = g A exp(-1/2) / (f R): R = sqrt(g A exp(-1/2) / (f^2 Ro)).
    Doubly periodic square of ``domain_radii`` R a side, vortex at its
    centre (the depth anomaly is exp(-domain_radii^2/8) A at the edges).
    Exact steady state: exact(t) = initial state, cell averages."""

    def check_params(self, p):
        _positive(p, "depth", "anomaly", "rossby", "domain_radii")
        if p["anomaly"] >= p["depth"]:
            raise ConfigError("config key 'case_params.anomaly': must be below depth")

    def radius(self, p, g, f):
        return math.sqrt(g * p["anomaly"] * math.exp(-0.5) / (f * f * p["rossby"]))

    def config_defaults(self, p):
        g, f0 = 9.81, 1.0e-4
        length = p["domain_radii"] * self.radius(p, g, f0)
        return {"nx": 64, "ny": 64, "lx": length, "ly": length, "x0": 0.0, "y0": 0.0,
                "t_end": 21600.0, "g": g, "f0": f0, "beta": 0.0,
                "bc_west": "periodic", "bc_east": "periodic",
                "bc_south": "periodic", "bc_north": "periodic"}

    def check_config(self, cfg):
        if not cfg.f0 > 0:
            raise ConfigError(f"config key 'f0': the gradient-wind vortex needs f0 > 0, "
                              f"got {cfg.f0:g}")

    def point_values(self, X, Y, cfg):
        """Exact (h, hu, hv) at points (X, Y) relative to the vortex centre."""
        p = cfg.case_params
        g, f = cfg.g, cfg.f0
        R = self.radius(p, g, f)
        A = p["anomaly"]
        r2 = X * X + Y * Y
        gauss = np.exp(-0.5 * r2 / (R * R))
        h = p["depth"] - A * gauss
        # g h_r / r = g A gauss / R^2 (finite at r = 0): V / r = (-f + sqrt(f^2 + 4 g h_r/r)) / 2.
        v_over_r = 0.5 * (-f + np.sqrt(f * f + 4 * g * A * gauss / (R * R)))
        return h, -h * v_over_r * Y, h * v_over_r * X

    def exact(self, x, y, t, cfg):
        xc, yc = cfg.x0 + 0.5 * cfg.lx, cfg.y0 + 0.5 * cfg.ly
        dx, dy = cfg.lx / cfg.nx, cfg.ly / cfg.ny
        return tuple(_cell_average(lambda X, Y, k=k: self.point_values(X - xc, Y - yc, cfg)[k],
                                   np.asarray(x), np.asarray(y), dx, dy) for k in range(3))


VERIFICATION_CASES: dict[str, Case] = {
    "thacker_planar": ThackerPlanar(
        "thacker_planar", "planar surface oscillating in a paraboloid (moving shoreline, SWASHES 4.2.2)",
        {"h0": 0.1, "a": 1.0, "eta": 0.5, "periods": 1.0}),
    "gaussian_vortex": GaussianVortex(
        "gaussian_vortex", "steady cyclo-geostrophic Gaussian vortex, doubly periodic f-plane",
        {"depth": 100.0, "anomaly": 10.0, "rossby": 0.2, "domain_radii": 12.0}),
}
