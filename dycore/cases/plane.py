"""The cases on a Cartesian plane (f/beta plane): lake at rest, dam breaks,
inertia-gravity wave, geostrophic adjustment, steady and unstable jets,
Kelvin wave. Formulas and references are in docs/verification.md and in
:mod:`dycore.cases.base`. SI units."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from dycore.cases.base import (Case, _edges, _log_cosh, _non_negative, _one_dimensional_y,
                               _positive, cell_average_cos, cell_average_sin,
                               stoker_middle_state)
from dycore.errors import ConfigError

# ------------------------------------------------------------ lake at rest
@dataclass(frozen=True)
class LakeAtRest(Case):
    """A lake at rest over a bump: surface flat, velocity zero, forever.

    smooth:        b = amplitude exp(-100 (x^2 + y^2)) on [-0.5, 0.5]^2, walls;
                   an amplitude above ``surface`` makes a dry island.
    discontinuous: the Chen & Noelle (2017) bed on x in [0, 1] with dry cells,
                   b = sin(4 pi x) + 3 (x < 0.5), sin(4 pi x) + 1 (x >= 0.5),
                   surface max(b, 2.5) left and max(b, 1.5) right.
    """

    def config_defaults(self, p):
        base = {"t_end": 0.5, "f0": 0.0, "beta": 0.0, "g": 9.81,
                "bc_west": "wall", "bc_east": "wall"}
        if p["variant"] == "smooth":
            return {**base, "nx": 64, "ny": 64, "lx": 1.0, "ly": 1.0, "x0": -0.5, "y0": -0.5,
                    "bc_south": "wall", "bc_north": "wall"}
        return {**base, **_one_dimensional_y(200, 1.0)}

    def initial(self, x, y, cfg):
        p = cfg.case_params
        X, Y = np.meshgrid(x, y)
        if p["variant"] == "smooth":
            b = p["amplitude"] * np.exp(-100 * (X * X + Y * Y))
            h = np.maximum(p["surface"] - b, 0.0)
        else:
            left = X < 0.5
            b = np.sin(4 * np.pi * X) + np.where(left, 3.0, 1.0)
            h = np.where(left, np.maximum(b, 2.5), np.maximum(b, 1.5)) - b
        return h, np.zeros_like(h), np.zeros_like(h), b

    def exact(self, x, y, t, cfg):
        h, hu, hv, _ = self.initial(x, y, cfg)
        return h, hu, hv


# --------------------------------------------------------------- dam break
@dataclass(frozen=True)
class DamBreak(Case):
    """1D dam break along x at x = 0: Stoker (wet bed) or Ritter (dry bed)."""

    def check_params(self, p):
        _positive(p, "h_left")
        _non_negative(p, "h_right")
        if p["variant"] == "stoker":
            _positive(p, "h_right")
        if p["h_right"] >= p["h_left"]:
            raise ConfigError("config key 'case_params.h_right': must be below h_left")

    def config_defaults(self, p):
        return {**_one_dimensional_y(200, 2.0), "x0": -1.0, "t_end": 2.0, "f0": 0.0,
                "beta": 0.0, "g": 9.81, "bc_west": "open", "bc_east": "open"}

    def initial(self, x, y, cfg):
        p = cfg.case_params
        X, _ = np.meshgrid(x, y)
        h_right = p["h_right"] if p["variant"] == "stoker" else 0.0
        h = np.where(X < 0.0, p["h_left"], h_right)
        return h, np.zeros_like(h), np.zeros_like(h), np.zeros_like(h)

    def exact(self, x, y, t, cfg):
        p = cfg.case_params
        g = cfg.g
        X, _ = np.meshgrid(x, y)
        if t <= 0:
            h, hu, hv, _ = self.initial(x, y, cfg)
            return h, hu, hv
        c_left = math.sqrt(g * p["h_left"])
        xi = X / t
        h_fan = (2 * c_left - xi) ** 2 / (9 * g)
        u_fan = (2.0 / 3.0) * (xi + c_left)
        h = np.where(xi <= -c_left, p["h_left"], h_fan)
        u = np.where(xi <= -c_left, 0.0, u_fan)
        if p["variant"] == "ritter":
            dry = xi >= 2 * c_left
            h, u = np.where(dry, 0.0, h), np.where(dry, 0.0, u)
        else:
            hm, um, s = stoker_middle_state(p["h_left"], p["h_right"], g)
            fan_tail = um - math.sqrt(g * hm)
            middle = (xi > fan_tail) & (xi < s)
            h = np.where(middle, hm, np.where(xi >= s, p["h_right"], h))
            u = np.where(middle, um, np.where(xi >= s, 0.0, u))
        return h, h * u, np.zeros_like(h)


# --------------------------------------------------- inertia-gravity wave
@dataclass(frozen=True)
class InertiaGravityWave(Case):
    """Linear inertia-gravity wave on a doubly periodic f-plane (Polaris).

    eta = eta0 cos(kx x + ky y - w t), w^2 = f^2 + g H (kx^2 + ky^2), with
    ``waves_x`` and ``waves_y`` wavelengths across the domain. eta0/H is
    small so the linear solution is exact to O(eta0/H) relative.
    """

    def check_params(self, p):
        _positive(p, "depth", "waves_x", "waves_y")

    def check_config(self, cfg):
        # The wave's frequency w^2 = f^2 + g H k^2 must exceed f^2 in floating
        # point (the amplitude divides by w^2 - f^2).
        p = cfg.case_params
        kx = 2 * math.pi * p["waves_x"] / cfg.lx
        ky = 2 * math.pi * p["waves_y"] / cfg.ly
        f = cfg.f0
        gap = (f * f + cfg.g * p["depth"] * (kx * kx + ky * ky)) - f * f
        if not (math.isfinite(gap) and gap >= sys.float_info.min):
            raise ConfigError(f"config key 'case_params.depth': {p['depth']:g} m makes the "
                              f"gravity-wave part of the frequency vanish next to f0 = {f:g} "
                              f"1/s (g H k^2 = {gap:g} 1/s^2); use a larger depth")

    def config_defaults(self, p):
        lx = 1.0e7
        nx = 50
        return {"nx": nx, "ny": round(nx * math.sqrt(3) / 2), "lx": lx,
                "ly": lx * math.sqrt(3) / 2, "x0": 0.0, "y0": 0.0, "t_end": 36000.0,
                "g": 9.81, "f0": 1.0e-4, "beta": 0.0,
                "bc_west": "periodic", "bc_east": "periodic",
                "bc_south": "periodic", "bc_north": "periodic"}

    def exact(self, x, y, t, cfg):
        p = cfg.case_params
        kx = 2 * np.pi * p["waves_x"] / cfg.lx
        ky = 2 * np.pi * p["waves_y"] / cfg.ly
        f, g, depth = cfg.f0, cfg.g, p["depth"]
        w = math.sqrt(f * f + g * depth * (kx * kx + ky * ky))
        X, Y = np.meshgrid(x, y)
        phase = kx * (X - cfg.x0) + ky * (Y - cfg.y0) - w * t
        sx, sy = 0.5 * kx * cfg.lx / cfg.nx, 0.5 * ky * cfg.ly / cfg.ny
        cos_avg = cell_average_cos(phase, sx, sy)
        sin_avg = cell_average_sin(phase, sx, sy)
        amp = p["eta0"] * g / (w * w - f * f)
        eta = p["eta0"] * cos_avg
        u = amp * (w * kx * cos_avg - f * ky * sin_avg)
        v = amp * (w * ky * cos_avg + f * kx * sin_avg)
        h = depth + eta
        # Cell averages of depth * velocity; the eta * u product is O(eta0/H) smaller.
        return h, depth * u, depth * v


# ---------------------------------------------------- geostrophic adjustment
@dataclass(frozen=True)
class GeostrophicAdjustment(Case):
    """Rossby adjustment of a surface step eta0 sgn(x) on an f-plane (1D in x).

    The exact final balanced state is eta = eta0 sgn(x) (1 - exp(-|x|/Rd)),
    v = g eta0/(f Rd) exp(-|x|/Rd), u = 0, Rd = sqrt(g H)/f; the computed v
    oscillates about it at the inertial frequency, so compare time means.
    """

    def check_params(self, p):
        _positive(p, "depth", "domain_radii")

    def config_defaults(self, p):
        g, f0 = 9.81, 1.0e-4
        rd = math.sqrt(g * p["depth"]) / f0
        lx = 2 * p["domain_radii"] * rd
        return {**_one_dimensional_y(400, lx), "x0": -0.5 * lx,
                "t_end": 4 * 2 * math.pi / f0, "g": g, "f0": f0, "beta": 0.0,
                "bc_west": "open", "bc_east": "open"}

    def initial(self, x, y, cfg):
        p = cfg.case_params
        X, _ = np.meshgrid(x, y)
        h = p["depth"] + p["eta0"] * np.sign(X)
        return h, np.zeros_like(h), np.zeros_like(h), np.zeros_like(h)

    def balanced(self, x, y, cfg):
        """The adjusted geostrophic state (h, hu, hv) (point values)."""
        p = cfg.case_params
        rd = math.sqrt(cfg.g * p["depth"]) / cfg.f0
        X, _ = np.meshgrid(x, y)
        decay = np.exp(-np.abs(X) / rd)
        eta = p["eta0"] * np.sign(X) * (1 - decay)
        v = cfg.g * p["eta0"] / (cfg.f0 * rd) * decay
        h = p["depth"] + eta
        return h, np.zeros_like(h), h * v


# ---------------------------------------------------------- geostrophic jet
@dataclass(frozen=True)
class GeostrophicJet(Case):
    """Steady zonal jet u = U0 sech^2(s), s = (y - y_mid)/L, v = 0, in exact
    geostrophic balance g dh/dy = -f0 u: h = H - (f0 U0 L / g) tanh(s).
    Periodic in x, walls in y, beta = 0. Exact cell averages are used."""

    def check_params(self, p):
        _positive(p, "depth", "width")

    def config_defaults(self, p):
        return {"nx": 64, "ny": 64, "lx": 2.0e6, "ly": 2.0e6, "x0": 0.0, "y0": 0.0,
                "t_end": 86400.0, "g": 9.81, "f0": 1.0e-4, "beta": 0.0,
                "bc_west": "periodic", "bc_east": "periodic",
                "bc_south": "wall", "bc_north": "wall"}

    def jet(self, x, y, cfg):
        p = cfg.case_params
        width, u0 = p["width"], p["u0"]
        amp = cfg.f0 * u0 * width / cfg.g
        dy = cfg.ly / cfg.ny
        y_lo, y_hi = _edges(y - (cfg.y0 + 0.5 * cfg.ly), dy)
        s_lo, s_hi = y_lo / width, y_hi / width
        scale = width / dy
        # Integrals over the cell, divided by dy.
        tanh_avg = scale * (_log_cosh(s_hi) - _log_cosh(s_lo))
        sech2_avg = scale * (np.tanh(s_hi) - np.tanh(s_lo))
        tanh_sech2_avg = scale * 0.5 * (np.tanh(s_hi) ** 2 - np.tanh(s_lo) ** 2)
        h_col = p["depth"] - amp * tanh_avg
        hu_col = u0 * (p["depth"] * sech2_avg - amp * tanh_sech2_avg)
        ones = np.ones((1, len(x)))
        h = h_col[:, None] * ones
        return h, hu_col[:, None] * ones, np.zeros_like(h)

    def exact(self, x, y, t, cfg):
        return self.jet(x, y, cfg)


# --------------------------------------------------------------- Kelvin wave
@dataclass(frozen=True)
class KelvinWave(Case):
    """Coastal Kelvin wave along a wall at y = y0 (f > 0), moving east:
    eta = eta0 exp(-y/Rd) cos(k (x - c t)), u = sqrt(g/H) eta, v = 0,
    c = sqrt(g H), Rd = c/f. Periodic in x with one wavelength; the north
    wall sits ``domain_radii`` deformation radii away. Exact cell averages
    (the eta^2 part of hu, O(eta0/H) relative, is left out)."""

    def check_params(self, p):
        _positive(p, "depth", "domain_radii")

    def check_config(self, cfg):
        # The deformation radius c/f0 (the wave decays away from the southern
        # wall only for f0 > 0).
        if not cfg.f0 > 0:
            raise ConfigError(f"config key 'f0': the Kelvin wave along a southern wall needs "
                              f"f0 > 0 (its decay scale is sqrt(g H)/f0), got {cfg.f0:g}")
        rd = math.sqrt(cfg.g * cfg.case_params["depth"]) / cfg.f0
        if not (math.isfinite(rd) and rd >= sys.float_info.min):
            raise ConfigError(f"config key 'f0': {cfg.f0:g} 1/s gives a deformation radius of "
                              f"{rd:g} m that cannot be computed with")

    def config_defaults(self, p):
        g, f0 = 9.81, 1.0e-4
        rd = math.sqrt(g * p["depth"]) / f0
        length = p["domain_radii"] * rd
        return {"nx": 64, "ny": 64, "lx": length, "ly": length, "x0": 0.0, "y0": 0.0,
                "t_end": length / math.sqrt(g * p["depth"]), "g": g, "f0": f0, "beta": 0.0,
                "bc_west": "periodic", "bc_east": "periodic",
                "bc_south": "wall", "bc_north": "wall"}

    def exact(self, x, y, t, cfg):
        p = cfg.case_params
        depth = p["depth"]
        c = math.sqrt(cfg.g * depth)
        rd = c / cfg.f0
        k = 2 * np.pi / cfg.lx
        dx, dy = cfg.lx / cfg.nx, cfg.ly / cfg.ny
        y_lo, y_hi = _edges(y - cfg.y0, dy)
        decay = rd / dy * (np.exp(-y_lo / rd) - np.exp(-y_hi / rd))
        along = np.cos(k * (x - cfg.x0 - c * t)) * np.sinc(0.5 * k * dx / np.pi)
        eta = p["eta0"] * decay[:, None] * along[None, :]
        return depth + eta, c * eta, np.zeros_like(eta)


# ------------------------------------------------------- unstable jet (demo)
@dataclass(frozen=True)
class UnstableJet(GeostrophicJet):
    """Showcase: a Bickley jet u = U0 sech^2(s) in geostrophic balance, which
    is barotropically unstable (its vorticity gradient changes sign) and,
    seeded with a small surface bump, rolls up into a street of eddies in a
    few days. Periodic in x, walls in y."""

    def check_params(self, p):
        super().check_params(p)
        if p["mode"] != int(p["mode"]) or p["mode"] < 1:
            raise ConfigError("config key 'case_params.mode': must be a positive whole "
                              f"number of wavelengths across the domain, got {p['mode']}")

    def config_defaults(self, p):
        return {**super().config_defaults(p), "nx": 128, "ny": 128, "t_end": 4 * 86400.0,
                "output_interval": 6 * 3600.0}

    def initial(self, x, y, cfg):
        p = cfg.case_params
        h, hu, hv = self.jet(x, y, cfg)
        X, Y = np.meshgrid(x, y)
        s = (Y - (cfg.y0 + 0.5 * cfg.ly)) / p["width"]
        kx = 2 * np.pi * p["mode"] / cfg.lx
        bump = p["perturbation"] * np.exp(-s * s) * np.cos(kx * (X - cfg.x0))
        return h + bump, hu, hv, np.zeros_like(h)

    def exact(self, x, y, t, cfg):
        return None

PLANE_CASES: dict[str, Case] = {
    "lake_at_rest": LakeAtRest(
        "lake_at_rest", "well-balancedness over a bump or a discontinuous bed with dry cells",
        {"variant": "smooth", "amplitude": 0.2, "surface": 1.0},
        {"variant": ("smooth", "discontinuous")}, {"amplitude": "m", "surface": "m"}),
    "dam_break": DamBreak(
        "dam_break", "1D dam break: Stoker (wet bed) or Ritter (dry bed)",
        {"variant": "stoker", "h_left": 0.005, "h_right": 0.001},
        {"variant": ("stoker", "ritter")}, {"h_left": "m", "h_right": "m"}),
    "inertia_gravity_wave": InertiaGravityWave(
        "inertia_gravity_wave", "linear inertia-gravity wave, f-plane, doubly periodic",
        {"depth": 1000.0, "eta0": 1.0e-4, "waves_x": 2.0, "waves_y": 2.0}, {},
        {"depth": "m", "eta0": "m", "waves_x": "wavelengths", "waves_y": "wavelengths"}),
    "geostrophic_adjustment": GeostrophicAdjustment(
        "geostrophic_adjustment", "Rossby adjustment of a surface step (1D)",
        {"depth": 1000.0, "eta0": 0.1, "domain_radii": 40.0}, {},
        {"depth": "m", "eta0": "m", "domain_radii": "deformation radii"}),
    "geostrophic_jet": GeostrophicJet(
        "geostrophic_jet", "exact steady geostrophic zonal jet (drift test)",
        {"depth": 1000.0, "u0": 1.0, "width": 2.0e5}, {},
        {"depth": "m", "u0": "m/s", "width": "m"}),
    "kelvin_wave": KelvinWave(
        "kelvin_wave", "coastal Kelvin wave along a southern wall",
        {"depth": 1000.0, "eta0": 1.0e-3, "domain_radii": 10.0}, {},
        {"depth": "m", "eta0": "m", "domain_radii": "deformation radii"}),
    "unstable_jet": UnstableJet(
        "unstable_jet", "barotropically unstable Bickley jet rolling up into eddies",
        {"depth": 100.0, "u0": 20.0, "width": 1.0e5, "perturbation": 0.5, "mode": 3.0}, {},
        {"depth": "m", "u0": "m/s", "width": "m", "perturbation": "m", "mode": "wavelengths"}),
}
