"""Rotating shallow-water equations on the cubed sphere, with the momentum
in Earth-centred Cartesian components (one tile of one face; see
:mod:`dycore.sphere` for the model around it).

    d h/dt + div(h V)                    = 0
    d(hV)/dt + div(hV V + g h^2/2 I)     = -g h grad b - f r x hV,  projected
                                           onto the tangent plane

V is the 3-D velocity, tangent to the sphere; r the unit position vector;
f = 2 Omega (r . axis) the Coriolis parameter (a per-cell parameter, so a
rotated axis, as in Williamson test 2 with alpha != 0, is only another f).
Every exchanged quantity (h, the three momentum components, the bed) is a
scalar, so halo cells need no rotation across panel edges, and there are
no Christoffel terms (Drake, Swarztrauber & Williamson 1999; Cartesian
formulations on the sphere; Rossmanith 2006, J. Comput. Phys. 213, 629-658,
for Riemann problems solved in the edge's local tangent frame).

Finite volumes: the flux through each great-circle edge is the planar
Riemann solver's (HLLC/HLL/Rusanov) in the edge frame (n, t): the
reconstructed 3-D velocities of both sides are projected on n and t, and
the momentum flux is F_n n + F_t t. The geometry of an edge is the same
bit for bit on both of its sides (:func:`dycore.grids.cubed_sphere.canonical_edges`)
and the flux is evaluated in that canonical orientation, so both tiles of a
panel edge compute the identical flux and mass is conserved to round-off.

Reconstruction: MUSCL with a slope limiter along each index direction; a
cell next to a panel edge takes the one-sided slope from its own face (the
halo cells of a neighbouring face lie on that face's grid lines, which kink
at the edge, so a centred stencil across it loses accuracy). The one-sided
face value q0 + (q0 - q1)/2 is the same arithmetic on both sides.

Topography: the hydrostatic reconstruction of Audusse et al. (2004, SIAM J.
Sci. Comput. 25, 2050-2065) on each edge, and the source
-(1/A) sum_e L_e g/2 [(h_e + h_c)(b_e - b_c) - h_c^2] nu_e, where h_e, b_e
are the cell's own face values and nu_e its outward edge normals: for a
lake at rest (h + b constant, V = 0) it cancels the pressure fluxes
exactly in exact arithmetic (h_e^2 - h_c^2 = (h_e + h_c)(h_e - h_c) and
h_e - h_c = b_c - b_e), also the curvature part sum_e L_e nu_e of a
spherical cell, and on a plane it is Audusse's centred source.

Units: m, s; the momentum hV in m^2/s.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import lax

from dycore.equations.base import Field, Invariant, Parameter
from dycore.fusion import keep, runtime_one

FIELDS = (
    Field("h", "m", "water depth", "sea_floor_depth_below_sea_surface"),
    Field("mx", "m2 s-1", "depth times velocity, x component (Earth-centred, towards lon 0)"),
    Field("my", "m2 s-1", "depth times velocity, y component (Earth-centred, towards lon 90E)"),
    Field("mz", "m2 s-1", "depth times velocity, z component (Earth-centred, towards the pole)"),
)
"""Prognostic fields; all scalars for the halo exchange."""

TRACER = Field("hq", "m", "depth times passive tracer mixing ratio (q dimensionless)")
"""The optional passive tracer, declared after FIELDS when a model carries it:
d(hq)/dt + div(hq V) = 0, its flux the mass flux times the upwind face value
of q = hq/h, so a uniform q stays uniform and the tracer mass is conserved
to round-off (the flux is the same on both sides of every edge)."""

PARAMETERS = (
    Parameter("g", "m s-2", "gravitational acceleration", config_key="g"),
    Parameter("f", "s-1", "Coriolis parameter 2 Omega (r . axis)", per_cell=True),
    Parameter("b", "m", "bottom elevation", per_cell=True),
)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SphereState:
    """h (m) and the Cartesian momentum components (m^2/s) on a tile's cells;
    ``hq`` (m) the passive tracer's depth times mixing ratio, or None."""

    h: jax.Array
    mx: jax.Array
    my: jax.Array
    mz: jax.Array
    hq: Any = None

    def replace(self, **changes) -> "SphereState":
        return dataclasses.replace(self, **changes)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SphereParams:
    """g (m/s^2) replicated; f (1/s) and b (m) per cell; an optional closure."""

    g: jax.Array
    f: jax.Array
    b: jax.Array
    closure: Any = None

    def replace(self, **changes) -> "SphereParams":
        return dataclasses.replace(self, **changes)


INVARIANTS = (Invariant("mass", "m3", lambda state, params: state.h),)
TRACER_INVARIANTS = (Invariant("tracer_mass", "m3", lambda state, params: state.hq),)


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cells(q, halo, n, offset, axis):
    """Cells -1 + offset ... n + offset along ``axis`` of a padded array."""
    start = halo - 1 + offset
    return lax.slice_in_dim(q, start, start + n + 2, axis=axis)


def _edges(a, lo: bool, axis):
    """Of n + 2 cell values, those left (lo) or right of the n + 1 edges."""
    n = a.shape[axis]
    return lax.slice_in_dim(a, 0, n - 1, axis=axis) if lo else lax.slice_in_dim(a, 1, n, axis=axis)


def reconstruct(qs, geo, key, n, axis, halo, limiter, one=None):
    """Cell values and (minus, plus) face values of the cells -1..n along
    ``axis`` for each padded field of ``qs``: MUSCL with ``limiter``, and
    next to a panel edge the one-sided value c + (c - c_inner)/2 on the
    edge's side (the limited slope on the other). ``one``: a run-time 1
    that marks the limited half-slopes for XLA to store (:mod:`dycore.fusion`;
    None: not marked, the same numbers)."""
    centre = [_cells(q, halo, n, 0, axis) for q in qs]
    lo = [c - _cells(q, halo, n, -1, axis) for q, c in zip(qs, centre)]
    hi = [_cells(q, halo, n, 1, axis) - c for q, c in zip(qs, centre)]
    below, above = geo[f"onesided_lo_{key}"], geo[f"onesided_hi_{key}"]
    halves = [0.5 * limiter(d_lo, d_hi) for d_lo, d_hi in zip(lo, hi)]
    if one is not None:
        stacked = keep(jnp.stack(halves), one)
        halves = [stacked[k] for k in range(len(qs))]
    faces = []
    for c, d_lo, d_hi, half in zip(centre, lo, hi, halves):
        minus = jnp.where(below, c - 0.5 * d_hi, jnp.where(above, c - 0.5 * d_lo, c - half))
        plus = jnp.where(above, c + 0.5 * d_lo, jnp.where(below, c + 0.5 * d_hi, c + half))
        faces.append((minus, plus))
    return centre, faces


def _interior(a, axis):
    n = a.shape[axis]
    return lax.slice_in_dim(a, 1, n - 1, axis=axis)


@dataclass(frozen=True)
class SphereShallowWater:
    """The tendency on one tile; ``geometry`` (see :mod:`dycore.sphere`) holds
    its cell areas, unit position vectors, canonical edge geometry and the
    one-sided masks, as arrays (so that tiles can be vmapped)."""

    limiter: Callable
    riemann: Callable
    halo: int = 2
    dry_tolerance: float = 1e-10
    tracer: bool = False

    name = "sphere_shallow_water"
    parameters = PARAMETERS

    @property
    def fields(self):
        return FIELDS + ((TRACER,) if self.tracer else ())

    @property
    def invariants(self):
        return INVARIANTS + (TRACER_INVARIANTS if self.tracer else ())
    state_type = SphereState
    params_type = SphereParams
    violation_name = "negative depth"

    def violation(self, state):
        return jnp.where(state.h < -self.dry_tolerance, -state.h, 0.0)

    def max_signal_rate(self, state, params, geometry):
        """Local max over cells of (|V| + c) P / (2 A) (1/s), P the cell perimeter."""
        wet = state.h > self.dry_tolerance
        h = jnp.where(wet, state.h, 1.0)
        speed = jnp.sqrt(state.mx ** 2 + state.my ** 2 + state.mz ** 2) / h
        c = jnp.sqrt(jnp.maximum(params.g * state.h, 0.0))
        return jnp.max(jnp.where(wet, speed, 0.0) * geometry["rate"] + c * geometry["rate"])

    def _sweep(self, h, eta, vel, geo, key, n, axis, g, q=None, one=None):
        """Mass and momentum (3-vector) divergence times area, and the bed and
        pressure source times area, from the edges crossed along ``axis``;
        with a tracer mixing ratio ``q``, also the tracer divergence (else None).
        ``one``: a run-time 1 marking the half-slopes and the edge fluxes for
        XLA to store rather than recompute per stencil offset (:mod:`dycore.fusion`)."""
        qs = [h, eta, *vel] + ([] if q is None else [q])
        centre, faces = reconstruct(qs, geo, key, n, axis, self.halo, self.limiter, one)
        (h_m, h_p), (eta_m, eta_p) = faces[0], faces[1]
        h_m, h_p = jnp.maximum(h_m, 0.0), jnp.maximum(h_p, 0.0)
        b_m, b_p = eta_m - h_m, eta_p - h_p
        v_m = [f[0] for f in faces[2:5]]
        v_p = [f[1] for f in faces[2:5]]

        flip = geo[f"flip_{key}"]
        nrm = [geo[f"n{c}_{key}"] for c in "xyz"]
        tan = [geo[f"t{c}_{key}"] for c in "xyz"]
        length = geo[f"len_{key}"]

        def canonical(left, right):
            return jnp.where(flip, right, left), jnp.where(flip, left, right)

        hL, hR = canonical(_edges(h_p, True, axis), _edges(h_m, False, axis))
        bL, bR = canonical(_edges(b_p, True, axis), _edges(b_m, False, axis))
        vL = [canonical(_edges(p, True, axis), _edges(m, False, axis)) for p, m in zip(v_p, v_m)]
        VL, VR = [v[0] for v in vL], [v[1] for v in vL]
        b_face = jnp.maximum(bL, bR)
        hL_star = jnp.maximum(0.0, hL + bL - b_face)
        hR_star = jnp.maximum(0.0, hR + bR - b_face)
        f_mass, f_n, f_t = self.riemann(hL_star, _dot(VL, nrm), _dot(VL, tan),
                                        hR_star, _dot(VR, nrm), _dot(VR, tan), g)
        if one is not None:  # one Riemann solve per edge, read by every flux kernel
            f_mass, f_n, f_t = keep(jnp.stack([f_mass, f_n, f_t]), one)
        corr_L = 0.5 * g * (hL * hL - hL_star * hL_star)
        corr_R = 0.5 * g * (hR * hR - hR_star * hR_star)
        # Fluxes in our +index direction, per unit length, as seen by the cell
        # on the lower-index side of the edge (out of it) and on the higher.
        sign = jnp.where(flip, -1.0, 1.0)
        p_out = jnp.where(flip, f_n + corr_R, f_n + corr_L)
        p_in = jnp.where(flip, f_n + corr_L, f_n + corr_R)
        mass = sign * f_mass * length
        out = [sign * (p_out * nc + f_t * tc) * length for nc, tc in zip(nrm, tan)]
        inn = [sign * (p_in * nc + f_t * tc) * length for nc, tc in zip(nrm, tan)]

        d_mass = _edges(mass, False, axis) - _edges(mass, True, axis)
        d_mom = [_edges(o, False, axis) - _edges(i, True, axis) for o, i in zip(out, inn)]
        # Bed and curvature source: own face values, outward normals.
        hc, bc = _interior(centre[0], axis), _interior(centre[1], axis) - _interior(centre[0], axis)
        geo_n = [sign * nc * length for nc in nrm]  # our +index normal times length
        right_n = [_edges(q, False, axis) for q in geo_n]
        left_n = [_edges(q, True, axis) for q in geo_n]
        hp, hm = _interior(h_p, axis), _interior(h_m, axis)
        bp, bm = _interior(b_p, axis), _interior(b_m, axis)
        w_right = 0.5 * g * ((hp + hc) * (bp - bc) - hc * hc)
        w_left = 0.5 * g * ((hm + hc) * (bm - bc) - hc * hc)
        source = [-(w_right * r - w_left * lft) for r, lft in zip(right_n, left_n)]
        d_tracer = None
        if q is not None:
            # Tracer flux: the mass flux times the upwind face value of q
            # (canonical orientation, so both sides agree bit for bit).
            qL, qR = canonical(_edges(faces[5][1], True, axis), _edges(faces[5][0], False, axis))
            tracer = sign * f_mass * jnp.where(f_mass > 0, qL, qR) * length
            d_tracer = _edges(tracer, False, axis) - _edges(tracer, True, axis)
        return d_mass, d_mom, source, d_tracer

    def tendency(self, padded, state, params, geometry):
        """d(state)/dt on the tile from halo-filled (h, mx, my, mz, b[, hq])."""
        h, mx, my, mz, b = padded[:5]
        H = self.halo
        ny, nx = state.h.shape
        wet = h > self.dry_tolerance
        safe_h = jnp.where(wet, h, 1.0)
        vel = [jnp.where(wet, m / safe_h, 0.0) for m in (mx, my, mz)]
        q = None if len(padded) < 6 else jnp.where(wet, padded[5] / safe_h, 0.0)
        eta = h + b
        g = params.g
        one = runtime_one(g)
        rows, cols = slice(H, H + ny), slice(H, H + nx)
        dm_x, dmom_x, src_x, dq_x = self._sweep(
            h[rows, :], eta[rows, :], [v[rows, :] for v in vel], geometry, "i", nx, -1, g,
            None if q is None else q[rows, :], one)
        dm_y, dmom_y, src_y, dq_y = self._sweep(
            h[:, cols], eta[:, cols], [v[:, cols] for v in vel], geometry, "j", ny, -2, g,
            None if q is None else q[:, cols], one)
        area = geometry["area"]
        dh = -(dm_x + dm_y) / area
        dmom = [(-(a + c) + s + t) / area for a, c, s, t in zip(dmom_x, dmom_y, src_x, src_y)]
        r = [geometry[f"r{c}"] for c in "xyz"]
        coriolis = _cross(r, (state.mx, state.my, state.mz))
        dmom = [d - params.f * c for d, c in zip(dmom, coriolis)]
        radial = _dot(dmom, r)
        dmom = [d - radial * rc for d, rc in zip(dmom, r)]
        dhq = None if q is None else -(dq_x + dq_y) / area
        return SphereState(dh, *dmom, hq=dhq)
