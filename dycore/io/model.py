"""The adapter from a :class:`dycore.simulation.Simulation` to the writers
of this package (which take what they write explicitly): the one place that
says which fields and parameters a run's files hold.

Every writer takes the parameters *actually used* (``params``, default
``sim.params``): a bed set with ``params.replace(b=...)`` is the bed that
the output and the restart file hold, and :func:`restore` gives it back, so
a restarted run goes on over the bed it was computed with (before this, the
output stored the Simulation's own bed and restarts none, and a restarted
run silently went on over the case's bed).

Works with stand-ins too (tests): anything with ``context``, ``grid``,
``tile``, ``config``, ``dtype``, ``params`` and, optionally, ``model``.
"""
from __future__ import annotations

import dataclasses
import types
from typing import NamedTuple

import numpy as np

from dycore.equations.shallow_water import BED, FIELDS
from dycore.io.attributes import config_attrs
from dycore.io.output import OutputWriter
from dycore.io.restart import read_restart, write_restart

GRID_KEYS = ("nx", "ny", "lx", "ly", "x0", "y0")
"""Config keys that a restart file must share with the run reading it."""


class Restart(NamedTuple):
    """What a restart file restores: the state and the parameters (this
    rank's tile of every per-cell parameter as stored, the rest as the
    Simulation's), the time (s) and the step count."""

    state: object
    params: object
    t: float
    step: int


def fields_of(sim) -> tuple:
    """The prognostic fields of ``sim``'s equation set (Field declarations,
    in the order of its state; the shallow-water ones for a stand-in
    without a model)."""
    return getattr(getattr(sim, "model", None), "fields", FIELDS)


def per_cell_of(sim) -> tuple:
    """The per-cell parameter declarations of ``sim``'s equation set (the bed)."""
    declared = getattr(getattr(sim, "model", None), "parameters", (BED,))
    return tuple(p for p in declared if p.per_cell)


def static_fields_of(sim, params=None) -> dict:
    """The per-cell parameters in ``params`` (default ``sim.params``), as the
    writers take them: {name: (declaration, this rank's array)}."""
    params = sim.params if params is None else params
    return {p.name: (p, np.asarray(getattr(params, p.name))) for p in per_cell_of(sim)}


def model_name(sim) -> str | None:
    model = getattr(sim, "model", None)
    return None if model is None else type(model).__name__


def root_attrs(sim, **extra) -> dict:
    """Root attributes of a file written by ``sim``: config and version."""
    import dycore  # the package's version; imported here, dycore imports nothing of io

    return {**config_attrs(sim.config), "dycore_version": dycore.__version__, **extra}


def open_output(path, sim, params=None) -> OutputWriter:
    """An :class:`OutputWriter` of ``sim``'s fields and of the per-cell
    parameters in ``params`` (default ``sim.params``) at ``path``. Collective."""
    return OutputWriter(path, sim.context, sim.grid, sim.tile, fields_of(sim),
                        static_fields_of(sim, params), sim.dtype, root_attrs(sim))


def save_restart(path, sim, state, t: float, step: int, extra: dict | None = None,
                 params=None) -> None:
    """Write ``state`` at time ``t`` (s) after ``step`` steps, and the
    per-cell parameters in ``params`` (default ``sim.params``), to the
    restart file ``path``; ``extra``: more root attributes (e.g. the
    checkpoint interval). Collective."""
    attrs = root_attrs(sim, **(extra or {}))
    model = model_name(sim)
    if model is not None:  # the equation set, checked when the file is read back
        attrs["model"] = model
    write_restart(path, sim.context, sim.grid, sim.tile, fields_of(sim), state, t, step,
                  attrs, sim.dtype, static=static_fields_of(sim, params))


def _with(params, values: dict):
    """``params`` with the leaves in ``values`` replaced."""
    if dataclasses.is_dataclass(params):
        return dataclasses.replace(params, **values)
    return types.SimpleNamespace(**{**vars(params), **values})


def restore(path, sim) -> Restart:
    """State, parameters, time and step from a restart file, this rank's
    tile, checked to fit ``sim`` (grid, equation set, fields). The
    per-cell parameters (the bed) are the file's; a file written before
    they were stored (no ``parameters`` attribute) gives ``sim.params``.
    Collective."""
    import jax.numpy as jnp

    from dycore.state import State

    fields = fields_of(sim)
    values, t, step = read_restart(
        path, sim.context, sim.grid, sim.tile, fields,
        grid_keys={key: getattr(sim.config, key) for key in GRID_KEYS},
        model=model_name(sim), static=per_cell_of(sim))
    state_type = getattr(getattr(sim, "model", None), "state_type", State)
    state = state_type(**{f.name: jnp.asarray(values[f.name], sim.dtype) for f in fields})
    stored = {p.name: jnp.asarray(values[p.name], sim.dtype) for p in per_cell_of(sim)
              if p.name in values}
    params = _with(sim.params, stored) if stored else sim.params
    return Restart(state, params, t, step)
