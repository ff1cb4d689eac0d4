"""Error norms, observed convergence orders and conservation checks.

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
