"""Initial states of the sphere's test cases, as cell-centre values in
float64 numpy (Williamson et al. 1992, J. Comput. Phys. 102, 211-224,
"W92"; Galewsky, Scott & Polvani 2004, Tellus 56A, 429-440).

Cell-centre values, not cell averages: the centre value differs from the
cell average by O(dx^2) (the second moment of the cell times the field's
curvature), which is the order of the second-order scheme itself, so the
measured orders are not spoiled; the error norms of a steady state (TC2)
compare centre values with centre values, so this initialisation error
does not enter them at all.

Every function takes the unit position vectors ``r`` (..., 3) of the cell
centres and returns a :class:`CaseData`. Winds are given as 3-D Cartesian
vectors tangent to the sphere, from eastward u and northward v by
V = u e_lambda + v e_phi.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dycore.cases.sphere import BELLS

DAY = 86400.0
EARTH_Z = np.array([0.0, 0.0, 1.0])


@dataclass
class CaseData:
    """h: depth (m); velocity (..., 3) (m/s); bed (m); axis of the Coriolis
    rotation (unit vector); tracer: mixing ratio q or None; days: the
    case's run length."""

    h: np.ndarray
    velocity: np.ndarray
    bed: np.ndarray
    axis: np.ndarray
    days: float
    tracer: np.ndarray | None = None


def lon_lat(r):
    return np.arctan2(r[..., 1], r[..., 0]), np.arcsin(np.clip(r[..., 2], -1.0, 1.0))


def wind(r, u, v):
    """Cartesian wind from eastward u and northward v (m/s) at unit vectors r."""
    lon, lat = lon_lat(r)
    east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=-1)
    north = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)],
                     axis=-1)
    return u[..., None] * east + v[..., None] * north


def tilted_axis(alpha: float) -> np.ndarray:
    """W92's rotation axis tilted by alpha towards lon = pi."""
    return np.array([-math.sin(alpha), 0.0, math.cos(alpha)])


def great_circle(r, lon_c, lat_c):
    """Angle (radians) between unit vectors r and the point (lon_c, lat_c)."""
    c = np.array([math.cos(lat_c) * math.cos(lon_c), math.cos(lat_c) * math.sin(lon_c),
                  math.sin(lat_c)])
    return np.arctan2(np.linalg.norm(np.cross(r, c), axis=-1), r @ c)


def mountain(r):
    """W92 test 5's cone: 2000 (1 - d/R) m, R = pi/9, centre (3 pi/2, pi/6),
    d = min(R, sqrt((lon - lon_c)^2 + (lat - lat_c)^2)) (longitudes wrapped)."""
    lon, lat = lon_lat(r)
    lon = np.mod(lon, 2 * np.pi)
    dist = np.sqrt(np.minimum((lon - 1.5 * np.pi) ** 2, (2 * np.pi - abs(lon - 1.5 * np.pi))
                              ** 2) + (lat - np.pi / 6) ** 2)
    return 2000.0 * (1.0 - np.minimum(dist, np.pi / 9) / (np.pi / 9))


def williamson1(r, radius, omega, g, alpha=0.0, bell="cosine"):
    """W92 test 1: cosine bell h0 = 1000 m, radius a/3, centre (3 pi/2, 0),
    carried once around in 12 days by solid-body rotation about the tilted axis.

    bell = "gaussian": instead the Gaussian hill h0 exp(-b0 |r - r_c|^2),
    b0 = 5, |r - r_c| the chord on the unit sphere (Lauritzen et al. 2012,
    Geosci. Model Dev. 5, 887-901, eq. 9; one hill, at the bell's centre,
    h0 = 1000 m): C-infinity where the bell is only C1 (its curvature jumps
    at the rim), so it measures a scheme's order of accuracy cleanly."""
    if bell not in BELLS:
        raise ValueError(f"unknown bell {bell!r}; valid: {', '.join(BELLS)}")
    if bell == "gaussian":
        centre = np.array([0.0, -1.0, 0.0])                 # (3 pi/2, 0)
        bell = 1000.0 * np.exp(-5.0 * np.sum((r - centre) ** 2, axis=-1))
    else:
        d = great_circle(r, 1.5 * np.pi, 0.0)
        bell = np.where(d < 1.0 / 3.0, 500.0 * (1.0 + np.cos(3.0 * np.pi * d)), 0.0)
    axis = tilted_axis(alpha)
    u0 = 2.0 * math.pi * radius / (12.0 * DAY)
    return CaseData(bell, u0 * np.cross(axis, r), np.zeros(r.shape[:-1]), axis, 12.0)


def williamson2(r, radius, omega, g, alpha=0.0):
    """W92 test 2: steady zonal geostrophic flow about the tilted axis, f too."""
    axis = tilted_axis(alpha)
    u0 = 2.0 * math.pi * radius / (12.0 * DAY)
    s = r @ axis
    h = (2.94e4 - (radius * omega * u0 + 0.5 * u0 * u0) * s * s) / g
    return CaseData(h, u0 * np.cross(axis, r), np.zeros_like(h), axis, 5.0)


def williamson5(r, radius, omega, g):
    """W92 test 5: zonal flow u0 = 20 m/s, surface h0 = 5960 m, over the cone."""
    u0, s = 20.0, r[..., 2]
    surface = 5960.0 - (radius * omega * u0 + 0.5 * u0 * u0) * s * s / g
    bed = mountain(r)
    return CaseData(surface - bed, u0 * np.cross(EARTH_Z, r), bed, EARTH_Z, 15.0)


def williamson6(r, radius, omega, g):
    """W92 test 6: Rossby-Haurwitz wave 4 (their eqs. 141-146), omega = K =
    7.848e-6 1/s, R = 4, h0 = 8000 m."""
    w = K = 7.848e-6
    R, h0, a = 4, 8000.0, radius
    lon, lat = lon_lat(r)
    c = np.cos(lat)
    u = a * w * c + a * K * c ** (R - 1) * (R * np.sin(lat) ** 2 - c * c) * np.cos(R * lon)
    v = -a * K * R * c ** (R - 1) * np.sin(lat) * np.sin(R * lon)
    A = (0.5 * w * (2 * omega + w) * c * c + 0.25 * K * K * (
        (R + 1) * c ** (2 * R + 2) + (2 * R * R - R - 2) * c ** (2 * R) - 2 * R * R * c ** (2 * R - 2)))
    B = 2 * (omega + w) * K / ((R + 1) * (R + 2)) * c ** R * ((R * R + 2 * R + 2)
                                                              - (R + 1) ** 2 * c * c)
    C = 0.25 * K * K * c ** (2 * R) * ((R + 1) * c * c - (R + 2))
    h = h0 + a * a / g * (A + B * np.cos(R * lon) + C * np.cos(2 * R * lon))
    return CaseData(h, wind(r, u, v), np.zeros_like(h), EARTH_Z, 14.0)


def lake_at_rest(r, radius, omega, g):
    """Fluid at rest with a flat surface at 5960 m over test 5's cone."""
    bed = mountain(r)
    return CaseData(5960.0 - bed, np.zeros(r.shape), bed, EARTH_Z, 1.0)


CASES = {"williamson1": williamson1, "williamson2": williamson2, "williamson5": williamson5,
         "williamson6": williamson6, "lake_at_rest": lake_at_rest}
TILTED = ("williamson1", "williamson2")
"""Cases that take the axis tilt ``alpha``."""
