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
- at a physical boundary: the boundary condition (:mod:`parallel.ghosts`).

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

from parallel.ghosts import (SIDES, edge_rows, frame, physical_ghosts, place, side_axis_end,
                             strip, wall_parity, x_padded_edges, y_extended_columns)
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

    def exchange(phase, pieces_at):
        """{side: received strips (list per field)} for this phase's remote links."""
        received = {}
        for round_, side in plan.phases[phase][1]:
            got = transport(jnp.stack(pieces_at(side)), plan.links[side].rank,
                            PHASE_TAGS[phase] + round_)
            received[side] = [got[k] for k in range(got.shape[0])]
        return received

    def ghosts(side, pieces_at, received, fields, kinds, partners, physical):
        link = plan.links[side]
        if link is None:
            axis, end = side_axis_end(side)
            index = 0 if axis == -1 else 1
            return [physical(k, side, plan.boundary[side], wall_parity(kind)[index])
                    for k, kind in enumerate(kinds)]
        blocks = (received[side] if link.rank != rank
                  else pieces_at(link.orientation.glued_side(side)))
        return _oriented(blocks, link.orientation, kinds, partners)

    def fill_group(fields, kinds, local):
        """Pad ``fields`` together. ``local``: no messages, and the padded
        array is built side by side with its ghosts (the order in which the
        backward pass then sums the cotangents of a field is the one the
        single-process fill always had)."""
        partners = _partners(kinds)
        frames = [frame(q, H) for q in fields] if local else None

        def interior_strips(side):
            return [strip(q, H, side) for q in fields]

        def physical_1(k, side, kind, sign):
            axis, end = side_axis_end(side)
            return physical_ghosts(fields[k], H, axis, end, kind, sign)

        # Phase 1: interior-length strips.
        got = exchange(0, interior_strips)
        g1 = {}
        for side in plan.phases[0][0]:
            g1[side] = ghosts(side, interior_strips, got, fields, kinds, partners, physical_1)
            if local and side in X_SIDES:
                axis, end = side_axis_end(side)
                frames = [place(p, g, H, axis, end) for p, g in zip(frames, g1[side])]

        # Phase 2: strips extended by the phase-1 ghosts (corners included).
        edges = [x_padded_edges(q, w, e, H) for q, w, e in zip(fields, g1["west"], g1["east"])]

        def extended(side):
            end = side_axis_end(side)[1]
            if side in Y_SIDES:
                return [edge_rows(rows, H, end) for rows in edges]
            return [y_extended_columns(q, s, n, H, end)
                    for q, s, n in zip(fields, g1["south"], g1["north"])]

        def physical_2(k, side, kind, sign):
            end = side_axis_end(side)[1]
            return physical_ghosts(edges[k], H, -2, end, kind, sign)

        got = exchange(1, extended)
        g2 = {}
        for side in Y_SIDES:
            g2[side] = ghosts(side, extended, got, fields, kinds, partners, physical_2)
            if local:
                end = side_axis_end(side)[1]
                frames = [place(p, g, H, -2, end) for p, g in zip(frames, g2[side])]
        if local:
            return frames
        out = []
        for k, q in enumerate(fields):
            p = frame(q, H)
            p = place(place(p, g1["west"][k], H, -1, "lo"), g1["east"][k], H, -1, "hi")
            p = place(place(p, g2["south"][k], H, -2, "lo"), g2["north"][k], H, -2, "hi")
            out.append(p)
        return out

    # One field at a time where no link needs messages or turns axes.
    separable = not any(plan.phases[p][1] for p in (0, 1)) and all(
        link is None or link.orientation.is_identity for link in plan.links.values())

    def fill(fields, kinds):
        fields = list(fields)
        dtypes = [q.dtype for q in fields]
        common = jnp.result_type(*dtypes)
        fields = [q.astype(common) for q in fields]
        kinds = list(kinds)
        if separable:
            padded = [fill_group([q], [kind], True)[0] for q, kind in zip(fields, kinds)]
        else:
            padded = fill_group(fields, kinds, False)
        return tuple(p.astype(dt) for p, dt in zip(padded, dtypes))

    return fill
