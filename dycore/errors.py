"""The error type for bad configuration values, shared by every layer of
``dycore`` (config, cases, simulation, I/O, driver) without import cycles."""
from __future__ import annotations


class ConfigError(ValueError):
    """A bad configuration value; the message is one line naming the key."""
