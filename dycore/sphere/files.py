"""The cubed sphere as the output and restart writers of :mod:`dycore.io`
see it: fields on (face, y, x) (``[face, j, i]``, N x N cells per face),
the coordinates a reader needs, and where a rank's tile sits.

File layout (netCDF-4 on HDF5, CF-1.11; ``xarray.open_dataset(path,
engine="h5netcdf")`` opens it):

    /face (face,)          face number 0-5 (0-3 round the equator eastwards
                           from lon 0, 4 the north cap, 5 the south)
    /y, /x (y,), (x,)      equiangular coordinates beta, alpha of the cell
                           centres on a face (rad, in (-pi/4, pi/4))
    /nv (nv,)              the 4 corners of a cell, counter-clockwise seen
                           from outside the sphere
    /lon, /lat (face, y, x)            cell centres (degrees_east, degrees_north)
    /lon_bounds, /lat_bounds (face, y, x, nv)   cell corners (CF ``bounds``)
    /area (face, y, x)     exact spherical cell area (m2), CF ``cell_area``;
                           sums to 4 pi a^2

Every field carries ``coordinates = "lon lat area"`` (so xarray makes them
coordinates) and ``cell_measures = "area: area"``. Longitudes are in
(-180, 180]; the bounds of a cell that straddles the date line jump by
360 degrees, as CF allows, and a polar cell's corners are its real corners.

The writers index a rank's tile by :attr:`SphereTile.file_box` (face, j, i
offsets and counts); the restart checksums and the blow-up report use the
faces stacked along j (row face * N + j of a (6 N, N) array), through
``i0``, ``j0``, ``nx``, ``ny``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dycore.grids.cubed_sphere import CubedSphereGrid

FILE_DIMS = ("face", "y", "x")
FIELD_ATTRS = {"coordinates": "lon lat area", "cell_measures": "area: area"}


def lon_lat_degrees(points):
    """Longitude (-180, 180] and latitude [-90, 90] (degrees) of points (..., 3)."""
    lon = np.degrees(np.arctan2(points[..., 1], points[..., 0]))
    norm = np.linalg.norm(points, axis=-1)
    lat = np.degrees(np.arcsin(np.clip(points[..., 2] / norm, -1.0, 1.0)))
    return np.where(lon == -180.0, 180.0, lon), lat


def corner_lon_lat(grid: CubedSphereGrid):
    """(lon, lat) of each cell's 4 corners (6, N, N, 4), degrees, counter-clockwise."""
    c = grid.corner_points()
    corners = np.stack([c[:, :-1, :-1], c[:, :-1, 1:], c[:, 1:, 1:], c[:, 1:, :-1]], axis=-2)
    return lon_lat_degrees(corners)


@dataclass(frozen=True)
class SphereFileGrid:
    """The global grid for the writers (see the module docstring)."""

    grid: CubedSphereGrid

    @property
    def n(self) -> int:
        return self.grid.n

    @property
    def nx(self) -> int:
        return self.grid.n

    @property
    def ny(self) -> int:
        """Rows of the faces stacked along j (6 N)."""
        return 6 * self.grid.n

    @property
    def file_shape(self) -> tuple:
        return (6, self.grid.n, self.grid.n)

    file_dims = FILE_DIMS
    field_attrs = FIELD_ATTRS

    def write_coordinates(self, f) -> None:
        """The coordinate variables and dimension scales above, into the open file ``f``."""
        g = self.grid
        scales = {
            "face": (np.arange(6, dtype=np.int32), {"long_name": "face of the cube", "units": "1"}),
            "y": (g.centres, {"long_name": "equiangular coordinate beta of cell centres on a "
                                           "face (along j)", "units": "rad"}),
            "x": (g.centres, {"long_name": "equiangular coordinate alpha of cell centres on a "
                                           "face (along i)", "units": "rad"}),
            "nv": (np.arange(4, dtype=np.int32), {"long_name": "cell corner, counter-clockwise "
                                                               "seen from outside", "units": "1"}),
        }
        for name, (values, attrs) in scales.items():
            ds = f.create_dataset(name, data=values)
            ds.make_scale(name)
            ds.attrs.update(attrs)
        lon, lat = lon_lat_degrees(g.centre_points())
        lon_b, lat_b = corner_lon_lat(g)
        cells = {
            "lon": (lon, FILE_DIMS, {"units": "degrees_east", "standard_name": "longitude",
                                     "long_name": "longitude of cell centres",
                                     "bounds": "lon_bounds"}),
            "lat": (lat, FILE_DIMS, {"units": "degrees_north", "standard_name": "latitude",
                                     "long_name": "latitude of cell centres",
                                     "bounds": "lat_bounds"}),
            "lon_bounds": (lon_b, FILE_DIMS + ("nv",), {"units": "degrees_east",
                                                        "long_name": "longitude of cell corners"}),
            "lat_bounds": (lat_b, FILE_DIMS + ("nv",), {"units": "degrees_north",
                                                        "long_name": "latitude of cell corners"}),
            "area": (g.areas(), FILE_DIMS, {"units": "m2", "standard_name": "cell_area",
                                            "long_name": "area of grid cells (exact spherical "
                                                         "quadrilaterals)"}),
        }
        for name, (values, dims, attrs) in cells.items():
            ds = f.create_dataset(name, data=np.asarray(values, np.float64))
            ds.attrs.update(attrs)
            for axis, dim in enumerate(dims):
                ds.dims[axis].attach_scale(f[dim])


@dataclass(frozen=True)
class SphereTile:
    """What a process holds, as the writers see it: ``count`` stacked tiles
    (6 whole faces on one process, one tile on a rank of 6 P^2) starting at
    ``face``, ``j0``, ``i0`` with ``ny`` x ``nx`` cells each."""

    n: int
    face: int
    box_j0: int
    box_i0: int
    ny: int
    nx: int
    count: int

    @property
    def i0(self) -> int:
        return self.box_i0

    @property
    def j0(self) -> int:
        """The first row in the faces stacked along j."""
        return self.face * self.n + self.box_j0

    @property
    def file_box(self) -> tuple:
        return (self.face, self.box_j0, self.box_i0, self.count, self.ny, self.nx)


def tile_of(boxes, n: int) -> SphereTile:
    """The :class:`SphereTile` of a context's boxes (all six faces, or one tile)."""
    if len(boxes) == 6:
        return SphereTile(n, 0, 0, 0, n, n, 6)
    (b,) = boxes
    return SphereTile(n, b.face, b.j0, b.i0, b.ny, b.nx, 1)
