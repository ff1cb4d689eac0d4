"""Initial conditions and the bed from a file (config key ``initial_file``).

Reads a netCDF-4/HDF5 file (one of our output or restart files, or any
CF-like file on the same grid) with h5py; every rank reads only its tile.
What is looked up, by variable name (the first that exists wins):

    depth     ``h`` (m); or the surface elevation ``eta`` (m), h = eta - b
    momentum  ``hu``, ``hv`` (m2 s-1); or velocities ``u``, ``v`` (m s-1),
              hu = h u, hv = h v; neither pair: the fluid starts at rest
    bed       ``b`` (m); absent: the case's bed

A variable is (y, x) with the grid's (ny, nx) cells, or (time, y, x), of
which the last frame is read (so an output file starts a run where the
other one ended). Its ``units`` must be those above (UDUNITS spellings
such as ``m/s``, ``m^2 s^-1``, ``metres`` are accepted); coordinate
variables ``x``, ``y``, where present, must be the grid's cell centres (m).
Anything wrong is a :class:`ConfigError` with one line naming the key,
the file and the variable: not HDF5, a missing depth, one velocity
component without the other, a wrong shape, wrong units, non-finite
values, a negative depth (or a surface below the bed). Every rank agrees
on the outcome (:func:`dycore.io.collective.collectively`).

Passive tracers: the shallow-water equation set declares none; an equation
set that does gets them read by their declared names (``fields``).
"""
from __future__ import annotations

import os
import re

import h5py
import numpy as np

from dycore.errors import ConfigError
from dycore.io.collective import collectively

KEY = "config key 'initial_file'"

_BASE = {"m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
         "s": "s", "sec": "s", "second": "s", "seconds": "s", "1": None}


def parse_units(text: str) -> dict | None:
    """{base unit: exponent} of a UDUNITS-style string made of metres and
    seconds (``"m2 s-1"``, ``"m^2/s"``, ``"m.s**-1"``, ``"metres"``), or None
    if it is something else (another unit, a scale factor)."""
    powers: dict[str, int] = {}
    sign = 1
    for token in re.findall(r"/|[^\s.*/]+(?:\*\*|\^)?-?\d*", text.strip().lower()):
        if token == "/":
            sign = -1
            continue
        match = re.fullmatch(r"([a-z]+|1)(?:\*\*|\^)?(-?\d+)?", token)
        if match is None or match.group(1) not in _BASE:
            return None
        base = _BASE[match.group(1)]
        if base is not None:
            powers[base] = powers.get(base, 0) + sign * int(match.group(2) or 1)
        sign = 1
    return {k: v for k, v in powers.items() if v}


def _units_of(ds) -> str | None:
    value = ds.attrs.get("units")
    return value.decode() if isinstance(value, bytes) else (None if value is None else str(value))


def check_kind_and_units(ds, name: str, units: str, fail) -> None:
    """Call ``fail(text)`` unless the dataset ``ds`` holds numbers in ``units``."""
    if ds.dtype.kind not in "fiu":
        fail(f"variable {name!r} holds {ds.dtype} data, expected numbers")
    found = _units_of(ds)
    if found is None:
        fail(f"variable {name!r} has no units attribute, expected {units!r}")
    if parse_units(found) != parse_units(units):
        fail(f"variable {name!r} is in {found!r}, expected {units!r}")


def _find(f, names):
    return next((n for n in names if n in f and isinstance(f[n], h5py.Dataset)), None)


class _Reader:
    """This rank's tile of the variables of an open file, checked."""

    def __init__(self, f, path, grid, tile):
        self.f, self.path, self.grid, self.tile = f, path, grid, tile

    def fail(self, text):
        raise ConfigError(f"{KEY}: {self.path!r}: {text}")

    def read(self, name: str, units: str) -> np.ndarray:
        ds = self.f[name]
        ny, nx = self.grid.ny, self.grid.nx
        if ds.ndim not in (2, 3) or ds.shape[-2:] != (ny, nx) or (ds.ndim == 3 and not ds.shape[0]):
            self.fail(f"variable {name!r} has shape {ds.shape}, expected (y, x) = ({ny}, {nx}) "
                      f"or (time, {ny}, {nx}) for this grid")
        check_kind_and_units(ds, name, units, self.fail)
        t = self.tile
        values = ds[-1, t.y_slice, t.x_slice] if ds.ndim == 3 else ds[t.y_slice, t.x_slice]
        values = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            self.fail(f"variable {name!r} has non-finite values (NaN, inf or fill values)")
        return values

    def check_coordinates(self) -> None:
        for name, want in (("x", self.grid.x_centres()), ("y", self.grid.y_centres())):
            if name not in self.f:
                continue
            ds = self.f[name]
            units = _units_of(ds)
            if units is not None and parse_units(units) != {"m": 1}:
                self.fail(f"coordinate {name!r} is in {units!r}, expected 'm'")
            got = np.asarray(ds[()], dtype=np.float64)
            spacing = self.grid.dx if name == "x" else self.grid.dy
            if got.shape != want.shape or np.max(np.abs(got - want)) > 1e-6 * spacing:
                first = f"{got.ravel()[0]:g}" if got.size else "none"
                self.fail(f"coordinate {name!r} ({got.size} values from {first} m) is not the "
                          f"grid's cell centres ({want.size} from {want[0]:g} m); set nx, ny, "
                          f"lx, ly, x0, y0 to match the file")


def open_initial_file(path: str):
    """``path`` opened read-only as HDF5, or a one-line ConfigError naming
    the config key (missing file, not netCDF-4/HDF5)."""
    if not os.path.isfile(path):
        raise ConfigError(f"{KEY}: {path!r} not found")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise ConfigError(f"{KEY}: {path!r} is not a netCDF-4/HDF5 file (a netCDF-3 file "
                          f"can be converted with: nccopy -k nc4 IN OUT)") from None


def read_initial(path, context, grid, tile, fields, bed):
    """({field name: this rank's (ny, nx) float64 array}, bed or None) from
    the file ``path`` (see the module docstring). ``fields``: the equation
    set's prognostic field declarations; ``bed``: this rank's tile of the
    case's bed (used for h = eta - b when the file has no ``b``).
    Collective."""
    path = os.fspath(path)

    def read():
        with open_initial_file(path) as f:
            r = _Reader(f, path, grid, tile)
            r.check_coordinates()
            b = r.read("b", "m") if _find(f, ("b",)) else None
            base = np.asarray(bed, np.float64) if b is None else b
            out = {}
            for field in fields:
                if field.name in f:
                    out[field.name] = r.read(field.name, field.units)
            if "h" not in out:
                if "eta" not in f:
                    r.fail("no depth: expected a variable 'h' (m) or a surface elevation "
                           "'eta' (m)")
                eta = r.read("eta", "m")
                if np.any(eta < base):
                    r.fail("surface elevation 'eta' is below the bed b somewhere (dry cells "
                           "need eta = b)")
                out["h"] = np.maximum(eta - base, 0.0)
            if np.any(out["h"] < 0):
                r.fail("variable 'h' has negative depths")
            momenta = [fd for fd in fields if fd.vector == "momentum"]
            given = [fd.name for fd in momenta if fd.name in out]
            if given and len(given) != len(momenta):
                r.fail(f"has {given[0]!r} but not all of "
                       f"{', '.join(fd.name for fd in momenta)}")
            if not given:
                velocity = [("u", "v")[fd.component] for fd in momenta]
                present = [v for v in velocity if v in f]
                if present and len(present) != len(velocity):
                    r.fail(f"has velocity {present[0]!r} but not {', '.join(velocity)}")
                for fd, v in zip(momenta, velocity):
                    out[fd.name] = out["h"] * r.read(v, "m s-1") if present else \
                        np.zeros_like(out["h"])
            return out, b

    return collectively(context, read, error=ConfigError, what=f"{KEY}: {path!r}")
