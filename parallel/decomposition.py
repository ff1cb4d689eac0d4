"""The 2D Cartesian process grid: which rank owns which tile, and who its
neighbours are. Pure Python (no MPI import), so it is testable serially.

Conventions
-----------
- ``procs = (PX, PY)``: PX ranks along x, PY along y, PX * PY = N.
- Rank numbering is row-major over (py, px) with px varying fastest:
  ``rank = py * PX + px``. This is MPI's Cartesian convention (last
  dimension fastest) for ``dims = (PY, PX)``, matching the ``[j, i]``
  (y first) layout of the field arrays.
- Along an axis of n cells split into P parts the part sizes differ by at
  most one, the first ``n % P`` parts one cell larger (:func:`split`).
- Neighbours are ranks or ``None`` at a non-periodic domain edge; in a
  periodic direction the neighbour wraps around and, with a single rank
  along that direction, is the rank itself.

Errors are :class:`parallel.errors.DecompositionError` with one-line
messages that name the setting to change (its ``key``).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from parallel.errors import DecompositionError
from parallel.topology import Box


def split(n: int, parts: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sizes and start offsets of ``parts`` contiguous pieces of ``n`` cells.

    Sizes differ by at most one, the first ``n % parts`` pieces being larger:
    ``split(10, 3) == ((4, 3, 3), (0, 4, 7))``.
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    base, extra = divmod(n, parts)
    sizes = tuple(base + (1 if k < extra else 0) for k in range(parts))
    offsets = tuple(sum(sizes[:k]) for k in range(parts))
    return sizes, offsets


def factor_pairs(n: int) -> list[tuple[int, int]]:
    """All (PX, PY) with PX * PY == n, PX ascending."""
    return [(p, n // p) for p in range(1, n + 1) if n % p == 0]


def choose_procs(n_ranks: int, nx: int, ny: int, min_cells: int = 1) -> tuple[int, int]:
    """A process grid (PX, PY) for ``n_ranks`` ranks on an ``nx x ny`` grid.

    Picks the factorisation with the smallest halo perimeter of the largest
    tile, ceil(nx/PX) + ceil(ny/PY) (cells exchanged per halo row/column),
    ties broken towards the squarest tile and then towards more ranks along
    x (longer contiguous rows in y messages). Factorisations whose tiles
    would be narrower than ``min_cells`` (the halo width) are avoided while
    any other exists; if none is valid the best one is returned anyway and
    :class:`Decomposition` reports the problem.
    """
    if n_ranks < 1:
        raise ValueError(f"n_ranks must be >= 1, got {n_ranks}")

    def cost(pair):
        px, py = pair
        wx, wy = math.ceil(nx / px), math.ceil(ny / py)
        too_narrow = (nx // px < min_cells and px > 1) or (ny // py < min_cells and py > 1)
        return (too_narrow, wx + wy, abs(math.log(wx / wy)) if wx and wy else 0.0, -px)

    return min(factor_pairs(n_ranks), key=cost)


def parse_procs(procs) -> tuple[int, int]:
    """``procs`` as a (PX, PY) tuple of positive integers."""
    bad = DecompositionError(f"config key 'procs': must be two positive integers [PX, PY], "
                             f"got {procs!r}", key="procs")
    try:
        px, py = procs
    except (TypeError, ValueError):
        raise bad from None
    if any(isinstance(p, bool) or not isinstance(p, numbers.Integral) or p < 1
           for p in (px, py)):
        raise bad
    return int(px), int(py)


def check_procs(procs, n_ranks: int) -> tuple[int, int]:
    """``procs`` as a (PX, PY) tuple, checked against the number of ranks."""
    px, py = parse_procs(procs)
    if px * py != n_ranks:
        raise DecompositionError(f"config key 'procs': a {px}x{py} process grid needs "
                                 f"{px * py} MPI ranks but {n_ranks} were started (PX*PY must "
                                 f"equal the rank count)", key="procs")
    return px, py


@dataclass(frozen=True)
class Neighbours:
    """Ranks across each side of a tile; None at a non-periodic domain edge."""

    west: int | None
    east: int | None
    south: int | None
    north: int | None

    def along(self, axis: int) -> tuple[int | None, int | None]:
        """(lo, hi) neighbours along ``axis`` (-1: x, -2: y)."""
        return (self.west, self.east) if axis in (-1, 1) else (self.south, self.north)


class Decomposition:
    """A ``PX x PY`` process grid over ``grid`` for a scheme of ``halo`` ghost cells.

    grid:        the global grid: anything with ``nx`` and ``ny`` (cells)
    procs:       (PX, PY) ranks along x and y
    halo:        ghost-cell width of the scheme (cells)
    periodic_x:  whether x wraps around (west and east neighbours of the edge tiles)
    periodic_y:  same for y

    Raises DecompositionError when a tile would be narrower than ``halo``.
    """

    def __init__(self, grid, procs, halo: int, periodic_x: bool = False,
                 periodic_y: bool = False):
        self.grid = grid
        self.procs = parse_procs(procs)
        self.halo = int(halo)
        self.periodic_x = bool(periodic_x)
        self.periodic_y = bool(periodic_y)
        px, py = self.procs
        self.x_sizes, self.x_offsets = split(grid.nx, px)
        self.y_sizes, self.y_offsets = split(grid.ny, py)
        self._check_widths()

    @classmethod
    def for_ranks(cls, grid, n_ranks: int, halo: int, procs=None,
                  periodic_x: bool = False, periodic_y: bool = False) -> "Decomposition":
        """The decomposition for ``n_ranks`` ranks; ``procs=None`` chooses one."""
        if procs is None:
            procs = choose_procs(n_ranks, grid.nx, grid.ny, min_cells=halo)
        return cls(grid, check_procs(procs, n_ranks), halo, periodic_x, periodic_y)

    def _check_widths(self):
        for n, parts, sizes, key, axis, periodic in (
                (self.grid.nx, self.procs[0], self.x_sizes, "nx", "x", self.periodic_x),
                (self.grid.ny, self.procs[1], self.y_sizes, "ny", "y", self.periodic_y)):
            narrowest = min(sizes)
            if parts > 1 and narrowest < self.halo:
                most = max(n // self.halo, 1)
                raise DecompositionError(
                    f"config key {key!r}: {n} cells over {parts} ranks along {axis} give tiles "
                    f"of {narrowest} cells, narrower than the scheme's halo of {self.halo}; "
                    f"use at most {most} ranks along {axis} (config key 'procs') or more cells",
                    key=key)
            if parts == 1 and periodic and n < self.halo:
                raise DecompositionError(f"config key {key!r}: a periodic direction needs at "
                                         f"least {self.halo} cells for this scheme's halo, "
                                         f"got {n}", key=key)

    # ------------------------------------------------------------ geometry
    @property
    def size(self) -> int:
        return self.procs[0] * self.procs[1]

    def coords(self, rank: int) -> tuple[int, int]:
        """(px, py) position of ``rank`` in the process grid."""
        if not 0 <= rank < self.size:
            raise ValueError(f"rank {rank} outside 0..{self.size - 1}")
        return rank % self.procs[0], rank // self.procs[0]

    def rank_of(self, px: int, py: int) -> int:
        return py * self.procs[0] + px

    def tile(self, rank: int) -> Box:
        """The tile (global offsets and sizes, in cells) owned by ``rank``."""
        px, py = self.coords(rank)
        return Box(self.x_offsets[px], self.y_offsets[py], self.x_sizes[px], self.y_sizes[py])

    def tiles(self) -> list[Box]:
        """The tiles of all ranks, in rank order."""
        return [self.tile(r) for r in range(self.size)]

    def neighbours(self, rank: int) -> Neighbours:
        """Neighbouring ranks of ``rank`` (None across a non-periodic edge)."""
        px, py = self.coords(rank)
        nx_p, ny_p = self.procs

        def step(p, delta, parts, periodic):
            q = p + delta
            if 0 <= q < parts:
                return q
            return q % parts if periodic else None

        west = step(px, -1, nx_p, self.periodic_x)
        east = step(px, +1, nx_p, self.periodic_x)
        south = step(py, -1, ny_p, self.periodic_y)
        north = step(py, +1, ny_p, self.periodic_y)
        return Neighbours(
            None if west is None else self.rank_of(west, py),
            None if east is None else self.rank_of(east, py),
            None if south is None else self.rank_of(px, south),
            None if north is None else self.rank_of(px, north),
        )

    def parts_along(self, axis: int) -> int:
        """Number of ranks along ``axis`` (-1: x, -2: y)."""
        return self.procs[0] if axis in (-1, 1) else self.procs[1]

    def __repr__(self) -> str:
        return (f"Decomposition({self.procs[0]}x{self.procs[1]} over {self.grid.nx}x"
                f"{self.grid.ny} cells, halo {self.halo}, periodic x={self.periodic_x}, "
                f"y={self.periodic_y})")

