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


# ------------------------------------------------------------------ the cube
from parallel.cube import CubeTopology, fold  # noqa: E402


def test_fold_crosses_each_edge_onto_the_right_face_and_back():
    n = 4
    # Every edge ghost folds onto another face, and folding the mirror step
    # back over the edge returns to the interior cell next to the edge.
    for face in range(6):
        for t in range(n):
            for i, j in ((-1, t), (n, t), (t, -1), (t, n)):
                f2, i2, j2 = fold(n, face, i, j)
                assert f2 != face and 0 <= i2 < n and 0 <= j2 < n
    # Faces 0..3 go round the equator: east of face k is face k+1.
    for k in range(4):
        assert fold(n, k, n, 1)[0] == (k + 1) % 4
    assert fold(n, 0, 1, n)[0] == 4 and fold(n, 0, 1, -1)[0] == 5


def cube_ids(n):
    return 1.0 + np.arange(6 * n * n, dtype=np.float64).reshape(6, n, n)  # [face, j, i]


@pytest.mark.parametrize("n, p, halo", [(4, 1, 2), (6, 2, 2), (6, 1, 3)])
def test_cube_halo_holds_the_folded_cells_corners_included(n, p, halo):
    cube = CubeTopology(n, p, p, halo)
    check_consistent(cube)
    assert not is_axis_aligned(cube)
    ids = cube_ids(n)
    local = {r: [jnp.asarray(cube.box(r).take(ids[cube.box(r).face]))]
             for r in range(cube.n_ranks)}
    got = fill_all(cube, halo, local, [SCALAR])
    vertex_corners = 0
    for rank in range(cube.n_ranks):
        box = cube.box(rank)
        want = np.empty((box.ny + 2 * halo, box.nx + 2 * halo))
        for jj in range(want.shape[0]):
            for ii in range(want.shape[1]):
                f, i, j = fold(n, box.face, box.i0 + ii - halo, box.j0 + jj - halo)
                want[jj, ii] = ids[f, j, i]
        bad = np.argwhere(got[rank][0] != want)
        assert bad.size == 0, f"rank {rank}: {len(bad)} wrong cells, first {bad[:3]}"
        # Corner blocks at a cube vertex hold a third face's cells.
        at_vertex = (box.i0 in (0,) or box.i0 + box.nx == n) and \
                    (box.j0 in (0,) or box.j0 + box.ny == n)
        if at_vertex:
            corner = got[rank][0][:halo, :halo] if box.i0 == 0 and box.j0 == 0 else None
            if corner is not None:
                faces = {int((c - 1) // (n * n)) for c in corner.ravel()}
                south = cube.link(rank, "south").rank // (p * p)
                west = cube.link(rank, "west").rank // (p * p)
                assert faces.isdisjoint({box.face}) and len(faces) == 1
                assert faces != {south} or south == west
                vertex_corners += 1
    assert vertex_corners >= 6


def test_cube_vector_components_turn_with_the_face():
    """A vector field given by its face-local components (u along i, v along j):
    an edge ghost holds the neighbour's vector expressed in our index frame."""
    n, halo = 4, 2
    cube = CubeTopology(n, 1, 1, halo)
    ids = cube_ids(n)
    u, v = 2.0 * ids + 0.25, -3.0 * ids + 0.5
    local = {r: [jnp.asarray(u[r]), jnp.asarray(v[r])] for r in range(6)}
    got = fill_all(cube, halo, local, [X_COMPONENT, Y_COMPONENT])
    for face in range(6):
        for t in range(n):
            for d in range(halo):
                for side, (i, j), (ai, aj) in (("west", (-1 - d, t), (0, 1)),
                                               ("east", (n + d, t), (0, 1)),
                                               ("south", (t, -1 - d), (1, 0)),
                                               ("north", (t, n + d), (1, 0))):
                    out = {"west": (-1, 0), "east": (1, 0), "south": (0, -1),
                           "north": (0, 1)}[side]
                    f0, i0, j0 = fold(n, face, i, j)
                    step = 1 if t + 1 < n else -1
                    fa, ia, ja = fold(n, face, i + step * ai, j + step * aj)
                    fo, io, jo = fold(n, face, i + out[0], j + out[1])
                    assert fa == fo == f0
                    # Our steps (along, out) -> theirs; ours = L @ theirs.
                    ours = np.array([(step * ai, step * aj), out]).T
                    theirs = np.array([(ia - i0, ja - j0), (io - i0, jo - j0)]).T
                    L = np.rint(ours @ np.linalg.inv(theirs))
                    want = L @ np.array([u[f0, j0, i0], v[f0, j0, i0]])
                    cell = (j + halo, i + halo)
                    assert got[face][0][cell] == want[0] and got[face][1][cell] == want[1], \
                        (face, side, t, d)


def test_cube_needs_square_tiles_and_enough_cells():
    from parallel.errors import DecompositionError

    with pytest.raises(DecompositionError, match="procs"):
        CubeTopology(8, 2, 1)
    with pytest.raises(DecompositionError, match="nx"):
        CubeTopology(4, 4, 4, halo=2)


def test_all_tiles_of_a_cube_in_one_process_equal_the_exchange():
    """make_multi_tile_filler (all faces on one rank, jitted) gives the same
    padded tiles as the per-rank fill with messages, and its transpose
    passes the dot-product test."""
    import jax

    from parallel.halo import make_multi_tile_filler

    n, halo = 4, 2
    cube = CubeTopology(n, 1, 1, halo)
    ids = cube_ids(n)
    u, v = 2.0 * ids + 0.25, -3.0 * ids + 0.5
    kinds = [SCALAR, X_COMPONENT, Y_COMPONENT]
    local = {r: [jnp.asarray(ids[r]), jnp.asarray(u[r]), jnp.asarray(v[r])] for r in range(6)}
    reference = fill_all(cube, halo, local, kinds)
    fill = make_multi_tile_filler(cube, range(6), halo)
    got = jax.jit(lambda t: fill(t, kinds))(local)
    for r in range(6):
        for k in range(3):
            assert np.array_equal(np.asarray(got[r][k]), reference[r][k]), (r, k)
    # <fill(x), y> == <x, fill^T(y)> for random x, y: the adjoint is exact.
    rng = np.random.default_rng(1)
    x = {r: [jnp.asarray(rng.standard_normal((n, n))) for _ in range(3)] for r in range(6)}
    y = {r: [jnp.asarray(rng.standard_normal((n + 2 * halo,) * 2)) for _ in range(3)]
         for r in range(6)}
    fx, vjp = jax.vjp(lambda t: fill(t, kinds), x)
    (xt,) = vjp({r: tuple(y[r]) for r in range(6)})
    lhs = sum(float(jnp.vdot(fx[r][k], y[r][k])) for r in range(6) for k in range(3))
    rhs = sum(float(jnp.vdot(x[r][k], xt[r][k])) for r in range(6) for k in range(3))
    assert abs(lhs - rhs) <= 1e-12 * abs(lhs)
