"""Values of a field on a Gaussian (or any regular-in-longitude, monotone-
in-latitude) grid at arbitrary points of the sphere, by tensor-product
cubic Lagrange interpolation in (longitude, latitude) (pure numpy).

    values = interpolate_gaussian(lon_deg, lat_deg, field, points)

``field`` is (nlat, nlon) on longitudes ``lon_deg`` (nlon,), equally
spaced over 360 degrees, and latitudes ``lat_deg`` (nlat,), increasing;
``points`` are unit vectors (..., 3). Longitude is periodic; beyond the
outermost latitudes the grid is continued over the pole (the row at
latitude phi_k seen from longitude lambda + 180 degrees lies at 180 - phi_k),
so no point needs extrapolation. The 4 x 4 stencil around each point gives
fourth-order accuracy in the grid spacing for a smooth field
(tests/test_sphere_reference.py measures it on an analytic field).
"""
from __future__ import annotations

import numpy as np

PAD = 2


def _lagrange_weights(nodes, x):
    """Weights (..., 4) of the cubic through ``nodes`` (..., 4) at ``x`` (...)."""
    w = np.ones(nodes.shape)
    for j in range(4):
        for k in range(4):
            if k != j:
                w[..., j] *= (x - nodes[..., k]) / (nodes[..., j] - nodes[..., k])
    return w


def padded_grid(lon_deg, lat_deg, field):
    """(lon, lat, values) in radians with PAD periodic columns on each side and
    PAD rows continued over each pole."""
    lon, lat = np.radians(np.asarray(lon_deg, float)), np.radians(np.asarray(lat_deg, float))
    q = np.asarray(field, dtype=np.float64)
    nlat, nlon = q.shape
    if lon.shape != (nlon,) or lat.shape != (nlat,) or nlon % 2 or nlat < 2 * PAD:
        raise ValueError(f"expected field (nlat, nlon) with nlon even, got {q.shape} for "
                         f"{lon.shape} longitudes, {lat.shape} latitudes")
    if not np.all(np.diff(lat) > 0):
        raise ValueError("latitudes must increase")
    half = np.roll(q, nlon // 2, axis=1)             # the field seen from lon + 180
    south, north = half[PAD - 1::-1], half[:-PAD - 1:-1]
    q = np.concatenate([south, q, north], axis=0)
    lat = np.concatenate([-np.pi - lat[PAD - 1::-1], lat, np.pi - lat[:-PAD - 1:-1]])
    q = np.concatenate([q[:, -PAD:], q, q[:, :PAD]], axis=1)
    step = 2 * np.pi / nlon
    lon = lon[0] + step * np.arange(-PAD, nlon + PAD)
    return lon, lat, q


def interpolate_gaussian(lon_deg, lat_deg, field, points):
    """The field at unit vectors ``points`` (..., 3); returns (...)."""
    lon, lat, q = padded_grid(lon_deg, lat_deg, field)
    p = np.asarray(points, dtype=np.float64)
    plon = np.arctan2(p[..., 1], p[..., 0])
    plat = np.arcsin(np.clip(p[..., 2], -1.0, 1.0))
    step = lon[1] - lon[0]
    plon = lon[PAD] + np.mod(plon - lon[PAD], 2 * np.pi)
    i = np.floor((plon - lon[0]) / step).astype(np.int64) - 1          # stencil start
    j = np.searchsorted(lat, plat, side="right") - 2
    j = np.clip(j, 0, lat.size - 4)
    ii = i[..., None] + np.arange(4)
    jj = j[..., None] + np.arange(4)
    wx = _lagrange_weights(lon[ii], plon)
    wy = _lagrange_weights(lat[jj], plat)
    block = q[jj[..., :, None], ii[..., None, :]]                        # (..., 4, 4)
    return np.einsum("...j,...ji,...i->...", wy, block, wx)
