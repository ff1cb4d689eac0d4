"""dycore: a differentiable, MPI-parallel finite-volume shallow-water core in JAX.

Importing the package changes no process-wide setting: neither JAX's 64-bit
mode nor ``XLA_FLAGS``. Float64 runs (the default) need the 64-bit mode;
``dycore.runtime.configure()`` switches it on together with the XLA:CPU
setting that keeps results bit-for-bit identical across rank counts (see
:mod:`dycore.runtime`). The command-line driver does this itself.

``import dycore`` itself is light: ``Config``, ``ConfigError``,
``Simulation`` and ``runtime`` are imported when first used (PEP 562), so
that ``python -m dycore.run`` can take note of a Ctrl-C before JAX is
imported (the package is imported before the driver module runs).
"""
from __future__ import annotations

import importlib

__all__ = ["Config", "ConfigError", "Simulation", "runtime"]
__version__ = "0.1.0"

_LAZY = {"Config": "dycore.config", "ConfigError": "dycore.errors",
         "Simulation": "dycore.simulation", "runtime": "dycore.runtime"}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if name == "runtime" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dycore' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
