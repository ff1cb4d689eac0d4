"""Geometry of the equiangular gnomonic cubed sphere ("C N": N x N cells on
each of six faces), computed once in float64 with numpy.

Each face f has an outward normal c and in-face unit vectors e1 (its i
direction) and e2 (j), the frames of :data:`parallel.cube.FRAMES` (so the
grid and the halo topology agree). On a face the equiangular coordinates
alpha, beta run over [-pi/4, pi/4] in N equal steps, and

    x = tan(alpha), y = tan(beta),  r = a (c + x e1 + y e2) / sqrt(1 + x^2 + y^2)

(Sadourny 1972, Mon. Wea. Rev. 100, 136-144; Ronchi, Iacono & Paolucci
1996, J. Comput. Phys. 124, 93-114; Putman & Lin 2007, J. Comput. Phys.
227, 55-78). Cell edges are great-circle arcs.

- Cell areas are exact: a cell is a spherical quadrilateral with
  great-circle sides, whose area is a^2 times its spherical excess, summed
  here over its two triangles with the formula of Van Oosterom & Strackee
  (1983, IEEE Trans. Biomed. Eng. 30, 125-126), tan(E/2) = |p1 . (p2 x p3)|
  / (1 + p1.p2 + p2.p3 + p3.p1) for unit vectors, which stays accurate for
  small cells. (The closed form a^2 [F(a2, b2) - F(a1, b2) - F(a2, b1) +
  F(a1, b1)], F = atan(tan a tan b / sqrt(1 + tan^2 a + tan^2 b)), Rancic,
  Purser & Mesinger 1996, Q. J. R. Meteorol. Soc. 122, 959-982, is the
  same area but loses digits to cancellation: ~3e-13 relative at C96; the
  tests compare the two.) The six faces sum to 4 pi a^2 to round-off.
- Edge lengths are great-circle distances a * angle(p1, p2) between the
  edge's end points, the angle from atan2(|p1 x p2|, p1 . p2) (accurate
  for short arcs).
- An edge's unit normal is p1 x p2 / |p1 x p2| (constant along a great
  circle arc, tangent to the sphere at every point of the edge), signed to
  point towards increasing alpha (i edges) or beta (j edges). Seen from
  the two faces of a panel edge the normals are equal up to sign.

Units: radius and lengths in m, areas in m^2, angles in radians.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parallel.cube import FRAMES

EARTH_RADIUS = 6.37122e6
"""m (Williamson et al. 1992, J. Comput. Phys. 102, 211-224)."""


def patch_excess(alpha, beta):
    """F(alpha, beta): the spherical excess of the patch between the face
    centre and (alpha, beta) (the closed form of the area, see above)."""
    ta, tb = np.tan(alpha), np.tan(beta)
    return np.arctan(ta * tb / np.sqrt(1.0 + ta * ta + tb * tb))


def triangle_excess(p1, p2, p3):
    """Spherical excess of the triangle of unit vectors (..., 3) (Van
    Oosterom & Strackee 1983)."""
    # p1 . (p2 x p3) = p1 . ((p2 - p1) x (p3 - p1)): the differences are
    # small for a small triangle, so this keeps the digits the direct
    # triple product loses to cancellation.
    triple = np.abs(np.sum(p1 * np.cross(p2 - p1, p3 - p1), axis=-1))
    denominator = 1.0 + np.sum(p1 * p2, axis=-1) + np.sum(p2 * p3, axis=-1) \
        + np.sum(p3 * p1, axis=-1)
    return 2.0 * np.arctan2(triple, denominator)


def face_points(face: int, alpha, beta, radius: float = 1.0):
    """Points (..., 3) on the sphere at equiangular coordinates of ``face``."""
    c, e1, e2 = (np.asarray(v, dtype=np.float64) for v in FRAMES[face])
    x, y = np.tan(alpha)[..., None], np.tan(beta)[..., None]
    p = c + x * e1 + y * e2
    return radius * p / np.linalg.norm(p, axis=-1, keepdims=True)


def _angle(p1, p2):
    cross = np.linalg.norm(np.cross(p1, p2), axis=-1)
    return np.arctan2(cross, np.sum(p1 * p2, axis=-1))


@dataclass(frozen=True)
class CubedSphereGrid:
    """The global C N grid of radius ``radius`` (m). Arrays are indexed
    [face, j, i] (cells) or with one more entry along the edge axis."""

    n: int
    radius: float = EARTH_RADIUS

    @property
    def edges(self) -> np.ndarray:
        """Equiangular coordinates of the cell edges (N + 1,), radians."""
        # (k - n/2) pi / (2 n): exactly antisymmetric about the face centre.
        return (np.arange(self.n + 1) - 0.5 * self.n) * (0.5 * np.pi / self.n)

    @property
    def centres(self) -> np.ndarray:
        """Equiangular coordinates of the cell centres (N,), radians."""
        e = self.edges
        return 0.5 * (e[:-1] + e[1:])

    @property
    def n_cells(self) -> int:
        return 6 * self.n * self.n

    def areas(self) -> np.ndarray:
        """Exact spherical cell areas (6, N, N), m^2."""
        beta, alpha = np.meshgrid(self.edges, self.edges, indexing="ij")
        p = face_points(0, alpha, beta)  # every face has the same cells
        a, b, c, d = p[:-1, :-1], p[:-1, 1:], p[1:, 1:], p[1:, :-1]
        per_face = triangle_excess(a, b, c) + triangle_excess(a, c, d)
        return np.broadcast_to(self.radius ** 2 * per_face, (6, self.n, self.n)).copy()

    def centre_points(self) -> np.ndarray:
        """Cell-centre points (6, N, N, 3) on the sphere, m."""
        beta, alpha = np.meshgrid(self.centres, self.centres, indexing="ij")
        return np.stack([face_points(f, alpha, beta, self.radius) for f in range(6)])

    def corner_points(self) -> np.ndarray:
        """Cell-corner points (6, N + 1, N + 1, 3), m."""
        beta, alpha = np.meshgrid(self.edges, self.edges, indexing="ij")
        return np.stack([face_points(f, alpha, beta, self.radius) for f in range(6)])

    def lon_lat(self, points=None):
        """Longitude and latitude (radians) of the cell centres (or ``points``)."""
        p = self.centre_points() if points is None else points
        lon = np.arctan2(p[..., 1], p[..., 0])
        lat = np.arcsin(np.clip(p[..., 2] / np.linalg.norm(p, axis=-1), -1.0, 1.0))
        return lon, lat

    def edge_geometry(self):
        """Lengths (m) and unit normals of the cell edges.

        Returns ``(len_i, normal_i, len_j, normal_j)``: the edges crossed
        along i (constant alpha; (6, N, N + 1) and (6, N, N + 1, 3), normals
        towards +alpha) and along j (constant beta; (6, N + 1, N) and
        (6, N + 1, N, 3), normals towards +beta).
        """
        corners = self.corner_points()
        # i edges: from corner (j, i) to (j + 1, i).
        p1, p2 = corners[:, :-1, :, :], corners[:, 1:, :, :]
        len_i = self.radius * _angle(p1, p2)
        normal_i = np.cross(p1, p2)
        normal_i /= np.linalg.norm(normal_i, axis=-1, keepdims=True)
        # j edges: from corner (j, i) to (j, i + 1); p2 x p1 points to +beta.
        q1, q2 = corners[:, :, :-1, :], corners[:, :, 1:, :]
        len_j = self.radius * _angle(q1, q2)
        normal_j = np.cross(q2, q1)
        normal_j /= np.linalg.norm(normal_j, axis=-1, keepdims=True)
        # Orient by the face's own direction of increasing alpha / beta.
        for f in range(6):
            _, e1, e2 = (np.asarray(v, dtype=np.float64) for v in FRAMES[f])
            normal_i[f] *= np.sign(np.sum(normal_i[f] * e1, axis=-1, keepdims=True))
            normal_j[f] *= np.sign(np.sum(normal_j[f] * e2, axis=-1, keepdims=True))
        return len_i, normal_i, len_j, normal_j


def canonical_edges(grid: CubedSphereGrid, extra=None):
    """Per edge, the geometry both of its cells use, so that the two sides
    of every edge compute the identical flux (mass is then conserved to
    round-off, also across panel edges and ranks).

    Returns ``{"i": ..., "j": ...}``: for the edges crossed along i
    (6, N, N + 1) and along j (6, N + 1, N), a dict of

    - ``length`` (m) and ``normal``/``tangent`` (unit 3-vectors, ...x3): the
      normal points from the edge's *canonical left* cell to its right cell,
      the tangent is normal x (edge midpoint direction);
    - ``flip`` (bool): True where the canonical left cell is the one at the
      higher index (our +i/+j side).

    Inside a face the canonical left cell is the lower-index one. A panel
    edge belongs to two faces; its canonical left cell is on the face with
    the smaller number, and that face's computation of length, normal and
    tangent is copied, bit for bit (negated where the axes point the other
    way), into the other face's entry.
    """
    from parallel.cube import fold  # geometry pairing of panel edges

    n = grid.n
    len_i, nrm_i, len_j, nrm_j = grid.edge_geometry()
    corners = grid.corner_points()

    def tangents(normal, p1, p2):
        mid = p1 + p2
        mid /= np.linalg.norm(mid, axis=-1, keepdims=True)
        t = np.cross(normal, mid)
        return t / np.linalg.norm(t, axis=-1, keepdims=True)

    tan_i = tangents(nrm_i, corners[:, :-1, :], corners[:, 1:, :])
    tan_j = tangents(nrm_j, corners[:, :, :-1], corners[:, :, 1:])
    out = {"i": {"length": len_i, "normal": nrm_i, "tangent": tan_i,
                 "flip": np.zeros(len_i.shape, bool)},
           "j": {"length": len_j, "normal": nrm_j, "tangent": tan_j,
                 "flip": np.zeros(len_j.shape, bool)}}
    for name, (along_i, along_j) in (extra or {}).items():
        out["i"][name] = np.array(along_i, dtype=np.float64)
        out["j"][name] = np.array(along_j, dtype=np.float64)

    def entry(face, side, t):
        """(axis key, index) of the edge on ``side`` of ``face`` at position t."""
        return {"west": ("i", (face, t, 0)), "east": ("i", (face, t, n)),
                "south": ("j", (face, 0, t)), "north": ("j", (face, n, t))}[side]

    for face in range(6):
        for side, ghost in (("west", lambda t: (-1, t)), ("east", lambda t: (n, t)),
                            ("south", lambda t: (t, -1)), ("north", lambda t: (t, n))):
            for t in range(n):
                other, oi, oj = fold(n, face, *ghost(t))
                if other > face:
                    continue  # the lower face's side is canonical; done from there
                # Which side of `other` is the edge on: the one across which
                # its cell (oi, oj) touches our cell next to the edge.
                own = {"west": (0, t), "east": (n - 1, t), "south": (t, 0),
                       "north": (t, n - 1)}[side]
                for oside in ("west", "east", "south", "north"):
                    back = {"west": (oi - 1, oj), "east": (oi + 1, oj),
                            "south": (oi, oj - 1), "north": (oi, oj + 1)}[oside]
                    if fold(n, other, *back) == (face, *own):
                        break
                else:
                    raise AssertionError("panel edge without a partner")
                okey, oidx = entry(other, oside, oj if oside in ("west", "east") else oi)
                mkey, midx = entry(face, side, t)
                src, dst = out[okey], out[mkey]
                # Canonical: left cell on `other` (lower face), normal out of it.
                outward = 1.0 if oside in ("east", "north") else -1.0
                normal = outward * src["normal"][oidx]
                tangent = outward * src["tangent"][oidx]
                src["normal"][oidx], src["tangent"][oidx] = normal, tangent
                for name in extra or {}:
                    src[name][oidx] = outward * src[name][oidx]
                    dst[name][midx] = src[name][oidx]
                src["flip"][oidx] = outward < 0  # left cell at the higher index
                mine = 1.0 if side in ("east", "north") else -1.0  # our outward sign
                dst["normal"][midx], dst["tangent"][midx] = normal, tangent
                dst["length"][midx] = src["length"][oidx]
                dst["flip"][midx] = mine > 0  # canonical left is across: at our higher index
    return out
