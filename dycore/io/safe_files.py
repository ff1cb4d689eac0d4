"""Creating, locking, publishing and removing files safely.

Files are published atomically: written under a temporary name, fsynced,
then renamed (a crash leaves either the old file or the complete new one).

Files are never created through a link: every new file is created
exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``, temporary files under a
fresh unique name in the target's folder, see :func:`new_h5`), and
clean-up never follows a link (:func:`remove_stale` deletes only regular
files, in a real folder, whose names it knows). Writes check the room left
(file size limit, free disk space) first (:func:`check_room`), and a run
holds an exclusive lock on its output (:class:`FileLock`).
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import tempfile

import h5py

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
