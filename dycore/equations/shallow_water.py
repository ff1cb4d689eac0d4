"""Rotating shallow-water equations in conservative form on a Cartesian tile.

    d h/dt   + d(hu)/dx + d(hv)/dy                               = 0
    d(hu)/dt + d(hu^2 + g h^2/2)/dx + d(huv)/dy = -g h db/dx + f hv - D_u
    d(hv)/dt + d(huv)/dx + d(hv^2 + g h^2/2)/dy = -g h db/dy - f hu - D_v

with f = f0 + beta (y - y_mid) and bottom drag D = r hu + C_d |U| u.

Space: dimension-by-dimension finite volumes. Face values come from a
reconstruction of (h, eta = h + b, u, v); the bed is handled with the
hydrostatic reconstruction of Audusse, Bouchut, Bristeau, Klein & Perthame
(2004), SIAM J. Sci. Comput. 25, 2050-2065, including its second-order
centred source term, so that a lake at rest (eta = const, u = v = 0) is an
exact discrete steady state, with or without dry cells. Next to dry cells
the reconstruction falls back to first order, which keeps the scheme
well-balanced at wet/dry fronts and the face depths non-negative.

Performance: the sweep marks the arrays worth storing (stacked limited
slopes or face values, stacked face fluxes) with :func:`dycore.fusion.keep`,
a backend tuning explained in :mod:`dycore.fusion`; it changes no number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
import numpy as np
from jax import lax

from dycore.equations.base import Field, Invariant, Parameter
from dycore.fusion import keep, runtime_one
from dycore.operators.reconstruction import centre_values, stencil_all
from dycore.operators.riemann import UPWIND_FORMS
from dycore.state import Params, State

FIELDS = (
    Field("h", "m", "water depth", "sea_floor_depth_below_sea_surface"),
    Field("hu", "m2 s-1", "x momentum per unit area, depth times x velocity",
          vector="momentum", component=0),
    Field("hv", "m2 s-1", "y momentum per unit area, depth times y velocity",
          vector="momentum", component=1),
)
"""The prognostic fields, in the order of :class:`dycore.state.State`."""

PARAMETERS = (
    Parameter("g", "m s-2", "gravitational acceleration", config_key="g"),
    Parameter("f0", "s-1", "Coriolis parameter at the domain's mid y", config_key="f0"),
    Parameter("beta", "m-1 s-1", "meridional gradient of the Coriolis parameter",
              config_key="beta"),
    Parameter("drag_linear", "s-1", "linear (Rayleigh) drag rate", config_key="drag_linear"),
    Parameter("drag_quadratic", "1", "quadratic bottom-drag coefficient",
              config_key="drag_quadratic"),
    Parameter("b", "m", "bottom elevation", per_cell=True),
)
"""The parameters, in the order of :class:`dycore.state.Params` (``closure`` aside)."""

BED = PARAMETERS[-1]


def safe_divide(num, den, wet):
    """num/den where ``wet``, else 0, with finite derivatives everywhere."""
    return jnp.where(wet, num / jnp.where(wet, den, 1.0), 0.0)


POSITIVITY_WEIGHT = 0.45
"""The weight w of :func:`positivity_limited`: WENO5-Z face depths keep the
Euler step positive for Courant numbers up to w, the default ``cfl``.
MUSCL needs no limiter (its faces average to the cell mean: w = 1/2)."""


def positivity_limited(mean, minus, plus, weight=None):
    """Face depths scaled towards the cell average so that the Euler step stays
    positive (Zhang & Shu 2010, J. Comput. Phys. 229, 3091-3120).

    The update of a cell is positive under the CFL condition
    ``dt a / dx <= weight`` if both face depths are >= 0 and the rest
    ``mean - weight (minus + plus)`` is >= 0 (the cell average written as a
    combination of its two face values and a non-negative remainder). Where
    either fails, both faces become ``mean + theta (face - mean)`` with the
    largest theta in [0, 1] that satisfies both (theta = 0, the first-order
    face, always does for mean >= 0). Where neither fails, the faces are
    returned unchanged, bit for bit.
    """
    weight = POSITIVITY_WEIGHT if weight is None else weight
    lowest = jnp.minimum(minus, plus)
    excess = minus + plus - 2 * mean
    over = weight * (minus + plus) > mean
    negative = lowest < 0
    theta_sum = jnp.where(over, mean * (1 - 2 * weight) / jnp.where(over, weight * excess, 1.0), 1.0)
    gap = mean - lowest
    theta_neg = jnp.where(negative, mean / jnp.where(negative, gap, 1.0), 1.0)
    theta = jnp.clip(jnp.minimum(theta_sum, theta_neg), 0.0, 1.0)
    limit = over | negative
    return (jnp.where(limit, mean + theta * (minus - mean), minus),
            jnp.where(limit, mean + theta * (plus - mean), plus))


THIN_LAYER_FRACTION = 0.01
"""eps / (largest bed jump to a neighbour) in :meth:`ShallowWater.thin_layer_projection`."""


def _faces(a, lo: bool, axis: int):
    """Drop the last (lo=True) or first cell along ``axis``: n+2 cells -> n+1 faces."""
    n = a.shape[axis]
    return lax.slice_in_dim(a, 0, n - 1, axis=axis) if lo else lax.slice_in_dim(a, 1, n, axis=axis)


def _interior(a, axis: int):
    n = a.shape[axis]
    return lax.slice_in_dim(a, 1, n - 1, axis=axis)


def _mass_density(state, params):
    """Water volume per unit area (m): the depth."""
    return state.h


INVARIANTS = (Invariant("mass", "m3", _mass_density),)
"""Conserved by the scheme (to round-off): the total water volume."""


@dataclass(frozen=True)
class ShallowWater:
    """Right-hand side of the shallow-water equations on one tile, and the
    declaration of the equation set (:mod:`dycore.equations.base`).

    reconstruction: a reconstruction object (see operators.reconstruction)
    riemann:        a Riemann flux function (see operators.riemann)
    dx, dy:         cell sizes (m)
    y_rel:          tile cell-centre y minus the domain's mid y (m), shape (ny,)
    dry_tolerance:  depth (m) below which a cell counts as dry
    """

    reconstruction: object
    riemann: Callable
    dx: float
    dy: float
    y_rel: np.ndarray
    dry_tolerance: float = 1e-10

    name = "shallow_water"
    fields = FIELDS
    parameters = PARAMETERS
    invariants = INVARIANTS
    state_type = State
    params_type = Params
    violation_name = "negative depth"

    @property
    def halo(self) -> int:
        return self.reconstruction.halo

    def _sweep(self, h, eta, un, ut, n: int, axis: int, spacing: float, g, one=None):
        """Flux divergence and bed source along ``axis`` for the n interior cells.

        ``one``: a run-time 1 used by :func:`keep` to store intermediate
        arrays (None: no marking; the same values).

        Stored (XLA:CPU kernel outputs): for a reconstruction with a
        ``half_slope`` (MUSCL) the four limited half-slopes, zeroed where the
        stencil touches a dry cell (face = centre -/+ slope: the same numbers
        as the first-order fallback ``where(smooth, face, centre)``), else the
        eight face values; and the face fluxes stacked in one (3, ...) array,
        so that each is computed once per face and read by the three
        tendency kernels (an array with one consuming kernel is fused into it
        and recomputed at each stencil offset). With an HLLC-type solver the
        third stacked entry is the upwinded tangential velocity and the
        tangential flux is formed as f_mass * vt (the same numbers).
        """
        def store(x):
            return keep(x, one)

        rec = self.reconstruction
        smooth = stencil_all(h > self.dry_tolerance, rec, n, axis)
        fields = (h, eta, un, ut)
        centres = [centre_values(q, rec, n, axis) for q in fields]
        if hasattr(rec, "half_slope"):
            # Threshold scales (Muscl.slope_threshold): the depth for h and
            # eta, the gravity-wave speed sqrt(g h) for the velocities; they
            # only select, so no gradient flows through them.
            depth = lax.stop_gradient(jnp.maximum(centres[0], 0.0))
            speed = jnp.sqrt(lax.stop_gradient(g) * depth)
            scales = (depth, depth, speed, speed)
            slopes = [jnp.where(smooth, rec.half_slope(q, n, axis, s), 0.0)
                      for q, s in zip(fields, scales)]
            if one is not None:
                stacked = store(jnp.stack(slopes))
                slopes = [stacked[k] for k in range(len(fields))]
            faces = [(c - s, c + s) for c, s in zip(centres, slopes)]
        else:
            faces = []
            for q, centre in zip(fields, centres):
                minus, plus = rec(q, n, axis)
                faces.append([jnp.where(smooth, minus, centre), jnp.where(smooth, plus, centre)])
            faces[0] = positivity_limited(centres[0], *faces[0])
            faces = [(store(minus), store(plus)) for minus, plus in faces]
        (h_m, h_p), (eta_m, eta_p), (un_m, un_p), (ut_m, ut_p) = faces
        h_m, h_p = jnp.maximum(h_m, 0.0), jnp.maximum(h_p, 0.0)
        b_m, b_p = eta_m - h_m, eta_p - h_p

        # States on either side of each of the n + 1 faces.
        h_l, h_r = _faces(h_p, True, axis), _faces(h_m, False, axis)
        b_l, b_r = _faces(b_p, True, axis), _faces(b_m, False, axis)
        b_face = jnp.maximum(b_l, b_r)
        h_l_star = jnp.maximum(0.0, h_l + b_l - b_face)
        h_r_star = jnp.maximum(0.0, h_r + b_r - b_face)
        upwind = UPWIND_FORMS.get(self.riemann)
        face_states = (h_l_star, _faces(un_p, True, axis), _faces(ut_p, True, axis),
                       h_r_star, _faces(un_m, False, axis), _faces(ut_m, False, axis), g)
        fluxes = (upwind or self.riemann)(*face_states)
        if one is not None:
            fluxes = store(jnp.stack(fluxes))
            fluxes = (fluxes[0], fluxes[1], fluxes[2])
        f_mass, f_normal, third = fluxes
        f_tangent = f_mass * third if upwind is not None else third
        # Hydrostatic corrections (Audusse et al. 2004, eq. 2.11).
        f_normal_left = f_normal + 0.5 * g * (h_l * h_l - h_l_star * h_l_star)
        f_normal_right = f_normal + 0.5 * g * (h_r * h_r - h_r_star * h_r_star)
        # Centred bed source of the second-order scheme (Audusse et al. 2004, sec. 3).
        bed = -0.5 * g * (_interior(h_m, axis) + _interior(h_p, axis)) * (
            _interior(b_p, axis) - _interior(b_m, axis))

        d_mass = -(_faces(f_mass, False, axis) - _faces(f_mass, True, axis)) / spacing
        d_normal = (bed - (_faces(f_normal_left, False, axis)
                           - _faces(f_normal_right, True, axis))) / spacing
        d_tangent = -(_faces(f_tangent, False, axis) - _faces(f_tangent, True, axis)) / spacing
        return d_mass, d_normal, d_tangent

    def tendency(self, padded, state: State, params: Params) -> State:
        """d(state)/dt from halo-filled (h, hu, hv, b) and the interior state."""
        h, hu, hv, b = padded
        H = self.halo
        ny, nx = state.h.shape
        wet = h > self.dry_tolerance
        u, v = safe_divide(hu, h, wet), safe_divide(hv, h, wet)
        eta = h + b
        g = params.g
        one = runtime_one(g)  # None when the backend tuning is off (dycore.fusion)

        rows = slice(H, H + ny)
        cols = slice(H, H + nx)
        xh, xe, xu, xv = (q[rows, :] for q in (h, eta, u, v))
        dh_x, dhu_x, dhv_x = self._sweep(xh, xe, xu, xv, nx, -1, self.dx, g, one)
        yh, ye, yv, yu = (q[:, cols] for q in (h, eta, v, u))
        dh_y, dhv_y, dhu_y = self._sweep(yh, ye, yv, yu, ny, -2, self.dy, g, one)

        dh = dh_x + dh_y
        dhu = dhu_x + dhu_y
        dhv = dhv_x + dhv_y

        # Coriolis on the beta plane.
        f = params.f0 + params.beta * jnp.asarray(self.y_rel, dtype=state.h.dtype)[:, None]
        dhu = dhu + f * state.hv
        dhv = dhv - f * state.hu

        # Bottom drag: linear (Rayleigh) and quadratic, with the interior
        # velocities already computed on the padded arrays.
        ui, vi = u[rows, cols], v[rows, cols]
        speed2 = ui * ui + vi * vi
        speed = jnp.where(speed2 > 0, jnp.sqrt(jnp.where(speed2 > 0, speed2, 1.0)), 0.0)
        dhu = dhu - params.drag_linear * state.hu - params.drag_quadratic * speed * ui
        dhv = dhv - params.drag_linear * state.hv - params.drag_quadratic * speed * vi
        return State(dh, dhu, dhv)

    def thin_layer_projection(self, state: State, b_padded) -> State:
        """The state with the momentum of thin layers over a sloping bed
        desingularised (Kurganov & Petrova 2007, Commun. Math. Sci. 5,
        133-160, their eq. 2.17, with their hu reset to h u):
        ``hu <- hu * sqrt(2) h^2 / sqrt(h^4 + max(h^4, eps^4))``, likewise hv,
        where ``h < eps``; elsewhere (and over a flat bed, eps = 0) the state
        is returned unchanged bit for bit. Depths are never changed, so mass
        is untouched.

        eps = ``THIN_LAYER_FRACTION`` times the largest jump of the bed to
        the four neighbouring cells (m): a layer much thinner than the bed's
        step between cells sits below the neighbouring faces' bed level, the
        hydrostatic reconstruction gives it no depth there, and its velocity
        is not resolved: left alone, such films slide down the slopes of a
        frictionless bowl at several times the flow's speed and set the CFL
        step (docs/numerics.md). ``b_padded``: the bed with its halo
        (``Simulation.pad_bed``).
        """
        H = self.halo
        ny, nx = state.h.shape
        b = b_padded[H:H + ny, H:H + nx]
        jump = jnp.abs(b_padded[H:H + ny, H + 1:H + nx + 1] - b)
        for rows, cols in ((slice(H, H + ny), slice(H - 1, H + nx - 1)),
                           (slice(H + 1, H + ny + 1), slice(H, H + nx)),
                           (slice(H - 1, H + ny - 1), slice(H, H + nx))):
            jump = jnp.maximum(jump, jnp.abs(b_padded[rows, cols] - b))
        eps = THIN_LAYER_FRACTION * jump
        h = state.h
        thin = h < eps
        h4 = h * h * h * h
        # Where thin, eps > 0 and the radicand is >= eps^4 > 0; elsewhere the
        # radicand is replaced by 1 so that no infinite derivative of sqrt at
        # 0 reaches a gradient (as in safe_divide).
        den = jnp.sqrt(jnp.where(thin, h4 + jnp.maximum(h4, eps * eps * eps * eps), 1.0))
        factor = jnp.where(thin, math.sqrt(2.0) * h * h / den, 0.0)
        return self.state_type(h, jnp.where(thin, state.hu * factor, state.hu),
                               jnp.where(thin, state.hv * factor, state.hv))

    def violation(self, state: State):
        """Per cell, how far the state is from admissible (m): the depth below
        ``-dry_tolerance``, else 0. Blow-up detection flags cells where it is
        positive (non-finite values are checked apart)."""
        return jnp.where(state.h < -self.dry_tolerance, -state.h, 0.0)

    def max_signal_rate(self, state: State, params):
        """Local max over cells of (|u| + c)/dx + (|v| + c)/dy (1/s), c = sqrt(g h).
        ``params``: the parameters (or g itself, m/s^2)."""
        g = getattr(params, "g", params)
        wet = state.h > self.dry_tolerance
        u = safe_divide(state.hu, state.h, wet)
        v = safe_divide(state.hv, state.h, wet)
        c = jnp.sqrt(jnp.maximum(g * state.h, 0.0))
        return jnp.max((jnp.abs(u) + c) / self.dx + (jnp.abs(v) + c) / self.dy)
