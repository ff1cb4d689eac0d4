"""Ready-made callbacks for :class:`dycore.loop.Loop`: diagnostics (total
mass, total energy, maximum Courant number) and an HDF5 output file.

    loop.add(diagnostics := Diagnostics(), every_seconds=3600.0)
    loop.add(OutputFile("run.h5"), every_seconds=6 * 3600.0)
    loop.run()
    diagnostics.rows        # [{"t": .., "step": .., "mass": .., ...}, ...]

All of them are collective (every rank calls them; the values are global).
"""
from __future__ import annotations

import numpy as np


def mass(sim, state, params=None) -> float:
    """Total water volume (m^3), the same for every rank count."""
    return sim.mass(state)


def energy(sim, state, params=None) -> float:
    """Total energy per unit density (m^5/s^2): the integral of the kinetic
    (hu^2 + hv^2) / (2 h) and potential g ((h + b)^2 - b^2) / 2 energy
    densities (Vallis 2017, Atmospheric and Oceanic Fluid Dynamics, sec.
    3.2); dry cells carry no kinetic energy. For the Courant number and the
    velocity only cells with h above the dry tolerance count."""
    params = sim.params if params is None else params
    h, hu, hv = (np.asarray(getattr(state, f.name), np.float64) for f in sim.model.fields[:3])
    b, g = np.asarray(params.b, np.float64), float(params.g)
    wet = h > sim.config.dry_tolerance
    kinetic = np.where(wet, (hu * hu + hv * hv) / (2 * np.where(wet, h, 1.0)), 0.0)
    potential = 0.5 * g * ((h + b) ** 2 - b * b)
    return sim.context.reproducible_sum(kinetic + potential) * sim.grid.cell_area


def max_courant(sim, state, params=None) -> float:
    """The largest Courant number of the next step, dt ((|u| + c)/dx + (|v| +
    c)/dy) with c = sqrt(g h), over all cells (dimensionless; with a CFL
    time step it equals the ``cfl`` key)."""
    params = sim.params if params is None else params
    rate = sim.host_signal_rate(state, params)
    return float(sim.time_step(state, params)) * rate


DIAGNOSTICS = {"mass": mass, "energy": energy, "max_courant": max_courant}
"""The built-in diagnostics: name -> fn(sim, state, params) -> float."""


class Diagnostics:
    """A callback that records ``t`` (s), ``step`` and the named diagnostics
    (built-in names or ``{name: fn(sim, state, params)}``) in ``rows``;
    with ``echo``, prints each row on rank 0."""

    def __init__(self, names=("mass", "energy", "max_courant"), echo: bool = False):
        self.functions = ({n: DIAGNOSTICS[n] for n in names} if not isinstance(names, dict)
                          else dict(names))
        self.echo, self.rows = echo, []

    def __call__(self, loop) -> None:
        row = {"t": loop.clock.time, "step": loop.clock.step}
        for name, fn in self.functions.items():
            row[name] = fn(loop.sim, loop.state, loop.params)
        self.rows.append(row)
        if self.echo and loop.sim.context.rank == 0:
            print("  ".join(f"{k} = {v:.10g}" for k, v in row.items()), flush=True)

    def column(self, name: str) -> np.ndarray:
        return np.array([row[name] for row in self.rows])


class OutputFile:
    """A callback writing the state to an HDF5 output file (the format of
    ``python -m dycore.run --output``, see docs/user-guide.md), opened at
    the first call; the loop closes it at the end of the run (:meth:`close`)
    and, if the run fails, leaves the frames written in ``PATH.part``."""

    def __init__(self, path):
        self.path, self.writer = str(path), None

    def __call__(self, loop) -> None:
        if self.writer is None:
            from dycore.driver.files import open_output  # the driver's adapter of dycore.io
            self.writer = open_output(self.path, loop.sim)
        self.writer.write(loop.state, loop.clock.time)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def abandon(self) -> None:
        if self.writer is not None:
            self.writer.abandon()
            self.writer = None


__all__ = ["DIAGNOSTICS", "Diagnostics", "OutputFile", "energy", "mass", "max_courant"]
