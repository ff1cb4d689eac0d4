"""The halo exchange on topologies with rotated neighbours, serially: every
rank of a topology runs its fill in a thread of this process, and a
thread-safe mailbox carries the pairwise messages (the same code path as
over MPI, with the transport swapped). A blocking receive in the wrong round
order would hang: the mailbox times out instead.

The oracle is independent of the exchange code: a rotated sheet is a
periodic Cartesian grid whose tiles store their cells in turned frames
(each rank's local array is ``R_r`` applied to its window of the global
array). Every halo cell, corners included, must then hold the global index
of the cell that the turned window of the padded global array holds there;
a vector field's components must be turned with it.
"""
from __future__ import annotations

import itertools
import threading

import jax.numpy as jnp
import numpy as np
import pytest

from parallel.decomposition import Decomposition
from parallel.ghosts import SCALAR, X_COMPONENT, Y_COMPONENT, Boundaries
from parallel.halo import make_halo_filler
from parallel.topology import (ALL_ORIENTATIONS, IDENTITY, OPPOSITE, CartesianTopology, Link,
                               Orientation, check_consistent, exchange_rounds, is_axis_aligned)

SIDES = ("west", "east", "south", "north")


# ------------------------------------------------------------------ orientations
@pytest.mark.parametrize("turns", range(4))
@pytest.mark.parametrize("mirror", [False, True])
def test_orientation_from_rotation_matches_numpy(turns, mirror):
    a = np.arange(12.0).reshape(3, 4)
    o = Orientation.from_rotation(turns, mirror)
    assert np.array_equal(o.apply_numpy(a), np.rot90(a[:, ::-1] if mirror else a, turns))
    assert np.array_equal(np.asarray(o.apply(jnp.asarray(a))), o.apply_numpy(a))


def test_orientations_form_a_group():
    a = np.arange(6.0).reshape(2, 3)
    assert len(set(ALL_ORIENTATIONS)) == 8
    for o in ALL_ORIENTATIONS:
        assert np.array_equal(o.inverse().apply_numpy(o.apply_numpy(a)), a)
        assert o.then(o.inverse()) == IDENTITY
        for p in ALL_ORIENTATIONS:
            assert np.array_equal(o.then(p).apply_numpy(a), p.apply_numpy(o.apply_numpy(a)))


def test_glued_side_of_identity_is_the_opposite_side():
    for side in SIDES:
        assert IDENTITY.glued_side(side) == OPPOSITE[side]
    quarter = Orientation.from_rotation(1)
    # Turned by a quarter, the side that faces our west is one the turn moves to east.
    for side in SIDES:
        assert quarter.maps_side(quarter.glued_side(side)) == OPPOSITE[side]


# ------------------------------------------------------------------ topologies
class RotatedSheet:
    """A periodic PX x PY sheet of n x n tiles; rank r stores its tile turned by ``frames[r]``."""

    def __init__(self, n: int, procs, frames, boundaries=Boundaries()):
        self.n, self.procs, self.frames = n, procs, frames
        self.cart = CartesianTopology(
            Decomposition(_Shape(n * procs[0], n * procs[1]), procs, 1,
                          boundaries.periodic(-1), boundaries.periodic(-2)), boundaries)
        self.n_ranks = self.cart.n_ranks

    def box(self, rank):
        return self.cart.box(rank)

    def link(self, rank, side):
        # Our local side is global side R_r^-1(side); across it, rank q.
        frame = self.frames[rank]
        global_side = frame.inverse().maps_side(side)
        across = self.cart.link(rank, global_side)
        if across is None:
            return None
        q = across.rank
        # Neighbour local -> global (R_q^-1) -> our local (R_r).
        return Link(q, self.frames[q].inverse().then(frame))

    def boundary(self, rank, side):
        return self.cart.boundary(rank, self.frames[rank].inverse().maps_side(side))


class _Shape:
    def __init__(self, nx, ny):
        self.nx, self.ny = nx, ny


class Mailbox:
    """Pairwise messages between threads: ``transport(buf, partner, tag)``."""

    def __init__(self, timeout=60.0):
        self.box, self.cond, self.timeout = {}, threading.Condition(), timeout

    def transport_for(self, rank):
        def transport(buf, partner, tag):
            with self.cond:
                self.box[(rank, partner, tag)] = np.asarray(buf)
                self.cond.notify_all()
                key = (partner, rank, tag)
                if not self.cond.wait_for(lambda: key in self.box, self.timeout):
                    raise TimeoutError(f"rank {rank} waited for {partner} (tag {tag})")
                return jnp.asarray(self.box.pop(key))
        return transport


def fill_all(topology, halo, local_fields, kinds):
    """Run every rank's fill in its own thread; the padded fields per rank."""
    mailbox = Mailbox()
    results, errors = {}, []

    def work(rank):
        try:
            fill = make_halo_filler(topology, rank, halo, mailbox.transport_for(rank))
            results[rank] = [np.asarray(p) for p in fill(local_fields[rank], kinds)]
        except Exception as err:  # reported below
            errors.append((rank, err))

    threads = [threading.Thread(target=work, args=(r,)) for r in range(topology.n_ranks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def global_fields(nx, ny):
    ids = 1.0 + np.arange(nx * ny, dtype=np.float64).reshape(ny, nx)
    return ids, 2.0 * ids + 0.25, -3.0 * ids + 0.5  # scalar, vector x, vector y


def expected_tile(sheet, rank, halo, fields, boundaries):
    """The oracle: turned window of the (wrap/wall/open) padded global arrays."""
    scalar, u, v = fields
    kinds = {"periodic": "wrap", "wall": "symmetric", "open": "edge"}
    box = sheet.box(rank)

    def padded(q, sign_x, sign_y):
        out = q
        for axis, sign, lo, hi in ((1, sign_x, boundaries.west, boundaries.east),
                                   (0, sign_y, boundaries.south, boundaries.north)):
            for end, kind in ((0, lo), (1, hi)):
                width = [(0, 0), (0, 0)]
                width[axis] = (halo, 0) if end == 0 else (0, halo)
                if kind == "periodic":  # wrap needs both ends at once
                    if end == 1:
                        continue
                    width[axis] = (halo, halo)
                out = np.pad(out, width, mode=kinds[kind])
                if kind == "wall" and sign < 0:
                    idx = [slice(None)] * 2
                    idx[axis] = slice(0, halo) if end == 0 else slice(-halo, None)
                    out[tuple(idx)] *= -1
        return out

    window = (slice(box.j0, box.j0 + box.ny + 2 * halo),
              slice(box.i0, box.i0 + box.nx + 2 * halo))
    frame = sheet.frames[rank]
    g = [padded(scalar, 1, 1)[window], padded(u, -1, 1)[window], padded(v, 1, -1)[window]]
    out = [frame.apply_numpy(g[0])]
    for component in (0, 1):
        source, sign = frame.component(component)
        out.append(sign * frame.apply_numpy(g[1 + source]))
    return out


def local_tiles(sheet, fields):
    """Each rank's interior arrays in its own frame (vector components turned)."""
    tiles = {}
    for rank in range(sheet.n_ranks):
        box, frame = sheet.box(rank), sheet.frames[rank]
        parts = [box.take(q) for q in fields]
        comps = []
        for component in (0, 1):
            source, sign = frame.component(component)
            comps.append(sign * frame.apply_numpy(parts[1 + source]))
        tiles[rank] = [jnp.asarray(frame.apply_numpy(parts[0])), *map(jnp.asarray, comps)]
    return tiles


FRAME_SETS = {
    "identity": lambda n: [IDENTITY] * n,
    "quarter_turns": lambda n: [Orientation.from_rotation(r % 4) for r in range(n)],
    "mixed": lambda n: [ALL_ORIENTATIONS[(3 * r + 1) % 8] for r in range(n)],
}


@pytest.mark.parametrize("frames", list(FRAME_SETS))
@pytest.mark.parametrize("procs, bc", [((2, 2), "periodic"), ((3, 2), "periodic"),
                                       ((2, 2), "walls"), ((1, 3), "mixed")])
def test_every_halo_cell_holds_its_turned_neighbour(frames, procs, bc):
    boundaries = {"periodic": Boundaries(), "walls": Boundaries("wall", "wall", "wall", "wall"),
                  "mixed": Boundaries("wall", "open", "periodic", "periodic")}[bc]
    if frames != "identity" and bc != "periodic":
        pytest.skip("turned frames on a sheet with walls: the wall kinds would turn too")
    n, halo = 5, 2
    sheet = RotatedSheet(n, procs, FRAME_SETS[frames](procs[0] * procs[1]), boundaries)
    check_consistent(sheet)
    # Quarter turns glue x sides to y sides: the general (4 + corner) exchange path.
    assert is_axis_aligned(sheet) == (frames == "identity")
    fields = global_fields(n * procs[0], n * procs[1])
    got = fill_all(sheet, halo, local_tiles(sheet, fields), [SCALAR, X_COMPONENT, Y_COMPONENT])
    for rank in range(sheet.n_ranks):
        want = expected_tile(sheet, rank, halo, fields, boundaries)
        for k in range(3):
            bad = np.argwhere(got[rank][k] != want[k])
            assert bad.size == 0, f"rank {rank} field {k}: {len(bad)} wrong cells, first {bad[:3]}"


def test_rounds_are_matchings_and_cover_every_link():
    sheet = RotatedSheet(4, (3, 2), FRAME_SETS["mixed"](6))
    rounds = exchange_rounds(sheet, SIDES)
    per_round = {}
    for (rank, side), k in rounds.items():
        per_round.setdefault(k, []).append(rank)
    for k, ranks in per_round.items():
        # Each message appears once per end: every rank at most twice per round
        # only if both ends are its own (never, no self links here).
        assert len(ranks) == len(set(ranks)), (k, ranks)
    for rank, side in itertools.product(range(6), SIDES):
        link = sheet.link(rank, side)
        if link is not None and link.rank != rank:
            assert (rank, side) in rounds
