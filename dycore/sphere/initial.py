"""Initial states on the cubed sphere from a file (config key ``initial_file``).

Reads a netCDF-4/HDF5 file of the sphere's layout, (face, y, x) with
6 x N x N cells, or (time, face, y, x), of which the last frame is read:
a sphere output file (:mod:`dycore.sphere.files`), a sphere restart file,
or any file so laid out. Each process reads only its tiles. By variable
name:

    depth     ``h`` (m), required
    momentum  ``mx``, ``my``, ``mz`` (m2 s-1, Earth-centred Cartesian, as
              the state and the restart files hold it); or the eastward and
              northward velocities ``u``, ``v`` (m s-1, as the output files
              hold them): hV = h (u e_east + v e_north); neither: at rest
    bed       ``b`` (m); absent: the case's bed
    tracer    with ``tracer = true``: ``hq`` (m) or the mixing ratio ``q``
              (1); neither: the case's tracer (q a cosine bell) times h

The Coriolis parameter is always the case's (``f`` in a file is not read).
From ``mx``, ``my``, ``mz`` (a restart file) the state is the file's bit for
bit; from ``u``, ``v`` (an output file) the momentum is rebuilt from
velocities that were computed from it, which repeats it to round-off
(a few units in the last place), not bit for bit.

Units are checked as on the plane (:func:`dycore.io.initial.parse_units`).
Anything wrong is a :class:`ConfigError` with one line naming the key,
the file and the variable: not HDF5, a missing ``h``, some but not all
momentum or velocity components, a wrong shape, wrong units, non-finite
values, negative depths. Every rank agrees on the outcome.
"""
from __future__ import annotations

import os

import h5py
import numpy as np

from dycore.errors import ConfigError
from dycore.io.collective import collectively
from dycore.io.initial import KEY, check_kind_and_units, open_initial_file

MOMENTUM = ("mx", "my", "mz")
VELOCITY = ("u", "v")


class _SphereReader:
    """This process's tiles (T, ny, nx) of the variables of an open file, checked."""

    def __init__(self, f, path, n, boxes):
        self.f, self.path, self.n, self.boxes = f, path, n, boxes

    def fail(self, text):
        raise ConfigError(f"{KEY}: {self.path!r}: {text}")

    def has(self, name) -> bool:
        return name in self.f and isinstance(self.f[name], h5py.Dataset)

    def read(self, name: str, units: str) -> np.ndarray:
        ds, n = self.f[name], self.n
        want = (6, n, n)
        if ds.ndim not in (3, 4) or ds.shape[-3:] != want or (ds.ndim == 4 and not ds.shape[0]):
            self.fail(f"variable {name!r} has shape {ds.shape}, expected (face, y, x) = "
                      f"{want} or (time, 6, {n}, {n}) for C{n}")
        check_kind_and_units(ds, name, units, self.fail)
        last = (-1,) if ds.ndim == 4 else ()
        values = np.stack([np.asarray(ds[last + (b.face, b.y_slice, b.x_slice)], np.float64)
                           for b in self.boxes])
        if not np.all(np.isfinite(values)):
            self.fail(f"variable {name!r} has non-finite values (NaN, inf or fill values)")
        return values

    def group(self, names, units, what):
        """All of ``names`` (a tuple of arrays), None if none is in the file."""
        present = [v for v in names if self.has(v)]
        if not present:
            return None
        if len(present) != len(names):
            self.fail(f"has {what} {present[0]!r} but not all of {', '.join(names)}")
        return tuple(self.read(v, units) for v in names)


def read_sphere_initial(path, model, *, momentum: bool, tracer: bool, east=None, north=None):
    """{field name: this process's (T, ny, nx) float64 array} and the bed
    (or None) from ``path`` (see the module docstring), for the
    :class:`dycore.sphere.SphereModel` ``model``. ``momentum``: the state
    has mx, my, mz (not Williamson test 1); ``east``, ``north``: the unit
    vectors (T, ny, nx, 3) of the cells, to turn ``u``, ``v`` into momentum.
    Collective."""
    path = os.fspath(path)

    def read():
        with open_initial_file(path) as f:
            r = _SphereReader(f, path, model.n, model.boxes)
            if not r.has("h"):
                r.fail("no depth: expected a variable 'h' (m) on (face, y, x) or "
                       "(time, face, y, x)")
            h = r.read("h", "m")
            if np.any(h < 0):
                r.fail("variable 'h' has negative depths")
            out = {"h": h}
            bed = r.read("b", "m") if r.has("b") else None
            if momentum:
                m = r.group(MOMENTUM, "m2 s-1", "momentum")
                if m is None:
                    uv = r.group(VELOCITY, "m s-1", "velocity")
                    if uv is None:
                        m = tuple(np.zeros_like(h) for _ in MOMENTUM)
                    else:
                        vel = uv[0][..., None] * east + uv[1][..., None] * north
                        m = tuple(h * vel[..., k] for k in range(3))
                out.update(zip(MOMENTUM, m))
            if tracer:
                if r.has("hq"):
                    out["hq"] = r.read("hq", "m")
                elif r.has("q"):
                    out["hq"] = h * r.read("q", "1")
            return out, bed

    return collectively(model.context, read, error=ConfigError, what=f"{KEY}: {path!r}")
