"""Shared test setup: float64 everywhere (the package also enables it)."""
import jax

jax.config.update("jax_enable_x64", True)
