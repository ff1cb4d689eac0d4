"""Named test cases: initial conditions, domain defaults and exact solutions.

Each case sets up the global initial state (and bottom b) on the cell
centres of a tile and, where one exists, the exact solution at time t
(:mod:`dycore.cases.base`). The plane cases are in :mod:`dycore.cases.plane`,
the verification cases of docs/verification.md (Thacker's paraboloid, the
Gaussian vortex) in :mod:`dycore.cases.verification`, the SWASHES flows over a
bump (inflow/outflow) in :mod:`dycore.cases.swashes`; this module is the
registry. The cubed sphere's cases (their config side) are in
:mod:`dycore.cases.sphere`.
"""
from __future__ import annotations

from dycore.cases.base import Case, stoker_middle_state
from dycore.cases.plane import PLANE_CASES
from dycore.cases.sphere import SPHERE_CASES
from dycore.cases.swashes import SWASHES_CASES
from dycore.cases.verification import VERIFICATION_CASES
from dycore.errors import ConfigError

CASES: dict[str, Case] = {**PLANE_CASES, **VERIFICATION_CASES, **SWASHES_CASES, **SPHERE_CASES}


def is_sphere(name) -> bool:
    """Whether ``name`` is a case on the cubed sphere (:mod:`dycore.cases.sphere`)."""
    return name in CASES and CASES[name].geometry == "sphere"


def get_case(name: str) -> Case:
    if name not in CASES:
        raise ConfigError(f"config key 'case': unknown value {name!r}; valid: {', '.join(CASES)}")
    return CASES[name]


__all__ = ["CASES", "Case", "get_case", "is_sphere", "stoker_middle_state"]
