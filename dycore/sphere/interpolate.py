"""Cubed-sphere fields onto a regular longitude-latitude grid, for plots and
analysis (pure numpy; no JAX).

    lon, lat, h_ll = interpolate_latlon(ds.h.isel(time=-1), 360, 180)   # (180, 360)

Each target point is placed on the face whose centre is nearest (largest
c . p), at equiangular coordinates alpha = atan2(e1 . p, c . p), beta =
atan2(e2 . p, c . p) (the inverse of the gnomonic map of
:mod:`dycore.grids.cubed_sphere`), and the value is the bilinear
interpolant in (alpha, beta) of the four nearest cell centres of that face.
In the half cell next to a face edge, where no cell centre of the face
lies beyond the point, the same bilinear formula extrapolates from the two
nearest rows, so no value from another face (whose grid lines kink at the
edge) is needed. For a smooth field the error is second order in the cell
size everywhere (tests/test_sphere_interpolate.py measures it).

Target grid: cell centres of a regular grid, lon = -180 + (k + 1/2) 360 /
nlon degrees_east (k = 0..nlon-1), lat = -90 + (k + 1/2) 180 / nlat
degrees_north. Interpolation is not conservative; for budgets integrate on
the cubed sphere with its ``area``.
"""
from __future__ import annotations

import numpy as np

from parallel.cube import FRAMES


def regular_lon_lat(nlon: int, nlat: int):
    """Longitudes (nlon,) and latitudes (nlat,) of the target cell centres (degrees)."""
    lon = -180.0 + (np.arange(nlon) + 0.5) * (360.0 / nlon)
    lat = -90.0 + (np.arange(nlat) + 0.5) * (180.0 / nlat)
    return lon, lat


def locate(points, n: int):
    """(face, j0, i0, ty, tx) of unit vectors ``points`` (..., 3) on C ``n``:
    the face, the lower-left cell of the bilinear stencil and the weights'
    fractions (in [-1/2, 3/2]: outside [0, 1] only in the border half cells)."""
    frames = np.asarray(FRAMES, dtype=np.float64)          # (6, 3 vectors, 3)
    dots = np.einsum("...k,fvk->...fv", points, frames)      # (..., 6, 3): c.p, e1.p, e2.p
    face = np.argmax(dots[..., 0], axis=-1)
    d = np.take_along_axis(dots, face[..., None, None], axis=-2)[..., 0, :]
    alpha, beta = np.arctan2(d[..., 1], d[..., 0]), np.arctan2(d[..., 2], d[..., 0])
    # Cell-centre index coordinate: centre k sits at (k + 1/2) (pi/2) / n - pi/4.
    s = (alpha + 0.25 * np.pi) / (0.5 * np.pi) * n - 0.5
    t = (beta + 0.25 * np.pi) / (0.5 * np.pi) * n - 0.5
    i0 = np.clip(np.floor(s).astype(np.int64), 0, n - 2)
    j0 = np.clip(np.floor(t).astype(np.int64), 0, n - 2)
    return face, j0, i0, t - j0, s - i0


def interpolate_points(field, points):
    """Values of a cubed-sphere field (..., 6, N, N) at unit vectors (P..., 3):
    the result is (..., P...)."""
    q = np.asarray(field, dtype=np.float64)
    if q.ndim < 3 or q.shape[-3] != 6 or q.shape[-1] != q.shape[-2] or q.shape[-1] < 2:
        raise ValueError(f"expected a cubed-sphere field (..., 6, N, N) with N >= 2, "
                         f"got shape {q.shape}")
    face, j0, i0, ty, tx = locate(np.asarray(points, dtype=np.float64), q.shape[-1])

    def at(dj, di):
        return q[..., face, j0 + dj, i0 + di]

    return ((1 - ty) * ((1 - tx) * at(0, 0) + tx * at(0, 1))
            + ty * ((1 - tx) * at(1, 0) + tx * at(1, 1)))


def interpolate_latlon(field, nlon: int = 360, nlat: int = 180):
    """A cubed-sphere field (..., 6, N, N) (numpy, or anything ``np.asarray``
    takes, e.g. an xarray DataArray of an output file) on the regular grid
    of ``nlon`` x ``nlat`` cells (see the module docstring). Returns
    ``(lon, lat, values)``: lon (nlon,) degrees_east, lat (nlat,)
    degrees_north, values (..., nlat, nlon) in the field's units."""
    if int(nlon) < 1 or int(nlat) < 1:
        raise ValueError(f"nlon and nlat must be positive, got {nlon}, {nlat}")
    lon, lat = regular_lon_lat(int(nlon), int(nlat))
    lam, phi = np.meshgrid(np.radians(lon), np.radians(lat))
    points = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)],
                      axis=-1)
    return lon, lat, interpolate_points(field, points)
