"""dycore: a differentiable, MPI-parallel finite-volume shallow-water core in JAX.

Importing the package changes no process-wide setting: neither JAX's 64-bit
mode nor ``XLA_FLAGS``. Float64 runs (the default) need the 64-bit mode;
``dycore.runtime.configure()`` switches it on together with the XLA:CPU
setting that keeps results bit-for-bit identical across rank counts (see
:mod:`dycore.runtime`). The command-line driver does this itself.
"""
from dycore import runtime
from dycore.config import Config
from dycore.errors import ConfigError
from dycore.simulation import Simulation

__all__ = ["Config", "ConfigError", "Simulation", "runtime"]
__version__ = "0.1.0"
