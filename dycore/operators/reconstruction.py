"""Cell-interface reconstruction along one axis.

Every reconstruction works on an array that carries ``halo`` ghost cells on
both ends of ``axis`` (length n + 2 halo) and returns, for the n interior
cells plus one ghost cell on each side (n + 2 cells), the values at the
cell's lower face ("minus", x_{i-1/2}) and upper face ("plus", x_{i+1/2}).
The halo width is a property of the scheme: 2 for MUSCL, 3 for WENO5.

References
- van Leer (1979), J. Comput. Phys. 32, 101-136: MUSCL, MC limiter.
- Roe (1986), Annu. Rev. Fluid Mech. 18: minmod.
- van Leer (1974), J. Comput. Phys. 14, 361-370: the van Leer limiter.
- Fromm (1968), J. Comput. Phys. 3, 176-189: the unlimited central slope
  ("none"), second order everywhere, also at extrema, but not TVD.
- Venkatakrishnan (1995), J. Comput. Phys. 118, 120-130: slopes left
  unlimited where the data vary by less than a threshold, so that steady
  states converge.
- Jiang & Shu (1996), J. Comput. Phys. 126, 202-228: WENO5 stencils and
  smoothness indicators.
- Borges, Carmona, Costa & Don (2008), J. Comput. Phys. 227, 3191-3211:
  WENO-Z weights with tau5 = |beta0 - beta2|.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
from jax import lax


def _shifted(q, halo: int, n: int, offset: int, axis: int):
    """Cells (halo - 1 + offset) ... (halo + n + offset) of ``q`` along ``axis``."""
    start = halo - 1 + offset
    return lax.slice_in_dim(q, start, start + n + 2, axis=axis)


def _with_sign_of(a, m):
    """sign(a) * m for a != 0, as a select (the same numbers as the product,
    without the NaN and signed-zero handling of ``sign`` in the kernel)."""
    return jnp.where(a > 0, m, -m)


def minmod(a, b):
    """minmod(a, b): the smaller slope if both have the same sign, else 0."""
    return jnp.where(a * b > 0, _with_sign_of(a, jnp.minimum(jnp.abs(a), jnp.abs(b))), 0.0)


def monotonized_central(a, b):
    """van Leer's MC limiter: minmod(2a, 2b, (a + b)/2)."""
    m = jnp.minimum(jnp.minimum(2 * jnp.abs(a), 2 * jnp.abs(b)), 0.5 * jnp.abs(a + b))
    return jnp.where(a * b > 0, _with_sign_of(a, m), 0.0)


def van_leer(a, b):
    """van Leer's harmonic limiter: 2ab/(a + b) if ab > 0, else 0."""
    same = a * b > 0
    denom = jnp.where(same, a + b, 1.0)
    return jnp.where(same, 2 * a * b / denom, 0.0)


def unlimited(a, b):
    """The central slope (a + b)/2, never limited (Fromm 1968): second order
    also at smooth extrema, where every TVD limiter clips, but it
    oscillates at jumps; for smooth flows and verification."""
    return 0.5 * (a + b)


LIMITERS: dict[str, Callable] = {
    "minmod": minmod,
    "mc": monotonized_central,
    "van_leer": van_leer,
    "none": unlimited,
}
TVD_LIMITERS = ("minmod", "mc", "van_leer")
"""The limiters of LIMITERS that keep the scheme total-variation diminishing."""


SLOPE_THRESHOLD = 0.01
"""Default ``slope_threshold`` of :class:`Muscl` (dimensionless)."""


@dataclass(frozen=True)
class Muscl:
    """Piecewise-linear MUSCL reconstruction with a slope limiter (2nd order).

    slope_threshold: where both one-sided differences of a cell are smaller
    in magnitude than ``slope_threshold`` times the cell's ``scale`` (passed
    to :meth:`half_slope`, e.g. the depth for h and eta, the gravity-wave
    speed for velocities), the slope is the unlimited central one, (a + b)/2
    (Venkatakrishnan 1995). The limiters' switches (to 0 at an extremum, to
    their steep 2a/2b branches) acting on such small variations keep a
    near-steady flow in a limit cycle (docs/numerics.md, steady states).
    0 (or no ``scale``): always limited.
    """

    limiter: str = "mc"
    halo: int = 2
    stencil_radius: int = 1
    slope_threshold: float = SLOPE_THRESHOLD

    def half_slope(self, q, n: int, axis: int, scale=None):
        """Half the limited slope times the cell width, for the n + 2 cells:
        the faces are centre -/+ this (units of q). ``scale``: the n + 2
        cells' scale of q for ``slope_threshold`` (units of q), or None."""
        limit = LIMITERS[self.limiter]
        centre = _shifted(q, self.halo, n, 0, axis)
        d_lo = centre - _shifted(q, self.halo, n, -1, axis)
        d_hi = _shifted(q, self.halo, n, 1, axis) - centre
        slope = limit(d_lo, d_hi)
        if scale is not None and self.slope_threshold > 0:
            small = jnp.maximum(jnp.abs(d_lo), jnp.abs(d_hi)) < self.slope_threshold * scale
            slope = jnp.where(small, 0.5 * (d_lo + d_hi), slope)
        return 0.5 * slope

    def __call__(self, q, n: int, axis: int):
        centre = _shifted(q, self.halo, n, 0, axis)
        half_slope = self.half_slope(q, n, axis)
        return centre - half_slope, centre + half_slope


@dataclass(frozen=True)
class Weno5Z:
    """Fifth-order WENO-Z reconstruction (Borges et al. 2008), power p = 2."""

    halo: int = 3
    stencil_radius: int = 2
    power: int = 2

    def _upper_face(self, qm2, qm1, q0, qp1, qp2, eps):
        """Value at x_{i+1/2} from the left-biased stencil i-2..i+2."""
        p0 = (2 * qm2 - 7 * qm1 + 11 * q0) / 6
        p1 = (-qm1 + 5 * q0 + 2 * qp1) / 6
        p2 = (2 * q0 + 5 * qp1 - qp2) / 6
        b0 = 13 / 12 * (qm2 - 2 * qm1 + q0) ** 2 + 0.25 * (qm2 - 4 * qm1 + 3 * q0) ** 2
        b1 = 13 / 12 * (qm1 - 2 * q0 + qp1) ** 2 + 0.25 * (qm1 - qp1) ** 2
        b2 = 13 / 12 * (q0 - 2 * qp1 + qp2) ** 2 + 0.25 * (3 * q0 - 4 * qp1 + qp2) ** 2
        tau = jnp.abs(b0 - b2)
        a0 = 0.1 * (1 + (tau / (b0 + eps)) ** self.power)
        a1 = 0.6 * (1 + (tau / (b1 + eps)) ** self.power)
        a2 = 0.3 * (1 + (tau / (b2 + eps)) ** self.power)
        # Written as p1 + sum_k w_k (p_k - p1) rather than sum_k w_k p_k: the
        # same value, but the derivative of the weights (huge where the data
        # are almost constant and beta ~ 0) multiplies differences of the
        # candidate values, which are small there, instead of the values
        # themselves, so jvp/vjp stay free of catastrophic cancellation.
        return p1 + (a0 * (p0 - p1) + a2 * (p2 - p1)) / (a0 + a1 + a2)

    def __call__(self, q, n: int, axis: int):
        eps = 1e-36 if q.dtype == jnp.float64 else 1e-18
        s = [_shifted(q, self.halo, n, k, axis) for k in (-2, -1, 0, 1, 2)]
        plus = self._upper_face(s[0], s[1], s[2], s[3], s[4], eps)
        minus = self._upper_face(s[4], s[3], s[2], s[1], s[0], eps)
        return minus, plus


def stencil_all(mask, reconstruction, n: int, axis: int):
    """True where every cell of the reconstruction stencil of a cell is True.

    Used to fall back to first order next to dry cells, where a high-order
    stencil would mix the free surface with the dry bed.
    """
    out = _shifted(mask, reconstruction.halo, n, 0, axis)
    for k in range(1, reconstruction.stencil_radius + 1):
        out = out & _shifted(mask, reconstruction.halo, n, -k, axis)
        out = out & _shifted(mask, reconstruction.halo, n, k, axis)
    return out


def centre_values(q, reconstruction, n: int, axis: int):
    """The cell averages of the n + 2 cells that reconstruction returns faces for."""
    return _shifted(q, reconstruction.halo, n, 0, axis)


SCHEMES = ("muscl", "weno5z")


def make_reconstruction(scheme: str, limiter: str = "mc",
                        slope_threshold: float = SLOPE_THRESHOLD):
    """The reconstruction named ``scheme`` ('muscl' with ``limiter`` and
    ``slope_threshold``, or 'weno5z')."""
    if scheme == "muscl":
        if limiter not in LIMITERS:
            raise ValueError(f"unknown limiter {limiter!r}; valid: {', '.join(LIMITERS)}")
        return Muscl(limiter=limiter, slope_threshold=float(slope_threshold))
    if scheme == "weno5z":
        return Weno5Z()
    raise ValueError(f"unknown scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
