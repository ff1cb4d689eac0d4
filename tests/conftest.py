"""Shared test setup: float64 and the bit-for-bit XLA:CPU setting, as the
driver uses them (``import dycore`` itself changes neither)."""
import jax

import dycore.runtime

dycore.runtime.configure()

# A persistent compilation cache shared by the serial and MPI runs of the
# suite (and by later runs): most of the suite's time is XLA compilation.
import os as _os
import pathlib as _pathlib

_cache = _os.environ.get("DYCORE_TEST_JAX_CACHE",
                         str(_pathlib.Path(__file__).resolve().parent.parent / ".venv" / "jax-cache"))
try:
    _pathlib.Path(_cache).mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
except OSError:
    pass
