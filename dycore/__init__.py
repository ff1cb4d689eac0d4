"""dycore: a differentiable, MPI-parallel finite-volume shallow-water core in JAX.

Importing the package enables JAX's 64-bit mode, because the solver runs in
float64 by default (``dtype = "float32"`` in the config selects single
precision explicitly).
"""
import jax as _jax

_jax.config.update("jax_enable_x64", True)

from dycore.config import Config, ConfigError  # noqa: E402
from dycore.simulation import Simulation  # noqa: E402

__all__ = ["Config", "ConfigError", "Simulation"]
__version__ = "0.1.0"
