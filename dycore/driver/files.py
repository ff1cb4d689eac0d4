"""The run's files: the checks, before the first step, that the files can be
written without clobbering anything, and the adapter from a
:class:`Simulation` to the writers (:mod:`dycore.io.model`, re-exported
here: the one place that says which fields and parameters a run writes).
"""
from __future__ import annotations

import os

from dycore.config import ConfigError
from dycore.io import part_path, tile_dir
from dycore.io.model import (GRID_KEYS, fields_of, open_output, restore,  # noqa: F401
                             save_restart, static_fields_of)
from dycore.io.safe_files import FileLock, is_regular, own_folder
from dycore.io.output import TILE_PATTERN as OUTPUT_TILES
from dycore.io.restart import TILE_PATTERN as RESTART_TILES


# ------------------------------------------------------------------ adapter
def load_restart(path, sim):
    """(state, t, step) from a restart file, this rank's tile, checked to
    fit ``sim``. Collective. The per-cell parameters stored with it (the
    bed) are dropped here: a run that goes on uses :func:`restore`."""
    state, _, t, step = restore(path, sim)
    return state, t, step


# ------------------------------------------------------------------- checks
def _key(path: str) -> str:
    """A path for comparison: its folder resolved (links followed), its own
    name kept (a link named like another file is still another name)."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def _same(a: str, b: str) -> bool:
    if _key(a) == _key(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_writable(path: str, what: str) -> None:
    """Bad input: the folder of ``path`` cannot be created or written to.
    Creates nothing: the nearest folder that exists must be one (not a
    file) and writable."""
    folder = os.path.dirname(os.path.abspath(path))
    probe = folder
    while not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        reason = f"{probe!r} is not a folder"
    elif not os.access(probe, os.W_OK | os.X_OK):
        reason = f"{probe!r}: permission denied or read-only"
    else:
        return
    raise ConfigError(f"{what} {path!r}: its folder is not writable ({reason})")


def _check_locked(part: str) -> None:
    """Bad input: ``part`` is being written by a running dycore (locked)."""
    if not is_regular(part):
        return
    try:
        FileLock.take(part).release()
    except BlockingIOError:
        raise ConfigError(f"output {part!r} is being written by another run (it is locked); "
                          f"wait for it to end, or choose another --output") from None
    except OSError:
        pass


def _check_replaceable(path: str, what: str, overwrite: bool, hint: str) -> None:
    """Bad input: ``path`` exists and ``--overwrite`` was not given, or it is
    not a regular file (only those are ever replaced)."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) and not os.path.islink(path):
        raise ConfigError(f"{what} {path!r} is a directory; choose a file name")
    if not overwrite:
        raise ConfigError(f"{what} {path!r} exists; pass --overwrite to replace it, or {hint}")
    if not is_regular(path):
        raise ConfigError(f"{what} {path!r} exists and is not a regular file (a link, device "
                          f"or other special file); --overwrite replaces only regular files")


def _check_tiles(folder: str, pattern: str, what: str, overwrite: bool, hint: str) -> None:
    """Bad input: a tile folder that exists without ``--overwrite``, or that
    is not one of ours (a link, or holding other files)."""
    if not os.path.lexists(folder):
        return
    if not overwrite:
        raise ConfigError(f"{what} {folder!r} exists (from an earlier run?); pass --overwrite "
                          f"to replace it, or {hint}")
    if not own_folder(folder, pattern):
        raise ConfigError(f"{what} {folder!r} exists and is not a tile folder written by dycore "
                          f"(a link, or it holds other files); --overwrite replaces only those")


def check_files(args, cfg, ckpt_path: str, restart_attrs) -> None:
    """Bad input about files, all found before the first step and without
    creating anything: an output or restart file (or its ``.part``, its tile
    folder) that exists, unless ``--overwrite`` (and then only regular files
    and tile folders of ours are replaced; a ``.part`` that a running writer
    holds locked never is), unless the restart file is the one being
    continued; the output of the run being continued; a clash between any
    two of the run's paths (output, its .part and tile folders, the restart
    file and its tile folder, the restart file read, the config file); a
    folder that cannot be created or written. Run on rank 0; the driver
    agrees on the result over the ranks."""
    out = cfg.output
    source = args.restart
    overwrite = args.overwrite
    if args.restart and out:
        old = restart_attrs.get("output")
        for mine in (out, part_path(out)):
            if old and os.path.exists(mine) and os.path.exists(old) and os.path.samefile(mine, old):
                raise ConfigError(f"config key 'output': {out!r} holds the output of the run "
                                  f"that wrote the restart file; choose another --output so it "
                                  f"is not overwritten")
    # Every path the run writes, and what it is; then no two may be one.
    writes = []
    if out:
        writes += [(out, "the output file"), (part_path(out), "the output's .part file"),
                   (tile_dir(out), "the output's tile folder"),
                   (tile_dir(part_path(out)), "the output's .part tile folder")]
    writes += [(ckpt_path, "the restart file"), (tile_dir(ckpt_path), "the restart file's "
                                                                       "tile folder")]
    for k, (a, what_a) in enumerate(writes):
        for b, what_b in writes[k + 1:]:
            if _same(a, b):
                raise ConfigError(f"option --checkpoint: {ckpt_path!r} clashes with the output: "
                                  f"{what_b} {b!r} would be {what_a} {a!r}; choose another "
                                  f"--checkpoint or --output")
    reads = [(source, "the restart file read (--restart)"), (args.config, "the config file")]
    for path, what in writes:
        for other, what_other in reads:
            if not other or (what == "the restart file" and what_other.startswith("the restart")):
                continue
            if _same(path, other):
                raise ConfigError(f"{what} {path!r} is {what_other}; choose another "
                                  f"{'--checkpoint' if 'restart file' in what else '--output'}")
    continuing = bool(source) and _same(ckpt_path, source)
    if out:
        hint = "choose another --output"
        _check_locked(part_path(out))
        _check_replaceable(out, "output file", overwrite, hint)
        _check_replaceable(part_path(out), "output file", overwrite, hint)
        _check_tiles(tile_dir(out), OUTPUT_TILES, "output tile folder", overwrite, hint)
        _check_tiles(tile_dir(part_path(out)), OUTPUT_TILES, "output tile folder", overwrite,
                     hint)
    hint = "--checkpoint ANOTHER.h5"
    if continuing:
        folder = tile_dir(ckpt_path)
        if os.path.lexists(folder) and not own_folder(folder, RESTART_TILES):
            raise ConfigError(f"restart file's tile folder {folder!r} is not one written by "
                              f"dycore (a link, or it holds other files)")
    else:
        if os.path.isdir(ckpt_path) and not os.path.islink(ckpt_path):
            raise ConfigError(f"option --checkpoint: {ckpt_path!r} is a directory; the restart "
                              f"file must be a file name")
        if os.path.lexists(ckpt_path) and not overwrite:
            raise ConfigError(f"restart file {ckpt_path!r} exists (from an earlier run?); pass "
                              f"--overwrite to replace it, or --checkpoint ANOTHER.h5")
        _check_replaceable(ckpt_path, "restart file", overwrite, hint)
        _check_tiles(tile_dir(ckpt_path), RESTART_TILES, "restart tile folder", overwrite, hint)
    if out:
        _check_writable(out, "cannot create output")
    _check_writable(ckpt_path, "option --checkpoint: cannot write the restart file"
                    if args.checkpoint else "cannot write the restart file (choose one with "
                    "--checkpoint)")
