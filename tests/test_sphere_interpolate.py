"""dycore.sphere.interpolate_latlon against analytic fields (pure numpy):
exact for a field linear in the equiangular coordinates of each face, second
order for a smooth field on the whole sphere (cube edges and corners
included), the target grid's layout, and bad shapes refused."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dycore.grids.cubed_sphere import CubedSphereGrid
from dycore.sphere.interpolate import interpolate_latlon, regular_lon_lat
from parallel.cube import FRAMES


def smooth(p):
    """A smooth function of the position on the unit sphere (not a polynomial)."""
    return p[..., 0] + 0.5 * p[..., 1] * p[..., 2] + p[..., 2] ** 2 + np.sin(3.0 * p[..., 0])


def targets(nlon, nlat):
    lon, lat = regular_lon_lat(nlon, nlat)
    lam, phi = np.meshgrid(np.radians(lon), np.radians(lat))
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)


def test_regular_grid_layout():
    lon, lat, values = interpolate_latlon(np.zeros((6, 4, 4)), 8, 4)
    np.testing.assert_allclose(lon, [-157.5, -112.5, -67.5, -22.5, 22.5, 67.5, 112.5, 157.5])
    np.testing.assert_allclose(lat, [-67.5, -22.5, 22.5, 67.5])
    assert values.shape == (4, 8)
    _, _, stacked = interpolate_latlon(np.ones((3, 6, 4, 4)), 8, 4)  # leading axes kept
    assert stacked.shape == (3, 4, 8) and np.all(stacked == 1.0)


def test_bilinear_in_equiangular_coordinates_is_exact():
    """A field a + b alpha + c beta on every face (alpha, beta the equiangular
    coordinates) is reproduced to round-off, also in the border half cells."""
    n = 6
    grid = CubedSphereGrid(n, 1.0)
    beta, alpha = np.meshgrid(grid.centres, grid.centres, indexing="ij")
    coeff = np.arange(18, dtype=np.float64).reshape(6, 3) / 7.0
    field = coeff[:, 0, None, None] + coeff[:, 1, None, None] * alpha + coeff[:, 2, None, None] * beta
    p = targets(90, 45)
    frames = np.asarray(FRAMES, dtype=np.float64)
    c_dot = p @ frames[:, 0].T                        # (lat, lon, face)
    face = np.argmax(c_dot, axis=-1)
    c, e1, e2 = (frames[face, k] for k in range(3))
    a = np.arctan(np.sum(e1 * p, -1) / np.sum(c * p, -1))  # the gnomonic map inverted
    b = np.arctan(np.sum(e2 * p, -1) / np.sum(c * p, -1))
    want = coeff[face, 0] + coeff[face, 1] * a + coeff[face, 2] * b
    _, _, got = interpolate_latlon(field, 90, 45)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    assert np.all(np.abs(a) <= 0.25 * math.pi + 1e-12) and np.all(np.abs(b) <= 0.25 * math.pi + 1e-12)


def test_smooth_field_converges_at_second_order():
    p = targets(96, 48)
    errors = []
    for n in (8, 16, 32):
        grid = CubedSphereGrid(n, 1.0)
        _, _, got = interpolate_latlon(smooth(grid.centre_points()), 96, 48)
        errors.append(float(np.max(np.abs(got - smooth(p)))))
    orders = [math.log2(errors[k] / errors[k + 1]) for k in range(2)]
    assert errors[-1] < 1e-2
    assert min(orders) > 1.8, (errors, orders)


@pytest.mark.parametrize("shape", [(6, 4), (5, 4, 4), (6, 4, 3), (6, 1, 1)])
def test_bad_shapes_are_refused(shape):
    with pytest.raises(ValueError, match="cubed-sphere field"):
        interpolate_latlon(np.zeros(shape), 8, 4)
