"""Backend tuning that is not physics: steering XLA:CPU's fusion with
"kept" arrays. The numerics call :func:`runtime_one` and :func:`keep`; with
the tuning off (:func:`enabled` is False) they are no-ops and the numbers
are the same.

Why: XLA:CPU has no multi-output fusion and fuses a cheap elementwise
producer into every consumer that reads it, once per stencil offset (up to
15 copies), so a finite-volume sweep written as one expression graph is
compiled into a few huge kernels that re-evaluate the reconstruction and
the Riemann solver many times per cell (measured: 5-10x the work; see
docs/performance.md, "Round 2"). Marking the arrays worth storing (limited
slopes or face values, face fluxes) with :func:`keep` makes XLA compute each
once and read it from memory. An array read by a single kernel is still
fused into it, so the numerics stack the kept arrays (several readers).

How: a division is an "expensive" operation to XLA's fusion pass, which
never duplicates one into several consumers, so ``x / one`` with a
run-time 1 is computed once and stored (``lax.optimization_barrier`` does
not do this on XLA:CPU: it is removed before fusion). x / 1 = x exactly in
IEEE arithmetic, and so are its derivatives. The cost: about 14 divisions
per cell and stage.

Where: on by default for the CPU backend only (it pays there); GPUs fuse
differently and it was never measured there. ``DYCORE_FUSION_HINTS=0`` or
``=1`` in the environment forces it off or on (read when a step is traced).
"""
from __future__ import annotations

import os

import jax
from jax import lax


def enabled() -> bool:
    """Whether kept arrays are marked for the current default backend."""
    forced = os.environ.get("DYCORE_FUSION_HINTS")
    if forced in ("0", "1"):
        return forced == "1"
    return jax.default_backend() == "cpu"


def runtime_one(g):
    """A run-time 1 for :func:`keep` (``g / g`` for a finite, nonzero ``g``,
    gradients stopped so derivatives see no round-off from it), or None when
    the tuning is off. ``g`` passes an optimization barrier first: where it
    is a constant of the traced program (parameters closed over by a user's
    ``jax.jit(jax.grad(loss))``), XLA would otherwise fold ``g / g`` to 1 and
    ``x / 1`` to ``x``, and every hint would vanish (measured on the sphere
    at C4, two steps, params closed over: step compile 35.6 -> 3.7 s, the
    gradient's 61.6 -> 27.6 s; docs/performance.md)."""
    if not enabled():
        return None
    g = lax.optimization_barrier(g)
    return lax.stop_gradient(g / g)


def keep(x, one):
    """``x``, stored by XLA as a kernel output instead of being recomputed
    (identity when ``one`` is None)."""
    return x if one is None else x / one
