"""Approximate Riemann solvers for the shallow-water equations.

Each solver takes the left and right states at a face as depth h (m), normal
velocity un and tangential velocity ut (m/s) and returns the numerical flux
of (h, h un, h ut) through the face, per unit face length (m^2/s, m^3/s^2,
m^3/s^2). Dry states (h = 0) are allowed.

References
- Rusanov (1961); local Lax-Friedrichs flux.
- Harten, Lax & van Leer (1983), SIAM Rev. 25, 35-61: HLL.
- Toro (2001), Shock-Capturing Methods for Free-Surface Shallow Flows,
  Wiley, ch. 10: HLL wave speeds with dry fronts (eqs. 10.22-10.23) and
  the shallow-water HLLC flux for a passive transverse velocity (sec. 10.4).
"""
from __future__ import annotations

from typing import Callable

import jax.numpy as jnp


def _safe_sqrt(x):
    """sqrt with a zero (not infinite) derivative at x = 0."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def physical_flux(h, un, ut, g):
    qn = h * un
    return qn, qn * un + 0.5 * g * h * h, qn * ut


def _hll_speeds(hl, ul, hr, ur, g):
    cl, cr = _safe_sqrt(g * hl), _safe_sqrt(g * hr)
    s_left = jnp.minimum(ul - cl, ur - cr)
    s_right = jnp.maximum(ul + cl, ur + cr)
    # Dry fronts (Toro 2001, eq. 10.23).
    s_left = jnp.where(hl > 0, s_left, ur - 2 * cr)
    s_right = jnp.where(hr > 0, s_right, ul + 2 * cl)
    return s_left, s_right


def rusanov(hl, ul, vl, hr, ur, vr, g):
    """Local Lax-Friedrichs flux: central flux plus max-wave-speed dissipation."""
    fl = physical_flux(hl, ul, vl, g)
    fr = physical_flux(hr, ur, vr, g)
    a = jnp.maximum(jnp.abs(ul) + _safe_sqrt(g * hl), jnp.abs(ur) + _safe_sqrt(g * hr))
    ul_cons = (hl, hl * ul, hl * vl)
    ur_cons = (hr, hr * ur, hr * vr)
    return tuple(0.5 * (a_ + b_) - 0.5 * a * (r_ - l_)
                 for a_, b_, l_, r_ in zip(fl, fr, ul_cons, ur_cons))


def _hll_combine(fl, fr, ql, qr, s_left, s_right):
    width = s_right - s_left
    safe_width = jnp.where(width > 0, width, 1.0)
    star = (s_right * fl - s_left * fr + s_left * s_right * (qr - ql)) / safe_width
    return jnp.where(s_left >= 0, fl, jnp.where(s_right <= 0, fr, star))


def hll(hl, ul, vl, hr, ur, vr, g):
    """HLL flux with Einfeldt-type bounds and dry-front speeds."""
    s_left, s_right = _hll_speeds(hl, ul, hr, ur, g)
    fl = physical_flux(hl, ul, vl, g)
    fr = physical_flux(hr, ur, vr, g)
    ql = (hl, hl * ul, hl * vl)
    qr = (hr, hr * ur, hr * vr)
    return tuple(_hll_combine(a, b, c, d, s_left, s_right) for a, b, c, d in zip(fl, fr, ql, qr))


def hllc_upwind(hl, ul, vl, hr, ur, vr, g):
    """HLLC in upwind form: (mass flux, normal momentum flux, upwinded
    tangential velocity); the tangential momentum flux is their product
    ``f_mass * vt`` (see :func:`hllc`)."""
    s_left, s_right = _hll_speeds(hl, ul, hr, ur, g)
    qnl, qnr = hl * ul, hr * ur
    f_mass = _hll_combine(qnl, qnr, hl, hr, s_left, s_right)
    f_mom = _hll_combine(qnl * ul + 0.5 * g * hl * hl, qnr * ur + 0.5 * g * hr * hr,
                         qnl, qnr, s_left, s_right)
    num = s_left * hr * (ur - s_right) - s_right * hl * (ul - s_left)
    den = hr * (ur - s_right) - hl * (ul - s_left)
    safe_den = jnp.where(den != 0, den, 1.0)
    s_star = jnp.where(den != 0, num / safe_den, 0.5 * (s_left + s_right))
    vt = jnp.where(s_left >= 0, vl, jnp.where(s_right <= 0, vr, jnp.where(s_star >= 0, vl, vr)))
    return f_mass, f_mom, vt


def hllc(hl, ul, vl, hr, ur, vr, g):
    """HLLC flux: HLL for (h, h un); the tangential velocity is upwinded by the
    contact speed s* (Toro 2001, eqs. 10.26-10.29).

    The tangential flux is ``f_mass * vt`` with vt the upwinded tangential
    velocity: for s_left >= 0 the mass flux is exactly hl ul, so this equals
    the left physical flux (hl ul) vl bit for bit (likewise on the right),
    and in the star region it is Toro's f_mass * v_{L or R}.
    """
    f_mass, f_mom, vt = hllc_upwind(hl, ul, vl, hr, ur, vr, g)
    return f_mass, f_mom, f_mass * vt


# Solvers whose tangential flux is f_mass * (an upwinded tangential velocity):
# the sweep may then store the velocity and form the product itself.
UPWIND_FORMS: dict[Callable, Callable] = {hllc: hllc_upwind}


RIEMANN_SOLVERS: dict[str, Callable] = {"rusanov": rusanov, "hll": hll, "hllc": hllc}


def make_riemann(name: str):
    if name not in RIEMANN_SOLVERS:
        raise ValueError(f"unknown riemann solver {name!r}; valid: {', '.join(RIEMANN_SOLVERS)}")
    return RIEMANN_SOLVERS[name]
