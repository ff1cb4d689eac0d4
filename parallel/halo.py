"""Halo (ghost-cell) filling on any topology (:mod:`parallel.topology`).

:func:`make_halo_filler` builds ``fill(fields, kinds)`` for one rank: it
takes interior (..., ny, nx) arrays of the rank's tile and returns them
padded by ``halo`` cells on every side. ``kinds[k]`` says how field k
transforms (:class:`parallel.ghosts.FieldKind`: scalar or vector
component). Each side of the tile gets

- across a link to another rank: that rank's edge strip at the glued side,
  sent as one message per link carrying all fields, turned into our frame by
  the link's orientation (vector components permuted and signed);
- across a link to the rank itself (a periodic axis with one rank): the
  same, taken locally, with no message;
- at a physical boundary: the boundary condition (:mod:`parallel.ghosts`),
  possibly a side fill supplied by the caller, called with all fields and
  with the keyword arguments of the fill, if any (``fill(fields, kinds,
  t=...)`` hands ``t=...`` on to every side fill: boundary data that vary
  in time, say).

Corners. The fill runs in two phases. Phase 1 fills the x sides (west,
east) on the interior rows; phase 2 fills the y sides over the full padded
width, and what crosses a y side is the neighbour's edge rows *extended by
its own phase-1 ghosts*. So a corner block holds the cells that the
neighbour across our y side holds beyond the end of the shared edge: on a
Cartesian grid the diagonal neighbour's cells (two hops), next to a wall
the mirror of our x ghosts. Where a link transposes axes (an x side glued
to a y side, as on a cube), phase 1 fills all four sides and in phase 2
every link whose either end is a y side is exchanged again with the
extended strips; then a corner holds what the neighbour across our y side
got in phase 1 from *its* neighbour across the side that meets the shared
edge at that end: where three tiles meet (a cube vertex) that is the third
tile's cells next to the neighbour's edge. Corner cells are thus always
finite copies of real cells.

Messages are pairwise (``transport(buffer, partner, tag)`` sends ours and
returns theirs), posted in the deadlock-free round order of
:func:`parallel.topology.exchange_rounds`. With the Cartesian grid that is
one message per neighbouring rank per phase: at most 4 per fill, none on
one rank. Because ghosts are copies (and sign changes) of the same numbers,
a padded tile equals the corresponding window of the serially padded
global array bit for bit.
"""
from __future__ import annotations

import jax.numpy as jnp

from parallel.ghosts import (SIDES, edge_rows, frame, is_side_fill, physical_ghosts, place,
                             side_axis_end, strip, wall_parity, x_padded_edges,
                             y_extended_columns)
from parallel.topology import exchange_rounds, is_axis_aligned

X_SIDES = ("west", "east")
Y_SIDES = ("south", "north")
PHASE_TAGS = (100, 200)  # tag = phase base + round number (rounds are few)


def _partners(kinds):
    """For each field, {component: field index} of its vector (None for scalars)."""
    groups: dict = {}
    for k, kind in enumerate(kinds):
        vector = getattr(kind, "vector", None)
        if vector is not None:
            groups.setdefault(vector, {})[kind.component] = k
    return [None if getattr(kind, "vector", None) is None else groups[kind.vector]
            for kind in kinds]


def _oriented(blocks, orientation, kinds, partners):
    """The neighbour's strips (one per field) in our frame."""
    if orientation.is_identity:
        return list(blocks)
    turned = [orientation.apply(b) for b in blocks]
    out = []
    for k, kind in enumerate(kinds):
        if partners[k] is None:
            out.append(turned[k])
            continue
        source, sign = orientation.component(kind.component)
        value = turned[partners[k][source]]
        out.append(value if sign == 1 else -value)
    return out


class _Plan:
    """What one rank does per phase: sides, links, message rounds."""

    def __init__(self, topology, rank):
        self.links = {side: topology.link(rank, side) for side in SIDES}
        self.aligned = is_axis_aligned(topology)
        self.boundary = {side: topology.boundary(rank, side) for side in SIDES
                         if self.links[side] is None}
        if self.aligned:
            phases = ((X_SIDES, lambda s, t: True), (Y_SIDES, lambda s, t: True))
        else:
            phases = ((SIDES, lambda s, t: True),
                      (SIDES, lambda s, t: s in Y_SIDES or t in Y_SIDES))
        self.phases = []
        for sides, wanted in phases:
            rounds = exchange_rounds(topology, sides, wanted)
            remote = sorted(((rounds[(rank, s)], s) for s in sides if (rank, s) in rounds))
            self.phases.append((sides, remote))


class _TileFill:
    """The fill of one tile, in stages: per phase, :meth:`outgoing` gives the
    strips that cross each side with a link to another tile, and
    :meth:`incoming` takes what arrived there and makes that phase's ghosts.
    MPI carries the strips between ranks (:func:`make_halo_filler`); for the
    tiles of one process they are handed over directly
    (:func:`make_multi_tile_filler`).

    local: no messages, and the padded array is built side by side with its
    ghosts (the order in which the backward pass then sums the cotangents of
    a field is the one the single-process fill always had).
    """

    def __init__(self, plan, rank, halo, fields, kinds, local, side_args=None):
        self.plan, self.rank, self.H = plan, rank, halo
        self.side_args = side_args or {}
        self.fields, self.kinds, self.local = fields, kinds, local
        self.partners = _partners(kinds)
        self.frames = [frame(q, halo) for q in fields] if local else None
        self.g1, self.g2, self.edges = {}, {}, None

    # ---------------------------------------------------------------- pieces
    def _interior(self, side):
        return [strip(q, self.H, side) for q in self.fields]

    def _extended(self, side):
        end = side_axis_end(side)[1]
        if side in Y_SIDES:
            return [edge_rows(rows, self.H, end) for rows in self.edges]
        return [y_extended_columns(q, s, n, self.H, end)
                for q, s, n in zip(self.fields, self.g1["south"], self.g1["north"])]

    def _pieces(self, phase):
        return self._interior if phase == 0 else self._extended

    def outgoing(self, phase) -> dict:
        """{side: strips (one per field)} to send across this phase's remote links."""
        if phase == 1 and self.edges is None:
            self.edges = [x_padded_edges(q, w, e, self.H)
                          for q, w, e in zip(self.fields, self.g1["west"], self.g1["east"])]
        return {side: self._pieces(phase)(side) for _, side in self.plan.phases[phase][1]}

    # ---------------------------------------------------------------- ghosts
    def _physical(self, phase, k, side, kind, sign):
        axis, end = side_axis_end(side)
        if phase == 0:
            return physical_ghosts(self.fields[k], self.H, axis, end, kind, sign)
        return physical_ghosts(self.edges[k], self.H, -2, end, kind, sign)

    def _ghosts(self, phase, side, received):
        link = self.plan.links[side]
        if link is None and is_side_fill(self.plan.boundary[side]):
            source = self.fields if phase == 0 else self.edges
            inner = [strip(q, self.H, side) for q in source]
            return list(self.plan.boundary[side](side, inner, self.kinds, **self.side_args))
        if link is None:
            index = 0 if side in X_SIDES else 1
            return [self._physical(phase, k, side, self.plan.boundary[side],
                                   wall_parity(kind)[index])
                    for k, kind in enumerate(self.kinds)]
        blocks = (received[side] if link.rank != self.rank
                  else self._pieces(phase)(link.orientation.glued_side(side)))
        return _oriented(blocks, link.orientation, self.kinds, self.partners)

    def incoming(self, phase, received: dict) -> None:
        """Make this phase's ghosts from ``received`` ({side: strips})."""
        if phase == 0:
            for side in self.plan.phases[0][0]:
                self.g1[side] = self._ghosts(0, side, received)
                if self.local and side in X_SIDES:
                    axis, end = side_axis_end(side)
                    self.frames = [place(p, g, self.H, axis, end)
                                   for p, g in zip(self.frames, self.g1[side])]
            return
        if self.edges is None:
            self.outgoing(1)
        for side in Y_SIDES:
            self.g2[side] = self._ghosts(1, side, received)
            if self.local:
                end = side_axis_end(side)[1]
                self.frames = [place(p, g, self.H, -2, end)
                               for p, g in zip(self.frames, self.g2[side])]

    def padded(self) -> list:
        if self.local:
            return self.frames
        H, g1, g2 = self.H, self.g1, self.g2
        out = []
        for k, q in enumerate(self.fields):
            p = frame(q, H)
            p = place(place(p, g1["west"][k], H, -1, "lo"), g1["east"][k], H, -1, "hi")
            p = place(place(p, g2["south"][k], H, -2, "lo"), g2["north"][k], H, -2, "hi")
            out.append(p)
        return out


def _common_dtype(fields):
    fields = list(fields)
    dtypes = [q.dtype for q in fields]
    common = jnp.result_type(*dtypes)
    return [q.astype(common) for q in fields], dtypes


def _strip_shape(box, side: str, halo: int, phase: int) -> tuple[int, int]:
    """(rows, columns) of the strip a tile sends across ``side`` in ``phase``
    (phase 1 strips are extended by the phase-1 ghosts at both ends)."""
    extra = 2 * halo if phase == 1 else 0
    if side in X_SIDES:
        return (box.ny + extra, halo)
    return (halo, box.nx + extra)


def make_halo_filler(topology, rank: int, halo: int, transport=None):
    """``fill(fields, kinds)`` for ``rank`` of ``topology`` (see the module docstring).

    transport: ``transport(buffer, partner_rank, tag) -> buffer`` (an MPI
               sendrecv with the partner); needed only if some link goes to
               another rank.
    """
    plan = _Plan(topology, rank)
    H = int(halo)
    if transport is None and any(plan.phases[p][1] for p in (0, 1)):
        raise ValueError(f"rank {rank} has links to other ranks: a transport is needed")

    def run(fields, kinds, local, side_args):
        tile = _TileFill(plan, rank, H, fields, kinds, local, side_args)
        lead = fields[0].shape[:-2]
        for phase in (0, 1):
            sends = tile.outgoing(phase)
            received = {}
            for round_, side in plan.phases[phase][1]:
                link = plan.links[side]
                got = transport(jnp.stack(sends[side]), link.rank, PHASE_TAGS[phase] + round_)
                # The message holds the partner's strips in *its* layout (an x
                # side glued to a y side has them transposed; as many cells).
                shape = _strip_shape(topology.box(link.rank), link.orientation.glued_side(side),
                                     H, phase)
                got = got.reshape((len(fields),) + lead + shape)
                received[side] = [got[k] for k in range(got.shape[0])]
            tile.incoming(phase, received)
        return tile.padded()

    # One field at a time where no link needs messages or turns axes, and no
    # side fill (which may couple the fields) is called.
    separable = not any(plan.phases[p][1] for p in (0, 1)) and all(
        link is None or link.orientation.is_identity for link in plan.links.values()) and not any(
        is_side_fill(kind) for kind in plan.boundary.values())

    def fill(fields, kinds, **side_args):
        fields, dtypes = _common_dtype(fields)
        kinds = list(kinds)
        if separable:
            padded = [run([q], [kind], True, side_args)[0] for q, kind in zip(fields, kinds)]
        else:
            padded = run(fields, kinds, False, side_args)
        return tuple(p.astype(dt) for p, dt in zip(padded, dtypes))

    return fill


def make_multi_tile_filler(topology, ranks, halo: int):
    """``fill(tile_fields, kinds)`` for several tiles held by one process
    (e.g. all six faces of a cube on one rank): ``tile_fields`` maps each of
    ``ranks`` (tile numbers of ``topology``) to its list of interior arrays;
    returns the same mapping to padded arrays. Every link must stay among
    ``ranks``; strips are handed over directly, with no message."""
    ranks = list(ranks)
    plans = {r: _Plan(topology, r) for r in ranks}
    for r, plan in plans.items():
        for link in plan.links.values():
            if link is not None and link.rank not in plans:
                raise ValueError(f"tile {r} links to tile {link.rank}, not held here")
    H = int(halo)

    def fill(tile_fields, kinds):
        kinds = list(kinds)
        prepared = {r: _common_dtype(tile_fields[r]) for r in ranks}
        tiles = {r: _TileFill(plans[r], r, H, prepared[r][0], kinds, False) for r in ranks}
        for phase in (0, 1):
            sends = {r: tile.outgoing(phase) for r, tile in tiles.items()}
            for r, tile in tiles.items():
                received = {}
                for _, side in plans[r].phases[phase][1]:
                    link = plans[r].links[side]
                    received[side] = sends[link.rank][link.orientation.glued_side(side)]
                tile.incoming(phase, received)
        return {r: tuple(p.astype(dt) for p, dt in zip(tiles[r].padded(), prepared[r][1]))
                for r in ranks}

    return fill
