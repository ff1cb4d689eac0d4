"""Checks of single config values, each raising :class:`ConfigError` with a
one-line message naming the key: choices, integers, finite normal floats,
dates. Shared by :mod:`dycore.config` (the plane's keys) and
:mod:`dycore.cases.sphere` (the sphere's), without an import cycle.
"""
from __future__ import annotations

import math
import re
import sys
from typing import Any

from dycore.errors import ConfigError

DTYPES = ("float64", "float32")
MAX_CELLS = 2 ** 31 - 1
"""Largest nx or ny (cell indices are 32-bit integers in places)."""


def _check_date(value) -> None:
    """``start_date``: "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" (UTC), the origin
    of the output's time axis ("seconds since START_DATE")."""
    import datetime

    ok = isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d( \d\d:\d\d:\d\d)?", value)
    try:
        ok = ok and datetime.datetime.fromisoformat(value)
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"config key 'start_date': expected \"YYYY-MM-DD HH:MM:SS\" (UTC), "
                          f"got {_show(value)}")




def _check_choice(key: str, value: Any, choices) -> None:
    if value not in choices:
        raise ConfigError(f"config key {key!r}: unknown value {value!r}; "
                          f"valid: {', '.join(choices)}")


def _show(value: Any) -> str:
    """A value in a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_int(key: str, value: Any, minimum: int, maximum: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"config key {key!r}: must be an integer, got {_show(value)}")
    if value < minimum:
        raise ConfigError(f"config key {key!r}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"config key {key!r}: must be <= {maximum}, got {_show(value)}")


_LIMITS = {"float64": (sys.float_info.min, sys.float_info.max),
           "float32": (1.1754943508222875e-38, 3.4028234663852886e+38)}


def _normal(value: float, dtype: str = "float64") -> bool:
    """Whether ``value`` is zero or a normal (not subnormal, not overflowing)
    number of ``dtype``: XLA flushes subnormals to zero."""
    tiny, huge = _LIMITS.get(dtype, _LIMITS["float64"])
    return value == 0 or (math.isfinite(value) and tiny <= abs(value) <= huge)


def check_number(key: str, value: Any, positive=False, non_negative=False,
                 dtype: str = "float64") -> None:
    """ConfigError unless ``value`` is a finite real number, normal in
    ``dtype`` (or 0), and > 0 (``positive``) or >= 0 (``non_negative``).
    ``key`` names it in the message (e.g. ``"config key 'dt'"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: must be a finite number, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ConfigError(f"{key}: must be a finite number, got {_show(value)}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{key}: must be a finite number, got {_show(value)}")
    if positive and value <= 0:
        raise ConfigError(f"{key}: must be > 0, got {value}")
    if non_negative and value < 0:
        raise ConfigError(f"{key}: must be >= 0, got {value}")
    if not _normal(number, dtype):
        raise ConfigError(f"{key}: {number!r} is not a normal {dtype} number (too small or "
                          f"too large to compute with: subnormals are flushed to zero)")


def _check_float(key: str, value: Any, positive=False, non_negative=False,
                 dtype: str = "float64") -> None:
    check_number(f"config key {key!r}", value, positive, non_negative, dtype)


def check_outputs(value, choices) -> None:
    """``outputs``: a list of distinct names, each one of ``choices``."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"config key 'outputs': must be a list of names, got {_show(value)}")
    for name in value:
        _check_choice("outputs", name, tuple(choices))
    if len(set(value)) != len(value):
        raise ConfigError(f"config key 'outputs': a name is listed twice in {list(value)}")


def check_initial_file(value) -> None:
    """ConfigError unless ``initial_file`` is unset or a non-empty path string."""
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"config key 'initial_file': must be a file path, got {_show(value)}")


def check_run_keys(cfg, outputs) -> None:
    """The keys of every geometry (plane and sphere): the numerics' choices,
    dtype, t_end, g, cfl, dt, output_interval, output, ``outputs`` (names
    from ``outputs``), start_date, progress_interval."""
    from dycore.operators.reconstruction import LIMITERS
    from dycore.operators.riemann import RIEMANN_SOLVERS
    from dycore.timestepping import TIME_STEPPERS

    _check_choice("limiter", cfg.limiter, tuple(LIMITERS))
    _check_choice("riemann", cfg.riemann, tuple(RIEMANN_SOLVERS))
    _check_choice("time_stepper", cfg.time_stepper, tuple(TIME_STEPPERS))
    _check_choice("dtype", cfg.dtype, DTYPES)
    for key in ("t_end", "g", "cfl"):
        _check_float(key, getattr(cfg, key), positive=True, dtype=cfg.dtype)
    for key in ("dt", "output_interval"):
        if getattr(cfg, key) is not None:
            _check_float(key, getattr(cfg, key), positive=True, dtype=cfg.dtype)
    if cfg.output is not None and not isinstance(cfg.output, str):
        raise ConfigError(f"config key 'output': must be a file path, got {_show(cfg.output)}")
    check_outputs(cfg.outputs, outputs)
    _check_date(cfg.start_date)
    _check_float("progress_interval", cfg.progress_interval, positive=True)
