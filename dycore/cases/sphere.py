"""The cases on the cubed sphere, as the config sees them: their names,
parameters and defaults, and the sphere's own config rules. The initial
states themselves are :mod:`dycore.sphere.cases` and
:mod:`dycore.sphere.galewsky` (they need the grid, hence JAX; this module
does not import them, so that ``--list-cases`` and config checks stay light).

On the sphere ``nx`` is the number of cells along each face edge (C nx:
6 nx^2 cells); the keys of the plane's rectangle (``ny``, ``lx``, ``ly``,
``x0``, ``y0``, the boundaries, ``f0``, ``beta``, drag, ``procs``) are
refused with a one-line error naming the key, and the
plane's case parameters are unknown here as the sphere's are on the plane.

Run lengths and constants follow the papers: Williamson et al. (1992,
J. Comput. Phys. 102, 211-224): test 1 12 days, test 2 5 days, test 5
15 days, test 6 14 days, g = 9.80616 m/s^2; Galewsky, Scott & Polvani
(2004, Tellus 56A, 429-440): 6 days.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dycore.cases.base import Case
from dycore.checks import MAX_CELLS, _check_int, _show, check_initial_file, check_run_keys
from dycore.errors import ConfigError

DAY = 86400.0
BELLS = ("cosine", "gaussian")
"""Test 1's density shapes (:func:`dycore.sphere.cases.williamson1`)."""
GRAVITY = 9.80616
"""m/s^2 (Williamson et al. 1992)."""
MIN_CELLS = 2
"""Smallest nx: the scheme's halo (2 cells) must fit a face."""
OUTPUTS = ("vorticity",)
"""Derived fields a sphere run may add with ``outputs`` (u, v are always written)."""

PLANE_ONLY = ("ny", "lx", "ly", "x0", "y0", "bc_west", "bc_east", "bc_south", "bc_north",
              "bc_west_discharge", "bc_east_discharge", "bc_south_discharge",
              "bc_north_discharge", "bc_west_depth", "bc_east_depth", "bc_south_depth",
              "bc_north_depth", "f0", "beta", "drag_linear", "drag_quadratic", "procs")
"""Config keys of the plane that a sphere case refuses when set."""
FIXED = {"scheme": "muscl", "slope_threshold": 0.01, "dry_tolerance": 1e-10}
"""Keys with a default that the sphere's numerics do not (yet) let one change."""

_WHY = {"ny": "the cubed sphere has nx x nx cells on each of its 6 faces; set nx only",
        "procs": "the sphere runs on 1 or 6 P^2 ranks, each a P x P tile of one face, "
                 "chosen from the number of ranks"}


def refuse_plane_keys(cfg) -> None:
    """ConfigError for a plane-only key set on a sphere case (or a fixed key changed)."""
    for key in PLANE_ONLY:
        if getattr(cfg, key) is not None:
            why = _WHY.get(key, "the cubed sphere's grid is set by nx alone, its Coriolis "
                                "parameter by the Earth's rotation, and it has no boundaries")
            raise ConfigError(f"config key {key!r}: not used by the sphere case {cfg.case!r} "
                              f"({why})")
    for key, value in FIXED.items():
        if getattr(cfg, key) != value:
            raise ConfigError(f"config key {key!r}: the cubed sphere supports only {value!r} "
                              f"(case {cfg.case!r}), got {_show(getattr(cfg, key))}")


@dataclass(frozen=True)
class SphereCase(Case):
    """A case of :class:`dycore.sphere.SphereModel`: ``model_case`` its name
    there, ``days`` its run length, ``nx_default`` its default C nx."""

    model_case: str = ""
    days: float = 1.0
    nx_default: int = 48

    geometry = "sphere"

    def check_params(self, p):
        if "perturbed" in p and not isinstance(p["perturbed"], bool):
            raise ConfigError(f"config key 'case_params.perturbed': must be true or false, "
                              f"got {_show(p['perturbed'])}")

    def config_defaults(self, p):
        # output_interval: t_end / 10, as for the plane's cases
        return {"nx": self.nx_default, "t_end": self.days * DAY, "g": GRAVITY}

    def model_options(self, p) -> dict:
        """Keyword arguments of SphereModel from the case parameters."""
        return {k: p[k] for k in ("alpha", "perturbed", "bell") if k in p}

    def resolve_config(self, cfg):
        """``cfg`` with the case's defaults filled in, validated."""
        refuse_plane_keys(cfg)
        params = self.resolve_params(cfg.case_params)
        filled = {"case_params": params}
        for key, value in self.config_defaults(params).items():
            if getattr(cfg, key) is None:
                filled[key] = value
        t_end = filled.get("t_end", cfg.t_end)
        if cfg.output_interval is None and "output_interval" not in filled \
                and isinstance(t_end, (int, float)) and t_end > 0:
            filled["output_interval"] = t_end / 10
        out = dataclasses.replace(cfg, **filled)
        self.validate_config(out)
        return out

    def validate_config(self, cfg) -> None:
        refuse_plane_keys(cfg)
        check_run_keys(cfg, OUTPUTS)
        _check_int("nx", cfg.nx, minimum=MIN_CELLS, maximum=MAX_CELLS)
        if cfg.tracer not in (True, False, None):
            raise ConfigError(f"config key 'tracer': must be true or false, got "
                              f"{_show(cfg.tracer)}")
        if cfg.tracer and self.model_case == "williamson1":
            raise ConfigError("config key 'tracer': case 'williamson1' is itself the advection "
                              "of a passive density (h); it carries no second tracer")
        check_initial_file(cfg.initial_file)


_ALPHA = {"alpha": 0.0}
_RAD = {"alpha": "rad"}
SPHERE_CASES = {
    "williamson1": SphereCase(
        "williamson1", "cubed sphere: cosine bell (or, bell = gaussian, a Gaussian hill) carried "
        "once around the sphere by solid-body rotation about an axis tilted by alpha "
        "(Williamson et al. 1992 test 1; 12 days)",
        {**_ALPHA, "bell": "cosine"}, choices={"bell": BELLS}, units=dict(_RAD),
        model_case="williamson1", days=12.0),
    "williamson2": SphereCase(
        "williamson2", "cubed sphere: steady zonal geostrophic flow about an axis tilted by "
        "alpha, exact solution = initial state (Williamson et al. 1992 test 2; 5 days)",
        dict(_ALPHA), units=dict(_RAD), model_case="williamson2", days=5.0),
    "williamson5": SphereCase(
        "williamson5", "cubed sphere: zonal flow over an isolated mountain (Williamson et al. "
        "1992 test 5; 15 days)", model_case="williamson5", days=15.0),
    "williamson6": SphereCase(
        "williamson6", "cubed sphere: Rossby-Haurwitz wave 4 (Williamson et al. 1992 test 6; "
        "14 days)", model_case="williamson6", days=14.0),
    "galewsky": SphereCase(
        "galewsky", "cubed sphere: barotropically unstable mid-latitude jet, with the height "
        "bump that triggers it unless perturbed = false (Galewsky et al. 2004; 6 days)",
        {"perturbed": True}, model_case="galewsky", days=6.0, nx_default=96),
    "sphere_lake_at_rest": SphereCase(
        "sphere_lake_at_rest", "cubed sphere: fluid at rest with a flat surface over test 5's "
        "mountain, must stay at rest (well-balancing; 1 day)", model_case="lake_at_rest",
        days=1.0, nx_default=24),
}
