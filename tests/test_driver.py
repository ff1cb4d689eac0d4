"""The command-line driver, run as ``python -m dycore.run`` in a subprocess on
tiny grids: output file layout, values bit for bit against an in-process
run, config attributes, restarts, and the one-line errors of bad input.

The subprocesses share a JAX persistent compilation cache (a temporary
folder), so only the first of them pays the compile.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import dycore
from dycore.config import Config
from dycore.io import config_from_attrs, config_from_json
from dycore.run import schedule

FIELDS = ("h", "hu", "hv")
DAM = ["--case", "dam_break", "--nx", "32", "--t-end", "0.2", "--output-interval", "0.05"]
TIMES = [0.0, 1 * 0.05, 2 * 0.05, 3 * 0.05, 0.2]  # k * interval, as the driver has them


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMI_", "PMIX_", "SLURM_"))}
    out.update(PYTHONUNBUFFERED="1")  # the compile cache comes from conftest's environment
    return out


def cli(env, *args, cwd=None, module="dycore.run"):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def full(env, tmp_path_factory):
    """The reference run: dam break to t = 0.2 s, outputs every 0.05 s."""
    folder = tmp_path_factory.mktemp("full")
    path = folder / "sub" / "full.h5"  # the driver creates the folder
    proc = cli(env, *DAM, "--output", path, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return path, proc


def test_schedule_counts_from_zero():
    assert [e[0] for e in schedule(0.0, 0.2, 0.05)] == TIMES[1:]
    assert [e[0] for e in schedule(0.1, 0.2, 0.05)] == TIMES[3:]
    events = schedule(0.0, 1.0, 0.3, 0.5)
    assert [round(e[0], 12) for e in events] == [0.3, 0.5, 0.6, 0.9, 1.0]
    assert events[-1] == (1.0, True, True)
    assert schedule(0.0, 2.0, None, None) == [(2.0, False, False)]


def test_summary_line(full):
    _, proc = full
    assert proc.stderr == ""  # not a terminal: no progress bar
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("dycore: done: ")
    for part in ("steps to t = 0.2 s", "wall", "JIT compile", "ms/step/Mcell", "cells/s",
                 "mass drift", "1 rank"):
        assert part in last
    drift = float(re.search(r"mass drift (\S+)$", last).group(1))
    assert abs(drift) < 1e-12


def test_output_layout(full):
    path, _ = full
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["time"][()], TIMES)
        for name in FIELDS:
            assert f[name].shape == (len(TIMES), 4, 32)
            assert [d[0].name for d in f[name].dims] == ["/time", "/y", "/x"]
        assert f["b"].shape == (4, 32)
        assert f["x"].attrs["units"] == "m"
        assert f["time"].attrs["units"] == "seconds since 2000-01-01 00:00:00"  # CF
        assert f.attrs["ranks"] == 1


def test_fields_equal_in_process_run_bit_for_bit(full):
    path, _ = full
    sim = dycore.Simulation(Config(case="dam_break", nx=32, t_end=0.2, output_interval=0.05))
    state, t = sim.initial_state(), 0.0
    expected = [sim.gather(state)]
    for t_next in TIMES[1:]:
        state, t, _ = sim.advance(state, t, t_next)
        expected.append(sim.gather(state))
    with h5py.File(path, "r") as f:
        for k, fields in enumerate(expected):
            for name in FIELDS:
                np.testing.assert_array_equal(f[name][k], fields[name])
        np.testing.assert_array_equal(f["b"][()], np.asarray(sim.params.b))


def test_config_attributes_round_trip(full):
    path, _ = full
    want = Config(case="dam_break", nx=32, t_end=0.2, output_interval=0.05,
                  output=str(path)).resolved()
    with h5py.File(path, "r") as f:
        assert config_from_attrs(f.attrs) == want
        assert config_from_json(f.attrs["config_json"]) == want


def test_toml_file_with_flags_overriding(env, tmp_path, full):
    (tmp_path / "run.toml").write_text(
        'case = "dam_break"\nnx = 16\nt_end = 0.2\noutput_interval = 0.05\n'
        '[case_params]\nvariant = "stoker"\n')
    proc = cli(env, "run.toml", "--nx", "32", "--output", "toml.h5", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    with h5py.File(tmp_path / "toml.h5", "r") as f, h5py.File(full[0], "r") as g:
        assert f.attrs["nx"] == 32
        np.testing.assert_array_equal(f["h"][()], g["h"][()])


def test_restart_continues_bit_for_bit(env, tmp_path, full):
    """0 -> 0.1 s with a checkpoint, then restart -> 0.2 s == the 0 -> 0.2 s run."""
    first = cli(env, *DAM, "--t-end", "0.1", "--output", "half.h5",
                "--checkpoint-interval", "0.1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    ck = tmp_path / "half.restart.h5"
    with h5py.File(ck, "r") as f:
        assert f.attrs["time"] == 0.1 and f.attrs["checkpoint_interval"] == 0.1
        k = int(f.attrs["step"])
    second = cli(env, "--restart", ck, "--t-end", "0.2", "--output", "rest.h5", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    with h5py.File(tmp_path / "rest.h5", "r") as f, h5py.File(full[0], "r") as g:
        np.testing.assert_array_equal(f["time"][()], TIMES[2:])
        for name in FIELDS:
            np.testing.assert_array_equal(f[name][()], g[name][2:])
    total = int(re.search(r"now at step (\d+)", full[1].stdout).group(1))
    assert f"now at step {total}" in second.stdout
    assert re.search(rf"done: {total - k} steps", second.stdout)
    # the restarted run keeps checkpointing (the interval is in the restart file),
    # next to its own output, and at t_end
    with h5py.File(tmp_path / "rest.restart.h5", "r") as f:
        assert f.attrs["time"] == 0.2 and f.attrs["step"] == total
    # restarting into the output of the run that wrote the checkpoint would clobber it
    clobber = cli(env, "--restart", ck, "--t-end", "0.2", "--output", "half.h5", cwd=tmp_path)
    assert clobber.returncode == 2 and "choose another --output" in clobber.stderr


def test_python_m_dycore_alias_lists_cases(env):
    proc = cli(env, "--list-cases", module="dycore")
    assert proc.returncode == 0
    assert "unstable_jet" in proc.stdout and "dam_break" in proc.stdout


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dycore: error: ")
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args,needles", [
    (["--case", "nope"], ["'case'", "dam_break", "unstable_jet"]),
    (["--scheme", "nope"], ["'scheme'", "muscl", "weno5z"]),
    (["--riemann", "nope"], ["'riemann'", "valid"]),
    (["--nx", "0"], ["'nx'", ">= 1"]),
    (["--case", "dam_break", "--set", "case_params.h_left=-1"], ["case_params.h_left"]),
    (["--set", "foo=1"], ["'foo'", "valid keys"]),
    (["--set", "foo"], ["--set"]),
    (["--nx", "many"], ["--nx"]),
    (["--bogus"], ["--bogus"]),
    (["missing.toml"], ["missing.toml", "not found"]),
    (["--checkpoint-interval", "-5"], ["--checkpoint-interval"]),
    (["--procs", "2", "2"], ["'procs'", "mpirun"]),
])
def test_bad_input_is_one_line_exit_2(env, tmp_path, args, needles):
    _one_line_error(cli(env, *args, cwd=tmp_path), *needles)


def test_invalid_toml_and_unknown_toml_key(env, tmp_path):
    (tmp_path / "bad.toml").write_text("nx = = 3\n")
    _one_line_error(cli(env, "bad.toml", cwd=tmp_path), "not valid TOML")
    (tmp_path / "key.toml").write_text("nxx = 3\n")
    _one_line_error(cli(env, "key.toml", cwd=tmp_path), "'nxx'", "did you mean 'nx'")


def test_unwritable_output_is_caught_before_running(env, tmp_path):
    (tmp_path / "file").write_text("x")
    proc = cli(env, *DAM, "--output", tmp_path / "file" / "out.h5", cwd=tmp_path)
    _one_line_error(proc, "cannot create output")
    assert "done" not in proc.stdout


def test_restart_errors(env, tmp_path):
    _one_line_error(cli(env, "--restart", "nope.h5", cwd=tmp_path), "restart file", "not found")


def test_non_finite_state_stops_with_exit_1(env, tmp_path):
    # dt = 1 s is far above the CFL limit: refused unless --allow-unstable
    args = ["--case", "dam_break", "--nx", "32", "--dt", "1", "--t-end", "200",
            "--output-interval", "50", "--output", "nan.h5"]
    _one_line_error(cli(env, *args, cwd=tmp_path), "'dt'", "--allow-unstable")
    proc = cli(env, *args, "--allow-unstable", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "blow-up at step 1, t = 1 s" in lines[0], lines
    assert "negative depth" in lines[0] and "nan.restart.h5" in lines[0]
    with h5py.File(tmp_path / "nan.h5", "r") as f:  # what was written is kept
        np.testing.assert_array_equal(f["time"][()], [0.0])
        assert np.all(np.isfinite(f["h"][()]))


def test_ctrl_c_flushes_and_exits_130(env, tmp_path, full):
    proc = subprocess.Popen(
        [sys.executable, "-m", "dycore.run", "--case", "dam_break", "--nx", "32",
         "--t-end", "1000", "--output-interval", "0.05", "--output", "int.h5"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("dycore: dam_break")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until stepping has written a few frames
        time.sleep(0.5)
        try:
            with h5py.File(tmp_path / "int.h5.part", "r", locking=False) as f:
                if f["time"].shape[0] > 3:
                    break
        except Exception:  # noqa: BLE001 - the file is being written
            pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1].startswith("dycore: error: interrupted")
    assert "Traceback" not in err
    with h5py.File(tmp_path / "int.h5", "r") as f:
        n = f["time"].shape[0]
        assert n > 1 and f["h"].shape[0] >= n
        assert np.all(np.isfinite(f["h"][:n]))


# ------------------------------------------------------------------ MPI
@pytest.mark.mpi
def test_driver_on_all_ranks_equals_one_rank_bit_for_bit():
    """Under mpirun: the driver on every rank writes one output (tiles + VDS)
    and a checkpoint equal to a 1-rank run, bit for bit."""
    import shutil
    import tempfile

    from mpi4py import MPI

    from dycore.driver.files import load_restart
    from dycore.run import main

    comm = MPI.COMM_WORLD
    folder = comm.bcast(tempfile.mkdtemp(prefix="dycore-run-") if comm.rank == 0 else None)
    out = os.path.join(folder, "out.h5")
    rc = main([*DAM, "--output", out, "--checkpoint-interval", "0.1", "--quiet"])
    codes = comm.allgather(rc)
    failure = None
    if comm.rank == 0 and codes == [0] * comm.size:
        try:
            sim = dycore.Simulation(Config(case="dam_break", nx=32, t_end=0.2,
                                           output_interval=0.05), comm=MPI.COMM_SELF)
            state, t = sim.initial_state(), 0.0
            with h5py.File(out, "r") as f:
                assert f.attrs["ranks"] == comm.size
                np.testing.assert_array_equal(f["time"][()], TIMES)
                for k, t_next in enumerate(TIMES):
                    if k:
                        state, t, _ = sim.advance(state, t, t_next)
                    for name in FIELDS:
                        np.testing.assert_array_equal(f[name][k], np.asarray(getattr(state, name)))
            back, t_ck, _ = load_restart(os.path.join(folder, "out.restart.h5"), sim)
            assert t_ck == 0.2
            for name in FIELDS:
                np.testing.assert_array_equal(np.asarray(getattr(back, name)),
                                              np.asarray(getattr(state, name)))
        except AssertionError as err:
            failure = str(err)
        shutil.rmtree(folder, ignore_errors=True)
    failure = comm.bcast(failure)
    assert codes == [0] * comm.size, codes
    assert failure is None, failure


@pytest.mark.mpi
def test_config_errors_exit_2_on_every_rank_without_hanging(capsys):
    from mpi4py import MPI

    from dycore.run import main

    comm = MPI.COMM_WORLD
    for args in (["--nx", "0"], ["--case", "dam_break", "--procs", "3", str(comm.size + 1)]):
        codes = comm.allgather(main(args))
        assert codes == [2] * comm.size, (args, codes)
        err = capsys.readouterr().err.splitlines()
        if comm.rank == 0:
            assert len(err) == 1 and err[0].startswith("dycore: error: "), err
        else:
            assert err == []


def test_batch_progress_lines_and_no_output_notice(env, tmp_path):
    """Off a terminal: a progress line every --progress-interval s of wall
    time (here: after every segment), with model time, steps/s and ETA, on
    rank 0; a run without an output file says so on its first line, and
    --quiet silences both."""
    proc = cli(env, "--case", "dam_break", "--nx", "32", "--t-end", "0.2",
               "--progress-interval", "1e-6", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("dycore: dam_break") and "no output file" in first
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith("dycore: progress ") for line in lines)
    assert "t = 0.2 s of 0.2 s" in lines[-1] and "steps/s" in lines[-1] and "ETA" in lines[-1]
    quiet = cli(env, "--case", "dam_break", "--nx", "32", "--t-end", "0.2",
                "--progress-interval", "1e-6", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert not list(tmp_path.iterdir())  # nothing written without --output


def test_host_signal_rate_is_the_signal_rate():
    """The driver's checks read the CFL rate through one compiled program;
    it is the traced signal_rate's number, on the plane and on the sphere."""
    from dycore.sphere.simulation import SphereSimulation

    for sim in (dycore.Simulation(Config(case="dam_break", nx=16, ny=8)),
                SphereSimulation(Config(case="williamson2", nx=4))):
        state = sim.initial_state()
        rate = sim.host_signal_rate(state)
        assert isinstance(rate, float) and rate > 0
        assert rate == float(sim.signal_rate(state))
