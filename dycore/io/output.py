"""The HDF5 output series: frames of the global fields, written by every rank
for its own tile.

Layout (netCDF-4 on HDF5, so ``xarray.open_dataset(path, engine="h5netcdf")``
opens it with dimensions (time, y, x)):

    /x (x,)  /y (y,)       cell centres (m), dimension scales named x and y
    /time (time,)          simulated time (s), unlimited dimension scale
    /FIELD (time, y, x)    each declared field (for shallow water h (m), hu and
                           hv (m2 s-1)) and each derived one asked for (u, v,
                           eta, ...), chunked per time slice
    /STATIC (y, x)         fields written once (the bottom elevation b (m))
    root attributes        those given (the config, see
                           :mod:`dycore.io.attributes`; the version) and ranks

Each field dataset carries its declaration's long_name, units and, where
there is one, CF standard_name. On the cubed sphere the fields are (time, face, y, x)
with lon/lat, their bounds and the cell area as coordinates
(:mod:`dycore.sphere.files`).

The output is written under the name ``PATH.part`` and renamed to ``PATH``
when the writer is closed (:meth:`OutputWriter.close`, after trimming the
fields to the frames whose ``time`` was written and an fsync), so a file
named ``PATH`` is always complete and holds only whole time slices; a run
that died leaves ``PATH.part``, readable up to its last flushed frame.

On N ranks each rank appends to ``PATH.part.tiles/rankNNNNN.h5`` (the
folder becomes ``PATH.tiles/`` when the writer is closed, and the VDS are
pointed there) and ``PATH`` maps them with VDS that are unlimited along
time (see :mod:`dycore.io.layout`). A frame counts as written once ``time`` holds its
value: ``time`` is appended after every tile has been written and flushed,
so in a ``.part`` file left by a crash the fields may hold one frame more
than ``time`` (trust ``time``); closing trims them. Unlimited mappings need
no time-axis size up front (sizing it from t_end and output_interval would
leave fill values after a crash). Tile files are opened without HDF5 file
locks so that the global view can be read while a run is going; rank 0
builds the VDS before the tile files exist, so it never opens a file
another rank is writing. ``PATH.part`` is locked with flock instead, for
the writer's lifetime (open it with ``locking=False`` to read it meanwhile).
"""
from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import os

import h5py
import numpy as np

from dycore.io.attributes import write_attrs
from dycore.io.collective import OutputError, allgather, collectively
from dycore.io.layout import (coordinates, describe, field_attrs, file_dims, file_shape,
                              local_values, tile_dir, tile_tuple, virtual)
from dycore.io.safe_files import (FileLock, check_room, discard_tmp, is_regular, make_folders,
                                  new_h5, own_folder, publish, remove_folders, remove_stale)

__all__ = ["OutputWriter", "TILE_PATTERN", "part_path"]

TILE_PATTERN = r"rank\d+\.h5"
"""Names of the per-rank files in an output's tile folder."""


def part_path(path: str) -> str:
    """The name an output file has while it is being written."""
    return f"{path}.part"


def _muted(fn):
    """``fn()`` with stderr muted while it fails: when an HDF5 write fails,
    h5py prints a traceback for every object of the broken file it frees.
    The error is raised again (same type and message) once they are freed."""
    failure = None
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return fn()
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            failure = (type(err), str(err))
        gc.collect()
    kind, text = failure
    try:
        error = kind(text)
    except TypeError:
        error = OSError(text)
    raise error


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
    time_attrs: the attributes of ``time`` (default: units "s"; the
             adapter gives CF's "seconds since START", see
             :mod:`dycore.io.model`)
    derive:  optional ``derive(state)``: an object holding every field's
             values by name (state fields and derived ones such as u, v),
             called by every rank at each :meth:`write` (it may be collective)

    Collective: every rank constructs it and calls :meth:`write` and
    :meth:`close`. Creating it creates the files, so an unwritable path
    fails here, before any time step: ``PATH.part`` (created exclusively,
    never through a link, and locked with flock for the writer's lifetime:
    a second writer of the same ``PATH`` fails with "being written by
    another run"), and on N ranks the tile folder ``PATH.part.tiles/``
    (created fresh). An existing ``PATH`` must be a regular file; it is
    replaced only by :meth:`close`, when the new file is complete (on N
    ranks ``PATH.part.tiles/`` then becomes ``PATH.tiles/``, replacing an
    earlier tile folder of ours; a ``PATH.tiles`` that is a link or holds
    other files is refused at creation). :meth:`abandon` (not collective,
    for error paths) closes the files and leaves the ``.part`` name;
    :meth:`discard` (collective, for a run that fails before its first
    step) deletes everything the writer created.
    """

    def __init__(self, path, context, grid, tile, fields, static, dtype, attrs, *,
                 time_attrs: dict | None = None, derive=None):
        self.path = os.fspath(path)
        self.context = ctx = context
        self.fields = tuple(fields)
        self.derive = derive
        self.static = dict(static)
        self.dtype = np.dtype(dtype)
        self.frames = 0
        self.closed = False
        self.part = part_path(self.path)
        self.tiles = tile_dir(self.part)
        self._main = self._tile = None
        self._lock = None
        self._made: list[str] = []   # what this writer created (root: part, folders)
        self._tile_path = None
        self._tile_name = f"rank{ctx.rank:05d}.h5"
        self._grid, self._tiles = grid, None
        shape = file_shape(grid)
        dims, extra = file_dims(grid), field_attrs(grid)
        self._dims, self._extra = dims, extra
        tiles = allgather(ctx, tile_tuple(tile))
        self._tiles = tiles

        def create_main():
            folder = os.path.dirname(os.path.abspath(self.path))
            self._folders = make_folders(folder)
            if os.path.isdir(self.path):
                raise OutputError(f"cannot write output {self.path!r}: it is a directory")
            if os.path.lexists(self.path) and not is_regular(self.path):
                raise OutputError(f"cannot write output {self.path!r}: it exists and is not a "
                                  f"regular file (a link, device or other special file); "
                                  f"refusing to replace it")
            final_tiles = tile_dir(self.path)
            if os.path.lexists(final_tiles) and not own_folder(final_tiles, TILE_PATTERN):
                raise OutputError(f"cannot write output {self.path!r}: {final_tiles!r} exists "
                                  f"and is not a tile folder written by dycore (a link, or it "
                                  f"holds other files); refusing to replace it")
            self._take_part()
            if os.path.lexists(self.tiles):  # left by a crashed run (its lock is gone)
                if not own_folder(self.tiles, TILE_PATTERN):
                    raise OutputError(f"cannot write output {self.path!r}: {self.tiles!r} "
                                      f"exists and is not a tile folder written by dycore")
                remove_stale(self.tiles, set(), TILE_PATTERN)
            if ctx.size > 1:
                os.mkdir(self.tiles)
                self._made.append(self.tiles)
            f = h5py.File(self.part, "w", locking=False)
            self._main = f
            mine, now = os.fstat(self._lock.fd), os.lstat(self.part)
            if (mine.st_ino, mine.st_dev) != (now.st_ino, now.st_dev):
                raise OutputError(f"cannot write output {self.path!r}: {self.part!r} was "
                                  f"replaced while it was being created")
            write_attrs(f, {**attrs, "ranks": int(ctx.size)})
            coordinates(f, grid)
            t = f.create_dataset("time", shape=(0,), maxshape=(None,), chunks=(512,),
                                 dtype=np.float64)
            t.make_scale("time")
            t.attrs.update(time_attrs or {"units": "s", "axis": "T",
                                          "long_name": "simulated time"})
            if ctx.size == 1:
                self._create_fields(f, shape)
            else:
                # Made before the tile files exist, so that rank 0 never opens
                # (and, with HDF5 file locking, collides with) a file that
                # another rank has open for writing.
                self._map_tiles(f, self.tiles)
            for field in self.fields:
                describe(f, field, ("time", *dims), extra)
            for field, _ in self.static.values():
                describe(f, field, dims, extra)
            f.flush()

        self._folders = []
        try:
            collectively(ctx, create_main, what=f"cannot create output {self.path!r}",
                         root_only=True)
            if ctx.size == 1:
                return

            def create_tile():
                # No file lock: readers of the global view (rank 0 closing the
                # file, a user peeking at a running job) may open it meanwhile.
                f, self._tile_path = new_h5(os.path.join(self.tiles, self._tile_name),
                                            locking=False)
                self._tile = f
                f.attrs.update({"j0": tile.j0, "i0": tile.i0, "rank": ctx.rank})
                self._create_fields(f, tuple(tile_tuple(tile)[len(shape):]))
                f.flush()

            collectively(ctx, create_tile, what=f"cannot create output tile of {self.path!r}")
        except OutputError:
            self._discard_local()
            raise

    def _take_part(self) -> None:
        """Create ``PATH.part`` exclusively and lock it (root). A ``.part``
        that exists is replaced only if it is a regular file that no
        running writer holds (one left by a crash)."""
        old = None
        if os.path.lexists(self.part):
            if not is_regular(self.part):
                raise OutputError(f"cannot write output {self.path!r}: {self.part!r} exists "
                                  f"and is not a regular file; refusing to replace it")
            try:
                old = FileLock.take(self.part)
            except BlockingIOError:
                raise OutputError(f"output {self.part!r} is being written by another run (it "
                                  f"is locked); wait for it to end, or choose another "
                                  f"--output") from None
            os.unlink(self.part)
        try:
            fd = os.open(self.part, os.O_RDWR | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            raise OutputError(f"output {self.part!r} is being written by another run (it "
                              f"appeared meanwhile); choose another --output") from None
        finally:
            if old is not None:
                old.release()
        self._made.append(self.part)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"output {self.part!r} is being written by another run (it "
                              f"is locked); choose another --output") from None
        self._lock = FileLock(fd)

    def _map_tiles(self, f, folder: str) -> None:
        """The virtual datasets of ``f`` mapping the tile files in ``folder``."""
        shape = file_shape(self._grid)
        base = os.path.basename(folder)
        sources = [f"{base}/rank{r:05d}.h5" for r in range(self.context.size)]
        for field in self.fields:
            virtual(f, field.name, self._tiles, sources, shape, self.dtype, time_axis=True)
        for name in self.static:
            virtual(f, name, self._tiles, sources, shape, self.dtype, time_axis=False)

    def _remap_tiles(self, f, folder: str) -> None:
        """Point the virtual datasets of ``f`` at the tile files in ``folder``."""
        names = [field.name for field in self.fields] + list(self.static)
        for name in names:
            ds = f[name]
            for axis, dim in enumerate(ds.dims):
                for scale in list(dim.values()):
                    dim.detach_scale(scale)
            del f[name]
        self._map_tiles(f, folder)
        for field in self.fields:
            describe(f, field, ("time", *self._dims), self._extra)
        for field, _ in self.static.values():
            describe(f, field, self._dims, self._extra)

    def _create_fields(self, f, shape) -> None:
        for field in self.fields:
            f.create_dataset(field.name, shape=(0, *shape), maxshape=(None, *shape),
                             chunks=(1, *shape), dtype=self.dtype)
        for name, (_, values) in self.static.items():
            f.create_dataset(name, data=np.asarray(values, self.dtype))

    def write(self, state, t: float) -> None:
        """Append this rank's tile of ``state`` (each field read as
        ``getattr(state, field.name)``, after ``derive``) at time ``t`` (s);
        flushed."""
        k = self.frames
        if self.derive is not None:
            state = self.derive(state)

        def append_fields():
            f = self._main if self.context.size == 1 else self._tile
            for field in self.fields:
                ds = f[field.name]
                ds.resize(k + 1, axis=0)
                ds[k] = local_values(state, field, self.dtype)
            f.flush()

        def append_time():
            ds = self._main["time"]
            ds.resize(k + 1, axis=0)
            ds[k] = float(t)
            self._main.flush()

        def write_fields():
            f = self._main if self.context.size == 1 else self._tile
            check_room(f.filename, sum(np.asarray(getattr(state, field.name)).size
                                       for field in self.fields) * self.dtype.itemsize)
            _muted(append_fields)

        def write_time():
            check_room(self._main.filename, 4096)
            _muted(append_time)

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
        publish: on N ranks move ``PATH.part.tiles/`` to ``PATH.tiles/``
        (an earlier tile folder of ours is replaced) and point the virtual
        datasets there; rename ``PATH.part`` to ``PATH`` (replacing an
        earlier file only now, when the new one is complete). Collective;
        safe to call twice."""
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
            final_tiles = tile_dir(self.path)
            if f is not None and f.id.valid:
                self._trim(f)
                if ctx.size > 1:
                    self._remap_tiles(f, final_tiles)
                f.close()
            old = None
            if os.path.lexists(final_tiles):
                if not own_folder(final_tiles, TILE_PATTERN):
                    raise OutputError(f"{final_tiles!r} is not a tile folder written by "
                                      f"dycore; the complete output is left as {self.part!r}")
                old = f"{final_tiles}.old-{os.getpid()}"
                os.rename(final_tiles, old)
            if ctx.size > 1:
                os.rename(self.tiles, final_tiles)
            publish(self.part, self.path)
            if old is not None:
                remove_stale(old, set(), TILE_PATTERN)
            if self._lock is not None:
                self._lock.release()

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
                    try:
                        f.close()
                    except (OSError, ValueError, RuntimeError):
                        pass
        self._tile = self._main = None
        if self._lock is not None:
            self._lock.release()
        self.closed = True

    def _discard_local(self) -> None:
        """Close and delete what this rank created (no agreement)."""
        for f in (self._tile, self._main):
            if f is not None and f.id.valid:
                try:
                    f.close()
                except (OSError, ValueError, RuntimeError):
                    pass
        self._tile = self._main = None
        discard_tmp(self._tile_path)
        self._tile_path = None
        if self.context.is_root:
            for path in reversed(self._made):
                if path == self.tiles:
                    try:
                        remove_stale(path, set(), TILE_PATTERN)
                    except OSError:
                        pass
                else:
                    discard_tmp(path)
            self._made = []
            remove_folders(self._folders)
            self._folders = []
        if self._lock is not None:
            self._lock.release()
        self.closed = True

    def discard(self) -> None:
        """Delete everything this writer created (the ``.part``, the tile
        folder and files, the folders made for them): for a run that stops
        before its first step. Collective."""
        if self.context.size > 1:
            collectively(self.context, lambda: self._drop_tile(),
                         what=f"cannot remove output tile of {self.path!r}")
        collectively(self.context, self._discard_local, what=f"cannot remove {self.part!r}",
                     root_only=True)
        self.closed = True

    def _drop_tile(self) -> None:
        f, self._tile = self._tile, None
        if f is not None and f.id.valid:
            f.close()
        discard_tmp(self._tile_path)
        self._tile_path = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            self.abandon()

