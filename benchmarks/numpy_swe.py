"""NumPy + mpi4py baseline of the dycore shallow-water scheme.

    mpirun -n N python -m benchmarks.numpy_swe PROBLEM_DIR --procs PX PY --steps S
           [--warmup W] [--repeats R] [--final FILE] [--precision float64|float32]
           [--block-cells C]

An independent implementation (it imports neither jax nor dycore) of exactly
the arithmetic of ``dycore.equations.shallow_water.ShallowWater.tendency``
with MUSCL reconstruction (MC limiter, van Leer 1979) of (h, eta = h + b, u,
v), first-order fallback next to dry cells, the hydrostatic reconstruction
with its centred bed source (Audusse et al. 2004, SIAM J. Sci. Comput. 25,
2050), the HLLC flux with dry-front speeds (Toro 2001, ch. 10), Coriolis on a
beta plane and bottom drag, advanced with the SSP-RK3 of Shu & Osher (1988).
Problem files, command line and output follow ``benchmarks/PROTOCOL.md``.

Performance: the fields live in preallocated padded arrays (halo 2); each
stage fills the halos (packed-buffer Isend/Irecv with the neighbours,
wall/open/periodic ghosts at the domain edges), then sweeps the tile in
blocks of rows (``--block-cells`` cells each) so that the ~40 temporaries of
a block stay in cache; every temporary is a view of a preallocated work
buffer written with ``out=``, so a step allocates (almost) nothing.

Agreement: operations are done in the same order as in the JAX code, so the
results agree with it to round-off (the test asks 1e-12 relative after 20
steps). Where a rewriting is exact it is used: e.g. the half MC slope
0.5 minmod(2a, 2b, (a + b)/2) is computed as minmod(a, b, (a + b)/4)
(scaling by powers of two is exact).

Exit status: 0 done, 2 bad problem or usage (one line ``numpy_swe: ...`` on
stderr from rank 0).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np

from benchmarks.protocol import ProblemError, check_counts, protocol_parser

PROG = "numpy_swe"
HALO = 2
ROOT = 0
DTYPES = {"float64": np.float64, "float32": np.float32}
BOUNDARY_KINDS = ("periodic", "wall", "open")
REQUIRED = ("nx", "ny", "dx", "dy", "y0", "ly", "g", "f0", "beta", "drag_linear",
            "drag_quadratic", "dry_tolerance", "dt", "limiter", "riemann", "time_stepper",
            "bc_west", "bc_east", "bc_south", "bc_north")
IMPLEMENTED = {"limiter": "mc", "riemann": "hllc", "time_stepper": "ssp_rk3"}
# Mirror parities of (h, hu, hv): sign of each field in a wall ghost cell.
SIGNS_X = (1, -1, 1)
SIGNS_Y = (1, 1, -1)
# One tag per shift direction (as in parallel/halo.py).
TAG_X_HI, TAG_X_LO, TAG_Y_HI, TAG_Y_LO = 11, 12, 21, 22




# ----------------------------------------------------------------- input
def read_namelist(path) -> dict:
    """``key = value`` pairs of the single namelist group in ``path``."""
    try:
        text = open(path).read()
    except OSError as err:
        raise ProblemError(f"cannot read {path}: {err.strerror}") from None
    values = {}
    for raw in text.splitlines():
        line = raw.split("!")[0].strip().rstrip(",")
        if not line or line.startswith("&") or line == "/":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ProblemError(f"{path}: cannot parse line {raw.strip()!r}")
        key, value = key.strip().lower(), value.strip()
        if value[:1] in ("'", '"'):
            values[key] = value[1:-1]
            continue
        try:
            values[key] = int(value)
        except ValueError:
            try:
                values[key] = float(value.replace("d", "e").replace("D", "e"))
            except ValueError:
                raise ProblemError(f"{path}: bad value for {key}: {value!r}") from None
    return values


def check_problem(nml: dict) -> None:
    missing = [k for k in REQUIRED if k not in nml]
    if missing:
        raise ProblemError(f"problem.nml lacks {', '.join(missing)}")
    for key, only in IMPLEMENTED.items():
        if nml[key] != only:
            raise ProblemError(f"{key} {nml[key]!r} is not implemented (only {only!r})")
    for key in ("bc_west", "bc_east", "bc_south", "bc_north"):
        if nml[key] not in BOUNDARY_KINDS:
            raise ProblemError(f"{key} {nml[key]!r} unknown; valid: {', '.join(BOUNDARY_KINDS)}")
    for a, b in (("bc_west", "bc_east"), ("bc_south", "bc_north")):
        if (nml[a] == "periodic") != (nml[b] == "periodic"):
            raise ProblemError(f"{a}/{b}: periodic must be set on both sides")
    for key in ("nx", "ny"):
        if not isinstance(nml[key], int) or nml[key] < 1:
            raise ProblemError(f"{key} must be a positive integer, got {nml[key]!r}")
    for key in ("dx", "dy", "ly", "g", "dt", "dry_tolerance"):
        if not nml[key] > 0:
            raise ProblemError(f"{key} must be > 0, got {nml[key]!r}")


def split(n: int, parts: int):
    """Sizes and offsets of ``parts`` pieces of ``n`` cells, the first n % parts larger."""
    base, extra = divmod(n, parts)
    sizes = [base + (1 if k < extra else 0) for k in range(parts)]
    return sizes, [sum(sizes[:k]) for k in range(parts)]


# --------------------------------------------------------------- the tile
class Tile:
    """This rank's rectangle of the global grid and its neighbours (rank or None)."""

    def __init__(self, nml, procs, rank):
        px_n, py_n = procs
        self.procs = procs
        px, py = rank % px_n, rank // px_n
        xs, xo = split(nml["nx"], px_n)
        ys, yo = split(nml["ny"], py_n)
        self.nx, self.i0, self.ny, self.j0 = xs[px], xo[px], ys[py], yo[py]
        self.all_x, self.all_y = list(zip(xs, xo)), list(zip(ys, yo))
        per_x, per_y = nml["bc_west"] == "periodic", nml["bc_south"] == "periodic"

        def nbr(p, d, parts, periodic):
            q = p + d
            if 0 <= q < parts:
                return q
            return q % parts if periodic else None

        def rank_of(qx, qy):
            return None if qx is None or qy is None else qy * px_n + qx

        self.west = rank_of(nbr(px, -1, px_n, per_x), py) if px_n > 1 else None
        self.east = rank_of(nbr(px, 1, px_n, per_x), py) if px_n > 1 else None
        self.south = rank_of(px, nbr(py, -1, py_n, per_y)) if py_n > 1 else None
        self.north = rank_of(px, nbr(py, 1, py_n, per_y)) if py_n > 1 else None
        for n, parts, name in ((nml["nx"], px_n, "nx"), (nml["ny"], py_n, "ny")):
            if parts > 1 and n // parts < HALO:
                raise ProblemError(f"{name} = {n} over {parts} ranks gives tiles narrower "
                                   f"than the halo of {HALO} cells")
        if per_x and px_n == 1 and nml["nx"] < HALO or per_y and py_n == 1 and nml["ny"] < HALO:
            raise ProblemError(f"a periodic direction needs at least {HALO} cells")

    def tiles(self):
        """(i0, j0, nx, ny) of every rank, in rank order."""
        return [(xo, yo, xs, ys) for ys, yo in self.all_y for xs, xo in self.all_x]


# ------------------------------------------------------------- the solver
class Solver:
    """The shallow-water scheme on one tile with preallocated arrays.

    State arrays are padded, shape (3, ny + 4, nx + 4) for (h, hu, hv) in
    m, m2/s, m2/s; ``self.U`` holds the current state.
    """

    def __init__(self, nml, tile, comm, dtype, fields, block_cells=32768):
        t = self.t = dtype
        self.tile, self.comm = tile, comm
        from mpi4py import MPI

        self.MPI = MPI
        nx, ny, H = tile.nx, tile.ny, HALO
        self.nx, self.ny = nx, ny
        NX, NY = nx + 2 * H, ny + 2 * H
        self.kinds = {s: nml[f"bc_{s}"] for s in ("west", "east", "south", "north")}
        # Scalars in the working precision (like JAX's weakly typed constants).
        self.g = t(nml["g"])
        self.half_g = t(0.5) * self.g
        self.neg_half_g = t(-0.5) * self.g
        self.dx, self.dy, self.dt = t(nml["dx"]), t(nml["dy"]), t(nml["dt"])
        self.tol = t(nml["dry_tolerance"])
        self.r = t(nml["drag_linear"])
        self.cd = t(nml["drag_quadratic"])
        self.drag = nml["drag_linear"] != 0 or nml["drag_quadratic"] != 0
        dy64 = float(nml["dy"])
        y = nml["y0"] + (np.arange(tile.j0, tile.j0 + ny) + 0.5) * dy64
        y_rel = (y - (nml["y0"] + 0.5 * nml["ly"])).astype(t)
        self.f = (t(nml["f0"]) + t(nml["beta"]) * y_rel)[:, None]
        self.rotating = nml["f0"] != 0 or nml["beta"] != 0

        self.U = np.zeros((3, NY, NX), t)
        self.S1 = np.zeros_like(self.U)
        self.S2 = np.zeros_like(self.U)
        self.B = np.zeros((1, NY, NX), t)
        h, hu, hv, b = fields
        for k, q in enumerate((h, hu, hv)):
            self.U[k, H:H + ny, H:H + nx] = q
        self.B[0, H:H + ny, H:H + nx] = b
        # Primitive variables on the padded tile (recomputed each stage).
        self.u = np.zeros((NY, NX), t)
        self.v = np.zeros((NY, NX), t)
        self.eta = np.zeros((NY, NX), t)
        self.wet = np.zeros((NY, NX), bool)
        self.rough = np.zeros((NY, NX), bool)
        # Halo message buffers: (3 fields, strip) per side and direction.
        self.bufs = {}
        for axis, shape in (("x", (3, ny, H)), ("y", (3, H, NX))):
            for what in ("send_lo", "send_hi", "recv_lo", "recv_hi"):
                self.bufs[axis, what] = np.empty(shape, t)
        self.rows = max(1, min(ny, block_cells // NX))
        self._work = {}   # (axis, rows) -> named views of the flat buffers
        self._flat = {}   # (name, dtype) -> 1D work buffer of the largest block
        self.L = np.empty((3, self.rows, nx), t)
        self.fill_halos(self.B, (1,), (1,))

    # ------------------------------------------------------------ halos
    def _physical(self, Q, axis, end, signs):
        """Ghosts of a domain edge (wall/open/periodic-on-one-rank), in place.
        x: on the interior rows; y: over the full padded width."""
        H, nx, ny = HALO, self.nx, self.ny
        kind = self.kinds[{("x", "lo"): "west", ("x", "hi"): "east",
                           ("y", "lo"): "south", ("y", "hi"): "north"}[axis, end]]
        rows = slice(H, H + ny)
        if axis == "x":
            n = nx

            def sl(a, b):
                return Q[:, rows, a:b]
        else:
            n = ny

            def sl(a, b):
                return Q[:, a:b, :]
        if end == "lo":
            ghost = sl(0, H)
            if kind == "periodic":
                src = sl(n, n + H)
            elif kind == "open":
                src = sl(H, H + 1)
            else:
                src = _flip(Q, axis, rows, 2 * H - 1, H - 1)
        else:
            ghost = sl(n + H, n + 2 * H)
            if kind == "periodic":
                src = sl(H, 2 * H)
            elif kind == "open":
                src = sl(n + H - 1, n + H)
            else:
                src = _flip(Q, axis, rows, n + H - 1, n - 1)
        np.copyto(ghost, src)  # broadcasts the edge cell for 'open'
        if kind == "wall":
            for k, s in enumerate(signs):
                if s < 0:
                    np.negative(ghost[k], out=ghost[k])

    def fill_halos(self, Q, signs_x, signs_y):
        """Fill the halo of the padded fields ``Q`` (fields, ny+4, nx+4): x first
        on the interior rows, then y over the full width (corners included)."""
        tile = self.tile
        self._fill_axis(Q, "x", tile.west, tile.east, signs_x)
        self._fill_axis(Q, "y", tile.south, tile.north, signs_y)

    def _fill_axis(self, Q, axis, lo, hi, signs):
        H, nx, ny = HALO, self.nx, self.ny
        nf = Q.shape[0]
        rows = slice(H, H + ny)
        if axis == "x":
            strip = {"send_lo": Q[:, rows, H:2 * H], "send_hi": Q[:, rows, nx:nx + H],
                     "recv_lo": Q[:, rows, 0:H], "recv_hi": Q[:, rows, nx + H:nx + 2 * H]}
            tags = (TAG_X_HI, TAG_X_LO)
        else:
            strip = {"send_lo": Q[:, H:2 * H, :], "send_hi": Q[:, ny:ny + H, :],
                     "recv_lo": Q[:, 0:H, :], "recv_hi": Q[:, ny + H:ny + 2 * H, :]}
            tags = (TAG_Y_HI, TAG_Y_LO)
        requests = []
        buf = {k: self.bufs[axis, k][:nf] for k in strip}
        if lo is not None:
            requests.append(self.comm.Irecv(buf["recv_lo"], source=lo, tag=tags[0]))
        if hi is not None:
            requests.append(self.comm.Irecv(buf["recv_hi"], source=hi, tag=tags[1]))
        if hi is not None:
            np.copyto(buf["send_hi"], strip["send_hi"])
            requests.append(self.comm.Isend(buf["send_hi"], dest=hi, tag=tags[0]))
        if lo is not None:
            np.copyto(buf["send_lo"], strip["send_lo"])
            requests.append(self.comm.Isend(buf["send_lo"], dest=lo, tag=tags[1]))
        # Physical edges while the messages travel.
        if lo is None:
            self._physical(Q, axis, "lo", signs)
        if hi is None:
            self._physical(Q, axis, "hi", signs)
        if requests:
            self.MPI.Request.Waitall(requests)
            if lo is not None:
                np.copyto(strip["recv_lo"], buf["recv_lo"])
            if hi is not None:
                np.copyto(strip["recv_hi"], buf["recv_hi"])

    # ------------------------------------------------------------ work arrays
    def _views(self, axis, r):
        """Named work arrays of one block sweep along ``axis`` (1: x, 0: y) for
        ``r`` rows of output: arrays over the n + 3 differences, the n + 2
        reconstructed cells and the n + 1 faces, all views of the same flat
        buffers (cached per block shape)."""
        key = (axis, r)
        if key in self._work:
            return self._work[key]
        nx = self.nx
        if axis == 1:
            cells, faces, diffs = (r, nx + 2), (r, nx + 1), (r, nx + 3)
        else:
            cells, faces, diffs = (r + 2, nx), (r + 1, nx), (r + 3, nx)
        size = (self.rows + 3) * (nx + 3)

        def buf(name, shape, dtype=None):
            dtype = self.t if dtype is None else dtype
            k = (name, np.dtype(dtype).str)
            if k not in self._flat:
                self._flat[k] = np.empty(size, dtype)
            return self._flat[k][:shape[0] * shape[1]].reshape(shape)

        w = {}
        for name in ("D", "absD"):
            w[name] = buf(name, diffs)
        for name in ("hm", "hp", "em", "ep", "um", "up", "tm", "tp", "s", "m", "prod"):
            w[name] = buf(name, cells)
        for name in ("notm", "rough_c"):
            w[name] = buf(name, cells, bool)
        for name in ("bface", "hls", "hrs", "cl", "cr", "sl", "sr", "w1", "w2", "w3",
                     "fl0", "fl1", "fr0", "fr1", "fm", "fn", "ft", "num", "den", "sel",
                     "fnl", "fnr"):
            w[name] = buf(name, faces)
        for name in ("mask_l", "mask_r", "mask_s"):
            w[name] = buf(name, faces, bool)
        self._work[key] = w
        return w

    # ------------------------------------------------------------ numerics
    def _reconstruct(self, q, n, axis, w, minus, plus, any_rough):
        """MUSCL-MC face values of the n + 2 cells of ``q`` (n + 4 along axis):
        minus = q - s/2, plus = q + s/2 (first order where ``w['rough_c']``)."""
        D, absD, s, m, prod, notm = w["D"], w["absD"], w["s"], w["m"], w["prod"], w["notm"]
        np.subtract(_sl(q, 1, n + 4, axis), _sl(q, 0, n + 3, axis), out=D)
        a, b = _sl(D, 0, n + 2, axis), _sl(D, 1, n + 3, axis)
        np.abs(D, out=absD)
        # half slope = sign(a) min(|a|, |b|, |a + b|/4) where a b > 0, else 0.
        np.minimum(_sl(absD, 0, n + 2, axis), _sl(absD, 1, n + 3, axis), out=m)
        np.add(a, b, out=s)
        np.abs(s, out=s)
        np.multiply(s, 0.25, out=s)
        np.minimum(m, s, out=m)
        np.copysign(m, a, out=m)
        np.multiply(a, b, out=prod)
        np.less_equal(prod, 0, out=notm)
        if any_rough:
            np.logical_or(notm, w["rough_c"], out=notm)
        np.copyto(m, 0, where=notm)
        centre = _sl(q, 1, n + 3, axis)
        np.subtract(centre, m, out=minus)
        np.add(centre, m, out=plus)

    def _sweep(self, h, eta, un, ut, n, axis, spacing, out, accumulate, any_rough):
        """Flux divergence and bed source along ``axis`` for the n cells of a
        block; inputs carry 2 halo cells along ``axis``. Writes (or adds, with
        ``accumulate``) d(h), d(h un), d(h ut) into ``out`` (3 arrays)."""
        w = self._views(axis, n if axis == 0 else h.shape[0])
        if any_rough:
            rough = self._rough_block
            rc = w["rough_c"]
            np.logical_or(_sl(rough, 1, n + 3, axis), _sl(rough, 0, n + 2, axis), out=rc)
            np.logical_or(rc, _sl(rough, 2, n + 4, axis), out=rc)
        hm, hp, em, ep = w["hm"], w["hp"], w["em"], w["ep"]
        um, up, tm, tp = w["um"], w["up"], w["tm"], w["tp"]
        self._reconstruct(h, n, axis, w, hm, hp, any_rough)
        self._reconstruct(eta, n, axis, w, em, ep, any_rough)
        self._reconstruct(un, n, axis, w, um, up, any_rough)
        self._reconstruct(ut, n, axis, w, tm, tp, any_rough)
        np.maximum(hm, 0, out=hm)
        np.maximum(hp, 0, out=hp)
        bm, bp = em, ep  # b = eta - h, in place
        np.subtract(em, hm, out=bm)
        np.subtract(ep, hp, out=bp)

        L, R = (lambda a: _sl(a, 0, n + 1, axis)), (lambda a: _sl(a, 1, n + 2, axis))
        h_l, h_r, b_l, b_r = L(hp), R(hm), L(bp), R(bm)
        ul, vl, ur, vr = L(up), L(tp), R(um), R(tm)
        bface, hl, hr = w["bface"], w["hls"], w["hrs"]
        np.maximum(b_l, b_r, out=bface)
        np.add(h_l, b_l, out=hl)
        np.subtract(hl, bface, out=hl)
        np.maximum(hl, 0, out=hl)
        np.add(h_r, b_r, out=hr)
        np.subtract(hr, bface, out=hr)
        np.maximum(hr, 0, out=hr)

        fm, fn, ft = self._hllc(hl, ul, vl, hr, ur, vr, w)

        # Hydrostatic corrections (Audusse et al. 2004, eq. 2.11).
        fnl, fnr, w1, w2 = w["fnl"], w["fnr"], w["w1"], w["w2"]
        np.multiply(h_l, h_l, out=w1)
        np.multiply(hl, hl, out=w2)
        np.subtract(w1, w2, out=w1)
        np.multiply(w1, self.half_g, out=w1)
        np.add(fn, w1, out=fnl)
        np.multiply(h_r, h_r, out=w1)
        np.multiply(hr, hr, out=w2)
        np.subtract(w1, w2, out=w1)
        np.multiply(w1, self.half_g, out=w1)
        np.add(fn, w1, out=fnr)

        # Centred bed source, -g/2 (h- + h+)(b+ - b-) on the n interior cells.
        I = (lambda a: _sl(a, 1, n + 1, axis))
        lo, hi = (lambda a: _sl(a, 0, n, axis)), (lambda a: _sl(a, 1, n + 1, axis))
        bed, tmp = I(w["s"]), I(w["m"])
        np.add(I(hm), I(hp), out=bed)
        np.multiply(bed, self.neg_half_g, out=bed)
        np.subtract(I(bp), I(bm), out=tmp)
        np.multiply(bed, tmp, out=bed)

        d_mass, d_normal, d_tangent = out
        target = [tmp if accumulate else d for d in (d_mass, d_normal, d_tangent)]
        # -(F[i+1/2] - F[i-1/2]) / spacing, written as (F[i-1/2] - F[i+1/2]) / spacing.
        for k, (flux, d) in enumerate(((fm, d_mass), (None, d_normal), (ft, d_tangent))):
            t = target[k]
            if flux is None:
                np.subtract(hi(fnl), lo(fnr), out=t)
                np.subtract(bed, t, out=t)
            else:
                np.subtract(lo(flux), hi(flux), out=t)
            np.divide(t, spacing, out=t)
            if accumulate:
                np.add(d, t, out=d)

    def _hllc(self, hl, ul, vl, hr, ur, vr, w):
        """HLLC flux (Toro 2001, sec. 10.4) with dry-front speeds (eq. 10.23);
        returns (mass, normal momentum, tangential momentum) fluxes."""
        g = self.g
        cl, cr, sl, sr = w["cl"], w["cr"], w["sl"], w["sr"]
        w1, w2, w3 = w["w1"], w["w2"], w["w3"]
        np.multiply(hl, g, out=cl)
        np.sqrt(cl, out=cl)
        np.multiply(hr, g, out=cr)
        np.sqrt(cr, out=cr)
        np.subtract(ul, cl, out=w1)
        np.subtract(ur, cr, out=w2)
        np.minimum(w1, w2, out=sl)
        np.add(ul, cl, out=w1)
        np.add(ur, cr, out=w2)
        np.maximum(w1, w2, out=sr)
        if not (hl.min() > 0):  # dry fronts
            dry = w["mask_s"]
            np.less_equal(hl, 0, out=dry)
            np.multiply(cr, 2, out=w1)
            np.subtract(ur, w1, out=w1)
            np.copyto(sl, w1, where=dry)
        if not (hr.min() > 0):
            dry = w["mask_s"]
            np.less_equal(hr, 0, out=dry)
            np.multiply(cl, 2, out=w1)
            np.add(ul, w1, out=w1)
            np.copyto(sr, w1, where=dry)
        # Physical fluxes: (h un, h un^2 + g h^2/2, h un ut) on both sides.
        fl0, fl1, fr0, fr1 = w["fl0"], w["fl1"], w["fr0"], w["fr1"]
        np.multiply(hl, ul, out=fl0)
        np.multiply(fl0, ul, out=fl1)
        np.multiply(hl, self.half_g, out=w1)
        np.multiply(w1, hl, out=w1)
        np.add(fl1, w1, out=fl1)
        np.multiply(hr, ur, out=fr0)
        np.multiply(fr0, ur, out=fr1)
        np.multiply(hr, self.half_g, out=w1)
        np.multiply(w1, hr, out=w1)
        np.add(fr1, w1, out=fr1)
        # HLL star fluxes: (sR FL - sL FR + sL sR (qR - qL)) / (sR - sL).
        width, slsr = w["num"], w["den"]
        np.subtract(sr, sl, out=width)
        if not (width.min() > 0):
            np.copyto(width, 1, where=~(width > 0))
        np.multiply(sl, sr, out=slsr)
        left, right = w["mask_l"], w["mask_r"]
        np.greater_equal(sl, 0, out=left)
        np.less_equal(sr, 0, out=right)
        # Supersonic faces are rare: skip the masked copies when there are none.
        any_left, any_right = left.any(), right.any()
        fm, fn = w["fm"], w["fn"]
        for star, fl, fr, ql, qr in ((fm, fl0, fr0, hl, hr), (fn, fl1, fr1, fl0, fr0)):
            np.multiply(sr, fl, out=star)
            np.multiply(sl, fr, out=w1)
            np.subtract(star, w1, out=star)
            np.subtract(qr, ql, out=w1)
            np.multiply(slsr, w1, out=w1)
            np.add(star, w1, out=star)
            np.divide(star, width, out=star)
            if any_right:
                np.copyto(star, fr, where=right)
            if any_left:
                np.copyto(star, fl, where=left)
        # Contact speed s* = (sL hR (uR - sR) - sR hL (uL - sL)) / (hR (uR - sR) - hL (uL - sL)).
        num, den = w["num"], w["den"]
        np.subtract(ur, sr, out=w1)       # uR - sR
        np.subtract(ul, sl, out=w2)       # uL - sL
        np.multiply(sl, hr, out=num)
        np.multiply(num, w1, out=num)
        np.multiply(sr, hl, out=w3)
        np.multiply(w3, w2, out=w3)
        np.subtract(num, w3, out=num)
        np.multiply(hr, w1, out=den)
        np.multiply(hl, w2, out=w2)
        np.subtract(den, w2, out=den)
        zero = w["mask_s"]
        np.equal(den, 0, out=zero)
        any_zero = zero.any()
        if any_zero:
            np.copyto(den, 1, where=zero)
        np.divide(num, den, out=num)
        if any_zero:
            np.add(sl, sr, out=w1)
            np.multiply(w1, 0.5, out=w1)
            np.copyto(num, w1, where=zero)
        # Tangential flux: mass flux times the upwind (by s*) tangential velocity.
        sel, ft = w["sel"], w["ft"]
        np.copyto(sel, vr)
        np.greater_equal(num, 0, out=zero)
        np.copyto(sel, vl, where=zero)
        np.multiply(fm, sel, out=ft)
        if any_right:
            np.multiply(fr0, vr, out=w2)
            np.copyto(ft, w2, where=right)
        if any_left:
            np.multiply(fl0, vl, out=w1)
            np.copyto(ft, w1, where=left)
        return fm, fn, ft

    def _primitives(self, Q):
        """wet = h > tol, u, v (0 where dry) and eta = h + b on the padded tile."""
        h, hu, hv = Q
        np.greater(h, self.tol, out=self.wet)
        any_rough = not self.wet.all()
        if any_rough:
            np.logical_not(self.wet, out=self.rough)
            for q, vel in ((hu, self.u), (hv, self.v)):
                vel.fill(0)
                np.divide(q, h, out=vel, where=self.wet)
        else:
            np.divide(hu, h, out=self.u)
            np.divide(hv, h, out=self.v)
        np.add(h, self.B[0], out=self.eta)
        return any_rough

    def stage(self, Q, k):
        """One SSP-RK3 stage from the padded state ``Q``: k = 1 writes S1 =
        U + dt L(U); k = 2 writes S2 = 3/4 U + 1/4 (S1 + dt L(S1)); k = 3
        writes U = 1/3 U + 2/3 (S2 + dt L(S2))."""
        H, nx, ny = HALO, self.nx, self.ny
        self.fill_halos(Q, SIGNS_X, SIGNS_Y)
        any_rough = self._primitives(Q)
        h, u, v, eta = Q[0], self.u, self.v, self.eta
        cols = slice(H, H + nx)
        for j0 in range(0, ny, self.rows):
            j1 = min(ny, j0 + self.rows)
            r = j1 - j0
            L = self.L[:, :r]
            # x sweep over interior rows j0..j1, all columns.
            xr = slice(H + j0, H + j1)
            if any_rough:
                self._rough_block = self.rough[xr, :]
            self._sweep(h[xr, :], eta[xr, :], u[xr, :], v[xr, :], nx, 1, self.dx,
                        (L[0], L[1], L[2]), False, any_rough)
            # y sweep: rows j0 - 2 .. j1 + 2 of the interior columns.
            yr = slice(j0, j1 + 2 * H)
            if any_rough:
                self._rough_block = self.rough[yr, cols]
            self._sweep(h[yr, cols], eta[yr, cols], v[yr, cols], u[yr, cols], r, 0, self.dy,
                        (L[0], L[2], L[1]), True, any_rough)
            rows = slice(H + j0, H + j1)
            self._sources(Q, rows, cols, L, j0, j1)
            self._update(Q, k, rows, cols, L)

    def _sources(self, Q, rows, cols, L, j0, j1):
        """Coriolis f (hv, -hu) and drag -(r + C_d |U|/h) (hu, hv), added to L."""
        w = self._views(0, j1 - j0)
        tmp = w["hm"][:j1 - j0]
        hu, hv = Q[1, rows, cols], Q[2, rows, cols]
        if self.rotating:
            f = self.f[j0:j1]
            np.multiply(f, hv, out=tmp)
            np.add(L[1], tmp, out=L[1])
            np.multiply(f, hu, out=tmp)
            np.subtract(L[2], tmp, out=L[2])
        if self.drag:
            ui, vi = self.u[rows, cols], self.v[rows, cols]
            speed, t2 = w["hp"][:j1 - j0], w["em"][:j1 - j0]
            np.multiply(ui, ui, out=speed)
            np.multiply(vi, vi, out=t2)
            np.add(speed, t2, out=speed)
            np.sqrt(speed, out=speed)  # sqrt(0) = 0: same as where(speed2 > 0, ...)
            np.multiply(speed, self.cd, out=speed)
            for d, q, vel in ((L[1], hu, ui), (L[2], hv, vi)):
                np.multiply(q, self.r, out=tmp)
                np.subtract(d, tmp, out=d)
                np.multiply(speed, vel, out=tmp)
                np.subtract(d, tmp, out=d)

    def _update(self, Q, k, rows, cols, L):
        dt = self.dt
        np.multiply(L, dt, out=L)
        np.add(Q[:, rows, cols], L, out=L)       # Euler step Q + dt L
        if k == 1:
            np.copyto(self.S1[:, rows, cols], L)
            return
        if k == 3:
            # U + (2/3)(euler - U): dycore.timestepping's last stage, whose
            # weights sum to exactly 1 (no mass bias from rounding 2/3).
            out = self.U[:, rows, cols]
            np.subtract(L, out, out=L)
            np.multiply(L, 2.0 / 3.0, out=L)
            np.add(out, L, out=out)
            return
        np.multiply(L, 0.25, out=L)
        out = self.S2[:, rows, cols]
        np.multiply(self.U[:, rows, cols], 0.75, out=out)
        np.add(out, L, out=out)

    def step(self):
        """One SSP-RK3 step of dt (Shu & Osher 1988), the last stage written
        as in dycore.timestepping."""
        self.stage(self.U, 1)
        self.stage(self.S1, 2)
        self.stage(self.S2, 3)

    def interior(self):
        H = HALO
        return self.U[:, H:H + self.ny, H:H + self.nx]


def _sl(a, start, stop, axis):
    return a[start:stop] if axis == 0 else a[:, start:stop]


def _flip(Q, axis, rows, start, stop):
    """Q's strip start, start-1, ..., stop+1 along ``axis`` (reversed order)."""
    stop = None if stop < 0 else stop
    return Q[:, rows, start:stop:-1] if axis == "x" else Q[:, start:stop:-1, :]


# ------------------------------------------------------------------ driver
def parse_args(argv):
    p = protocol_parser(PROG, "NumPy+mpi4py shallow-water baseline (PROTOCOL.md)")
    p.add_argument("--block-cells", type=int, default=32768,
                   help="cells per row block of a sweep (cache blocking)")
    args = p.parse_args(argv)
    check_counts(args)
    if args.block_cells < 1:
        raise ProblemError("--block-cells must be >= 1")
    return args


def setup(argv, comm):
    """Parse, read and check everything; identical on all ranks (raises ProblemError)."""
    args = parse_args(argv)
    size = comm.Get_size()
    procs = tuple(args.procs) if args.procs else (size, 1)
    if procs[0] < 1 or procs[1] < 1 or procs[0] * procs[1] != size:
        raise ProblemError(f"--procs {procs[0]} {procs[1]} needs {procs[0] * procs[1]} "
                           f"ranks, {size} were started")
    nml = read_namelist(os.path.join(args.problem, "problem.nml"))
    check_problem(nml)
    tile = Tile(nml, procs, comm.Get_rank())
    path = os.path.join(args.problem, "initial.bin")
    nx, ny = nml["nx"], nml["ny"]
    try:
        nbytes = os.path.getsize(path)
    except OSError as err:
        raise ProblemError(f"cannot read {path}: {err.strerror}") from None
    if nbytes != 4 * nx * ny * 8:
        raise ProblemError(f"{path}: {nbytes} bytes, expected {4 * nx * ny * 8} "
                           f"(h, hu, hv, b of {ny} x {nx} float64)")
    data = np.memmap(path, dtype="<f8", mode="r", shape=(4, ny, nx))
    ys, xs = slice(tile.j0, tile.j0 + tile.ny), slice(tile.i0, tile.i0 + tile.nx)
    fields = [np.array(data[k, ys, xs]) for k in range(4)]
    del data
    return args, nml, procs, tile, fields


def gather_global(solver, comm):
    """The global (3, ny, nx) float64 state on the root rank, None elsewhere."""
    local = np.ascontiguousarray(solver.interior(), dtype=np.float64)
    tiles = solver.tile.tiles()
    counts = [3 * t[2] * t[3] for t in tiles]
    if comm.Get_rank() != ROOT:
        comm.Gatherv(local, None, root=ROOT)
        return None
    flat = np.empty(sum(counts))
    comm.Gatherv(local, [flat, counts], root=ROOT)
    ny = sum(t[3] for t in tiles if t[0] == 0)
    nx = sum(t[2] for t in tiles if t[1] == 0)
    out = np.empty((3, ny, nx))
    start = 0
    for (i0, j0, tnx, tny), count in zip(tiles, counts):
        out[:, j0:j0 + tny, i0:i0 + tnx] = flat[start:start + count].reshape(3, tny, tnx)
        start += count
    return out


def main(argv=None) -> int:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    np.seterr(all="ignore")
    try:
        args, nml, procs, tile, fields = setup(sys.argv[1:] if argv is None else argv, comm)
    except ProblemError as err:
        if rank == ROOT:
            sys.stderr.write(f"{PROG}: error: {err}\n")
            sys.stderr.flush()
        return 2
    dtype = DTYPES[args.precision]
    solver = Solver(nml, tile, comm, dtype, fields, args.block_cells)
    del fields

    if args.final:
        for _ in range(args.steps):
            solver.step()
        result = gather_global(solver, comm)
        if rank == ROOT:
            result.astype("<f8").tofile(args.final)
        times = []
    else:
        for _ in range(args.warmup):
            solver.step()
        times = []
        for _ in range(args.repeats):
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                solver.step()
            elapsed = time.perf_counter() - t0
            comm.Barrier()
            times.append(comm.allreduce(elapsed, op=MPI.MAX))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rss_all = comm.gather(rss, root=ROOT)
    if rank == ROOT:
        finite = bool(np.isfinite(solver.interior()).all())
        print(json.dumps({
            "impl": "numpy", "ranks": comm.Get_size(), "procs": list(procs),
            "nx": nml["nx"], "ny": nml["ny"], "precision": args.precision,
            "steps": args.steps, "repeat_seconds": times, "peak_rss_mib": rss_all,
            "block_cells": args.block_cells, "numpy_version": np.__version__,
            "finite_on_root": finite}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
