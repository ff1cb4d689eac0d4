"""dycore: a differentiable, MPI-parallel finite-volume shallow-water core in JAX.

Importing the package enables JAX's 64-bit mode, because the solver runs in
float64 by default (``dtype = "float32"`` in the config selects single
precision explicitly).
"""
import os as _os
import platform as _platform

# Bit-for-bit results for any tile shape (hence any rank count) need XLA:CPU
# without FMA contraction: with FMA, a cell's value depends on where it sits
# in its tile (measured: a 64 x 66 jet on 2, 3 or 4 ranks differs from 1 rank
# by up to 2e-13 with --xla_cpu_max_isa=AVX2, MUSCL and WENO5; vmapped
# ensemble members differ from single runs by ~1e-16 relative). Capping the
# ISA at AVX keeps 256-bit vectors but no FMA. The price, measured at 1024^2
# on one Zen 5 core: AVX 187, AVX2 142, AVX-512 162 ms/step/Mcell (under the
# AVX cap LLVM also leaves the Riemann solver's square roots scalar). It only
# takes effect before JAX starts its CPU backend; set XLA_FLAGS yourself
# (any --xla_cpu_max_isa) to choose otherwise.
CPU_ISA = "AVX"
if (_platform.machine().lower() in ("x86_64", "amd64")
        and "xla_cpu_max_isa" not in _os.environ.get("XLA_FLAGS", "")):
    _os.environ["XLA_FLAGS"] = (_os.environ.get("XLA_FLAGS", "")
                                + f" --xla_cpu_max_isa={CPU_ISA}").strip()

import jax as _jax  # noqa: E402

_jax.config.update("jax_enable_x64", True)

from dycore.config import Config, ConfigError  # noqa: E402
from dycore.simulation import Simulation  # noqa: E402

__all__ = ["Config", "ConfigError", "Simulation"]
__version__ = "0.1.0"
