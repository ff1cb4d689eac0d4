"""Restarts across rank counts under real MPI (issue 3): K steps on one rank
count, a restart file, K more steps on another rank count, equal bit for bit
to 2K uninterrupted steps. Run with ``mpirun -n 2`` / ``-n 4 --oversubscribe``
(``--with-mpi -m mpi``); the grid (20 x 15) splits unevenly on 2 and 4 ranks.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest

import dycore
from dycore import Config
from dycore.driver.files import load_restart, save_restart

pytestmark = pytest.mark.mpi

CONFIG = Config(case="unstable_jet", nx=20, ny=15, dt=200.0, time_stepper="ssp_rk2")
K = 3
FIELDS = ("h", "hu", "hv")


def _compare(got: dict, one, comm) -> str | None:
    """On the root: None if ``got`` equals 2K steps on one rank bit for bit."""
    if comm.rank != 0:
        return None
    reference = one.run(one.initial_state(), 2 * K)
    for name in FIELDS:
        want = np.asarray(getattr(reference, name))
        if not np.array_equal(got[name], want):
            return f"{name}: max difference {np.max(np.abs(got[name] - want))}"
    return None


@pytest.mark.parametrize("direction", ["written_by_all_read_by_one",
                                       "written_by_one_read_by_all"])
def test_restart_on_another_rank_count_continues_bit_for_bit(direction):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    many = dycore.Simulation(CONFIG, comm=comm)
    one = dycore.Simulation(CONFIG, comm=MPI.COMM_SELF) if comm.rank == 0 else None
    folder = comm.bcast(tempfile.mkdtemp(prefix="dycore-restart-") if comm.rank == 0 else None)
    path = os.path.join(folder, "ck.h5")
    failure = None
    try:
        if direction == "written_by_all_read_by_one":
            middle = many.run(many.initial_state(), K)
            save_restart(path, many, middle, K * CONFIG.dt, K)
            comm.Barrier()
            if comm.rank == 0:
                state, t, step = load_restart(path, one)
                assert (t, step) == (K * CONFIG.dt, K)
                final = one.run(state, K)
                failure = _compare({n: np.asarray(getattr(final, n)) for n in FIELDS}, one, comm)
        else:
            if comm.rank == 0:
                save_restart(path, one, one.run(one.initial_state(), K), K * CONFIG.dt, K)
            comm.Barrier()
            state, t, step = load_restart(path, many)
            assert (t, step) == (K * CONFIG.dt, K)
            failure = _compare(many.gather(many.run(state, K)), one, comm)
    finally:
        failure = comm.bcast(failure)
        comm.Barrier()
        if comm.rank == 0:
            shutil.rmtree(folder, ignore_errors=True)
    assert failure is None, failure
