"""dycore: a differentiable, MPI-parallel finite-volume shallow-water core in JAX.

Importing the package enables JAX's 64-bit mode, because the solver runs in
float64 by default (``dtype = "float32"`` in the config selects single
precision explicitly).
"""
import os as _os
import platform as _platform

# Bit-for-bit results for any tile shape (hence any rank count) need XLA:CPU
# without FMA contraction: with FMA, the vectorised loop body and its scalar
# remainder round differently, so a cell's value would depend on where it
# sits in its tile (seen with WENO5). Capping the ISA at AVX keeps 256-bit
# vectors but no FMA. It only takes effect before JAX starts its CPU backend;
# set XLA_FLAGS yourself (any --xla_cpu_max_isa) to choose otherwise.
if (_platform.machine().lower() in ("x86_64", "amd64")
        and "xla_cpu_max_isa" not in _os.environ.get("XLA_FLAGS", "")):
    _os.environ["XLA_FLAGS"] = (_os.environ.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=AVX").strip()

import jax as _jax  # noqa: E402

_jax.config.update("jax_enable_x64", True)

from dycore.config import Config, ConfigError  # noqa: E402
from dycore.simulation import Simulation  # noqa: E402

__all__ = ["Config", "ConfigError", "Simulation"]
__version__ = "0.1.0"
