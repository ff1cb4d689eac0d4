"""Process-wide JAX settings a run needs, applied only when asked for.

``import dycore`` changes no global state. A program that wants what the
command-line driver uses calls :func:`configure` once, at its start, before
its first JAX computation:

    import dycore
    dycore.runtime.configure()          # float64 + bit-for-bit decomposition invariance

It does two things, each switchable:

- ``x64=True``: ``jax.config.update("jax_enable_x64", True)``, JAX's 64-bit
  mode, which float64 runs (the default ``dtype``) need. Without it a
  float64 :class:`dycore.Simulation` refuses to start with a one-line error
  saying how to enable it (JAX would silently compute in float32 otherwise).
- ``reproducible=True``: caps XLA:CPU's instruction set at AVX (adds
  ``--xla_cpu_max_isa=AVX`` to ``XLA_FLAGS`` on x86-64 unless the user set
  any ``xla_cpu_max_isa`` already). With FMA contraction (AVX2 and up) a
  cell's value depends on where it sits in its tile (vector body or scalar
  remainder loop), so results would differ in the last bits between rank
  counts and process grids; without FMA they are bit-for-bit identical.
  The cost and the measurements are in docs/performance.md. It takes
  effect only if JAX's CPU backend has not started yet.

The driver (``python -m dycore.run``), the test suite, the examples and the
benchmarks call it; a library user who wants float32 and the fastest
instruction set simply does not.
"""
from __future__ import annotations

import os
import platform

import jax

CPU_ISA = "AVX"
"""The XLA:CPU instruction-set cap for bit-for-bit decomposition invariance."""


def _is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


def configure(*, x64: bool = True, reproducible: bool = True) -> list[str]:
    """Apply the settings (see the module docstring); returns what was changed,
    as readable strings (empty when nothing needed changing)."""
    changed = []
    flags = os.environ.get("XLA_FLAGS", "")
    if reproducible and _is_x86() and "xla_cpu_max_isa" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_max_isa={CPU_ISA}".strip()
        changed.append(f"XLA_FLAGS += --xla_cpu_max_isa={CPU_ISA}")
    if x64 and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
        changed.append("jax_enable_x64 = True")
    return changed


CACHE_OFF = ("off", "0", "no", "none", "false")
"""Values of ``$DYCORE_JAX_CACHE`` that turn the persistent cache off."""


def compile_cache_off() -> bool:
    """True when ``$DYCORE_JAX_CACHE`` turns the persistent cache off."""
    return os.environ.get("DYCORE_JAX_CACHE", "").strip().lower() in CACHE_OFF


def compile_cache_dir() -> str:
    """Where the test suite, the benchmarks and the examples keep JAX's
    persistent compilation cache: ``$DYCORE_JAX_CACHE`` if set, else
    ``$XDG_CACHE_HOME/dycore/jax`` (``~/.cache/dycore/jax``). Outside the
    checkout, so a fresh clone on the same machine reuses what earlier runs
    compiled (compiling is most of the test suite's time). Entries are keyed
    by the program and JAX version, so a stale entry is never used.
    ``DYCORE_JAX_CACHE=off`` turns the cache off (see
    :func:`enable_compile_cache`)."""
    explicit = os.environ.get("DYCORE_JAX_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dycore", "jax")


def enable_compile_cache(path: str | None = None, *, min_compile_s: float = 0.5) -> str | None:
    """Turn on JAX's persistent compilation cache at ``path`` (default
    :func:`compile_cache_dir`) for this process and, through the
    environment, for the processes it starts; programs that compile in
    under ``min_compile_s`` seconds are not stored. The cache is not
    size-limited (JAX's limit needs the ``filelock`` package); delete the
    folder to reclaim the space. Returns the path, or None if it cannot be
    created or ``$DYCORE_JAX_CACHE`` is ``off`` (the run goes on without a
    cache)."""
    if compile_cache_off():
        return None
    path = path or compile_cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(min_compile_s)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)
    return path


def x64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on (float64 arrays possible)."""
    return bool(jax.config.jax_enable_x64)


X64_HINT = ("float64 needs JAX's 64-bit mode, which is off: call dycore.runtime.configure() "
            "(or jax.config.update('jax_enable_x64', True)) at the start of the program, "
            "before any JAX computation, or use dtype = 'float32'")
