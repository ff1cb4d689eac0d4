"""Rollouts: many time steps as one ``lax.scan``, with the memory strategy
of reverse-mode differentiation chosen by name. Pure functions of a step
function and its carry (any pytree), shared by the plane's
:class:`dycore.Simulation` and the sphere's :class:`dycore.sphere.SphereModel`.

Checkpoint modes (``CHECKPOINT_MODES``; docs/differentiation.md has the
measured memory and time of each):

- ``None``: the scan of plain steps; reverse mode stores what the step
  function itself keeps (on the plane each stage's state, its tendency
  being recomputed).
- ``"step"``: each step under ``jax.checkpoint``: one carry is stored per
  step and its stages are recomputed in the backward pass.
- ``"nested"``: two-level checkpointing (Griewank & Walther 2000, ACM TOMS
  26, 19-45, the two-level case): an outer scan over blocks of ~sqrt(T)
  steps stores only the block boundaries, and the backward pass recomputes
  one block at a time, so memory grows like sqrt(T) for about one extra
  forward run.

The forward result is the same bit for bit in every mode (checkpointing
changes only what the backward pass stores and recomputes).
"""
from __future__ import annotations

from typing import Callable

import jax
from jax import lax

CHECKPOINT_MODES = (None, "step", "nested")
"""The memory strategies of :func:`scan_steps`."""


def check_checkpoint(mode) -> None:
    """ValueError for a name that is not one of CHECKPOINT_MODES."""
    if mode not in CHECKPOINT_MODES:
        raise ValueError(f"unknown checkpoint mode {mode!r}; valid: "
                         f"{', '.join(map(str, CHECKPOINT_MODES))}")


def _plain(one_step: Callable, carry, length: int):
    if length == 0:
        return carry
    return lax.scan(lambda c, _: (one_step(c), None), carry, None, length=length)[0]


def scan_steps(one_step: Callable, carry, length: int, checkpoint=None):
    """``length`` applications of ``one_step(carry) -> carry`` as a scan
    (``length`` a Python int), stored for reverse mode as ``checkpoint``
    says (see the module docstring)."""
    check_checkpoint(checkpoint)
    if checkpoint is not None:
        one_step = jax.checkpoint(one_step)
    if checkpoint != "nested" or length < 4:
        return _plain(one_step, carry, length)
    block = max(1, int(round(length ** 0.5)))
    n_blocks, rest = divmod(length, block)
    run_block = jax.checkpoint(lambda c: _plain(one_step, c, block))
    carry = lax.scan(lambda c, _: (run_block(c), None), carry, None, length=n_blocks)[0]
    return _plain(one_step, carry, rest)
