"""Error norms, observed convergence orders, conservation checks, and the
derived fields a run can write (config key ``outputs``).

Normalised norms after Williamson et al. (1992), J. Comput. Phys. 102,
211-224, eqs. (82)-(84), on a uniform grid (all cell areas equal, so the
area weights cancel):

    l1   = sum|q - q_T| / sum|q_T|
    l2   = sqrt(sum (q - q_T)^2) / sqrt(sum q_T^2)
    linf = max|q - q_T| / max|q_T|

For a wave on a resting layer pass ``background`` (e.g. the mean depth H),
so the norms measure the error relative to the perturbation q_T - H rather
than to H itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dycore.equations.base import Field


@dataclass(frozen=True)
class ErrorNorms:
    l1: float
    l2: float
    linf: float

    def as_dict(self) -> dict:
        return {"l1": self.l1, "l2": self.l2, "linf": self.linf}


def error_norms(computed, exact, background: float = 0.0) -> ErrorNorms:
    """Williamson-normalised l1, l2 and linf errors of ``computed`` (numpy arrays)."""
    q = np.asarray(computed, dtype=np.float64)
    ref = np.asarray(exact, dtype=np.float64)
    err = q - ref
    ref = ref - background
    return ErrorNorms(
        l1=float(np.sum(np.abs(err)) / np.sum(np.abs(ref))),
        l2=float(np.sqrt(np.sum(err * err)) / np.sqrt(np.sum(ref * ref))),
        linf=float(np.max(np.abs(err)) / np.max(np.abs(ref))),
    )


def l1_error(computed, exact, cell_area: float) -> float:
    """Unnormalised L1 error: integral of |q - q_T| (units of q times m^2)."""
    return float(np.sum(np.abs(np.asarray(computed) - np.asarray(exact))) * cell_area)


def observed_order(e_coarse: float, e_fine: float, n_coarse: int, n_fine: int) -> float:
    """p = log(e1/e2) / log(N2/N1) between resolutions N1 < N2."""
    return math.log(e_coarse / e_fine) / math.log(n_fine / n_coarse)


def observed_orders(errors, resolutions) -> list[float]:
    """Orders between consecutive (resolution, error) pairs."""
    return [observed_order(errors[i], errors[i + 1], resolutions[i], resolutions[i + 1])
            for i in range(len(errors) - 1)]


# ------------------------------------------------------------------ derived fields
DERIVED = {
    "u": Field("u", "m s-1", "x velocity, hu / h (0 in dry cells)", "sea_water_x_velocity"),
    "v": Field("v", "m s-1", "y velocity, hv / h (0 in dry cells)", "sea_water_y_velocity"),
    "eta": Field("eta", "m", "surface elevation above the datum z = 0, h + b"),
    "vorticity": Field("vorticity", "s-1", "relative vorticity dv/dx - du/dy (centred "
                       "differences of cell-centre velocities)"),
    "pv": Field("pv", "m-1 s-1", "shallow-water potential vorticity (relative vorticity + "
                "f) / h (NaN in dry cells)"),
    "energy": Field("energy", "m3 s-2", "total energy per unit area divided by the density, "
                    "h (u^2 + v^2)/2 + g h (h/2 + b)"),
}
"""The derived fields that ``outputs = [...]`` may name. Standard names only
where the CF table has one that means this quantity: x/y velocity
(``sea_water_x_velocity``: the depth-averaged velocity of a one-layer model
is the velocity of the whole column); none for eta and b (CF's surface
heights and bed depths are relative to the geoid or mean sea level; our
datum z = 0 is the case's reference level), and none for the
shallow-water vorticity, potential vorticity and energy density."""

NEEDS_HALO = ("vorticity", "pv")
"""Derived fields that need the neighbours of a cell (halo-filled state)."""


def velocity(h, hu, hv, dry_tolerance: float):
    """(u, v) = (hu / h, hv / h) in m/s, 0 where h <= dry_tolerance."""
    xp = _namespace(h)
    wet = h > dry_tolerance
    safe = xp.where(wet, h, 1.0)
    return xp.where(wet, hu / safe, 0.0), xp.where(wet, hv / safe, 0.0)


def relative_vorticity(u_padded, v_padded, dx: float, dy: float, halo: int):
    """dv/dx - du/dy (1/s) on the interior cells, by centred differences of
    the cell-centre velocities (arrays with ``halo`` >= 1 ghost cells)."""
    k = halo
    ny, nx = u_padded.shape[0] - 2 * k, u_padded.shape[1] - 2 * k
    dv_dx = (v_padded[k:k + ny, k + 1:k + 1 + nx] - v_padded[k:k + ny, k - 1:k - 1 + nx]) / (2 * dx)
    du_dy = (u_padded[k + 1:k + 1 + ny, k:k + nx] - u_padded[k - 1:k - 1 + ny, k:k + nx]) / (2 * dy)
    return dv_dx - du_dy


def potential_vorticity(zeta, f, h, dry_tolerance: float):
    """(zeta + f) / h (1/(m s)), NaN where h <= dry_tolerance."""
    xp = _namespace(h)
    wet = h > dry_tolerance
    return xp.where(wet, (zeta + f) / xp.where(wet, h, 1.0), xp.nan)


def energy_density(h, u, v, b, g):
    """h (u^2 + v^2)/2 + g h (h/2 + b) (m^3/s^2): kinetic plus potential
    energy per unit area divided by the density, potential energy counted
    from z = 0; its area integral is conserved by the exact equations
    without friction."""
    return 0.5 * h * (u * u + v * v) + g * h * (0.5 * h + b)


def derived_fields(names, h, hu, hv, b, g, f, dry_tolerance: float, padded=None,
                   dx: float = 1.0, dy: float = 1.0, halo: int = 0) -> dict:
    """{name: (ny, nx) array} of the derived fields ``names`` (keys of
    :data:`DERIVED`) from a tile's state (h, hu, hv), bed b, gravity g and
    Coriolis parameter f ((ny, 1) or (ny, nx)). ``padded``: (h, hu, hv)
    with ``halo`` ghost cells, needed for :data:`NEEDS_HALO`."""
    u, v = velocity(h, hu, hv, dry_tolerance)
    out = {}
    zeta = None
    if any(n in NEEDS_HALO for n in names):
        up, vp = velocity(*padded, dry_tolerance)
        zeta = relative_vorticity(up, vp, dx, dy, halo)
    for name in names:
        if name == "u":
            out[name] = u
        elif name == "v":
            out[name] = v
        elif name == "eta":
            out[name] = h + b
        elif name == "vorticity":
            out[name] = zeta
        elif name == "pv":
            out[name] = potential_vorticity(zeta, f, h, dry_tolerance)
        elif name == "energy":
            out[name] = energy_density(h, u, v, b, g)
        else:
            raise ValueError(f"unknown derived field {name!r}; valid: {', '.join(DERIVED)}")
    return out


def _namespace(x):
    """numpy for numpy arrays, jax.numpy otherwise (so these work on both)."""
    if isinstance(x, np.ndarray):
        return np
    import jax.numpy as jnp

    return jnp
