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


def _custom_bed(grid):
    """A bed no case makes (m): a bump plus cell-to-cell noise."""
    x, y = np.meshgrid(grid.x_centres(), grid.y_centres())
    noise = np.random.default_rng(14).standard_normal(x.shape)
    return 3.0 * np.exp(-((x - x.mean()) ** 2 + (y - y.mean()) ** 2) / (0.2 * x.max()) ** 2) \
        + 0.01 * noise


@pytest.mark.parametrize("direction", ["written_by_all_read_by_one",
                                       "written_by_one_read_by_all"])
def test_custom_bed_survives_output_and_restart_on_another_rank_count(direction):
    """Issue 14: a bed set with params.replace(b=...) is the bed in the
    output (tiles stitched by VDS) and in the restart file, and a run
    restarted on another rank count goes on over it, bit for bit."""
    import jax.numpy as jnp
    from mpi4py import MPI

    from dycore.io.model import open_output, restore

    comm = MPI.COMM_WORLD
    many = dycore.Simulation(CONFIG, comm=comm)
    one = dycore.Simulation(CONFIG, comm=MPI.COMM_SELF) if comm.rank == 0 else None
    b = _custom_bed(many.grid)
    p_many = many.params.replace(b=jnp.asarray(many.tile.take(b)))
    p_one = one.params.replace(b=jnp.asarray(b)) if one else None
    folder = comm.bcast(tempfile.mkdtemp(prefix="dycore-bed-") if comm.rank == 0 else None)
    path, out = os.path.join(folder, "ck.h5"), os.path.join(folder, "out.h5")
    failure = None
    try:
        with open_output(out, many, p_many) as w:
            w.write(many.initial_state(), 0.0)
        if direction == "written_by_all_read_by_one":
            save_restart(path, many, many.run(many.initial_state(), K, p_many), K * CONFIG.dt,
                         K, params=p_many)
            comm.Barrier()
            if comm.rank == 0:
                back = restore(path, one)
                assert np.array_equal(np.asarray(back.params.b), b)
                final = {n: np.asarray(getattr(one.run(back.state, K, back.params), n))
                         for n in FIELDS}
        else:
            if comm.rank == 0:
                save_restart(path, one, one.run(one.initial_state(), K, p_one), K * CONFIG.dt,
                             K, params=p_one)
            comm.Barrier()
            back = restore(path, many)
            assert np.array_equal(np.asarray(back.params.b), many.tile.take(b))
            final = many.gather(many.run(back.state, K, back.params))
        if comm.rank == 0:
            import h5py

            with h5py.File(out, "r") as f:
                if not np.array_equal(f["b"][()], b):
                    failure = "the output's bed is not the custom bed"
            want = one.run(one.initial_state(), 2 * K, p_one)
            case_bed = one.run(one.initial_state(), 2 * K)
            for name in FIELDS:
                if not np.array_equal(final[name], np.asarray(getattr(want, name))):
                    failure = failure or f"{name} differs from the uninterrupted custom-bed run"
            if np.array_equal(final["hu"], np.asarray(case_bed.hu)):
                failure = failure or "the custom bed made no difference (test cannot fail)"
    finally:
        failure = comm.bcast(failure)
        comm.Barrier()
        if comm.rank == 0:
            shutil.rmtree(folder, ignore_errors=True)
    assert failure is None, failure


def test_initial_file_read_by_every_rank_for_its_tile():
    """``initial_file`` on N ranks: each rank reads its tile; the gathered
    state and bed are the file's, bit for bit; a bad value on one rank's
    tile is an error on every rank."""
    import h5py
    from mpi4py import MPI

    from dycore.errors import ConfigError

    comm = MPI.COMM_WORLD
    grid = dycore.Simulation(CONFIG, comm=MPI.COMM_SELF).grid
    rng = np.random.default_rng(3)
    h, u, v = 100 + rng.random((grid.ny, grid.nx)), rng.random((grid.ny, grid.nx)), \
        rng.random((grid.ny, grid.nx))
    b = _custom_bed(grid)
    folder = comm.bcast(tempfile.mkdtemp(prefix="dycore-init-") if comm.rank == 0 else None)
    good, bad = os.path.join(folder, "good.h5"), os.path.join(folder, "bad.h5")
    if comm.rank == 0:
        for path, depth in ((good, h), (bad, np.where(np.arange(grid.nx) == grid.nx - 1,
                                                      -1.0, h))):
            with h5py.File(path, "w") as f:
                for name, values, units in (("h", depth, "m"), ("u", u, "m s-1"),
                                            ("v", v, "m s-1"), ("b", b, "m")):
                    f[name] = values
                    f[name].attrs["units"] = units
    comm.Barrier()
    try:
        sim = dycore.Simulation(CONFIG.replace(initial_file=good), comm=comm)
        got = sim.gather(sim.initial_state())
        bed = sim.context.gather(np.asarray(sim.params.b))
        with pytest.raises(ConfigError, match="negative depths"):
            dycore.Simulation(CONFIG.replace(initial_file=bad), comm=comm)
    finally:
        comm.Barrier()
        if comm.rank == 0:
            shutil.rmtree(folder, ignore_errors=True)
    if comm.rank == 0:
        np.testing.assert_array_equal(got["h"], h)
        np.testing.assert_array_equal(got["hu"], h * u)
        np.testing.assert_array_equal(got["hv"], h * v)
        np.testing.assert_array_equal(bed, b)
