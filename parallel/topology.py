"""Who is across each side of a tile, and how that neighbour's index axes
are turned relative to ours.

Arrays are indexed [j, i] (y first); a tile has four sides, ``west``
(i = 0), ``east`` (i = nx - 1), ``south`` (j = 0) and ``north``. For each side
a topology gives either a :class:`Link` (the rank across it, possibly
ourselves, and an :class:`Orientation`) or None (a physical boundary of the
domain, filled by the boundary condition).

An :class:`Orientation` is one of the 8 symmetries of the square (rotation
by 0/90/180/270 degrees, with or without a mirror), stored as what it does
to a 2-D array: transpose the two index axes, then reverse j, then reverse i.
Applied to the neighbour's array it gives the neighbour as seen in our
frame: placed beyond our side, it continues our grid. Hence the ghost strip
beyond our side ``s`` is the neighbour's edge strip at its glued side
(:meth:`Orientation.glued_side`), transformed by the orientation; a vector's
components are permuted (transpose) and signed (reversals) the same way
(:meth:`Orientation.component`). The Cartesian process grid has only
identity orientations; the six faces of a cube need the others.

Topologies implement: ``n_ranks``; ``box(rank)`` (the tile's cells in its
own index space); ``link(rank, side)`` (a :class:`Link` or None);
``boundary(rank, side)`` (the physical boundary kind where there is no link).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from parallel.ghosts import SIDES, Boundaries

OPPOSITE = {"west": "east", "east": "west", "south": "north", "north": "south"}
_TRANSPOSED = {"west": "south", "south": "west", "east": "north", "north": "east"}
_FLIP_J = {"south": "north", "north": "south", "west": "west", "east": "east"}
_FLIP_I = {"west": "east", "east": "west", "south": "south", "north": "north"}


@dataclass(frozen=True)
class Orientation:
    """A symmetry of the square acting on (..., j, i) arrays: transpose the
    last two axes, then reverse j (``flip_j``), then reverse i (``flip_i``)."""

    transpose: bool = False
    flip_j: bool = False
    flip_i: bool = False

    @classmethod
    def from_rotation(cls, quarter_turns: int, mirror: bool = False) -> "Orientation":
        """``numpy.rot90(a, quarter_turns)`` of the array, mirrored in i first if ``mirror``."""
        return _matching(lambda a: np.rot90(a[:, ::-1] if mirror else a, quarter_turns % 4))

    @property
    def is_identity(self) -> bool:
        return not (self.transpose or self.flip_j or self.flip_i)

    def apply(self, a):
        """``a`` (..., j, i) in the transformed frame (a JAX array)."""
        import jax.numpy as jnp

        if self.transpose:
            a = jnp.swapaxes(a, -1, -2)
        if self.flip_j:
            a = jnp.flip(a, axis=-2)
        if self.flip_i:
            a = jnp.flip(a, axis=-1)
        return a

    def apply_numpy(self, a):
        if self.transpose:
            a = np.swapaxes(a, -1, -2)
        if self.flip_j:
            a = np.flip(a, axis=-2)
        if self.flip_i:
            a = np.flip(a, axis=-1)
        return a

    def maps_side(self, side: str) -> str:
        """Where a side of the untransformed array ends up."""
        if self.transpose:
            side = _TRANSPOSED[side]
        if self.flip_j:
            side = _FLIP_J[side]
        if self.flip_i:
            side = _FLIP_I[side]
        return side

    def inverse(self) -> "Orientation":
        return _matching(lambda a: _undo(self, a))

    def then(self, other: "Orientation") -> "Orientation":
        """The orientation that applies ``self`` first, then ``other``."""
        return _matching(lambda a: other.apply_numpy(self.apply_numpy(a)))

    def glued_side(self, my_side: str) -> str:
        """The neighbour's side that touches ``my_side`` (the one that maps
        onto the side facing us, ``OPPOSITE[my_side]``)."""
        return self.inverse().maps_side(OPPOSITE[my_side])

    def component(self, component: int) -> tuple[int, int]:
        """(neighbour component, sign) that gives our vector ``component``
        (0: x, 1: y) of a vector field."""
        source = 1 - component if self.transpose else component
        flipped = self.flip_i if component == 0 else self.flip_j
        return source, (-1 if flipped else 1)


def _matching(transform) -> "Orientation":
    """The orientation that does to a 2 x 3 array what ``transform`` does."""
    probe = np.arange(6).reshape(2, 3)
    want = transform(probe)
    for candidate in ALL_ORIENTATIONS:
        got = candidate.apply_numpy(probe)
        if got.shape == want.shape and np.array_equal(got, want):
            return candidate
    raise AssertionError("unreachable: the 8 orientations form a group")


def _undo(orientation, a):
    """``a`` with ``orientation`` undone (reversals first, then the transpose)."""
    if orientation.flip_i:
        a = np.flip(a, axis=-1)
    if orientation.flip_j:
        a = np.flip(a, axis=-2)
    return np.swapaxes(a, -1, -2) if orientation.transpose else a


ALL_ORIENTATIONS = tuple(Orientation(t, fj, fi)
                         for t, fj, fi in itertools.product((False, True), repeat=3))
IDENTITY = Orientation()


@dataclass(frozen=True)
class Link:
    """The rank across one side of a tile and how its axes are turned."""

    rank: int
    orientation: Orientation = IDENTITY


@dataclass(frozen=True)
class Box:
    """A tile's cells in its own index space: ``nx x ny`` from (i0, j0)."""

    i0: int
    j0: int
    nx: int
    ny: int
    face: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def x_slice(self) -> slice:
        return slice(self.i0, self.i0 + self.nx)

    @property
    def y_slice(self) -> slice:
        return slice(self.j0, self.j0 + self.ny)

    def take(self, global_field):
        """This tile's part of a global (..., ny, nx) array (of its face)."""
        return global_field[..., self.y_slice, self.x_slice]

    def edge_length(self, side: str) -> int:
        return self.ny if side in ("west", "east") else self.nx


class CartesianTopology:
    """The PX x PY process grid of a :class:`parallel.decomposition.Decomposition`
    with the domain's boundary kinds: identity orientations; a periodic side
    links to the rank at the other end (itself with one rank along that axis)."""

    def __init__(self, decomposition, boundaries: Boundaries):
        self.decomposition = decomposition
        self.boundaries = boundaries
        self.n_ranks = decomposition.size

    def box(self, rank: int) -> Box:
        return self.decomposition.tile(rank)

    def link(self, rank: int, side: str) -> Link | None:
        neighbour = getattr(self.decomposition.neighbours(rank), side)
        return None if neighbour is None else Link(neighbour)

    def boundary(self, rank: int, side: str) -> str:
        return getattr(self.boundaries, side)


def is_axis_aligned(topology) -> bool:
    """True when no link transposes axes (x sides meet x sides): then the
    halo fill needs only two rounds of messages (x, then y with corners)."""
    return all(link is None or not link.orientation.transpose
               for rank in range(topology.n_ranks) for side in SIDES
               for link in (topology.link(rank, side),))


def check_consistent(topology) -> None:
    """ValueError unless every link has a partner link back, with the
    inverse orientation, and both edges have the same length."""
    for rank in range(topology.n_ranks):
        for side in SIDES:
            link = topology.link(rank, side)
            if link is None:
                continue
            theirs = link.orientation.glued_side(side)
            back = topology.link(link.rank, theirs)
            if back is None or back.rank != rank or back.orientation != link.orientation.inverse():
                raise ValueError(f"topology: rank {rank} {side} links to rank {link.rank} "
                                 f"{theirs}, which does not link back with the inverse "
                                 f"orientation")
            if topology.box(rank).edge_length(side) != topology.box(link.rank).edge_length(theirs):
                raise ValueError(f"topology: rank {rank} {side} and rank {link.rank} {theirs} "
                                 f"have different edge lengths")


def exchange_rounds(topology, sides, wanted=lambda mine, theirs: True) -> dict:
    """A deadlock-free schedule of the pairwise messages over ``sides`` (links
    whose two glued sides satisfy ``wanted(mine, theirs)``):
    {(rank, side): round}, where the messages of one round form a matching
    (no rank in two of them), found greedily in a fixed order, so every rank
    computes the same schedule. Ranks post their messages in round order:
    a rank waiting in round k waits for a partner that is in round k or
    finishing an earlier one, so no cycle of waits can form. Links of a rank
    to itself need no message and get no round."""
    edges, seen = [], set()
    for rank in range(topology.n_ranks):
        for side in sides:
            link = topology.link(rank, side)
            if link is None or link.rank == rank:
                continue
            theirs = link.orientation.glued_side(side)
            edge = tuple(sorted(((rank, side), (link.rank, theirs))))
            if edge not in seen and wanted(side, theirs):
                seen.add(edge)
                edges.append(edge)
    busy: dict[int, set] = {}
    rounds = {}
    for a, b in edges:
        used = busy.setdefault(a[0], set()) | busy.setdefault(b[0], set())
        k = next(k for k in itertools.count() if k not in used)
        busy[a[0]].add(k)
        busy[b[0]].add(k)
        rounds[a] = rounds[b] = k
    return rounds
