"""Restart files: the global prognostic fields (y, x) at one time, with the
time, the step count and the config, readable by any number of ranks.

Layout: ``/x``, ``/y`` (m, dimension scales) and one (y, x) dataset per
declared field (long_name, units, standard_name as declared); root
attributes: those the caller gives (the config, see
:mod:`dycore.io.attributes`; the version; the equation set's ``model``
name; driver settings such as ``checkpoint_interval``), plus ``kind =
"dycore restart"``, ``time`` (s), ``step``, ``fields`` (the field names,
comma-separated, in order) and ``ranks``.

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

import os

import h5py
import numpy as np

from dycore.config import Config
from dycore.errors import ConfigError
from dycore.io.attributes import config_from_json, plain, write_attrs
from dycore.io.collective import collectively
from dycore.io.layout import (coordinates, describe, local_values, publish, remove_stale,
                              tile_dir, tile_tuple, virtual)

RESTART_KIND = "dycore restart"


def _tile_name(step: int, rank: int) -> str:
    return f"step{int(step):012d}_rank{rank:05d}.h5"


def write_restart(path, context, grid, tile, fields, state, t: float, step: int,
                  attrs: dict, dtype) -> None:
    """Write a restart file: the global (y, x) values of ``fields`` (Field
    declarations; values read as ``getattr(state, field.name)``, this rank's
    tile, stored as ``dtype``), time ``t`` (s), ``step``, and the root
    attributes ``attrs``. Collective. The file is replaced atomically: a
    crash leaves the previous restart file intact and readable."""
    path = os.fspath(path)
    fields = tuple(fields)
    dtype = np.dtype(dtype)
    folder = tile_dir(path)
    root = {**attrs, "ranks": int(context.size), "kind": RESTART_KIND, "time": float(t),
            "step": int(step), "fields": ",".join(field.name for field in fields)}
    what = f"cannot write restart {path!r}"

    def prepare():
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if context.size > 1:
            os.makedirs(folder, exist_ok=True)

    collectively(context, prepare, what=what, root_only=True)
    tiles = None
    if context.size > 1:
        def write_tile():
            final = os.path.join(folder, _tile_name(step, context.rank))
            with h5py.File(final + ".tmp", "w") as f:
                for field in fields:
                    f.create_dataset(field.name, data=local_values(state, field, dtype))
            publish(final + ".tmp", final)
            return tile_tuple(tile)

        tiles = collectively(context, write_tile, what=what, share=True)

    def write_main():
        tmp = path + ".tmp"
        names = [_tile_name(step, r) for r in range(context.size)]
        with h5py.File(tmp, "w") as f:
            write_attrs(f, root)
            coordinates(f, grid)
            for field in fields:
                if tiles is None:
                    f.create_dataset(field.name, data=local_values(state, field, dtype))
                else:
                    sources = [f"{os.path.basename(folder)}/{name}" for name in names]
                    virtual(f, field.name, tiles, sources, (grid.ny, grid.nx), dtype,
                            time_axis=False)
                describe(f, field, ("y", "x"))
        publish(tmp, path)
        keep = set(names) if context.size > 1 else set()
        remove_stale(folder, keep, r"step\d+_rank\d+\.h5(\.tmp)?")

    collectively(context, write_main, what=what, root_only=True)


def read_restart_attrs(path) -> dict:
    """Root attributes of a restart file, checked to be one (any process)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"restart file {path!r} not found")
    try:
        with h5py.File(path, "r") as f:
            attrs = {key: plain(value) for key, value in f.attrs.items()}
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


def read_restart(path, context, grid, tile, fields, *, grid_keys: dict, model: str | None):
    """({name: this rank's (ny, nx) numpy array, as stored}, t, step) from a
    restart file. Collective. The file may have been written by any number
    of ranks. It must match this run (ConfigError otherwise): the config
    keys in ``grid_keys`` (key -> this run's value: the grid's size and
    extent) must equal the file's, its ``model`` attribute must be
    ``model`` (unless either is absent), and it must hold exactly the
    ``fields`` (declarations, in order) on the grid's (ny, nx) cells,
    all finite."""
    path = os.fspath(path)
    fields = tuple(fields)
    want = ",".join(field.name for field in fields)

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
        with h5py.File(path, "r") as f:
            shape = (grid.ny, grid.nx)
            for field in fields:
                if field.name not in f or f[field.name].shape != shape:
                    found = f[field.name].shape if field.name in f else "missing"
                    raise ConfigError(f"restart file {path!r}: field {field.name!r} is {found}, "
                                      f"expected shape {shape} (truncated or not ours?)")
            values = {field.name: np.asarray(f[field.name][tile.y_slice, tile.x_slice])
                      for field in fields}
        if not all(np.all(np.isfinite(q)) for q in values.values()):
            raise ConfigError(f"restart file {path!r} has missing or non-finite data "
                              f"(is {os.path.basename(tile_dir(path))}/ beside it?)")
        return values, float(attrs["time"]), int(attrs["step"])

    return collectively(context, read, what=f"cannot read restart {path!r}", error=ConfigError)
