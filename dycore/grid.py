"""Uniform Cartesian grid geometry for cell-centred finite volumes.

All lengths are in metres. Cell (j, i) of the global grid covers
[x0 + i dx, x0 + (i+1) dx] x [y0 + j dy, y0 + (j+1) dy]; arrays are indexed
``[j, i]`` (y first, x second), i.e. shape (ny, nx).

A :class:`Tile` is the part of the global grid owned by one process: a
rectangle of ``ny_local x nx_local`` cells starting at global index
``(j0, i0)``. On a single process the tile is the whole grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parallel.topology import Box


@dataclass(frozen=True)
class Grid:
    """The global grid: ``nx x ny`` cells on ``[x0, x0+lx] x [y0, y0+ly]`` (m)."""

    nx: int
    ny: int
    lx: float
    ly: float
    x0: float = 0.0
    y0: float = 0.0

    @property
    def dx(self) -> float:
        return self.lx / self.nx

    @property
    def dy(self) -> float:
        return self.ly / self.ny

    @property
    def cell_area(self) -> float:
        return self.dx * self.dy

    @property
    def n_cells(self) -> int:
        return self.nx * self.ny

    def x_centres(self) -> np.ndarray:
        """Global cell-centre x coordinates (m), shape (nx,)."""
        return self.x0 + (np.arange(self.nx) + 0.5) * self.dx

    def y_centres(self) -> np.ndarray:
        """Global cell-centre y coordinates (m), shape (ny,)."""
        return self.y0 + (np.arange(self.ny) + 0.5) * self.dy

    @property
    def y_mid(self) -> float:
        """y of the domain centre (m): the reference latitude of the beta plane."""
        return self.y0 + 0.5 * self.ly

    def whole_tile(self) -> "Tile":
        return Tile(0, 0, self.nx, self.ny, grid=self)


@dataclass(frozen=True)
class Tile(Box):
    """The rectangle of the global grid owned by one process: a
    :class:`parallel.topology.Box` (offsets, sizes, slices, ``take``) that
    knows its grid's coordinates."""

    grid: Grid | None = None

    def x_centres(self) -> np.ndarray:
        return self.grid.x_centres()[self.x_slice]

    def y_centres(self) -> np.ndarray:
        return self.grid.y_centres()[self.y_slice]

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates (X, Y) of this tile, each of shape (ny, nx)."""
        return np.meshgrid(self.x_centres(), self.y_centres(), indexing="xy")


@dataclass(frozen=True)
class LocalGrid:
    """What a closure needs to know about the arrays it receives: this
    rank's tile and the halo width of the padded fields."""

    tile: Tile
    halo: int

    @property
    def dx(self) -> float:
        return self.tile.grid.dx

    @property
    def dy(self) -> float:
        return self.tile.grid.dy

    @property
    def x(self) -> np.ndarray:
        """Cell-centre x (m) of the tile's interior cells."""
        return self.tile.x_centres()

    @property
    def y(self) -> np.ndarray:
        return self.tile.y_centres()

    def interior(self, padded):
        """Strip the halo from a padded (..., ny + 2 halo, nx + 2 halo) array."""
        H = self.halo
        return padded[..., H:padded.shape[-2] - H, H:padded.shape[-1] - H]
