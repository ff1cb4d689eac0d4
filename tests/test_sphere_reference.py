"""The spectral reference of tests 5, 6 and Galewsky (benchmarks/
sphere_reference.py): the Gaussian-grid interpolation against an analytic
field, the reference's initial states (written independently of
dycore.sphere.cases) against dycore's, the reference code's independence
from dycore, and the committed reference files' layout."""
from __future__ import annotations

import ast
import math
import pathlib

import numpy as np
import pytest

from benchmarks import spectral_reference as spectral
from benchmarks.gaussian_interpolation import interpolate_gaussian
from benchmarks.sphere_reference import CASES, REFERENCE
from dycore.sphere.cases import williamson5, williamson6
from dycore.sphere.galewsky import galewsky

A, OMEGA, G = 6.37122e6, 7.292e-5, 9.80616


def gaussian_grid(nlat):
    lat = np.degrees(np.arcsin(np.polynomial.legendre.leggauss(nlat)[0]))
    lon = np.arange(2 * nlat) * (360.0 / (2 * nlat))
    return lon, lat


def smooth(p):
    """Smooth on the sphere, poles included (not a polynomial in lon, lat)."""
    return np.exp(p[..., 2]) + np.sin(2.0 * p[..., 0] + p[..., 1]) + p[..., 0] * p[..., 2]


def unit_points(count, seed=0):
    p = np.random.default_rng(seed).normal(size=(count, 3))
    p[:8] = [[0, 0, 1], [0, 0, -1], [1e-3, 0, 1], [0, -1e-3, -1], [1, 0, 0], [-1, 0, 0],
             [0, 1, 0], [0.3, -0.1, 0.99]]          # poles, near-poles, lon 0 and 180
    return p / np.linalg.norm(p, axis=-1, keepdims=True)


def on_grid(lon, lat):
    lam, phi = np.meshgrid(np.radians(lon), np.radians(lat))
    return smooth(np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam),
                            np.sin(phi)], axis=-1))


def test_gaussian_interpolation_is_fourth_order_everywhere():
    p = unit_points(4000)
    errors = []
    for nlat in (16, 32, 64):
        lon, lat = gaussian_grid(nlat)
        errors.append(np.max(np.abs(interpolate_gaussian(lon, lat, on_grid(lon, lat), p)
                                    - smooth(p))))
    orders = [math.log2(errors[k] / errors[k + 1]) for k in range(2)]
    assert min(orders) > 3.5, (errors, orders)
    assert errors[-1] < 1e-5          # 6.5e-6 measured at 64 latitudes (field ~ 3)


def test_gaussian_interpolation_reproduces_nodes_and_refuses_bad_shapes():
    lon, lat = gaussian_grid(8)
    field = on_grid(lon, lat)
    lam, phi = np.radians(lon[3]), np.radians(lat[5])
    node = np.array([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    assert interpolate_gaussian(lon, lat, field, node) == pytest.approx(field[5, 3], abs=1e-13)
    with pytest.raises(ValueError, match="expected field"):
        interpolate_gaussian(lon, lat, field.T, node)
    with pytest.raises(ValueError, match="increase"):
        interpolate_gaussian(lon, lat[::-1], field, node)


def test_reference_initial_states_match_dycores():
    """Two independent writings of the W92 and Galewsky formulas agree."""
    r = unit_points(500, seed=1)
    lon, lat = np.arctan2(r[:, 1], r[:, 0]), np.arcsin(r[:, 2])
    east = np.stack([-np.sin(lon), np.cos(lon), 0 * lon], -1)
    north = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], -1)
    u, v, surface, bed = spectral.tc5_fields(lon, lat, A, OMEGA, G)
    d = williamson5(r, A, OMEGA, G)
    np.testing.assert_allclose(bed, d.bed, atol=1e-9)
    np.testing.assert_allclose(surface - bed, d.h, atol=1e-9)
    np.testing.assert_allclose(u[:, None] * east + v[:, None] * north, d.velocity, atol=1e-11)
    u, v, h = spectral.tc6_fields(lon, lat, A, OMEGA, G)
    d = williamson6(r, A, OMEGA, G)
    np.testing.assert_allclose(h, d.h, atol=1e-8)
    np.testing.assert_allclose(u[:, None] * east + v[:, None] * north, d.velocity, atol=1e-9)
    d, flat = galewsky(r, A, OMEGA, G), galewsky(r, A, OMEGA, G, perturbed=False)
    np.testing.assert_allclose(spectral.galewsky_jet(lat)[:, None] * east, d.velocity,
                               atol=1e-11)
    np.testing.assert_allclose(spectral.galewsky_bump(lon, lat), d.h - flat.h, atol=1e-9)


def test_reference_code_imports_nothing_from_dycore():
    tree = ast.parse(pathlib.Path(spectral.__file__).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert "dinosaur" in " ".join(names)
    assert not [m for m in names if m and m.split(".")[0] in ("dycore", "parallel")]


@pytest.mark.parametrize("case", CASES)
def test_committed_reference_files(case):
    path = REFERENCE / f"{case}.npz"
    if not path.exists():
        pytest.skip(f"{path} not made (benchmarks/sphere_reference.py make-reference)")
    with np.load(path) as f:
        lon, lat, h = f["lon"], f["lat"], f["h"]
        nlat = lat.size
        np.testing.assert_allclose(lat, gaussian_grid(nlat)[1], atol=1e-10)
        np.testing.assert_allclose(lon, np.arange(2 * nlat) * 180.0 / nlat, atol=1e-10)
        assert h.shape == (nlat, 2 * nlat) and np.all(np.isfinite(h))
        low, high = {"williamson5": (3000, 6000), "williamson6": (7500, 11000),
                     "galewsky": (8500, 10800)}[case]
        assert low < h.min() < h.max() < high
        if case == "williamson5":
            surface = f["surface"]
            assert surface.shape == h.shape and 4500 < surface.min() < surface.max() < 6100
        if case == "galewsky":
            zeta = f["vorticity"]
            assert zeta.shape == h.shape and 5e-5 < np.abs(zeta).max() < 5e-4
