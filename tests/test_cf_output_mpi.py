"""CF output with derived fields on N ranks (issue 14, item 2): the stitched
(VDS) file follows the CF rules of tests/test_cf_output.py and holds the
same values as a one-rank file, bit for bit (the vorticity reads the halo).
Run with ``mpirun -n 2`` (``--with-mpi -m mpi``).
"""
from __future__ import annotations

import os
import shutil
import tempfile

import h5py
import numpy as np
import pytest

import dycore
from dycore.diagnostics import DERIVED
from dycore.io.model import open_output

pytestmark = pytest.mark.mpi

CONFIG = dycore.Config(case="unstable_jet", nx=20, ny=15, dt=200.0, time_stepper="ssp_rk2",
                       outputs=list(DERIVED))


def test_tiled_cf_output_with_derived_fields_equals_one_rank():
    from mpi4py import MPI

    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    from tests.test_cf_output import check_cf

    comm = MPI.COMM_WORLD
    many = dycore.Simulation(CONFIG, comm=comm)
    folder = comm.bcast(tempfile.mkdtemp(prefix="dycore-cf-") if comm.rank == 0 else None)
    failure = None
    try:
        with open_output(os.path.join(folder, "many.h5"), many) as w:
            state = many.initial_state()
            w.write(state, 0.0)
            w.write(many.run(state, 2), 400.0)
        if comm.rank == 0:
            one = dycore.Simulation(CONFIG, comm=MPI.COMM_SELF)
            with open_output(os.path.join(folder, "one.h5"), one) as w:
                state = one.initial_state()
                w.write(state, 0.0)
                w.write(one.run(state, 2), 400.0)
            with h5py.File(os.path.join(folder, "many.h5")) as fm, \
                    h5py.File(os.path.join(folder, "one.h5")) as fo:
                assert fm["vorticity"].is_virtual
                for name in ("h", "hu", "hv", "b", *DERIVED):
                    if not np.array_equal(fm[name][()], fo[name][()], equal_nan=True):
                        failure = f"{name} differs between 1 and {comm.size} ranks"
            with xr.open_dataset(os.path.join(folder, "many.h5"), engine="h5netcdf",
                                 decode_times=False) as ds:
                problems = check_cf(ds)
                failure = failure or (problems and "; ".join(problems)) or None
    finally:
        failure = comm.bcast(failure)
        comm.Barrier()
        if comm.rank == 0:
            shutil.rmtree(folder, ignore_errors=True)
    assert failure is None, failure
