"""The on-disk layout shared by output and restart files: one plain file per
rank, stitched into the global view by HDF5 virtual datasets.

One rank writes one plain file. N ranks cannot share one file here: this
h5py has no MPI driver. So each rank writes its tile to a file in
``PATH.tiles/`` and rank 0 writes ``PATH`` holding the coordinates, the
attributes and the fields as HDF5 virtual datasets (VDS) that map the tiles
into the global (y, x) or (time, y, x) arrays. No field goes through rank 0.
The source paths are relative to ``PATH``'s folder, so ``PATH`` and
``PATH.tiles/`` move together (copy both; ``consolidate`` makes a
self-contained plain file). Readers need HDF5 >= 1.10 (VDS).

Files are published atomically: written under a temporary name, fsynced,
then renamed (a crash leaves either the old file or the complete new one).

Files are never created through a link: every new file is created
exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``, temporary files under a
fresh unique name in the target's folder, see :func:`new_h5`), and
clean-up never follows a link (:func:`remove_stale` deletes only regular
files, in a real folder, whose names it knows).
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import tempfile

import h5py
import numpy as np

UNLIMITED = h5py.h5s.UNLIMITED


def tile_dir(path: str) -> str:
    """Folder of the per-rank files belonging to ``path``."""
    return f"{path}.tiles"


def tile_tuple(tile) -> tuple:
    """(j0, i0, ny, nx) of a tile: where it sits in the global grid (cells)."""
    return (int(tile.j0), int(tile.i0), int(tile.ny), int(tile.nx))


def virtual(f, name, tiles, sources, global_shape, dtype, time_axis: bool) -> None:
    """A virtual dataset ``name`` of shape ([time,] ny, nx) stitched from one
    source file per tile (``tiles`` as :func:`tile_tuple`, ``sources`` the
    file names relative to ``f``'s folder, dataset ``name`` in each); with
    ``time_axis`` the mapping is unlimited in time, so the global view grows
    with the tile files without rewriting ``f`` (HDF5 sizes it from the
    largest source)."""
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


def coordinates(f, grid) -> None:
    """x, y (m) as dimension scales of the same names (netCDF coordinate variables)."""
    for name, values, axis in (("x", grid.x_centres(), "X"), ("y", grid.y_centres(), "Y")):
        ds = f.create_dataset(name, data=np.asarray(values, np.float64))
        ds.make_scale(name)
        ds.attrs.update({"units": "m", "axis": axis,
                         "long_name": f"{name} coordinate of cell centres"})


def describe(f, field, dims: tuple) -> None:
    """Give dataset ``field.name`` its CF attributes (long_name, units and,
    where the field has one, standard_name) and attach the dimension scales
    ``dims`` (e.g. ("time", "y", "x"))."""
    ds = f[field.name]
    ds.attrs.update({"long_name": field.long_name, "units": field.units})
    if field.standard_name is not None:
        ds.attrs["standard_name"] = field.standard_name
    for axis, dim in enumerate(dims):
        ds.dims[axis].attach_scale(f[dim])
        ds.dims[axis].label = dim


def local_values(state, field, dtype) -> np.ndarray:
    """This rank's values of ``field`` in ``state`` (looked up by name), as ``dtype``."""
    return np.asarray(getattr(state, field.name)).astype(dtype, copy=False)


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def is_real_dir(path: str) -> bool:
    """Whether ``path`` is a folder itself (not a link to one)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def is_regular(path: str) -> bool:
    """Whether ``path`` is a regular file itself (not a link, device, folder...)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def own_folder(folder: str, pattern: str) -> bool:
    """Whether ``folder`` looks like one of ours: a real folder (not a link)
    holding nothing but regular files whose names match ``pattern``."""
    if not is_real_dir(folder):
        return False
    for name in os.listdir(folder):
        if not re.fullmatch(pattern, name) or not is_regular(os.path.join(folder, name)):
            return False
    return True


def remove_stale(folder: str, keep: set, pattern: str) -> None:
    """Delete the files in ``folder`` matching ``pattern`` except ``keep``
    (tiles of an earlier run with another rank count), and the folder if empty.
    Never follows a link: a ``folder`` that is a link is left alone, and
    only regular files are deleted."""
    if not is_real_dir(folder):
        return
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if re.fullmatch(pattern, name) and name not in keep and is_regular(path):
            os.unlink(path)
    if not os.listdir(folder):
        os.rmdir(folder)


def make_folders(folder: str) -> list[str]:
    """Create ``folder`` and its missing parents; return those created
    (deepest last), so that a failed run can remove exactly them."""
    folder = os.path.abspath(folder)
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    created = []
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        created.append(path)
    return created


def remove_folders(created: list[str]) -> None:
    """Remove the folders that :func:`make_folders` created, if empty."""
    for path in reversed(created):
        try:
            os.rmdir(path)
        except OSError:
            pass


def create_exclusive(path: str) -> int:
    """Create the new file ``path`` (never through a link, never an existing
    file: O_CREAT | O_EXCL | O_NOFOLLOW); returns its descriptor."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, 0o666)


def new_h5(path: str | None = None, folder: str | None = None, prefix: str = "",
           **kwargs):
    """A new HDF5 file opened for writing: at ``path`` (created exclusively),
    or under a fresh unique name ``PREFIX*.tmp`` in ``folder``. Returns
    (h5py.File, path). The file is created here first (O_EXCL, no link
    followed), then opened by HDF5, which must find the same file."""
    if path is None:
        fd, path = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; publish as any new file
        except OSError:
            pass
    else:
        fd = create_exclusive(path)
    try:
        mine = os.fstat(fd)
        try:
            f = h5py.File(path, "w", **kwargs)
        except BaseException:
            _unlink_quietly(path)
            raise
        now = os.lstat(path)
        if (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
            f.close()
            raise OSError(errno.EEXIST, f"{path!r} was replaced while it was being created")
        return f, path
    finally:
        os.close(fd)


def _umask() -> int:
    """This process's umask (read without changing it where /proc tells)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _unlink_quietly(path: str) -> None:
    try:
        if is_regular(path):
            os.unlink(path)
    except OSError:
        pass


def discard_tmp(path: str | None) -> None:
    """Delete a temporary file this process created (a failed write)."""
    if path:
        _unlink_quietly(path)


ROOM_MARGIN = 64 * 1024
"""Bytes of HDF5 metadata (chunk index, attributes) a write may add on top
of its data, at most (counted generously)."""


def check_room(path: str, data_bytes: int, new: bool = False) -> None:
    """Raise OSError (EFBIG or ENOSPC) if writing ``data_bytes`` more (plus
    :data:`ROOM_MARGIN`) to the file ``path`` would pass the process's file
    size limit (``ulimit -f``) or the free space of its file system. Checked
    before a write, so that a predictable failure never leaves an HDF5 file
    half-written (HDF5 does not roll back a failed write: the file would
    be unreadable). ``new``: the data go to a new file beside ``path``."""
    need = int(data_bytes) + ROOM_MARGIN
    try:
        size = os.stat(path).st_size if os.path.exists(path) and not new else 0
    except OSError:
        size = 0
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    except (ImportError, OSError, ValueError):
        soft = None
    if soft is not None and soft != getattr(resource, "RLIM_INFINITY", -1) and size + need > soft:
        raise OSError(errno.EFBIG, f"File too large: {path!r} would pass the file size limit "
                                   f"(ulimit -f) of {soft} bytes")
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return
    free = (st.f_bfree if os.geteuid() == 0 else st.f_bavail) * st.f_frsize
    if need > free:
        raise OSError(errno.ENOSPC, f"No space left on device: {path!r} needs about {need} "
                                    f"bytes more, {free} are free")


class FileLock:
    """An exclusive lock (flock) on a file this run is writing, held until
    :meth:`release`: a second writer finds it taken."""

    def __init__(self, fd: int):
        self.fd = fd

    @classmethod
    def take(cls, path: str) -> "FileLock":
        """Lock the existing regular file ``path`` (no link followed);
        BlockingIOError if another process holds the lock."""
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, f"{path!r} is not a regular file")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd)

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            finally:
                self.fd = None


def fsync(path: str) -> None:
    """Push a closed file (or a folder's entries) to the disk."""
    fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: str, path: str) -> None:
    """fsync ``tmp``, rename it to ``path`` (atomic on POSIX), fsync the folder."""
    fsync(tmp)
    os.replace(tmp, path)
    try:
        fsync(os.path.dirname(os.path.abspath(path)))
    except OSError:  # some file systems cannot fsync a folder; the rename stands
        pass


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
