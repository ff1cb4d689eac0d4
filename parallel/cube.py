"""The six faces of a cube as a topology: each face of ``n x n`` cells split
into ``px x py`` tiles, one per rank, ``6 px py`` ranks in all.

Face frames. Face f has an outward normal c and in-face unit vectors e1
(the i direction) and e2 (j), with e1 x e2 = c, so every face is seen from
outside with the same handedness and no link needs a mirror:

    face 0: c = +x, e1 = +y, e2 = +z      face 3: c = -y, e1 = +x, e2 = +z
    face 1: c = +y, e1 = -x, e2 = +z      face 4: c = +z, e1 = +y, e2 = -x
    face 2: c = -x, e1 = -y, e2 = +z      face 5: c = -z, e1 = +y, e2 = +x

Faces 0-3 go round the equator eastwards; 4 is the north cap, 5 the south.
The links are not tabulated but derived from this geometry (so they cannot
disagree with it): a cell centre at scaled face coordinates X = 2i + 1 - n,
Y = 2j + 1 - n (odd integers in (-n, n)) is the cube point n c + X e1 +
Y e2; a ghost cell beyond an edge is *folded* over the edge onto the next
face, keeping its distance from the edge (:func:`fold`). Folding two
neighbouring ghost cells gives how the neighbour's index axes are turned.
The same folding, across our y side first and then across the
neighbour's side, is what the halo fill puts into corner cells
(:mod:`parallel.halo`); at the 8 cube vertices, where three faces meet, a
corner block thus holds the third face's cells next to the neighbour's
edge.
"""
from __future__ import annotations

import numpy as np

from parallel.decomposition import split
from parallel.errors import DecompositionError
from parallel.topology import ALL_ORIENTATIONS, Box, Link

FRAMES = np.array([
    [(1, 0, 0), (0, 1, 0), (0, 0, 1)],
    [(0, 1, 0), (-1, 0, 0), (0, 0, 1)],
    [(-1, 0, 0), (0, -1, 0), (0, 0, 1)],
    [(0, -1, 0), (1, 0, 0), (0, 0, 1)],
    [(0, 0, 1), (0, 1, 0), (-1, 0, 0)],
    [(0, 0, -1), (0, 1, 0), (1, 0, 0)],
])
"""Per face: (c, e1, e2), integer unit vectors."""


def _face_of(point) -> int:
    """The face whose normal has the largest component of ``point`` (a
    point on or just beyond that face)."""
    return int(np.argmax(FRAMES[:, 0] @ point))


def fold(n: int, face: int, i: int, j: int) -> tuple[int, int, int]:
    """(face, i, j) of the cell that a ghost index (i, j) of ``face`` lands on
    when the face's grid is continued over its edges onto the cube. Indices
    outside [0, n) in one direction cross one edge; outside in both, the j
    edge is crossed first, then the edge that point lies beyond on the
    next face (the corner rule of the halo fill)."""
    for _ in range(3):
        c, e1, e2 = FRAMES[face]
        X, Y = 2 * i + 1 - n, 2 * j + 1 - n
        if -n < X < n and -n < Y < n:
            return face, i, j
        if not -n < Y < n:  # cross the south/north edge first
            edge, beyond = (e2 if Y > 0 else -e2), abs(Y) - n
            point = n * c + X * e1 + np.sign(Y) * n * e2 - beyond * c
        else:
            edge, beyond = (e1 if X > 0 else -e1), abs(X) - n
            point = n * c + np.sign(X) * n * e1 + Y * e2 - beyond * c
        face = _face_of(edge)
        c, e1, e2 = FRAMES[face]
        X, Y = int(point @ e1), int(point @ e2)
        i, j = (X + n - 1) // 2, (Y + n - 1) // 2
    raise AssertionError("a ghost cell folds onto a face within two edges")


class CubeTopology:
    """Six ``n x n`` faces, each split into ``px x py`` tiles (see the module
    docstring). Rank ``face * px * py + ty * px + tx`` owns tile (tx, ty) of
    ``face``. Tiles meeting across a face edge must have equal edge lengths,
    so ``px`` must equal ``py`` (DecompositionError otherwise), and a tile
    must be at least ``halo`` cells wide."""

    def __init__(self, n: int, px: int = 1, py: int = 1, halo: int = 1):
        if px != py:
            raise DecompositionError(f"config key 'procs': a cube needs the same number of "
                                     f"tiles along both axes of a face, got {px}x{py}",
                                     key="procs")
        if n // px < halo:
            raise DecompositionError(f"config key 'nx': {n} cells per face edge over {px} "
                                     f"tiles give tiles narrower than the halo of {halo}",
                                     key="nx")
        self.n, self.px, self.py = int(n), int(px), int(py)
        self.n_ranks = 6 * px * py
        self.x_sizes, self.x_offsets = split(n, px)
        self.y_sizes, self.y_offsets = split(n, py)
        self._links = {}

    def _tile_at(self, face: int, i: int, j: int) -> int:
        tx = int(np.searchsorted(self.x_offsets, i, side="right")) - 1
        ty = int(np.searchsorted(self.y_offsets, j, side="right")) - 1
        return face * self.px * self.py + ty * self.px + tx

    def box(self, rank: int) -> Box:
        face, rest = divmod(rank, self.px * self.py)
        ty, tx = divmod(rest, self.px)
        return Box(self.x_offsets[tx], self.y_offsets[ty], self.x_sizes[tx], self.y_sizes[ty],
                   face=face)

    def link(self, rank: int, side: str) -> Link:
        if (rank, side) not in self._links:
            self._links[rank, side] = self._find_link(rank, side)
        return self._links[rank, side]

    def boundary(self, rank: int, side: str) -> str:
        raise ValueError("a cube has no physical boundary")

    def _find_link(self, rank: int, side: str) -> Link:
        box = self.box(rank)
        # The first ghost cell beyond `side`, one step along the edge, one step out.
        out = {"west": (-1, 0), "east": (1, 0), "south": (0, -1), "north": (0, 1)}[side]
        along = (0, 1) if side in ("west", "east") else (1, 0)
        i0 = box.i0 - 1 if side == "west" else box.i0 + box.nx if side == "east" else box.i0
        j0 = box.j0 - 1 if side == "south" else box.j0 + box.ny if side == "north" else box.j0
        base = fold(self.n, box.face, i0, j0)
        steps = {}
        for name, (di, dj) in (("along", along), ("out", out)):
            f, i, j = fold(self.n, box.face, i0 + di, j0 + dj)
            if f != base[0]:
                raise AssertionError("a tile edge folds onto two faces")
            steps[name] = (i - base[1], j - base[2])
        # Our index steps (di, dj) -> the neighbour's; the orientation maps the
        # neighbour's array into our frame, i.e. its index steps back to ours.
        ours = np.array([along, out]).T
        theirs = np.array([steps["along"], steps["out"]]).T
        back = ours @ np.linalg.inv(theirs)
        for candidate in ALL_ORIENTATIONS:
            if np.array_equal(_index_map(candidate), np.rint(back).astype(int)):
                return Link(self._tile_at(*base), candidate)
        raise AssertionError("no orientation matches the fold")


def _index_map(orientation) -> np.ndarray:
    """The 2x2 matrix taking index steps (di, dj) of an array to those of the
    transformed array (:meth:`parallel.topology.Orientation.apply`)."""
    m = np.eye(2, dtype=int)
    if orientation.transpose:
        m = m[::-1]
    if orientation.flip_j:
        m = np.diag([1, -1]) @ m
    if orientation.flip_i:
        m = np.diag([-1, 1]) @ m
    return m
