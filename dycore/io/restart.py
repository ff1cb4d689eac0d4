"""Restart files: the global prognostic fields (y, x) at one time and the
per-cell parameters used (the bed), with the time, the step count and the
config, readable by any number of ranks.

Layout: ``/x``, ``/y`` (m, dimension scales) and one (y, x) dataset per
declared field and per-cell parameter (long_name, units, standard_name as
declared); root
attributes: those the caller gives (the config, see
:mod:`dycore.io.attributes`; the version; the equation set's ``model``
name; driver settings such as ``checkpoint_interval``), plus ``kind =
"dycore restart"``, ``time`` (s), ``step``, ``fields`` (the field names,
comma-separated, in order), ``parameters`` (the per-cell parameters
stored, likewise) and ``ranks``.

They use the same one-file / tiles-plus-VDS scheme as the output (see
:mod:`dycore.io.layout`; tiles named ``stepNNNNNNNNNNNN_rankNNNNN.h5`` so a
new restart never overwrites the tiles the previous one maps), and are
written under a temporary name, fsynced and renamed: a crash leaves the
previous restart file intact. Reading one checks that it is a complete
dycore restart file of the same grid, equation set and fields
(:class:`ConfigError` otherwise, with a one-line message). Every operation
except :func:`read_restart_attrs` is collective.
"""
from __future__ import annotations

import math
import os

import h5py
import numpy as np

from dycore.config import Config
from dycore.errors import ConfigError
from dycore.io.attributes import config_from_json, plain, write_attrs
from dycore.io.collective import OutputError, allgather, collectively
from dycore.io.layout import (coordinates, describe, field_attrs, file_dims, file_shape,
                              local_values, tile_dir, tile_slices, tile_tuple, virtual)
from dycore.io.safe_files import (check_room, discard_tmp, is_regular, make_folders, new_h5,
                                  own_folder, publish, remove_stale)

RESTART_KIND = "dycore restart"
TILE_PATTERN = r"step\d+_rank\d+\.h5(\.[^/]*\.tmp)?"
"""Names in a restart file's tile folder: tiles, and their temporary files."""
CHECKSUM_ATTR = "dycore_checksum"
"""Attribute of each field dataset: :func:`checksum` of its global values."""

_MASK = (1 << 64) - 1


def _tile_name(step: int, rank: int) -> str:
    return f"step{int(step):012d}_rank{rank:05d}.h5"


def checksum(values, i0: int, j0: int, nx: int) -> int:
    """This tile's part of a field's checksum: the sum mod 2**64 of a 64-bit
    hash of every cell's stored bits and global index (``values`` the
    (ny, nx) tile whose first cell is (i0, j0) of a grid ``nx`` cells wide).
    Parts add up to the whole field's checksum, whatever the tiling, so a
    file written on M ranks is verified on N."""
    v = np.ascontiguousarray(values)
    v = v.reshape(-1, v.shape[-1]) if v.ndim > 2 else v  # the sphere's faces stacked in j
    if v.dtype.kind != "f" or v.dtype.itemsize not in (4, 8):
        raise ConfigError(f"cannot checksum values of type {v.dtype}")
    bits = v.view(np.uint32 if v.dtype.itemsize == 4 else np.uint64).astype(np.uint64)
    rows = np.arange(j0, j0 + v.shape[0], dtype=np.uint64)[:, None] * np.uint64(nx)
    index = rows + np.arange(i0, i0 + v.shape[1], dtype=np.uint64)[None, :] + np.uint64(1)
    with np.errstate(over="ignore"):
        z = bits ^ (index * np.uint64(0x9E3779B97F4A7C15))   # splitmix64 finaliser
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        return int(z.sum(dtype=np.uint64))


def _total(parts) -> int:
    return sum(parts) & _MASK


def write_restart(path, context, grid, tile, fields, state, t: float, step: int,
                  attrs: dict, dtype, static: dict | None = None) -> None:
    """Write a restart file: the global (y, x) values of ``fields`` (Field
    declarations; values read as ``getattr(state, field.name)``, this rank's
    tile, stored as ``dtype``) and of the per-cell parameters ``static``
    (name -> (declaration, this rank's array), e.g. the bed actually used;
    listed in the root attribute ``parameters``) with a checksum of each,
    time ``t`` (s), ``step``, and the root attributes ``attrs``. Collective. The file is
    replaced atomically: a crash leaves the previous restart file intact
    and readable. Temporary files get fresh unique names in the target's
    folder (created exclusively, never through a link) and are deleted if
    the write fails; ``path`` itself, if it exists, must be a regular file."""
    path = os.fspath(path)
    fields = tuple(fields)
    static = dict(static or {})
    dtype = np.dtype(dtype)
    folder = tile_dir(path)
    root = {**attrs, "ranks": int(context.size), "kind": RESTART_KIND, "time": float(t),
            "step": int(step), "fields": ",".join(field.name for field in fields),
            "parameters": ",".join(static)}
    what = f"cannot write restart {path!r}"
    values = {field.name: local_values(state, field, dtype) for field in fields}
    values.update({name: np.asarray(v).astype(dtype, copy=False)
                   for name, (_, v) in static.items()})
    fields = fields + tuple(decl for decl, _ in static.values())
    sums = {name: checksum(v, tile.i0, tile.j0, grid.nx) for name, v in values.items()}

    def prepare():
        make_folders(os.path.dirname(os.path.abspath(path)))
        if os.path.lexists(path) and not is_regular(path):
            raise OutputError(f"{what}: it exists and is not a regular file (a folder, link "
                              f"or device); refusing to replace it")
        if context.size > 1:
            if not os.path.lexists(folder):
                os.mkdir(folder)
            elif not own_folder(folder, TILE_PATTERN):
                raise OutputError(f"{what}: {folder!r} is not a tile folder written by dycore "
                                  f"(a link, or it holds other files); refusing to use it")

    collectively(context, prepare, what=what, root_only=True)
    tiles = None
    if context.size > 1:
        def write_tile():
            final = os.path.join(folder, _tile_name(step, context.rank))
            tmp = None
            try:
                check_room(final, sum(v.nbytes for v in values.values()), new=True)
                f, tmp = new_h5(folder=folder, prefix=os.path.basename(final) + ".")
                with f:
                    for field in fields:
                        f.create_dataset(field.name, data=values[field.name])
                publish(tmp, final)
            except BaseException:
                discard_tmp(tmp)
                raise
            return tile_tuple(tile), sums

        shared = collectively(context, write_tile, what=what, share=True)
        tiles = [t for t, _ in shared]
        totals = {name: _total(s[name] for _, s in shared) for name in sums}
    else:
        totals = {name: value & _MASK for name, value in sums.items()}

    def write_main():
        names = [_tile_name(step, r) for r in range(context.size)]
        tmp = None
        try:
            check_room(path, 0 if tiles else sum(v.nbytes for v in values.values()), new=True)
            f, tmp = new_h5(folder=os.path.dirname(os.path.abspath(path)),
                            prefix=os.path.basename(path) + ".")
            with f:
                write_attrs(f, root)
                coordinates(f, grid)
                for field in fields:
                    if tiles is None:
                        f.create_dataset(field.name, data=values[field.name])
                    else:
                        sources = [f"{os.path.basename(folder)}/{name}" for name in names]
                        virtual(f, field.name, tiles, sources, file_shape(grid), dtype,
                                time_axis=False)
                    f[field.name].attrs[CHECKSUM_ATTR] = np.uint64(totals[field.name])
                    describe(f, field, file_dims(grid), field_attrs(grid))
            publish(tmp, path)
        except BaseException:
            discard_tmp(tmp)
            raise
        keep = set(names) if context.size > 1 else set()
        remove_stale(folder, keep, TILE_PATTERN)

    collectively(context, write_main, what=what, root_only=True)


def _number(attrs, key, path, integer=False):
    value = attrs.get(key)
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"restart file {path!r}: attribute {key!r} must be "
                          f"{'an integer' if integer else 'a number'}, got {value!r:.60}")
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"restart file {path!r}: attribute {key!r} must be finite and "
                          f">= 0, got {value!r}")
    return value


def read_restart_attrs(path) -> dict:
    """Root attributes of a restart file, checked to be one (any process):
    its kind, a readable config, ``time`` a finite number >= 0 and ``step``
    an integer >= 0."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"restart file {path!r} not found")
    try:
        with h5py.File(path, "r") as f:
            attrs = {key: plain(value) for key, value in f.attrs.items()}
    except (OSError, ValueError, TypeError, UnicodeDecodeError) as err:
        text = " ".join(str(err).split())
        raise ConfigError(f"restart file {path!r} is not a readable HDF5 file; truncated or "
                          f"not a restart file? ({text})") from None
    if attrs.get("kind") != RESTART_KIND:
        raise ConfigError(f"restart file {path!r} is not a dycore restart file (no attribute "
                          f"kind = {RESTART_KIND!r})")
    for key in ("config_json", "time", "step"):
        if key not in attrs:
            raise ConfigError(f"restart file {path!r} is incomplete: attribute {key!r} is missing")
    _number(attrs, "time", path)
    _number(attrs, "step", path, integer=True)
    try:
        config_from_json(attrs["config_json"])
    except (TypeError, ValueError, AttributeError, RecursionError) as err:
        raise ConfigError(f"restart file {path!r} holds a config this version cannot read "
                          f"({err})") from None
    return attrs


def read_restart_config(path) -> Config:
    """The resolved Config a restart file was written with."""
    return config_from_json(read_restart_attrs(path)["config_json"])


def _check_sources(f, name: str, path: str) -> None:
    """A field must be a dataset of this file (not an external link), and a
    virtual one may map only files inside the restart file's folder."""
    link = f.get(name, getlink=True)
    if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
        raise ConfigError(f"restart file {path!r}: field {name!r} is an external link; "
                          f"refused (a restart file may refer only to its own tiles)")
    ds = f[name]
    if not isinstance(ds, h5py.Dataset):
        raise ConfigError(f"restart file {path!r}: {name!r} is not a dataset")
    if not ds.is_virtual:
        return
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for source in ds.virtual_sources():
        name_ = source.file_name
        if name_ == ".":
            continue
        target = os.path.realpath(os.path.join(folder, name_))
        if os.path.isabs(name_) or os.path.commonpath([folder, target]) != folder:
            raise ConfigError(f"restart file {path!r}: field {name!r} maps {name_!r}, outside "
                              f"the restart file's folder; refused")


def read_restart(path, context, grid, tile, fields, *, grid_keys: dict, model: str | None,
                 static: tuple = ()):
    """({name: this rank's (ny, nx) numpy array, as stored}, t, step) from a
    restart file. Collective. The file may have been written by any number
    of ranks. It must match this run (ConfigError otherwise): the config
    keys in ``grid_keys`` (key -> this run's value: the grid's size and
    extent) must equal the file's, its ``model`` attribute must be
    ``model`` (unless either is absent), and it must hold exactly the
    ``fields`` (declarations, in order) on the grid's (ny, nx) cells, as
    real floats, all finite, matching their stored checksums (files
    without checksums are read unchecked). Fields must be datasets of the
    file or virtual datasets of files in its folder (no external links).
    ``static``: per-cell parameter declarations (the bed), read with the
    same checks when the file lists them in its ``parameters`` attribute
    (files written before parameters were stored have none: then the
    result holds the fields only)."""
    path = os.fspath(path)
    fields = tuple(fields)
    want = ",".join(field.name for field in fields)
    static = tuple(static)

    def read():
        attrs = read_restart_attrs(path)
        saved = config_from_json(attrs["config_json"])
        for key, mine in grid_keys.items():
            if getattr(saved, key) != mine:
                raise ConfigError(f"config key {key!r}: the restart file {path!r} has "
                                  f"{getattr(saved, key)!r}, this run {mine!r}"
                                  f" (incompatible grid)")
        if model is not None and attrs.get("model", model) != model:
            raise ConfigError(f"restart file {path!r} was written by the {attrs['model']} "
                              f"equations, this run uses {model}")
        if attrs.get("fields", want) != want:
            raise ConfigError(f"restart file {path!r} holds fields {attrs['fields']}, this "
                              f"run's equations need {want} (another equation set)")
        stored = {}
        listed = attrs.get("parameters")
        names = [] if listed is None else [n for n in str(listed).split(",") if n]
        unknown = [n for n in names if n not in {p.name for p in static}]
        if unknown:
            raise ConfigError(f"restart file {path!r} holds parameters {listed}, this run's "
                              f"equations have no {unknown[0]!r} (another equation set)")
        items = fields + tuple(p for p in static if p.name in names)
        with h5py.File(path, "r") as f:
            shape = file_shape(grid)
            for field in items:
                if field.name not in f:
                    raise ConfigError(f"restart file {path!r}: field {field.name!r} is "
                                      f"missing, expected shape {shape} (truncated or not ours?)")
                _check_sources(f, field.name, path)
                ds = f[field.name]
                if ds.shape != shape:
                    raise ConfigError(f"restart file {path!r}: field {field.name!r} is "
                                      f"{ds.shape}, expected shape {shape} (truncated or not "
                                      f"ours?)")
                if ds.dtype.kind != "f" or ds.dtype.itemsize not in (4, 8):
                    raise ConfigError(f"restart file {path!r}: field {field.name!r} holds "
                                      f"{ds.dtype} data, expected real floats (float32 or "
                                      f"float64)")
                if CHECKSUM_ATTR in ds.attrs:
                    stored[field.name] = int(ds.attrs[CHECKSUM_ATTR])
            values = {field.name: np.asarray(f[field.name][tile_slices(tile)])
                      for field in items}
        if not all(np.all(np.isfinite(q)) for q in values.values()):
            raise ConfigError(f"restart file {path!r} has missing or non-finite data "
                              f"(is {os.path.basename(tile_dir(path))}/ beside it?)")
        sums = {name: checksum(q, tile.i0, tile.j0, grid.nx) for name, q in values.items()}
        return values, float(attrs["time"]), int(attrs["step"]), stored, sums

    values, t, step, stored, sums = collectively(
        context, read, what=f"cannot read restart {path!r}", error=ConfigError)
    parts = allgather(context, sums)
    for name, want_sum in stored.items():
        if _total(p[name] for p in parts) != want_sum:
            raise ConfigError(f"restart file {path!r}: field {name!r} does not match its "
                              f"stored checksum (the file is corrupt)")
    return values, t, step
