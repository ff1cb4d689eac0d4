"""Inflow/outflow boundaries on decomposed runs: the rank at the physical
boundary applies the condition, and the result equals one rank bit for bit.

    mpirun -n 2 .venv/bin/python -m pytest --with-mpi -m mpi \
        tests/test_open_boundaries_mpi.py -p no:cacheprovider
"""
from __future__ import annotations

import os
import platform
import sys

# As in tests/test_parallel_mpi.py: the bit-for-bit XLA:CPU instruction set.
if "--with-mpi" in sys.argv and platform.machine().lower() in ("x86_64", "amd64") and \
        "xla_cpu_max_isa" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=AVX").strip()

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dycore import Config, Simulation  # noqa: E402

STEPS = 40


@pytest.mark.mpi
@pytest.mark.parametrize("case", ["bump_shock", "bump_transcritical", "ramped"])
@pytest.mark.parametrize("procs", [(2, 1), (1, 2)])
def test_open_boundaries_decomposed_equal_one_rank(case, procs):
    """'ramped': bump_shock with the inflow discharge and outflow depth as
    time series (the stage time reaches the boundary ranks' fills)."""
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    if world.size != 2:
        pytest.skip("needs 2 ranks")
    series = {} if case != "ramped" else dict(
        bc_west_discharge=[[0.0, 0.18], [0.5, 0.25]], bc_east_depth=[[0.0, 0.33], [1.0, 0.4]])
    config = Config(case="bump_shock" if case == "ramped" else case, nx=24,
                    procs=list(procs), **series)
    sim = Simulation(config, comm=world)
    final = sim.gather(sim.run(sim.initial_state(), STEPS))
    ok, message = True, ""
    if world.rank == 0:
        serial = Simulation(config.replace(procs=None), comm=MPI.COMM_SELF)
        ref = serial.gather(serial.run(serial.initial_state(), STEPS))
        ok = all(np.array_equal(final[k], ref[k]) for k in ref)
        message = str({k: float(np.max(np.abs(final[k] - ref[k]))) for k in ref})
        ok = ok and float(np.max(np.abs(ref["h"] - np.asarray(serial.initial_state().h)))) > 0
    ok, message = world.bcast((ok, message), root=0)
    assert ok, message
