"""HDF5 output and restart files (dycore.io): layout, dimension scales,
config attributes, tiled (N-rank) files stitched by virtual datasets, and
restart round trips, across rank counts and bit for bit.

N ranks are imitated in one process: one thread per rank, each with a fake
context (its tile and a thread-backed ``comm.allgather``), which drives
exactly the code path that MPI ranks take (per-rank files + VDS).
"""
from __future__ import annotations

import json
import os
import threading
import types

import h5py
import jax.numpy as jnp
import numpy as np
import pytest

import dycore
from dycore.config import Config, ConfigError
from dycore.grid import Tile
from dycore.driver.files import load_restart, open_output, save_restart
from dycore.io import config_from_attrs, config_from_json, consolidate, read_restart_config
from dycore.state import State

FIELDS = ("h", "hu", "hv")


# ----------------------------------------------------------- fake ranks
class _Shared:
    def __init__(self, size):
        self.slots = [None] * size
        self.barrier = threading.Barrier(size, timeout=60)


class _ThreadComm:
    """The slice of mpi4py's communicator that dycore.io uses."""

    def __init__(self, shared, rank):
        self.shared, self.rank = shared, rank

    def allgather(self, obj):
        self.shared.slots[self.rank] = obj
        self.shared.barrier.wait()
        out = list(self.shared.slots)
        self.shared.barrier.wait()
        return out


def _split(n, parts):
    base, extra = divmod(n, parts)
    sizes = [base + (k < extra) for k in range(parts)]
    return [(sum(sizes[:k]), sizes[k]) for k in range(parts)]


def fake_ranks(sim, px, py):
    """One stand-in Simulation per rank of a px x py grid (uneven tiles allowed)."""
    shared = _Shared(px * py)
    b = np.asarray(sim.params.b)
    out = []
    for rank in range(px * py):
        i0, nx = _split(sim.grid.nx, px)[rank % px]
        j0, ny = _split(sim.grid.ny, py)[rank // px]
        tile = Tile(i0, j0, nx, ny, grid=sim.grid)
        ctx = types.SimpleNamespace(rank=rank, size=px * py, is_root=rank == 0, tile=tile,
                                    comm=_ThreadComm(shared, rank))
        out.append(types.SimpleNamespace(
            context=ctx, tile=tile, grid=sim.grid, config=sim.config, dtype=sim.dtype,
            params=types.SimpleNamespace(b=tile.take(b))))
    return out


def on_ranks(fn, ranks):
    """Run fn(rank_sim) on every fake rank concurrently; re-raise the first error."""
    results, errors = [None] * len(ranks), [None] * len(ranks)

    def target(k):
        try:
            results[k] = fn(ranks[k])
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            errors[k] = err

    threads = [threading.Thread(target=target, args=(k,)) for k in range(len(ranks))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for err in errors:
        if err is not None:
            raise err
    return results


def local(state, tile):
    return State(*(jnp.asarray(tile.take(np.asarray(getattr(state, n)))) for n in FIELDS))


# ------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sim():
    return dycore.Simulation(Config(case="unstable_jet", nx=10, ny=7))


def frames(sim):
    s0 = sim.initial_state()
    s1 = State(s0.h + 1.5, s0.hu * 2.0 + 0.25, s0.hv - 3.0)
    return [(s0, 0.0), (s1, 21600.0)]


def write_serial(path, sim):
    with open_output(path, sim) as w:
        for state, t in frames(sim):
            w.write(state, t)


def write_tiled(path, sim, px, py):
    def job(rank):
        w = open_output(path, rank)
        for state, t in frames(sim):
            w.write(local(state, rank.tile), t)
        w.close()

    on_ranks(job, fake_ranks(sim, px, py))


# ---------------------------------------------------------------- output
def test_output_layout_and_dimension_scales(tmp_path, sim):
    path = tmp_path / "out.h5"
    write_serial(path, sim)
    ny, nx = sim.grid.ny, sim.grid.nx
    with h5py.File(path, "r") as f:
        assert set(f) == {"h", "hu", "hv", "b", "x", "y", "time"}
        for name in FIELDS:
            ds = f[name]
            assert ds.shape == (2, ny, nx) and ds.maxshape == (None, ny, nx)
            assert ds.chunks == (1, ny, nx) and not ds.is_virtual
            assert [d.label for d in ds.dims] == ["", "", ""]  # no DIMENSION_LABELS (CF)
            assert [d[0].name for d in ds.dims] == ["/time", "/y", "/x"]
            assert ds.attrs["units"] in ("m", "m2 s-1")
        assert [d[0].name for d in f["b"].dims] == ["/y", "/x"]
        for name in ("x", "y", "time"):
            assert f[name].is_scale and f[name].attrs["NAME"] == name.encode()
        assert f["time"].maxshape == (None,)
        assert f["x"].attrs["units"] == "m"
        assert f["time"].attrs["units"] == "seconds since 2000-01-01 00:00:00"
        np.testing.assert_array_equal(f["x"][()], sim.grid.x_centres())
        np.testing.assert_array_equal(f["y"][()], sim.grid.y_centres())
        np.testing.assert_array_equal(f["time"][()], [0.0, 21600.0])
        (s0, _), (s1, _) = frames(sim)
        for name in FIELDS:
            np.testing.assert_array_equal(f[name][0], np.asarray(getattr(s0, name)))
            np.testing.assert_array_equal(f[name][1], np.asarray(getattr(s1, name)))
        np.testing.assert_array_equal(f["b"][()], np.asarray(sim.params.b))
        assert f.attrs["ranks"] == 1 and f.attrs["dycore_version"] == dycore.__version__


def test_config_attributes_round_trip(tmp_path, sim):
    path = tmp_path / "out.h5"
    write_serial(path, sim)
    with h5py.File(path, "r") as f:
        attrs = f.attrs
        assert config_from_attrs(attrs) == sim.config
        assert config_from_json(attrs["config_json"]) == sim.config
        for key in ("dt", "output", "procs"):  # None in this config
            assert key not in attrs
        assert attrs["case"] == "unstable_jet" and attrs["nx"] == 10
        assert json.loads(attrs["case_params"]) == sim.config.case_params


@pytest.mark.parametrize("px,py", [(3, 2), (1, 3), (2, 1)])
def test_tiled_output_equals_single_file(tmp_path, sim, px, py, monkeypatch):
    write_serial(tmp_path / "one.h5", sim)
    write_tiled(tmp_path / "many.h5", sim, px, py)
    tiles = sorted(os.listdir(tmp_path / "many.h5.tiles"))
    assert tiles == [f"rank{r:05d}.h5" for r in range(px * py)]
    monkeypatch.chdir(tmp_path.parent)  # sources resolve relative to the file, not the cwd
    with h5py.File(tmp_path / "one.h5", "r") as a, h5py.File(tmp_path / "many.h5", "r") as b:
        assert set(a) == set(b)
        for name in a:
            assert a[name].shape == b[name].shape
            np.testing.assert_array_equal(a[name][()], b[name][()])
            assert b[name].is_virtual == (name in ("h", "hu", "hv", "b"))
        for name in FIELDS:
            assert [d[0].name for d in b[name].dims] == ["/time", "/y", "/x"]
            assert b[name].maxshape == (None, sim.grid.ny, sim.grid.nx)
        assert b.attrs["ranks"] == px * py
        assert config_from_attrs(b.attrs) == config_from_attrs(a.attrs)
    consolidate(tmp_path / "many.h5", tmp_path / "plain.h5")
    with h5py.File(tmp_path / "plain.h5", "r") as c, h5py.File(tmp_path / "one.h5", "r") as a:
        for name in a:
            assert not c[name].is_virtual
            np.testing.assert_array_equal(a[name][()], c[name][()])
        assert [d[0].name for d in c["h"].dims] == ["/time", "/y", "/x"]


def test_rewrite_with_other_rank_count_removes_stale_tiles(tmp_path, sim):
    path = tmp_path / "out.h5"
    write_tiled(path, sim, 3, 2)
    write_tiled(path, sim, 2, 2)
    assert sorted(os.listdir(tmp_path / "out.h5.tiles")) == [f"rank{r:05d}.h5" for r in range(4)]
    write_serial(path, sim)
    assert not os.path.exists(tmp_path / "out.h5.tiles")


def test_output_path_errors(tmp_path, sim):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(dycore.io.OutputError, match="cannot create output"):
        open_output(blocker / "out.h5", sim)
    with pytest.raises(dycore.io.OutputError, match="is a directory"):
        open_output(tmp_path, sim)


def test_output_creates_folders(tmp_path, sim):
    write_serial(tmp_path / "a" / "b" / "out.h5", sim)
    assert (tmp_path / "a" / "b" / "out.h5").is_file()


# --------------------------------------------------------------- restart
def test_restart_round_trip(tmp_path, sim):
    _, (state, _) = frames(sim)
    save_restart(tmp_path / "ck.h5", sim, state, 1234.5, 77)
    back, t, step = load_restart(tmp_path / "ck.h5", sim)
    assert (t, step) == (1234.5, 77)
    for name in FIELDS:
        assert getattr(back, name).dtype == sim.dtype
        np.testing.assert_array_equal(np.asarray(getattr(back, name)),
                                      np.asarray(getattr(state, name)))
    assert read_restart_config(tmp_path / "ck.h5") == sim.config
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize("write_grid,read_grid", [((3, 2), (1, 1)), ((3, 2), (2, 2)),
                                                  ((1, 1), (1, 3)), ((2, 2), (3, 1))])
def test_restart_across_rank_counts(tmp_path, sim, write_grid, read_grid):
    _, (state, _) = frames(sim)
    path = tmp_path / "ck.h5"
    if write_grid == (1, 1):
        save_restart(path, sim, state, 10.0, 3)
    else:
        on_ranks(lambda r: save_restart(path, r, local(state, r.tile), 10.0, 3),
                 fake_ranks(sim, *write_grid))
    if read_grid == (1, 1):
        results, tiles = [load_restart(path, sim)], [sim.tile]
    else:
        ranks = fake_ranks(sim, *read_grid)
        results, tiles = on_ranks(lambda r: load_restart(path, r), ranks), [r.tile for r in ranks]
    for (back, t, step), tile in zip(results, tiles):
        assert (t, step) == (10.0, 3)
        for name in FIELDS:
            np.testing.assert_array_equal(np.asarray(getattr(back, name)),
                                          tile.take(np.asarray(getattr(state, name))))


def test_tiled_restart_replaced_atomically(tmp_path, sim):
    (s0, _), (s1, _) = frames(sim)
    path = tmp_path / "ck.h5"
    ranks = fake_ranks(sim, 2, 2)
    on_ranks(lambda r: save_restart(path, r, local(s0, r.tile), 1.0, 5), ranks)
    on_ranks(lambda r: save_restart(path, r, local(s1, r.tile), 2.0, 9), fake_ranks(sim, 2, 2))
    assert sorted(os.listdir(tmp_path / "ck.h5.tiles")) == [
        f"step{9:012d}_rank{r:05d}.h5" for r in range(4)]
    back, t, step = load_restart(path, sim)
    assert (t, step) == (2.0, 9)
    np.testing.assert_array_equal(np.asarray(back.hu), np.asarray(s1.hu))
    save_restart(path, sim, s0, 3.0, 11)  # one rank again: the tiles go
    assert not os.path.exists(tmp_path / "ck.h5.tiles")


def test_restart_errors(tmp_path, sim):
    with pytest.raises(ConfigError, match="not found"):
        load_restart(tmp_path / "missing.h5", sim)
    write_serial(tmp_path / "out.h5", sim)
    with pytest.raises(ConfigError, match="not a dycore restart file"):
        load_restart(tmp_path / "out.h5", sim)
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(ConfigError, match="not a readable HDF5 file"):
        load_restart(tmp_path / "junk.h5", sim)
    save_restart(tmp_path / "ck.h5", sim, sim.initial_state(), 0.0, 0)
    other = dycore.Simulation(Config(case="unstable_jet", nx=12, ny=7))
    with pytest.raises(ConfigError, match="'nx'"):
        load_restart(tmp_path / "ck.h5", other)


def test_restart_with_missing_tiles_is_an_error(tmp_path, sim):
    path = tmp_path / "ck.h5"
    on_ranks(lambda r: save_restart(path, r, local(sim.initial_state(), r.tile), 1.0, 1),
             fake_ranks(sim, 2, 1))
    os.remove(tmp_path / "ck.h5.tiles" / f"step{1:012d}_rank{1:05d}.h5")
    with pytest.raises(ConfigError, match="missing or non-finite"):
        load_restart(path, sim)


@pytest.fixture(scope="module")
def dam():
    return dycore.Simulation(Config(case="dam_break", nx=32, dt=0.004))


@pytest.mark.parametrize("tiled", [False, True])
def test_k_steps_restart_k_steps_equals_2k_steps(tmp_path, dam, tiled):
    """2K steps == K steps, write + read a restart, K steps: bit for bit."""
    k = 5
    state = dam.run(dam.initial_state(), k)
    path = tmp_path / "ck.h5"
    if tiled:  # written by 3 ranks, read back by 1
        on_ranks(lambda r: save_restart(path, r, local(state, r.tile), k * 0.004, k),
                 fake_ranks(dam, 3, 1))
    else:
        save_restart(path, dam, state, k * 0.004, k)
    restarted, t, step = load_restart(path, dam)
    assert (t, step) == (k * 0.004, k)
    uninterrupted = dam.run(state, k)
    continued = dam.run(restarted, k)
    for name in FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(continued, name)),
                                      np.asarray(getattr(uninterrupted, name)))


# ------------------------------------------------------------------ MPI
@pytest.mark.mpi
def test_files_written_by_all_ranks_read_back_on_one():
    """Under mpirun: output and restart written by every rank for its tile read
    back equal to the gathered fields; the restart reads on another process
    grid and on a single rank."""
    import shutil
    import tempfile

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    folder = comm.bcast(tempfile.mkdtemp(prefix="dycore-io-") if comm.rank == 0 else None)
    out, ck = os.path.join(folder, "out.h5"), os.path.join(folder, "ck.h5")
    size = comm.size
    sim = dycore.Simulation(Config(case="unstable_jet", nx=12, ny=9, procs=[size, 1]))
    other = dycore.Simulation(Config(case="unstable_jet", nx=12, ny=9, procs=[1, size]))
    with open_output(out, sim) as w:
        for state, t in frames(sim):
            w.write(state, t)
    gathered = [sim.gather(state) for state, _ in frames(sim)]
    (_, _), (s1, _) = frames(sim)
    save_restart(ck, sim, s1, 21600.0, 7)
    back, t, step = load_restart(ck, other)
    failure = None
    try:
        assert (t, step) == (21600.0, 7)
        _, (o1, _) = frames(other)
        for name in FIELDS:
            np.testing.assert_array_equal(np.asarray(getattr(back, name)),
                                          np.asarray(getattr(o1, name)))
    except AssertionError as err:
        failure = f"rank {comm.rank}: {err}"
    failures = comm.allgather(failure)
    if comm.rank == 0 and not any(failures):
        try:
            with h5py.File(out, "r") as f:
                assert f.attrs["ranks"] == size
                assert f["h"].is_virtual == (size > 1)
                for k, fields in enumerate(gathered):
                    for name in FIELDS:
                        np.testing.assert_array_equal(f[name][k], fields[name])
            one = dycore.Simulation(Config(case="unstable_jet", nx=12, ny=9), comm=MPI.COMM_SELF)
            back1, t1, step1 = load_restart(ck, one)
            assert (t1, step1) == (21600.0, 7)
            for name in FIELDS:
                np.testing.assert_array_equal(np.asarray(getattr(back1, name)), gathered[1][name])
        except AssertionError as err:
            failures = [f"rank 0: {err}"]
        shutil.rmtree(folder, ignore_errors=True)
    failures = comm.bcast(failures)
    assert not any(failures), failures
