"""Run configuration: one flat set of keys, shared by TOML files, the command
line (``--set key=value``) and the Python API (``Config(**kwargs)``).

Keys left at ``None`` take the chosen test case's default (domain size,
boundaries, end time, physics); :meth:`Config.resolved` fills them in and
validates everything, raising :class:`ConfigError` with a one-line message
that names the key.
"""
from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field

from dycore.cases import CASES, get_case, is_sphere
from dycore.checks import (DTYPES, MAX_CELLS, _check_choice, _check_date,  # noqa: F401
                           _check_float, _check_int, _normal, _show, check_number,
                           check_initial_file, check_run_keys)
from dycore.errors import ConfigError
from dycore.operators.reconstruction import LIMITERS, SCHEMES, make_reconstruction
from dycore.operators.riemann import RIEMANN_SOLVERS
from dycore.timestepping import TIME_STEPPERS
from parallel.decomposition import parse_procs
from parallel.errors import DecompositionError
from dycore.open_boundaries import OPEN_KINDS, check_open_boundary
from parallel.ghosts import BOUNDARY_KINDS

DEFAULT_FRAMES = 10
"""Output frames of a run whose case sets no output interval: t_end / 10."""


def key(default, unit: str, help: str):
    """A config key: its default (a callable makes a fresh one, e.g. dict),
    unit and one-line help, kept in the field's metadata; ``--help`` and the
    docs' key table are generated from them (:func:`key_table`)."""
    meta = {"unit": unit, "help": help}
    if callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def key_table() -> list[tuple[str, str, str, str]]:
    """(key, unit, default, help) of every config key, in definition order."""
    rows = []
    for f in dataclasses.fields(Config):
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        shown = "case default" if default is None else repr(default)
        rows.append((f.name, f.metadata.get("unit", ""), shown, f.metadata.get("help", "")))
    return rows


def _side_key(side: str):
    return key(None, "", f"{side} boundary: periodic, wall, open, inflow, outflow")


def _discharge_key(side: str):
    return key(None, "m^2/s", f"{side} inflow: discharge into the domain, a number or a "
               "time series [[t, q], ...] (t in s, piecewise linear)")


def _depth_key(side: str):
    return key(None, "m", f"{side} inflow/outflow: depth, a number or a time series "
               "[[t, h], ...]")


@dataclass(frozen=True)
class Config:
    """All settings of a run. Lengths in m, times in s, rates in 1/s."""

    case: str = key("unstable_jet", "", "test case (python -m dycore.run --list-cases)")
    case_params: dict = key(dict, "", "the case's parameters, a table (see --list-cases)")
    nx: int | None = key(None, "cells", "cells in x")
    ny: int | None = key(None, "cells", "cells in y")
    lx: float | None = key(None, "m", "domain length in x")
    ly: float | None = key(None, "m", "domain length in y")
    x0: float | None = key(None, "m", "x of the domain's western edge")
    y0: float | None = key(None, "m", "y of the domain's southern edge")
    bc_west: str | None = _side_key("western")
    bc_east: str | None = _side_key("eastern")
    bc_south: str | None = _side_key("southern")
    bc_north: str | None = _side_key("northern")
    bc_west_discharge: float | list | None = _discharge_key("west")
    bc_east_discharge: float | list | None = _discharge_key("east")
    bc_south_discharge: float | list | None = _discharge_key("south")
    bc_north_discharge: float | list | None = _discharge_key("north")
    bc_west_depth: float | list | None = _depth_key("west")
    bc_east_depth: float | list | None = _depth_key("east")
    bc_south_depth: float | list | None = _depth_key("south")
    bc_north_depth: float | list | None = _depth_key("north")
    t_end: float | None = key(None, "s", "end time")
    dt: float | None = key(None, "s", "fixed time step (unset: CFL-based)")
    cfl: float = key(0.45, "", "CFL number of the CFL-based time step")
    scheme: str = key("muscl", "", "reconstruction: " + ", ".join(SCHEMES))
    limiter: str = key("mc", "", "MUSCL slope limiter: " + ", ".join(LIMITERS))
    slope_threshold: float = key(0.01, "", "MUSCL: no limiting where both differences are "
                                 "below this x depth (or x sqrt(g h))")
    riemann: str = key("hllc", "", "Riemann solver: " + ", ".join(RIEMANN_SOLVERS))
    time_stepper: str = key("ssp_rk3", "", "time stepper: " + ", ".join(TIME_STEPPERS))
    g: float | None = key(None, "m/s^2", "gravitational acceleration (default 9.81)")
    f0: float | None = key(None, "1/s", "Coriolis parameter at the domain's mid y")
    beta: float | None = key(None, "1/(m s)", "meridional gradient of the Coriolis parameter")
    drag_linear: float | None = key(None, "1/s", "linear (Rayleigh) drag rate")
    drag_quadratic: float | None = key(None, "", "quadratic bottom-drag coefficient C_d")
    dry_tolerance: float = key(1e-10, "m", "depth below which a cell counts as dry")
    dtype: str = key("float64", "", "floating-point type: " + ", ".join(DTYPES))
    initial_file: str | None = key(None, "", "netCDF-4/HDF5 file with the initial state and bed "
                                   "(unset: the case's)")
    output: str | None = key(None, "", "HDF5 output file (unset: no output)")
    output_interval: float | None = key(None, "s", "model time between output frames "
                                        "(unset: the case's, else t_end / 10)")
    outputs: list = key(list, "", "derived output fields: u, v, eta, vorticity, pv, energy")
    tracer: bool | None = key(None, "", "true: carry the passive tracer hq (sphere cases "
                              "but williamson1; unset: none)")
    start_date: str = key("2000-01-01 00:00:00", "date",
                          "UTC date of t = 0, the output's 'seconds since' origin")
    procs: list | None = key(None, "", "MPI process grid [PX, PY] (unset: chosen)")
    progress_interval: float = key(60.0, "s", "wall time between progress lines in batch logs")

    # -- construction -------------------------------------------------------
    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        check_keys(values)
        return cls(**values)

    @classmethod
    def from_toml(cls, path, *, as_dict: bool = False):
        """Read a flat TOML file (a ``[case_params]`` table is allowed). With
        ``as_dict``, the key -> value dict as written (keys checked), for
        merging with other sources: the command-line driver's flags win
        over it, and keys the file leaves out must stay unset."""
        name = str(path)
        try:
            with open(path, "rb") as fh:
                values = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {name!r} not found") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {name!r} is a directory") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {name!r} is not valid TOML: {err}") from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"config file {name!r} is not valid TOML: not UTF-8 text "
                              f"(byte {err.start})") from None
        except RecursionError:
            raise ConfigError(f"config file {name!r} is not valid TOML for a config: nested "
                              f"too deeply") from None
        except (OSError, MemoryError) as err:
            raise ConfigError(f"config file {name!r} cannot be read: "
                              f"{getattr(err, 'strerror', None) or type(err).__name__}") from None
        if as_dict:
            check_keys(values)
            return values
        return cls.from_dict(values)

    def replace(self, **changes) -> "Config":
        check_keys(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolved(self) -> "Config":
        """A copy with every case default filled in, validated."""
        _check_choice("case", self.case, tuple(CASES))
        case = get_case(self.case)
        if case.geometry == "sphere":  # its own keys (dycore/cases/sphere.py)
            return case.resolve_config(self)
        params = case.resolve_params(self.case_params)
        filled = {"case_params": params}
        defaults = case.config_defaults(params)
        for key, value in defaults.items():
            if getattr(self, key) is None:
                filled[key] = value
        for key in ("g", "f0", "beta", "drag_linear", "drag_quadratic", "x0", "y0"):
            if getattr(self, key) is None and key not in filled:
                filled[key] = {"g": 9.81}.get(key, 0.0)
        t_end = filled.get("t_end", self.t_end)
        if self.output_interval is None and "output_interval" not in filled \
                and isinstance(t_end, (int, float)) and t_end > 0:
            filled["output_interval"] = t_end / DEFAULT_FRAMES
        cfg = dataclasses.replace(self, **filled)
        cfg.validate()
        case.check_config(cfg)
        return cfg

    # -- validation ---------------------------------------------------------
    def validate(self) -> None:
        if is_sphere(self.case):
            return CASES[self.case].validate_config(self)
        from dycore.diagnostics import DERIVED

        _check_choice("scheme", self.scheme, SCHEMES)
        check_run_keys(self, DERIVED)
        for key in ("bc_west", "bc_east", "bc_south", "bc_north"):
            _check_choice(key, getattr(self, key), BOUNDARY_KINDS + OPEN_KINDS)
            check_open_boundary(key, getattr(self, key), getattr(self, key + "_discharge"),
                                getattr(self, key + "_depth"),
                                lambda k, v: _check_float(k, v, positive=True,
                                                          dtype=self.dtype))
        if (self.bc_west == "periodic") != (self.bc_east == "periodic"):
            raise ConfigError("config keys 'bc_west'/'bc_east': periodic must be set on both sides")
        if (self.bc_south == "periodic") != (self.bc_north == "periodic"):
            raise ConfigError("config keys 'bc_south'/'bc_north': periodic must be set on both sides")
        for key in ("nx", "ny"):
            _check_int(key, getattr(self, key), minimum=1, maximum=MAX_CELLS)
        for key in ("lx", "ly", "dry_tolerance"):
            _check_float(key, getattr(self, key), positive=True, dtype=self.dtype)
        for key in ("x0", "y0", "f0", "beta"):
            _check_float(key, getattr(self, key), dtype=self.dtype)
        for key in ("drag_linear", "drag_quadratic", "slope_threshold"):
            _check_float(key, getattr(self, key), non_negative=True, dtype=self.dtype)
        for key, length, n in (("lx", self.lx, self.nx), ("ly", self.ly, self.ny)):
            spacing = length / n
            if not _normal(spacing, self.dtype):
                raise ConfigError(f"config key {key!r}: {length:g} m over {n} cells gives a cell "
                                  f"size of {spacing:g} m, not a normal {self.dtype} number; "
                                  f"use a larger {key} or fewer cells")
        halo = make_reconstruction(self.scheme, self.limiter).halo
        for key, n, sides in (("nx", self.nx, (self.bc_west, self.bc_east)),
                              ("ny", self.ny, (self.bc_south, self.bc_north))):
            if "wall" in sides and n < halo:
                raise ConfigError(f"config key {key!r}: a wall boundary needs at least {halo} "
                                  f"cells for the {self.scheme} scheme's halo, got {n}")
        if self.tracer:
            raise ConfigError(f"config key 'tracer': the passive tracer is carried on the "
                              f"cubed sphere's cases only, not on the plane's case "
                              f"{self.case!r}")
        check_initial_file(self.initial_file)
        if self.procs is not None:
            if not isinstance(self.procs, (list, tuple)):
                raise ConfigError(f"config key 'procs': must be two positive integers [PX, PY], "
                                  f"got {self.procs!r}")
            try:
                parse_procs(self.procs)  # the one check of a process grid's shape
            except DecompositionError as err:
                raise ConfigError(str(err)) from None


def check_keys(values: dict) -> None:
    valid = Config.keys()
    for key in values:
        if key not in valid:
            near = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"unknown config key {key!r}{hint}; valid keys: {', '.join(valid)}")
