"""The run's files: the adapter from a :class:`Simulation` to the writers of
:mod:`dycore.io` (which take what they write explicitly), and the checks,
before the first step, that the files can be written without clobbering
anything.

The adapter is the one place that says which fields a run writes
(:func:`fields_of`); everything else takes them from there.
"""
from __future__ import annotations

import os
import tempfile

import jax.numpy as jnp
import numpy as np

import dycore
from dycore.config import ConfigError
from dycore.equations.shallow_water import BED, FIELDS
from dycore.io import OutputWriter, config_attrs, part_path, read_restart, write_restart
from dycore.state import State

GRID_KEYS = ("nx", "ny", "lx", "ly", "x0", "y0")
"""Config keys that a restart file must share with the run reading it."""


# ------------------------------------------------------------------ adapter
def fields_of(sim) -> tuple:
    """The prognostic fields of ``sim``'s equation set (Field declarations,
    in the order of its state)."""
    return FIELDS


def _model_name(sim) -> str | None:
    model = getattr(sim, "model", None)
    return None if model is None else type(model).__name__


def _root_attrs(sim, **extra) -> dict:
    """Root attributes of a file written by ``sim``: config and version."""
    return {**config_attrs(sim.config), "dycore_version": dycore.__version__, **extra}


def open_output(path, sim) -> OutputWriter:
    """An :class:`OutputWriter` of ``sim``'s fields and bed at ``path``. Collective."""
    static = {BED.name: (BED, np.asarray(sim.params.b))}
    return OutputWriter(path, sim.context, sim.grid, sim.tile, fields_of(sim), static,
                        sim.dtype, _root_attrs(sim))


def save_restart(path, sim, state, t: float, step: int, extra: dict | None = None) -> None:
    """Write ``state`` at time ``t`` (s) after ``step`` steps to the restart
    file ``path``; ``extra``: more root attributes (e.g. the checkpoint
    interval). Collective."""
    attrs = _root_attrs(sim, **(extra or {}))
    model = _model_name(sim)
    if model is not None:  # the equation set, checked when the file is read back
        attrs["model"] = model
    write_restart(path, sim.context, sim.grid, sim.tile, fields_of(sim), state, t, step,
                  attrs, sim.dtype)


def load_restart(path, sim):
    """(state, t, step) from a restart file, this rank's tile, checked to
    fit ``sim`` (grid, equation set, fields). Collective."""
    fields = fields_of(sim)
    values, t, step = read_restart(
        path, sim.context, sim.grid, sim.tile, fields,
        grid_keys={key: getattr(sim.config, key) for key in GRID_KEYS}, model=_model_name(sim))
    return State(**{f.name: jnp.asarray(values[f.name], sim.dtype) for f in fields}), t, step


# ------------------------------------------------------------------- checks
def _check_writable(path: str, what: str) -> None:
    """Bad input: the folder of ``path`` cannot be created or written to."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".dycore-probe-", dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise ConfigError(f"{what} {path!r}: its folder is not writable "
                          f"({err.strerror or err})") from None


def check_files(args, cfg, ckpt_path: str, restart_attrs) -> None:
    """Bad input about files: an output or restart file that exists (unless
    ``--overwrite``, or the restart file is the one being continued), the
    output of the run being continued, or a folder that cannot be written.
    Run on rank 0; the driver agrees on the result over the ranks."""
    out = cfg.output
    if args.restart and out:
        old = restart_attrs.get("output")
        for mine in (out, part_path(out)):
            if old and os.path.exists(mine) and os.path.exists(old) and os.path.samefile(mine, old):
                raise ConfigError(f"config key 'output': {out!r} holds the output of the run "
                                  f"that wrote the restart file; choose another --output so it "
                                  f"is not overwritten")
    if out and os.path.abspath(ckpt_path) == os.path.abspath(out):
        raise ConfigError("option --checkpoint: must differ from the output file")
    if out and not args.overwrite:
        for path in (out, part_path(out)):
            if os.path.lexists(path):
                raise ConfigError(f"output file {path!r} exists; pass --overwrite to replace "
                                  f"it, or choose another --output")
    source = args.restart
    continuing = (source and os.path.exists(ckpt_path) and os.path.exists(source)
                  and os.path.samefile(ckpt_path, source))
    if os.path.lexists(ckpt_path) and not args.overwrite and not continuing:
        raise ConfigError(f"restart file {ckpt_path!r} exists (from an earlier run?); pass "
                          f"--overwrite to replace it, or --checkpoint ANOTHER.h5")
    if out:
        _check_writable(out, "cannot create output")
    _check_writable(ckpt_path, "option --checkpoint: cannot write the restart file"
                    if args.checkpoint else "cannot write the restart file (choose one with "
                    "--checkpoint)")
