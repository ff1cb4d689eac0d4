"""The command line: the argument parser, and the merge of the config keys
from a restart file, the TOML file, the flags and ``--set`` (later ones
winning), plus the command line that resumes a run.

A bad command line raises :class:`UsageError` instead of argparse's exit, so
that the driver prints its usual one line and every rank exits with status 2.
"""
from __future__ import annotations

import argparse
import tomllib

from dycore.cases import CASES
from dycore.config import Config, ConfigError, check_keys, key_table
from dycore.io import config_from_json

LAUNCH_KEYS = ("procs", "output", "initial_file", "progress_interval")
"""Config keys taken from a restart file that belong to the launch, not the
run: a restarted run picks its own process grid and output file, and its
state and bed come from the restart file, not from the initial file."""

FLAG_KEYS = {"case": "case", "nx": "nx", "ny": "ny", "t_end": "t_end", "dt": "dt",
             "cfl": "cfl", "scheme": "scheme", "limiter": "limiter", "riemann": "riemann",
             "time_stepper": "time_stepper", "output": "output",
             "initial": "initial_file", "output_interval": "output_interval", "procs": "procs",
             "progress_interval": "progress_interval"}
"""argparse attribute -> config key, for the flags that set a config key."""


class UsageError(Exception):
    """Bad command line; exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _number(value) -> str:
    if isinstance(value, bool):  # as TOML and --set write it
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else repr(value)


def keys_help() -> str:
    """Every config key with its unit, default and meaning (from the
    metadata of :class:`Config`'s fields): the epilog of ``--help``."""
    filled = set()
    for case in CASES.values():
        params = case.resolve_params({})
        filled |= {k for k, v in case.config_defaults(params).items() if v is not None}
    filled |= {"g", "f0", "beta", "drag_linear", "drag_quadratic", "x0", "y0", "output_interval"}
    lines = ["config keys (TOML file, --set KEY=VALUE; unit, default):"]
    for name, unit, default, text in key_table():
        if default == "case default" and name not in filled:
            default = "unset"
        lines.append(f"  {name:18s} {unit or '-':9s} {default:15s} {text}")
    return "\n".join(lines)


def _wrap(label: str, items: list[str], width: int = 100) -> str:
    """``label: a, b, c`` over lines of at most ``width`` characters, never
    breaking inside an item."""
    lines, line = [], f"  {label}:"
    for k, item in enumerate(items):
        piece = f" {item}" + ("," if k < len(items) - 1 else "")
        if len(line) + len(piece) > width and line.strip():
            lines.append(line)
            line = "     "
        line += piece
    return "\n".join(lines + [line])


def cases_text() -> str:
    """``--list-cases``: each case, what it tests, its parameters with their
    defaults (and units or choices), and the config keys it fills in."""
    units = {name: unit for name, unit, _, _ in key_table()}
    out = []
    for name, case in CASES.items():
        params = case.resolve_params({})
        out.append(f"{name}: {case.summary}")
        shown = []
        for key, value in params.items():
            extra = (f" ({' | '.join(case.choices[key])})" if key in case.choices
                     else f" {case.units[key]}" if key in case.units else "")
            shown.append(f"{key} = {_number(value)}{extra}")
        out.append(_wrap("case_params", shown or ["(none)"]))
        defaults = Config(case=name).resolved()
        filled = [f"{k} = {_number(getattr(defaults, k))}"
                  + (f" {units[k]}" if units.get(k) not in ("", "cells") else "")
                  for k in case.config_defaults(params)
                  if k not in ("g", "beta", "output_interval")]
        filled.append(f"output_interval = {_number(defaults.output_interval)} s")
        out.append(_wrap("defaults", filled))
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dycore.run",
                description="Run the finite-volume shallow-water dycore (also under mpirun -n N).",
                epilog=keys_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", metavar="CONFIG.toml",
                   help="TOML file with config keys (flags override it)")
    p.add_argument("--case", help=f"test case: {', '.join(CASES)}")
    p.add_argument("--nx", type=int, help="cells in x (on the cubed sphere: cells along each "
                   "face edge, C NX)")
    p.add_argument("--ny", type=int, help="cells in y")
    p.add_argument("--t-end", type=float, metavar="SECONDS", help="end time (s)")
    p.add_argument("--dt", type=float, metavar="SECONDS", help="fixed time step (s)")
    p.add_argument("--cfl", type=float, help="CFL number (when dt is not fixed)")
    p.add_argument("--scheme", help="reconstruction: muscl, weno5z, ...")
    p.add_argument("--limiter", help="MUSCL limiter: minmod, mc, van_leer, ...")
    p.add_argument("--riemann", help="Riemann solver: rusanov, hll, hllc, ...")
    p.add_argument("--time-stepper", help="ssp_rk2 or ssp_rk3")
    p.add_argument("--output", metavar="FILE.h5", help="HDF5 output file (folder is created)")
    p.add_argument("--initial", metavar="FILE",
                   help="initial h (or eta), velocities or momenta and bed from this "
                        "netCDF-4/HDF5 file (config key initial_file)")
    p.add_argument("--output-interval", type=float, metavar="SECONDS",
                   help="simulated time between outputs (s)")
    p.add_argument("--procs", type=int, nargs=2, metavar=("PX", "PY"),
                   help="MPI process grid (PX*PY ranks)")
    p.add_argument("--restart", metavar="FILE", help="continue from this restart file")
    p.add_argument("--checkpoint-interval", type=float, metavar="SECONDS",
                   help="write a restart file every SECONDS of simulated time and at the end")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="restart file to write (default: OUTPUT with .restart.h5, "
                        "or dycore_restart.h5)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, value as TOML (e.g. case_params.variant=ritter); "
                        "repeatable")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output or restart file (refused otherwise)")
    p.add_argument("--allow-unstable", action="store_true",
                   help="run even if the fixed --dt (or --cfl) exceeds the CFL stability limit")
    p.add_argument("--allow-many-frames", action="store_true",
                   help="allow an output or checkpoint interval that gives more than a "
                        "million frames or restart files")
    p.add_argument("--progress-interval", type=float, metavar="SECONDS",
                   help="wall seconds between progress lines when stderr is not a terminal "
                        "(default 60)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--list-cases", action="store_true",
                   help="list the test cases (what each tests, its parameters and defaults) "
                        "and exit")
    return p


def parse_value(text: str):
    """A --set value: a TOML value if it parses as one, else the plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise UsageError("argument --set: the value is nested too deeply") from None


def _merge(values: dict, key: str, value) -> None:
    if key == "case_params" and isinstance(value, dict):
        values["case_params"] = {**values.get("case_params", {}), **value}
    else:
        values[key] = value


def restart_base(attrs: dict) -> dict:
    """The config keys of the run that wrote a restart file (its root
    attributes), less :data:`LAUNCH_KEYS`: the base that the TOML file and
    the flags then override."""
    base = config_from_json(attrs["config_json"]).to_dict()
    for key in LAUNCH_KEYS:
        base.pop(key, None)
    return base


def config_values(args, base: dict | None = None) -> dict:
    """Config key -> value from a base (restart) dict, the TOML file, the flags
    and --set, later ones winning; case_params tables are merged key by key."""
    values = dict(base or {})
    if base is not None and getattr(args, "initial", None):
        raise UsageError("--initial and --restart exclude each other: the restart file holds "
                         "the state and the bed")
    if args.config:
        for key, value in Config.from_toml(args.config, as_dict=True).items():
            if not (base is not None and key == "initial_file"):  # the restart file's state
                _merge(values, key, value)
    for attr, key in FLAG_KEYS.items():
        value = getattr(args, attr)
        if value is not None:
            _merge(values, key, list(value) if attr == "procs" else value)
    for item in args.set:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"argument --set: expected KEY=VALUE, got {item!r}")
        value = parse_value(text.strip())
        if key.startswith("case_params."):
            _merge(values, "case_params", {key.split(".", 1)[1]: value})
        elif "." in key:
            raise ConfigError(f"unknown config key {key!r}; only case_params.NAME has a dot")
        else:
            check_keys({key: value})
            _merge(values, key, value)
    return values


def resume_hint(size: int, ckpt_path: str, output, step: int, extra: str = "") -> str:
    """The command that continues a run from ``ckpt_path`` on ``size`` ranks
    (with a fresh output name, so the old output is kept), plus ``extra`` flags."""
    launcher = f"mpirun -n {size} " if size > 1 else ""
    text = f"{launcher}python -m dycore.run --restart {ckpt_path}"
    if output:
        stem = output[:-3] if output.endswith(".h5") else output
        text += f" --output {stem}_from_step{step}.h5"
    return text + extra
