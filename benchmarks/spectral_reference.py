"""Reference solutions of Williamson et al. (1992, J. Comput. Phys. 102,
211-224) tests 5 and 6 and of the jet of Galewsky, Scott & Polvani (2004,
Tellus 56A, 429-440) from an independent method: Dinosaur's spectral
transform shallow-water model (Google, Apache-2.0; PyPI ``dinosaur``).

Runs only in the separate reference environment (``make reference-env``,
``.venv-reference/``); imports nothing from ``dycore``: the initial states
are written here from the papers' formulas, in nodal form on Dinosaur's
Gaussian grid and transformed to spectral vorticity, divergence and
geopotential.

Model: ``dinosaur.shallow_water.ShallowWaterEquations`` (vorticity,
divergence, geopotential perturbation about the mean g H; one layer),
stepped by the IMEX SIL3 Runge-Kutta scheme (Whitaker & Kar 2013;
gravity-wave terms implicit) with Dinosaur's exponential step filter
(``time_integration.exponential_step_filter``: order 18, tau = 0.010938
in units of 1/(2 Omega), i.e. damping rate (1/tau) (l/L)^36 on total
wavenumber l of truncation L), float64. Constants a = 6.37122e6 m,
Omega = 7.292e-5 1/s, g = 9.80616 m/s^2 (Dinosaur's defaults, the same as
dycore's). Test 5's cone enters as the spectral transform of the
geopotential g b of the nodal cone (Gibbs ringing included, as in
Jakob-Chien, Hack & Williamson 1995); the jet's balanced height is
Dinosaur's spectral gradient-wind balance (``shallow_water_states.one_layer``)
with the global mean 10000 m.
"""
from __future__ import annotations

import math
import time

import numpy as np

DAY = 86400.0
H_MEAN = {"williamson5": None, "williamson6": 8000.0, "galewsky": 10000.0}
DAYS = {"williamson5": 15.0, "williamson6": 14.0, "galewsky": 6.0}


def cone(lon, lat):
    """W92 test 5's mountain (m): 2000 (1 - d/R), R = pi/9, at (3 pi/2, pi/6)."""
    dlon = np.abs(np.mod(lon, 2 * np.pi) - 1.5 * np.pi)
    dlon = np.minimum(dlon, 2 * np.pi - dlon)
    d = np.minimum(np.sqrt(dlon ** 2 + (lat - np.pi / 6) ** 2), np.pi / 9)
    return 2000.0 * (1.0 - d / (np.pi / 9))


def tc5_fields(lon, lat, a, omega, g):
    """(u, v, surface h + b, b) of W92 test 5 (m/s, m)."""
    u0 = 20.0
    surface = 5960.0 - (a * omega * u0 + 0.5 * u0 ** 2) * np.sin(lat) ** 2 / g
    return u0 * np.cos(lat), np.zeros_like(lat), surface, cone(lon, lat)


def tc6_fields(lon, lat, a, omega, g):
    """(u, v, h) of W92 test 6 (their eqs. 141-146), wave 4, h0 = 8000 m."""
    w = K = 7.848e-6
    R, c, s = 4, np.cos(lat), np.sin(lat)
    u = a * w * c + a * K * c ** (R - 1) * (R * s ** 2 - c ** 2) * np.cos(R * lon)
    v = -a * K * R * c ** (R - 1) * s * np.sin(R * lon)
    A = 0.5 * w * (2 * omega + w) * c ** 2 + 0.25 * K ** 2 * c ** (2 * R) * (
        (R + 1) * c ** 2 + (2 * R ** 2 - R - 2) - 2 * R ** 2 * c ** -2)
    B = 2 * (omega + w) * K / ((R + 1) * (R + 2)) * c ** R * (
        (R ** 2 + 2 * R + 2) - (R + 1) ** 2 * c ** 2)
    C = 0.25 * K ** 2 * c ** (2 * R) * ((R + 1) * c ** 2 - (R + 2))
    h = 8000.0 + a ** 2 / g * (A + B * np.cos(R * lon) + C * np.cos(2 * R * lon))
    return u, v, h


def galewsky_jet(lat):
    """Zonal wind (m/s) of the jet: u_max = 80 m/s between pi/7 and pi/2 - pi/7."""
    p0, p1 = math.pi / 7, math.pi / 2 - math.pi / 7
    inside = (lat > p0) & (lat < p1)
    x = np.where(inside, lat, 0.5 * (p0 + p1))
    return np.where(inside, 80.0 / math.exp(-4 / (p1 - p0) ** 2)
                    * np.exp(1 / ((x - p0) * (x - p1))), 0.0)


def galewsky_bump(lon, lat):
    """The 120 m perturbation at (0, pi/4), lon in (-pi, pi]."""
    lon = np.mod(lon + np.pi, 2 * np.pi) - np.pi
    return 120.0 * np.cos(lat) * np.exp(-(lon * 3.0) ** 2) * np.exp(
        -((np.pi / 4 - lat) * 15.0) ** 2)


def simulate(case: str, truncation: int, dt_seconds: float):
    """Runs ``case`` at T``truncation``; returns a dict of the end-time fields
    on the Gaussian grid (lon, lat in degrees, fields (nlat, nlon) in m or 1/s)
    and the run's facts."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from dinosaur import (coordinate_systems, layer_coordinates, scales, shallow_water,
                          shallow_water_states, spherical_harmonic, time_integration, units)

    specs = units.SimUnits.from_si()
    u_ = scales.units
    a, omega, g_si = (float(q.to_base_units().magnitude) for q in
                      (scales.RADIUS, scales.ANGULAR_VELOCITY, scales.GRAVITY_ACCELERATION))
    grid = getattr(spherical_harmonic.Grid, f"T{truncation}")(radius=specs.radius)
    coords = coordinate_systems.CoordinateSystem(grid, layer_coordinates.LayerCoordinates(1))
    lon, sin_lat = grid.nodal_mesh                          # (nlon, nlat)
    lat = np.arcsin(sin_lat)
    speed = specs.nondimensionalize(1.0 * u_.m / u_.s)      # m/s -> model units
    phi_unit = specs.nondimensionalize(1.0 * u_.m ** 2 / u_.s ** 2)
    orography, vorticity = None, None
    if case == "williamson5":
        u, v, surface, b = tc5_fields(lon, lat, a, omega, g_si)
        h = surface - b
        orography = grid.to_modal(jnp.asarray(g_si * b * phi_unit)[None])
    elif case == "williamson6":
        u, v, h = tc6_fields(lon, lat, a, omega, g_si)
    elif case == "galewsky":
        u, v = galewsky_jet(lat), np.zeros_like(lat)
        # one layer: (nlon, nlat) in, the layer axis added after (a leading
        # axis of length 1 would be taken for a wavenumber axis there).
        steady = shallow_water_states.one_layer(jnp.asarray(u * speed), grid)
        vorticity = steady.vorticity[None]
    else:
        raise ValueError(f"unknown case {case!r}")
    if vorticity is None:
        vorticity, divergence = spherical_harmonic.uv_nodal_to_vor_div_modal(
            grid, jnp.asarray(u * speed)[None], jnp.asarray(v * speed)[None])
        phi = grid.to_modal(jnp.asarray(g_si * h * phi_unit)[None])
        mean = phi[:, 0, 0] / grid.to_modal(jnp.ones_like(lon))[0, 0]   # the mean of g h
        potential = phi.at[:, 0, 0].set(0.0)
    else:
        divergence = jnp.zeros_like(vorticity)
        mean = jnp.asarray([g_si * H_MEAN["galewsky"] * phi_unit])
        potential = steady.potential[None] + grid.to_modal(
            jnp.asarray(g_si * galewsky_bump(lon, lat) * phi_unit)[None])
    state = shallow_water.State(vorticity=vorticity, divergence=divergence,
                                potential=potential)
    dt = specs.nondimensionalize(dt_seconds * u_.s)
    steps = round(DAYS[case] * DAY / dt_seconds)
    equation = shallow_water.ShallowWaterEquations(coords, specs, orography,
                                                   np.asarray(mean))
    step = time_integration.step_with_filters(
        time_integration.imex_rk_sil3(equation, dt),
        [time_integration.exponential_step_filter(grid, dt)])
    run = jax.jit(time_integration.repeated(step, steps))
    tic = time.perf_counter()
    end = jax.block_until_ready(run(state))
    seconds = time.perf_counter() - tic
    nodal = shallow_water.state_to_nodal(end, grid)
    depth = (np.asarray(nodal.potential[0]) + float(mean[0])) / phi_unit / g_si
    out = {"lon": np.degrees(np.asarray(grid.nodal_axes[0])),
           "lat": np.degrees(np.arcsin(np.asarray(grid.nodal_axes[1]))),
           "h": depth.T}
    if orography is not None:
        bed = np.asarray(grid.to_nodal(orography)[0]) / phi_unit / g_si
        out["surface"] = (depth + bed).T
    if case == "galewsky":
        per_second = specs.nondimensionalize(1.0 / u_.s)
        out["vorticity"] = (np.asarray(nodal.vorticity[0]) / per_second).T
    facts = {"case": case, "truncation": truncation, "dt": dt_seconds, "steps": steps,
             "days": DAYS[case], "seconds": seconds,
             "nlon": int(out["lon"].size), "nlat": int(out["lat"].size)}
    return out, facts
