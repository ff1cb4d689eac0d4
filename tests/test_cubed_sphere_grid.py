"""Geometry of the equiangular cubed sphere (dycore.grids.cubed_sphere)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dycore.grids.cubed_sphere import CubedSphereGrid
from parallel.cube import fold


@pytest.mark.parametrize("n", [1, 3, 24, 96])
def test_areas_sum_to_the_sphere(n):
    grid = CubedSphereGrid(n)
    areas = grid.areas()
    total = 4 * math.pi * grid.radius ** 2
    assert abs(math.fsum(areas.ravel()) - total) / total < 4e-15
    assert np.all(areas > 0)
    # Each face is a sixth; cells are symmetric under the face's reflections.
    assert np.allclose(areas.sum(axis=(1, 2)), total / 6, rtol=1e-14, atol=0)
    assert np.allclose(areas[0], areas[0][::-1, :], rtol=1e-13, atol=0)
    assert np.allclose(areas[0], areas[0].T, rtol=1e-13, atol=0)


@pytest.mark.parametrize("n", [2, 12, 48])
def test_areas_agree_with_the_closed_form(n):
    """Rancic et al. (1996): a^2 [F(a2,b2) - F(a1,b2) - F(a2,b1) + F(a1,b1)]."""
    from dycore.grids.cubed_sphere import patch_excess

    grid = CubedSphereGrid(n, 1.0)
    e = grid.edges
    F = patch_excess(e[None, :], e[:, None])
    closed = F[1:, 1:] - F[1:, :-1] - F[:-1, 1:] + F[:-1, :-1]
    assert np.allclose(grid.areas()[3], closed, rtol=1e-12, atol=0)


def test_area_matches_a_fine_quadrature():
    """One cell of C4 against the sum over its sub-cells on C64 (exact areas
    are additive) and against a flat-triangle estimate that converges to it."""
    coarse, fine = CubedSphereGrid(4, 1.0), CubedSphereGrid(64, 1.0)
    sub = fine.areas()[0, 16:32, 0:16].sum()
    assert abs(coarse.areas()[0, 1, 0] - sub) < 1e-15
    corners = fine.corner_points()[0, 16:33, 0:17]
    a, b, c, d = corners[:-1, :-1], corners[:-1, 1:], corners[1:, 1:], corners[1:, :-1]
    flat = 0.5 * (np.linalg.norm(np.cross(b - a, c - a), axis=-1)
                  + np.linalg.norm(np.cross(c - a, d - a), axis=-1)).sum()
    assert abs(flat - sub) / sub < 1e-3


def test_points_are_on_the_sphere_and_lon_lat_in_range():
    grid = CubedSphereGrid(8, 2.0)
    p = grid.centre_points()
    assert np.allclose(np.linalg.norm(p, axis=-1), 2.0, rtol=1e-15)
    lon, lat = grid.lon_lat()
    assert lon.min() >= -math.pi and lon.max() <= math.pi
    assert lat.min() > -math.pi / 2 and lat.max() < math.pi / 2
    # Face 4 is the north cap, face 5 the south cap.
    assert lat[4].min() > math.radians(35) and lat[5].max() < -math.radians(35)


def test_edges_are_tangent_and_agree_across_panel_edges():
    n = 6
    grid = CubedSphereGrid(n)
    len_i, normal_i, len_j, normal_j = grid.edge_geometry()
    corners = grid.corner_points()
    # Normals are unit, tangent at both end points of every edge.
    for normal, p1, p2 in ((normal_i, corners[:, :-1, :], corners[:, 1:, :]),
                           (normal_j, corners[:, :, :-1], corners[:, :, 1:])):
        assert np.allclose(np.linalg.norm(normal, axis=-1), 1.0, rtol=1e-15)
        assert np.max(np.abs(np.sum(normal * p1, axis=-1))) < 1e-9 * grid.radius
        assert np.max(np.abs(np.sum(normal * p2, axis=-1))) < 1e-9 * grid.radius
    # The east edge of face 0 is the west edge of face 1 (frames of parallel.cube):
    # same lengths, normals equal (both point from face 0 into face 1).
    f1, i1, _ = fold(n, 0, n, 0)
    assert f1 == 1 and i1 == 0
    assert np.allclose(len_i[0, :, n], len_i[1, :, 0], rtol=1e-14)
    assert np.allclose(normal_i[0, :, n], normal_i[1, :, 0], atol=1e-15)
    # Face 0's north edge is face 4's... whichever edge fold says; lengths agree.
    f4, i4, j4 = fold(n, 0, 0, n)
    assert f4 == 4
    north = len_j[0, n, :]
    candidates = [len_i[4, :, 0], len_i[4, :, n], len_j[4, 0, :], len_j[4, n, :]]
    assert any(np.allclose(np.sort(north), np.sort(c), rtol=1e-14) for c in candidates)
    # Total edge length of a face's boundary: 4 great-circle quarter... each
    # face edge spans an angle of 2 atan(1/sqrt(2)) ~ 70.53 degrees.
    span = 2 * math.atan(1 / math.sqrt(2)) * grid.radius
    assert math.isclose(len_i[0, :, 0].sum(), span, rel_tol=1e-14)
