"""A run's config as HDF5 root attributes, and back.

Every output and restart file carries the config twice: one attribute per
key (readable at a glance with ``h5dump -A`` or ``xarray``'s ``attrs``; keys
that are None are absent, the ``case_params`` table is a JSON string, lists
are arrays) and ``config_json``, the whole resolved config as one JSON
string, which is what a restart reads back (exact, no type guessing).
"""
from __future__ import annotations

import json

import h5py
import numpy as np

from dycore.config import Config


def config_attrs(config: Config) -> dict:
    """Root attributes of a config: one per key (None -> absent, dicts as JSON)
    and ``config_json`` holding all of it."""
    values = config.to_dict()
    attrs = {}
    for key, value in values.items():
        if value is None:
            continue
        if callable(value):
            from dycore.errors import ConfigError

            raise ConfigError(f"config key {key!r}: a Python callable cannot be stored in a "
                              f"file's config; give a time series [[t, v], ...] instead")
        if isinstance(value, dict):
            attrs[key] = json.dumps(value, sort_keys=True)
        elif isinstance(value, (list, tuple)):
            if not value:  # HDF5 holds no empty array attributes: absent = the default
                continue
            strings = all(isinstance(v, str) for v in value)
            attrs[key] = np.asarray(value, dtype=h5py.string_dtype() if strings else None)
        else:
            attrs[key] = value
    attrs["config_json"] = json.dumps(values, sort_keys=True)
    return attrs


def plain(value):
    """An attribute value as plain Python (str, int, float, list)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def config_from_attrs(attrs) -> Config:
    """The Config stored as per-key root attributes (absent keys -> their
    default: None, or an empty list)."""
    values = {}
    for key in Config.keys():
        if key in attrs:
            value = plain(attrs[key])
            values[key] = json.loads(value) if key == "case_params" else value
        elif key != "outputs":
            values[key] = None
    return Config(**values)


def config_from_json(text) -> Config:
    """The Config stored in a ``config_json`` attribute."""
    return Config(**json.loads(plain(text)))


def write_attrs(obj, attrs: dict) -> None:
    """Set the attributes ``attrs`` on an HDF5 file, group or dataset."""
    for key, value in attrs.items():
        obj.attrs[key] = value
