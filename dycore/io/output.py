"""The HDF5 output series: frames of the global fields, written by every rank
for its own tile.

Layout (netCDF-4 on HDF5, so ``xarray.open_dataset(path, engine="h5netcdf")``
opens it with dimensions (time, y, x)):

    /x (x,)  /y (y,)       cell centres (m), dimension scales named x and y
    /time (time,)          simulated time (s), unlimited dimension scale
    /FIELD (time, y, x)    each declared field (for shallow water h (m), hu and
                           hv (m2 s-1)), chunked per time slice
    /STATIC (y, x)         fields written once (the bottom elevation b (m))
    root attributes        those given (the config, see
                           :mod:`dycore.io.attributes`; the version) and ranks

Each field dataset carries its declaration's long_name, units and, where
there is one, CF standard_name.

The output is written under the name ``PATH.part`` and renamed to ``PATH``
when the writer is closed (:meth:`OutputWriter.close`, after trimming the
fields to the frames whose ``time`` was written and an fsync), so a file
named ``PATH`` is always complete and holds only whole time slices; a run
that died leaves ``PATH.part``, readable up to its last flushed frame.

On N ranks each rank appends to ``PATH.tiles/rankNNNNN.h5`` and ``PATH``
maps them with VDS that are unlimited along time (see
:mod:`dycore.io.layout`). A frame counts as written once ``time`` holds its
value: ``time`` is appended after every tile has been written and flushed,
so in a ``.part`` file left by a crash the fields may hold one frame more
than ``time`` (trust ``time``); closing trims them. Unlimited mappings need
no time-axis size up front (sizing it from t_end and output_interval would
leave fill values after a crash). Tile files are opened without HDF5 file
locks so that the global view can be read while a run is going; rank 0
builds the VDS before the tile files exist, so it never opens a file
another rank is writing.
"""
from __future__ import annotations

import os

import h5py
import numpy as np

from dycore.io.attributes import write_attrs
from dycore.io.collective import OutputError, allgather, collectively
from dycore.io.layout import (coordinates, describe, local_values, publish, remove_stale,
                              tile_dir, tile_tuple, virtual)

__all__ = ["OutputWriter", "part_path"]


def part_path(path: str) -> str:
    """The name an output file has while it is being written."""
    return f"{path}.part"


class OutputWriter:
    """Appends frames of the global (time, y, x) fields to ``path``.

    path:    the output file (its folder is created)
    context: the parallel context (rank, size, is_root, comm)
    grid:    the global grid (``nx``, ``ny``, ``x_centres()``, ``y_centres()`` in m)
    tile:    this rank's tile (``i0``, ``j0``, ``nx``, ``ny``)
    fields:  the :class:`dycore.equations.base.Field` declarations written
             every frame, in order; :meth:`write` takes their values from a
             state by name
    static:  name -> (Field, this rank's (ny, nx) array), written once
    dtype:   the dtype of the field datasets
    attrs:   root attributes (the config, the version); ``ranks`` is added

    Collective: every rank constructs it and calls :meth:`write` and
    :meth:`close`. Creating it creates the files (``PATH.part``; an existing
    ``PATH`` is removed), so an unwritable path fails here, before any time
    step. :meth:`close` renames ``PATH.part`` to ``PATH``; :meth:`abandon`
    (not collective, for error paths) closes the files and leaves the
    ``.part`` name.
    """

    def __init__(self, path, context, grid, tile, fields, static, dtype, attrs):
        self.path = os.fspath(path)
        self.context = ctx = context
        self.fields = tuple(fields)
        self.static = dict(static)
        self.dtype = np.dtype(dtype)
        self.frames = 0
        self.closed = False
        self.part = part_path(self.path)
        self._main = self._tile = None
        self._tile_name = f"rank{ctx.rank:05d}.h5"
        shape = (grid.ny, grid.nx)
        tiles = allgather(ctx, tile_tuple(tile))

        def create_main():
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            if os.path.isdir(self.path):
                raise OutputError(f"cannot write output {self.path!r}: it is a directory")
            for old in (self.path, self.part):
                if os.path.lexists(old):
                    os.remove(old)
            remove_stale(tile_dir(self.path), set(), r"rank\d+\.h5")
            if ctx.size > 1:
                os.makedirs(tile_dir(self.path), exist_ok=True)
            f = h5py.File(self.part, "w")
            write_attrs(f, {**attrs, "ranks": int(ctx.size)})
            coordinates(f, grid)
            t = f.create_dataset("time", shape=(0,), maxshape=(None,), chunks=(512,),
                                 dtype=np.float64)
            t.make_scale("time")
            t.attrs.update({"units": "s", "axis": "T", "long_name": "simulated time"})
            if ctx.size == 1:
                self._create_fields(f, shape)
            else:
                # Made before the tile files exist, so that rank 0 never opens
                # (and, with HDF5 file locking, collides with) a file that
                # another rank has open for writing.
                base = os.path.basename(tile_dir(self.path))
                sources = [f"{base}/rank{r:05d}.h5" for r in range(ctx.size)]
                for field in self.fields:
                    virtual(f, field.name, tiles, sources, shape, self.dtype, time_axis=True)
                for name in self.static:
                    virtual(f, name, tiles, sources, shape, self.dtype, time_axis=False)
            for field in self.fields:
                describe(f, field, ("time", "y", "x"))
            for field, _ in self.static.values():
                describe(f, field, ("y", "x"))
            f.flush()
            self._main = f

        collectively(ctx, create_main, what=f"cannot create output {self.path!r}",
                     root_only=True)
        if ctx.size == 1:
            return

        def create_tile():
            # No file lock: readers of the global view (rank 0 closing the
            # file, a user peeking at a running job) may open it meanwhile.
            f = h5py.File(os.path.join(tile_dir(self.path), self._tile_name), "w",
                          locking=False)
            f.attrs.update({"j0": tile.j0, "i0": tile.i0, "rank": ctx.rank})
            self._create_fields(f, (tile.ny, tile.nx))
            f.flush()
            self._tile = f

        collectively(ctx, create_tile, what=f"cannot create output tile of {self.path!r}")

    def _create_fields(self, f, shape) -> None:
        for field in self.fields:
            f.create_dataset(field.name, shape=(0, *shape), maxshape=(None, *shape),
                             chunks=(1, *shape), dtype=self.dtype)
        for name, (_, values) in self.static.items():
            f.create_dataset(name, data=np.asarray(values, self.dtype))

    def write(self, state, t: float) -> None:
        """Append this rank's tile of ``state`` (each field read as
        ``getattr(state, field.name)``) at time ``t`` (s); flushed."""
        k = self.frames

        def write_fields():
            f = self._main if self.context.size == 1 else self._tile
            for field in self.fields:
                ds = f[field.name]
                ds.resize(k + 1, axis=0)
                ds[k] = local_values(state, field, self.dtype)
            f.flush()

        def write_time():
            ds = self._main["time"]
            ds.resize(k + 1, axis=0)
            ds[k] = float(t)
            self._main.flush()

        what = f"cannot write output {self.path!r}"
        collectively(self.context, write_fields, what=what, root_only=self.context.size == 1)
        collectively(self.context, write_time, what=what, root_only=True)
        self.frames += 1

    def _trim(self, f) -> None:
        """Drop a field frame whose ``time`` was never written (a failed write)."""
        first = self.fields[0].name
        if f is not None and f.id.valid and first in f and not f[first].is_virtual:
            for field in self.fields:
                if f[field.name].shape[0] > self.frames:
                    f[field.name].resize(self.frames, axis=0)

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
            publish(self.part, self.path)

        what = f"cannot close output {self.part!r}"
        if ctx.size > 1:
            collectively(ctx, finish_tile, what=what)
        collectively(ctx, finish_main, what=what, root_only=True)
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

