"""Shared test setup: float64 and the bit-for-bit XLA:CPU setting, as the
driver uses them (``import dycore`` itself changes neither)."""
import jax

import dycore.runtime

dycore.runtime.configure()

# A persistent compilation cache shared by the serial and MPI runs of the
# suite, by the driver subprocesses the tests start (through the
# environment) and by later runs and fresh clones on this machine: most of
# the suite's time is XLA compilation. DYCORE_JAX_CACHE moves it
# (dycore.runtime.compile_cache_dir); a cold cache only costs time.
dycore.runtime.enable_compile_cache()
