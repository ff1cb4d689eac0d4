"""HDF5 output and restart files, written by every rank for its own tile.

Output layout (netCDF-4 on HDF5, so ``xarray.open_dataset(path,
engine="h5netcdf")`` opens it with dimensions (time, y, x)):

    /x (x,)  /y (y,)       cell centres (m), dimension scales named x and y
    /time (time,)          simulated time (s), unlimited dimension scale
    /h /hu /hv (time, y, x) depth (m) and momenta (m2 s-1), chunked per time slice
    /b (y, x)              bottom elevation (m)
    root attributes        one per config key (None keys absent, case_params as
                           JSON), config_json (the whole resolved config),
                           dycore_version, ranks

The output is written under the name ``PATH.part`` and renamed to ``PATH``
when the writer is closed (:meth:`OutputWriter.close`, after trimming the
fields to the frames whose ``time`` was written and an fsync), so a file
named ``PATH`` is always complete and holds only whole time slices; a run
that died leaves ``PATH.part``, readable up to its last flushed frame.

One rank writes one plain file. N ranks cannot share one file here: this h5py
has no MPI driver. So each rank writes its tile to ``PATH.tiles/rankNNNNN.h5``
and rank 0 writes ``PATH`` holding the coordinates, the attributes and the
fields as HDF5 virtual datasets (VDS) that stitch the tiles into the global
(time, y, x) view. No field goes through rank 0. The VDS mappings are
*unlimited* along time, so the global view grows with the tile files without
rewriting ``PATH``; the source paths are relative to ``PATH``'s folder, so
``PATH`` and ``PATH.tiles/`` move together (copy both; `consolidate` makes a
self-contained plain file). A frame counts as written once ``time`` holds its
value: ``time`` is appended after every tile has been written and flushed, so
in a ``.part`` file left by a crash the fields may hold one frame more than
``time`` (HDF5 sizes an unlimited VDS from its largest source; trust
``time``); closing trims them. Unlimited mappings
need no time-axis size up front (the alternative, sizing it from t_end and
output_interval, would leave fill values after a crash). Tile files are
opened without HDF5 file locks so that the global view can be read while a
run is going; rank 0 builds the VDS before the tile files exist, so it never
opens a file another rank is writing. Readers need HDF5 >= 1.10 (VDS).

Restart files (:func:`write_restart`, :func:`read_restart`) hold the global
state h, hu, hv (y, x), the time, the step count and the config; they use the
same one-file / tiles-plus-VDS scheme, are written under a temporary name,
fsynced and renamed (a crash leaves the previous restart file intact), and
can be read back by any number of ranks (each reads its own tile slice).
Reading one checks that it is a complete dycore restart file of the same
grid and equation set (:class:`ConfigError` otherwise).

Every operation here is collective: all ranks call it, and an I/O failure on
any rank is raised as :class:`OutputError` on every rank (no rank is left
waiting in MPI).
"""
from __future__ import annotations

import json
import os
import re

import h5py
import jax.numpy as jnp
import numpy as np

from dycore.config import Config, ConfigError
from dycore.state import State

FIELDS = ("h", "hu", "hv")
META = {
    "h": ("water depth", "m"),
    "hu": ("x momentum per unit area, depth times x velocity", "m2 s-1"),
    "hv": ("y momentum per unit area, depth times y velocity", "m2 s-1"),
    "b": ("bottom elevation", "m"),
}
RESTART_KIND = "dycore restart"
UNLIMITED = h5py.h5s.UNLIMITED


class OutputError(Exception):
    """Writing or reading an HDF5 file failed (on this or another rank)."""


# --------------------------------------------------------------- collectives
def _allgather(context, obj) -> list:
    if context.size == 1:
        return [obj]
    return context.comm.allgather(obj)


def _collectively(context, what: str, fn, *, root_only=False, share=False,
                  error=OutputError):
    """Run ``fn`` (on rank 0 only if ``root_only``), then agree across ranks:
    if it failed anywhere, raise ``error`` with that rank's message on every
    rank. Returns this rank's result, or every rank's (in rank order) if
    ``share`` (keep those small: they travel to all ranks)."""
    result, message = None, None
    if context.is_root or not root_only:
        try:
            result = fn()
        except (OSError, ValueError, KeyError, RuntimeError, ConfigError, OutputError) as err:
            text = str(err) or type(err).__name__
            message = text if isinstance(err, (ConfigError, OutputError)) else f"{what}: {text}"
    gathered = _allgather(context, (message, result if share else None))
    for other, _ in gathered:
        if other is not None:
            raise error(other)
    return [res for _, res in gathered] if share else result


# ---------------------------------------------------------------- attributes
def config_attrs(config: Config) -> dict:
    """Root attributes of a config: one per key (None -> absent, dicts as JSON)
    and ``config_json`` holding all of it."""
    values = config.to_dict()
    attrs = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, dict):
            attrs[key] = json.dumps(value, sort_keys=True)
        elif isinstance(value, (list, tuple)):
            attrs[key] = np.asarray(value)
        else:
            attrs[key] = value
    attrs["config_json"] = json.dumps(values, sort_keys=True)
    return attrs


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def config_from_attrs(attrs) -> Config:
    """The Config stored as per-key root attributes (absent keys -> None)."""
    values = {}
    for key in Config.keys():
        if key in attrs:
            value = _plain(attrs[key])
            values[key] = json.loads(value) if key == "case_params" else value
        else:
            values[key] = None
    return Config(**values)


def config_from_json(text) -> Config:
    return Config(**json.loads(_plain(text)))


def _write_attrs(obj, attrs: dict) -> None:
    for key, value in attrs.items():
        obj.attrs[key] = value


def _root_attrs(sim, **extra) -> dict:
    from dycore import __version__

    return {**config_attrs(sim.config), "dycore_version": __version__,
            "ranks": int(sim.context.size), **extra}


def _coordinates(f, sim) -> None:
    """x, y (m) as dimension scales of the same names (netCDF coordinate variables)."""
    for name, values, axis in (("x", sim.grid.x_centres(), "X"), ("y", sim.grid.y_centres(), "Y")):
        ds = f.create_dataset(name, data=np.asarray(values, np.float64))
        ds.make_scale(name)
        ds.attrs.update({"units": "m", "axis": axis,
                         "long_name": f"{name} coordinate of cell centres"})


def _attach(f, name: str, dims: tuple) -> None:
    ds = f[name]
    long_name, units = META[name]
    ds.attrs.update({"long_name": long_name, "units": units})
    for axis, dim in enumerate(dims):
        ds.dims[axis].attach_scale(f[dim])
        ds.dims[axis].label = dim


# -------------------------------------------------------------- VDS helpers
def tile_dir(path: str) -> str:
    """Folder of the per-rank files belonging to ``path``."""
    return f"{path}.tiles"


def _virtual(f, name, tiles, sources, global_shape, dtype, time_axis: bool):
    """A virtual dataset ``name`` of shape ([time,] ny, nx) stitched from one
    source per tile; with ``time_axis`` the mapping is unlimited in time."""
    ny, nx = global_shape
    shape, maxshape = ((0, ny, nx), (None, ny, nx)) if time_axis else ((ny, nx), (ny, nx))
    layout = h5py.VirtualLayout(shape=shape, dtype=dtype, maxshape=maxshape,
                                filename=f.filename)
    for (j0, i0, tny, tnx), src in zip(tiles, sources):
        if time_axis:
            vspace = h5py.h5s.create_simple((0, ny, nx), (UNLIMITED, ny, nx))
            vspace.select_hyperslab((0, j0, i0), (UNLIMITED, 1, 1), (1, 1, 1), (1, tny, tnx))
            sspace = h5py.h5s.create_simple((0, tny, tnx), (UNLIMITED, tny, tnx))
            sspace.select_hyperslab((0, 0, 0), (UNLIMITED, 1, 1), (1, 1, 1), (1, tny, tnx))
        else:
            vspace = h5py.h5s.create_simple((ny, nx))
            vspace.select_hyperslab((j0, i0), (1, 1), (1, 1), (tny, tnx))
            sspace = h5py.h5s.create_simple((tny, tnx))
        layout.dcpl.set_virtual(vspace, src.encode(), name.encode(), sspace)
    f.create_virtual_dataset(name, layout, fillvalue=np.nan)


def _tile_tuple(tile) -> tuple:
    return (int(tile.j0), int(tile.i0), int(tile.ny), int(tile.nx))


def _remove_stale(folder: str, keep: set, pattern: str) -> None:
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if re.fullmatch(pattern, name) and name not in keep:
            os.remove(os.path.join(folder, name))
    if not os.listdir(folder):
        os.rmdir(folder)


def _local(state, name):
    return np.asarray(getattr(state, name))


def _fsync(path: str) -> None:
    """Push a closed file (or a folder's entries) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: str, path: str) -> None:
    """fsync ``tmp``, rename it to ``path`` (atomic on POSIX), fsync the folder."""
    _fsync(tmp)
    os.replace(tmp, path)
    try:
        _fsync(os.path.dirname(os.path.abspath(path)))
    except OSError:  # some file systems cannot fsync a folder; the rename stands
        pass


def part_path(path: str) -> str:
    """The name an output file has while it is being written."""
    return f"{path}.part"


# -------------------------------------------------------------------- output
class OutputWriter:
    """Appends frames of the global (time, y, x) fields to ``path``.

    Collective: every rank constructs it and calls :meth:`write` and
    :meth:`close`. Creating it creates the files (``PATH.part``; an existing
    ``PATH`` is removed), so an unwritable path fails here, before any time
    step. :meth:`close` renames ``PATH.part`` to ``PATH``; :meth:`abandon`
    (not collective, for error paths) closes the files and leaves the
    ``.part`` name.
    """

    def __init__(self, path, sim):
        self.path = os.fspath(path)
        self.sim = sim
        self.context = ctx = sim.context
        self.dtype = np.dtype(sim.dtype)
        self.frames = 0
        self.closed = False
        self.part = part_path(self.path)
        self._main = self._tile = None
        self._tile_name = f"rank{ctx.rank:05d}.h5"
        ny, nx = sim.grid.ny, sim.grid.nx
        tny, tnx = sim.tile.ny, sim.tile.nx
        b = np.asarray(sim.params.b)

        tiles = _allgather(ctx, _tile_tuple(sim.tile))

        def create_main():
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            if os.path.isdir(self.path):
                raise OutputError(f"cannot write output {self.path!r}: it is a directory")
            for old in (self.path, self.part):
                if os.path.lexists(old):
                    os.remove(old)
            _remove_stale(tile_dir(self.path), set(), r"rank\d+\.h5")
            if ctx.size > 1:
                os.makedirs(tile_dir(self.path), exist_ok=True)
            f = h5py.File(self.part, "w")
            _write_attrs(f, _root_attrs(sim))
            _coordinates(f, sim)
            t = f.create_dataset("time", shape=(0,), maxshape=(None,), chunks=(512,),
                                 dtype=np.float64)
            t.make_scale("time")
            t.attrs.update({"units": "s", "axis": "T", "long_name": "simulated time"})
            if ctx.size == 1:
                self._create_fields(f, (ny, nx), b)
            else:
                # Made before the tile files exist, so that rank 0 never opens
                # (and, with HDF5 file locking, collides with) a file that
                # another rank has open for writing.
                base = os.path.basename(tile_dir(self.path))
                sources = [f"{base}/rank{r:05d}.h5" for r in range(ctx.size)]
                for name in FIELDS:
                    _virtual(f, name, tiles, sources, (ny, nx), self.dtype, time_axis=True)
                _virtual(f, "b", tiles, sources, (ny, nx), self.dtype, time_axis=False)
            for name in FIELDS:
                _attach(f, name, ("time", "y", "x"))
            _attach(f, "b", ("y", "x"))
            f.flush()
            self._main = f

        _collectively(ctx, f"cannot create output {self.path!r}", create_main, root_only=True)
        if ctx.size == 1:
            return

        def create_tile():
            # No file lock: readers of the global view (rank 0 closing the
            # file, a user peeking at a running job) may open it meanwhile.
            f = h5py.File(os.path.join(tile_dir(self.path), self._tile_name), "w",
                          locking=False)
            f.attrs.update({"j0": sim.tile.j0, "i0": sim.tile.i0, "rank": ctx.rank})
            self._create_fields(f, (tny, tnx), b)
            f.flush()
            self._tile = f

        _collectively(ctx, f"cannot create output tile of {self.path!r}", create_tile)

    def _create_fields(self, f, shape, b) -> None:
        for name in FIELDS:
            f.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape),
                             chunks=(1, *shape), dtype=self.dtype)
        f.create_dataset("b", data=np.asarray(b, self.dtype))

    def write(self, state, t: float) -> None:
        """Append the local tile of ``state`` (a State) at time ``t`` (s); flushed."""
        k = self.frames

        def write_fields():
            f = self._main if self.context.size == 1 else self._tile
            for name in FIELDS:
                ds = f[name]
                ds.resize(k + 1, axis=0)
                ds[k] = _local(state, name).astype(self.dtype, copy=False)
            f.flush()

        def write_time():
            ds = self._main["time"]
            ds.resize(k + 1, axis=0)
            ds[k] = float(t)
            self._main.flush()

        _collectively(self.context, f"cannot write output {self.path!r}", write_fields,
                      root_only=self.context.size == 1)
        _collectively(self.context, f"cannot write output {self.path!r}", write_time,
                      root_only=True)
        self.frames += 1

    def _trim(self, f) -> None:
        """Drop a field frame whose ``time`` was never written (a failed write)."""
        if f is not None and f.id.valid and "h" in f and not f["h"].is_virtual:
            for name in FIELDS:
                if f[name].shape[0] > self.frames:
                    f[name].resize(self.frames, axis=0)

    def close(self) -> None:
        """Finish the file: trim, flush and close every rank's file, then
        rename ``PATH.part`` to ``PATH``. Collective; safe to call twice."""
        if self.closed:
            return
        ctx = self.context

        def finish_tile():
            f, self._tile = self._tile, None
            if f is not None and f.id.valid:
                self._trim(f)
                f.close()

        def finish_main():
            f, self._main = self._main, None
            if f is not None and f.id.valid:
                self._trim(f)
                f.close()
            _publish(self.part, self.path)

        if ctx.size > 1:
            _collectively(ctx, f"cannot close output {self.part!r}", finish_tile)
        _collectively(ctx, f"cannot close output {self.part!r}", finish_main, root_only=True)
        self.closed = True

    def abandon(self) -> None:
        """Close this rank's files without publishing them (error paths; not
        collective; safe after :meth:`close`): the output stays ``PATH.part``."""
        for f in (self._tile, self._main):
            if f is not None and f.id.valid:
                try:
                    self._trim(f)
                    f.flush()
                except (OSError, ValueError, RuntimeError):
                    pass
                finally:
                    f.close()
        self._tile = self._main = None
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            self.abandon()


def consolidate(path, dest) -> None:
    """Copy an output or restart file into one self-contained plain file
    ``dest``, virtual datasets materialised (serial; any process)."""
    reserved = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "DIMENSION_LABELS"}
    with h5py.File(path, "r") as src, h5py.File(dest, "w") as out:
        out.attrs.update(dict(src.attrs))
        for name, ds in src.items():
            kwargs = {}
            if ds.maxshape and ds.maxshape[0] is None:
                kwargs = {"maxshape": ds.maxshape,
                          "chunks": (512,) if ds.ndim == 1 else (1, *ds.shape[1:])}
            new = out.create_dataset(name, data=ds[()], **kwargs)
            new.attrs.update({k: v for k, v in ds.attrs.items() if k not in reserved})
            if ds.is_scale:
                new.make_scale(name)
        for name, ds in src.items():
            if ds.is_scale:
                continue
            for axis, dim in enumerate(ds.dims):
                if len(dim):
                    out[name].dims[axis].attach_scale(out[dim[0].name])
                    out[name].dims[axis].label = dim.label


# ------------------------------------------------------------------- restart
def write_restart(path, sim, state, t: float, step: int, extra: dict | None = None) -> None:
    """Write a restart file: global h, hu, hv (y, x), time ``t`` (s), step
    count, config. Collective. The file is replaced atomically: a crash leaves
    the previous restart file intact and readable. ``extra``: more root
    attributes (e.g. the driver's checkpoint interval)."""
    path = os.fspath(path)
    ctx = sim.context
    dtype = np.dtype(sim.dtype)
    folder = tile_dir(path)
    tile_name = f"step{int(step):012d}_rank{ctx.rank:05d}.h5"
    attrs = _root_attrs(sim, kind=RESTART_KIND, time=float(t), step=int(step),
                        fields=",".join(FIELDS), **(extra or {}))
    model = getattr(sim, "model", None)
    if model is not None:
        attrs["model"] = type(model).__name__

    def prepare():
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if ctx.size > 1:
            os.makedirs(folder, exist_ok=True)

    _collectively(ctx, f"cannot write restart {path!r}", prepare, root_only=True)
    tiles = None
    if ctx.size > 1:
        def write_tile():
            final = os.path.join(folder, tile_name)
            with h5py.File(final + ".tmp", "w") as f:
                for name in FIELDS:
                    f.create_dataset(name, data=_local(state, name).astype(dtype, copy=False))
            _publish(final + ".tmp", final)
            return _tile_tuple(sim.tile)

        tiles = _collectively(ctx, f"cannot write restart {path!r}", write_tile, share=True)

    def write_main():
        tmp = path + ".tmp"
        with h5py.File(tmp, "w") as f:
            _write_attrs(f, attrs)
            _coordinates(f, sim)
            for name in FIELDS:
                if tiles is None:
                    f.create_dataset(name, data=_local(state, name).astype(dtype, copy=False))
                else:
                    base = os.path.basename(folder)
                    sources = [f"{base}/step{int(step):012d}_rank{r:05d}.h5"
                               for r in range(ctx.size)]
                    _virtual(f, name, tiles, sources, (sim.grid.ny, sim.grid.nx), dtype,
                             time_axis=False)
                _attach(f, name, ("y", "x"))
        _publish(tmp, path)
        keep = {f"step{int(step):012d}_rank{r:05d}.h5" for r in range(ctx.size)} \
            if ctx.size > 1 else set()
        _remove_stale(folder, keep, r"step\d+_rank\d+\.h5(\.tmp)?")

    _collectively(ctx, f"cannot write restart {path!r}", write_main, root_only=True)


def read_restart_attrs(path) -> dict:
    """Root attributes of a restart file, checked to be one (any process)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"restart file {path!r} not found")
    try:
        with h5py.File(path, "r") as f:
            attrs = {key: _plain(value) for key, value in f.attrs.items()}
    except OSError as err:
        text = " ".join(str(err).split())
        raise ConfigError(f"restart file {path!r} is not a readable HDF5 file; truncated or "
                          f"not a restart file? ({text})") from None
    if attrs.get("kind") != RESTART_KIND:
        raise ConfigError(f"restart file {path!r} is not a dycore restart file (no attribute "
                          f"kind = {RESTART_KIND!r})")
    for key in ("config_json", "time", "step"):
        if key not in attrs:
            raise ConfigError(f"restart file {path!r} is incomplete: attribute {key!r} is missing")
    try:
        config_from_json(attrs["config_json"])
    except (TypeError, ValueError) as err:
        raise ConfigError(f"restart file {path!r} holds a config this version cannot read "
                          f"({err})") from None
    return attrs


def read_restart_config(path) -> Config:
    """The resolved Config a restart file was written with."""
    return config_from_json(read_restart_attrs(path)["config_json"])


def read_restart(path, sim):
    """(state, t, step) from a restart file, this rank's tile. Collective.
    The file may have been written by any number of ranks; its grid must be
    the simulation's (ConfigError otherwise)."""
    path = os.fspath(path)
    tile = sim.tile

    def read():
        attrs = read_restart_attrs(path)
        saved = config_from_json(attrs["config_json"])
        for key in ("nx", "ny", "lx", "ly", "x0", "y0"):
            if getattr(saved, key) != getattr(sim.config, key):
                raise ConfigError(f"config key {key!r}: the restart file {path!r} has "
                                  f"{getattr(saved, key)!r}, this run {getattr(sim.config, key)!r}"
                                  f" (incompatible grid)")
        model = getattr(sim, "model", None)
        if model is not None and attrs.get("model", type(model).__name__) != type(model).__name__:
            raise ConfigError(f"restart file {path!r} was written by the {attrs['model']} "
                              f"equations, this run uses {type(model).__name__}")
        want = ",".join(FIELDS)
        if attrs.get("fields", want) != want:
            raise ConfigError(f"restart file {path!r} holds fields {attrs['fields']}, this "
                              f"run's equations need {want} (another equation set)")
        with h5py.File(path, "r") as f:
            shape = (sim.grid.ny, sim.grid.nx)
            for name in FIELDS:
                if name not in f or f[name].shape != shape:
                    found = f[name].shape if name in f else "missing"
                    raise ConfigError(f"restart file {path!r}: field {name!r} is {found}, "
                                      f"expected shape {shape} (truncated or not ours?)")
            fields = [np.asarray(f[name][tile.y_slice, tile.x_slice]) for name in FIELDS]
        if not all(np.all(np.isfinite(q)) for q in fields):
            raise ConfigError(f"restart file {path!r} has missing or non-finite data "
                              f"(is {os.path.basename(tile_dir(path))}/ beside it?)")
        return fields, float(attrs["time"]), int(attrs["step"])

    fields, t, step = _collectively(sim.context, f"cannot read restart {path!r}", read,
                                    error=ConfigError)
    return State(*(jnp.asarray(q, sim.dtype) for q in fields)), t, step
