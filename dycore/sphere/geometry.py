"""Per-tile geometry arrays of the cubed sphere for the tendencies of
:mod:`dycore.equations.sphere_shallow_water` and
:mod:`dycore.equations.sphere_advection`.

Everything is computed once in float64 numpy on the whole C N grid and
then cut to the tiles a process holds, so that every rank count sees the
same numbers bit for bit (a tile's edge geometry is a window of the global
canonical edges, :func:`dycore.grids.cubed_sphere.canonical_edges`).
Array shapes per tile (ny, nx cells): cells (ny, nx); edges crossed along i
(ny, nx + 1); along j (ny + 1, nx); one-sided masks over cells -1..n along
their axis (ny, nx + 2) or (ny + 2, nx).
"""
from __future__ import annotations

import numpy as np

from dycore.grids.cubed_sphere import CubedSphereGrid, canonical_edges


def global_geometry(grid: CubedSphereGrid, extra=None) -> dict:
    """The (6, ...) numpy arrays of the whole grid (see the module docstring).
    ``extra``: per-edge quantities along each face's +index normal, as for
    :func:`canonical_edges` (stored as ``<name>_i``, ``<name>_j``)."""
    n = grid.n
    edges = canonical_edges(grid, extra)
    r = grid.centre_points() / grid.radius
    areas = grid.areas()
    geo = {"area": areas, "rx": r[..., 0], "ry": r[..., 1], "rz": r[..., 2]}
    for key in ("i", "j"):
        e = edges[key]
        geo[f"len_{key}"] = e["length"]
        geo[f"flip_{key}"] = e["flip"]
        for k, c in enumerate("xyz"):
            geo[f"n{c}_{key}"] = e["normal"][..., k]
            geo[f"t{c}_{key}"] = e["tangent"][..., k]
        for name in extra or {}:
            geo[f"{name}_{key}"] = e[name]
    # Cells -1..n along i (j): a panel edge just below cells 0 and n, just above -1 and n - 1.
    k = np.arange(-1, n + 1)
    below, above = (k == 0) | (k == n), (k == -1) | (k == n - 1)
    geo["onesided_lo_i"] = np.broadcast_to(below[None, None, :], (6, n, n + 2))
    geo["onesided_hi_i"] = np.broadcast_to(above[None, None, :], (6, n, n + 2))
    geo["onesided_lo_j"] = np.broadcast_to(below[None, :, None], (6, n + 2, n))
    geo["onesided_hi_j"] = np.broadcast_to(above[None, :, None], (6, n + 2, n))
    perimeter = (edges["i"]["length"][:, :, :-1] + edges["i"]["length"][:, :, 1:]
                 + edges["j"]["length"][:, :-1, :] + edges["j"]["length"][:, 1:, :])
    geo["rate"] = perimeter / (2.0 * areas)
    return geo


def tile_window(a: np.ndarray, n: int, boxes) -> np.ndarray:
    """The tiles (T, ...) of a global (6, N + ey, N + ex) array: cells of the
    box plus the ``ey``, ``ex`` extra entries of edge or extended arrays."""
    ey, ex = a.shape[-2] - n, a.shape[-1] - n
    return np.stack([a[b.face, b.j0:b.j0 + b.ny + ey, b.i0:b.i0 + b.nx + ex] for b in boxes])


def tile_geometry(geo: dict, n: int, boxes, dtype) -> dict:
    """The geometry of the tiles ``boxes`` as JAX arrays (bool masks stay bool)."""
    import jax.numpy as jnp

    out = {}
    for key, value in geo.items():
        w = tile_window(value, n, boxes)
        out[key] = jnp.asarray(w) if w.dtype == bool else jnp.asarray(w, dtype)
    return out
