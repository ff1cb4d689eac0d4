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


CONVENTIONS = "CF-1.11"
REFERENCES = ("Audusse, Bouchut, Bristeau, Klein and Perthame (2004), SIAM J. Sci. Comput. 25, "
              "2050-2065 (hydrostatic reconstruction); Toro (2009), Riemann Solvers and "
              "Numerical Methods for Fluid Dynamics, Springer (HLL/HLLC fluxes)")
SPHERE_REFERENCES = ("; Williamson, Drake, Hack, Jakob and Swarztrauber (1992), J. Comput. "
                     "Phys. 102, 211-224 (test cases); Galewsky, Scott and Polvani (2004), "
                     "Tellus 56A, 429-440 (unstable jet); Ronchi, Iacono and Paolucci (1996), "
                     "J. Comput. Phys. 124, 93-114 (the cubed sphere)")


def cf_attrs(config) -> dict:
    """The CF-1.11 global attributes (CF conventions section 2.6.2) of a
    file written with ``config``: Conventions, title, history (creation
    time, UTC, and the writer), source (the model and its numerics) and
    references. No ``institution``: dycore runs anywhere; add your own."""
    import datetime

    import dycore  # the package's version; imported here, dycore imports nothing of io

    from dycore.cases import is_sphere

    version = dycore.__version__
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    cfg = config
    sphere = is_sphere(cfg.case)
    grid = f"C{cfg.nx} cubed sphere" if sphere else f"{cfg.nx}x{cfg.ny} cells"
    return {
        "Conventions": CONVENTIONS,
        "title": f"dycore shallow-water run: case {cfg.case}, {grid}",
        "history": f"{now}: written by dycore {version}",
        "source": (f"dycore {version}, finite-volume rotating shallow-water dynamical core "
                   f"({cfg.scheme}/{cfg.limiter} reconstruction, {cfg.riemann} Riemann solver, "
                   f"{cfg.time_stepper} time stepping)"),
        "references": REFERENCES + (SPHERE_REFERENCES if sphere else ""),
    }


def time_attrs(config) -> dict:
    """CF attributes of ``time``: seconds since the config's ``start_date`` (UTC)."""
    return {"units": f"seconds since {config.start_date}", "calendar": "standard",
            "standard_name": "time", "axis": "T", "long_name": "model time"}


def root_attrs(sim, **extra) -> dict:
    """Root attributes of a file written by ``sim``: CF globals, config, version."""
    import dycore

    return {**cf_attrs(sim.config), **config_attrs(sim.config),
            "dycore_version": dycore.__version__, **extra}


def _deriver(sim, names, params):
    """``derive(state)`` for the writer: the state's fields plus the derived
    fields ``names`` (:data:`dycore.diagnostics.DERIVED`), computed by the
    pure functions of :mod:`dycore.diagnostics` on this rank's tile (the
    vorticity from the halo-filled state: collective)."""
    import jax
    import jax.numpy as jnp

    from dycore.diagnostics import NEEDS_HALO, derived_fields

    params = sim.params if params is None else params
    fields = fields_of(sim)
    y_rel = jnp.asarray(sim.tile.y_centres() - sim.grid.y_mid, sim.dtype)[:, None]
    halo = any(n in NEEDS_HALO for n in names)

    @jax.jit
    def compute(state, params):
        values = tuple(getattr(state, f.name) for f in fields)
        padded = sim.fill(values, fields) if halo else None
        return derived_fields(names, *values, params.b, params.g,
                              params.f0 + params.beta * y_rel, sim.config.dry_tolerance,
                              padded=padded, dx=sim.grid.dx, dy=sim.grid.dy, halo=sim.halo)

    def derive(state):
        out = {f.name: getattr(state, f.name) for f in fields}
        out.update(compute(state, params))
        return types.SimpleNamespace(**out)

    return derive


def open_output(path, sim, params=None) -> OutputWriter:
    """An :class:`OutputWriter` of ``sim``'s fields, of the derived fields
    named by the config key ``outputs``, and of the per-cell parameters in
    ``params`` (default ``sim.params``, also used for the derived fields)
    at ``path``, with CF-1.11 attributes. Collective."""
    from dycore.diagnostics import DERIVED

    if hasattr(sim, "output_fields"):  # the model says what its files hold (the sphere)
        fields, derive = sim.output_fields(params)
    else:
        names = tuple(getattr(sim.config, "outputs", None) or ())
        fields = fields_of(sim) + tuple(DERIVED[n] for n in names)
        derive = _deriver(sim, names, params) if names else None
    return OutputWriter(path, sim.context, sim.grid, sim.tile, fields,
                        static_fields_of(sim, params), sim.dtype, root_attrs(sim),
                        time_attrs=time_attrs(sim.config), derive=derive)


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
