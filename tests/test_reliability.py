"""Reliability of the driver (issue #6): bad input fails fast with one line
and exit status 2; a blow-up, a signal or a failing rank stops every rank
without losing what was computed, and the restart file written reproduces
the run bit for bit; no process is left behind. Issue 15 (at the end): a
write failure mid-run, inputs that used to escape as tracebacks, hostile
restart files, signals during the start-up (the file-safety items are in
tests/test_security.py).

The driver runs in subprocesses (``python -m dycore.run`` and ``mpirun -n 2``)
on 16 x 16 grids and shares the suite's persistent JAX compile cache. Every
subprocess gets a unique folder (``tmp_path``) in its arguments, so that
``pgrep -f`` can tell whether any of its processes outlived it.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import dycore
from dycore.config import Config
from dycore.driver.files import save_restart
from dycore.run import main, schedule

FIELDS = ("h", "hu", "hv")
ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = dycore.runtime.compile_cache_dir()
MPIRUN = shutil.which("mpirun")
needs_mpirun = pytest.mark.skipif(MPIRUN is None, reason="mpirun not found")

# The inertia-gravity wave with dt three times its CFL limit: refused without
# --allow-unstable; with it the depth turns negative after about ten steps.
IGW = ["--case", "inertia_gravity_wave", "--nx", "16", "--ny", "16"]
UNSTABLE = [*IGW, "--dt", "8000", "--t-end", "400000", "--output-interval", "40000"]
# A long run (about 7e6 steps, 7e5 per output interval: minutes even on a
# fast core) that a signal interrupts in the middle of its first output
# interval. (With 7e3 steps per interval the first output came before the
# signal once the step got faster.)
LONG = [*IGW, "--t-end", "1e11", "--output-interval", "1e10"]
T_LONG_EVENT = 1e10


@pytest.fixture(scope="module")
def env():
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMI_", "PMIX_", "SLURM_"))}
    out.update(JAX_COMPILATION_CACHE_DIR=CACHE, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    return out


def command(args, ranks=1, script=None):
    """The command line of the driver (or of a wrapper script) on ``ranks`` ranks."""
    program = [sys.executable, *([script] if script else ["-m", "dycore.run"]), *map(str, args)]
    if ranks == 1:
        return program
    return [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks), *program]


def run(env, args, cwd, ranks=1, script=None, timeout=240):
    return subprocess.run(command(args, ranks, script), env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def leftovers(marker) -> list[str]:
    """Processes whose command line holds ``marker``, after a grace of a few seconds."""
    for _ in range(50):
        found = subprocess.run(["pgrep", "-af", str(marker)], capture_output=True, text=True)
        lines = [ln for ln in found.stdout.splitlines() if "pgrep" not in ln]
        if not lines:
            return []
        time.sleep(0.1)
    return lines


def our_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("dycore: error: ")]


def assert_one_line(proc, code, *needles) -> str:
    """Exit status ``code``, exactly one ``dycore: error:`` line holding the
    needles, no traceback. mpirun may add its own banner about the exit code."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = our_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def read_fields(path):
    with h5py.File(path, "r") as f:
        return ({name: f[name][()] for name in FIELDS}, float(f.attrs["time"]),
                int(f.attrs["step"]))


def assert_equal_state(fields: dict, state) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(fields[name], np.asarray(getattr(state, name)))


def config_of(args) -> Config:
    """The Config that the driver builds from the flags of IGW runs."""
    values, it = {}, iter(args)
    for flag in it:
        value = next(it)
        key = flag[2:].replace("-", "_")
        values[key] = value if key == "case" else (int(value) if key in ("nx", "ny")
                                                   else float(value))
    values.pop("output_interval", None)
    return Config(**values)


def reference(config: Config, t_end: float, interval: float, n_steps: int | None = None,
              checkpoint_interval=None):
    """In-process run along the driver's event times: (state, t, steps, fault)
    after ``n_steps`` steps, or at t_end, or at a blow-up."""
    sim = dycore.Simulation(config)
    state, t, steps = sim.initial_state(), 0.0, 0
    for t_next, _, _ in schedule(0.0, t_end, interval, checkpoint_interval):
        left = None if n_steps is None else n_steps - steps
        state, t, n, fault = sim.advance(state, t, t_next, max_steps=left, report=True)
        steps += n
        if fault or (n_steps is not None and steps == n_steps):
            return state, t, steps, fault
    return state, t, steps, None


# ------------------------------------------------------------ bad input
@pytest.fixture(scope="module")
def restart_files(tmp_path_factory):
    """Restart files of a 16 x 16 dam break: good, truncated, not ours,
    another grid, another equation set; and a plain HDF5 file."""
    folder = tmp_path_factory.mktemp("restarts")
    sim = dycore.Simulation(Config(case="dam_break", nx=16, ny=16))
    good = folder / "good.h5"
    save_restart(good, sim, sim.initial_state(), 0.0, 0)
    data = good.read_bytes()
    (folder / "truncated.h5").write_bytes(data[: len(data) // 2])
    (folder / "text.h5").write_text("not HDF5\n")
    with h5py.File(folder / "plain.h5", "w") as f:
        f["h"] = np.zeros((16, 16))
    shutil.copy(good, folder / "equations.h5")
    with h5py.File(folder / "equations.h5", "r+") as f:
        f.attrs["model"] = "Boussinesq"
        f.attrs["fields"] = "h,hu,hv,theta"
    return folder


BAD_INPUT = {
    "unknown key": (["--set", "cfll=0.3"], ["'cfll'", "did you mean 'cfl'"]),
    "wrong type int": (["--set", "nx=1.5"], ["'nx'", "integer"]),
    "wrong type number": (["--set", "t_end='long'"], ["'t_end'", "number"]),
    "unknown case": (["--case", "tsunami"], ["'case'", "dam_break", "unstable_jet"]),
    "unknown scheme": (["--scheme", "weno9"], ["'scheme'", "muscl", "weno5z"]),
    "unknown riemann": (["--riemann", "roe2"], ["'riemann'", "hllc"]),
    "zero cells": (["--nx", "0"], ["'nx'", ">= 1"]),
    "zero t_end": (["--t-end", "0"], ["'t_end'", "> 0"]),
    "negative dt": (["--dt", "-1"], ["'dt'", "> 0"]),
    "zero output interval": (["--output-interval", "0"], ["'output_interval'"]),
    "zero checkpoint interval": (["--checkpoint-interval", "0"], ["--checkpoint-interval"]),
    "dt above CFL": ([*IGW, "--dt", "8000"], ["'dt'", "CFL", "Courant number", "--allow-unstable"]),
    "cfl above limit": ([*IGW, "--cfl", "1.5"], ["'cfl'", "--allow-unstable"]),
    "procs not matching": (["--procs", "2", "1"], ["'procs'", "mpirun -n 2"]),
    "periodic narrower than halo": ([*IGW, "--nx", "1"], ["'nx'", "halo"]),
}


def assert_refused_in_process(capsys, needles, folder):
    """An in-process main() that returned 2: one line on stderr naming the
    problem, no traceback, nothing on stdout, nothing written to ``folder``."""
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and err.startswith("dycore: error: "), err
    for needle in needles:
        assert needle in err, err
    assert "Traceback" not in err and out == ""
    assert os.listdir(folder) == []

@pytest.mark.parametrize("name", list(BAD_INPUT))
def test_bad_config_in_process(name, tmp_path, capsys, monkeypatch):
    """main() returns 2 and prints one line, before any step (nothing written)."""
    monkeypatch.chdir(tmp_path)
    args, needles = BAD_INPUT[name]
    assert main([*args, "--output", str(tmp_path / "out.h5")]) == 2
    assert_refused_in_process(capsys, needles, tmp_path)


def test_bad_files_in_process(tmp_path, capsys, monkeypatch, restart_files):
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    (tmp_path / "bad.toml").write_text('case = "dam_break"\nnx = = 3\n')
    (tmp_path / "old.h5").write_text("")
    (tmp_path / "crashed.h5.part").write_text("")
    (tmp_path / "taken.restart.h5").write_text("")
    r = restart_files
    cases = [
        (["bad.toml"], ["not valid TOML", "line 2"]),
        (["--output", "file/out.h5"], ["cannot create output", "not writable"]),
        (["--checkpoint", "file/ck.h5"], ["--checkpoint", "not writable"]),
        (["--output", "old.h5"], ["'old.h5' exists", "--overwrite"]),
        (["--output", "crashed.h5"], ["'crashed.h5.part' exists", "--overwrite"]),
        (["--output", "taken.h5"], ["'taken.restart.h5' exists", "--overwrite"]),
        (["--restart", "missing.h5"], ["'missing.h5' not found"]),
        (["--restart", r / "truncated.h5"], ["not a readable HDF5 file", "truncated"]),
        (["--restart", r / "text.h5"], ["not a readable HDF5 file"]),
        (["--restart", r / "plain.h5"], ["not a dycore restart file"]),
        (["--restart", r / "good.h5", "--nx", "32"], ["'nx'", "incompatible grid"]),
        (["--restart", r / "equations.h5"], ["Boussinesq"]),
    ]
    for args, needles in cases:
        assert main([*map(str, args), "--t-end", "0.1"]) == 2, args
        out, err = capsys.readouterr()
        assert len(err.splitlines()) == 1 and err.startswith("dycore: error: "), (args, err)
        for needle in needles:
            assert needle in err, (args, err)
        assert "Traceback" not in err and out == "", (args, err)
    assert sorted(os.listdir(tmp_path)) == ["bad.toml", "crashed.h5.part", "file", "old.h5",
                                            "taken.restart.h5"]
    # the existing files are replaced with --overwrite (the run is tiny)
    assert main(["--case", "dam_break", "--nx", "16", "--t-end", "0.01", "--output", "taken.h5",
                 "--overwrite", "--quiet"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=needs_mpirun)])
def test_bad_input_subprocess_exits_2_on_every_rank(env, tmp_path, ranks):
    """As a process (and under mpirun: every rank): exit 2, one line, no
    traceback, no process left. Under 2 ranks also the checks that only
    make sense there (tiles narrower than the halo) and a file check agreed
    by all ranks."""
    (tmp_path / "bad.toml").write_text('case = "dam_break"\n\nnx = = 3\n')
    cases = [([tmp_path / "bad.toml"], ["line 3"])]
    if ranks == 2:
        (tmp_path / "old.h5").write_text("")
        cases += [(["--case", "dam_break", "--nx", "3", "--procs", "2", "1"],
                   ["'nx'", "narrower than the scheme's halo"]),
                  (["--case", "dam_break", "--output", tmp_path / "old.h5"], ["exists"]),
                  (["--procs", "3", "1"], ["'procs'", "3 MPI ranks but 2"])]
    for args, needles in cases:
        proc = run(env, args, tmp_path, ranks=ranks)
        assert_one_line(proc, 2, *needles)
        assert leftovers(tmp_path) == []


INJECT = '''
"""Run the driver with a fault injected on rank 1 (tests only)."""
import os, signal, sys
import dycore.driver.main as driver
import dycore.run as run
from dycore.config import ConfigError
from dycore.simulation import Simulation

mode = sys.argv[1]
rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
if rank == 1 and mode == "setup":
    def broken(config):
        raise ConfigError("injected bad input seen by rank 1 only")
    driver.Simulation = broken
if rank == 1 and mode in ("raise", "die"):
    advance, calls = Simulation.advance, []
    def faulty(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            if mode == "raise":
                raise RuntimeError("injected failure on rank 1")
            os.kill(os.getpid(), signal.SIGKILL)
        return advance(self, *args, **kwargs)
    Simulation.advance = faulty
sys.exit(run.main(sys.argv[2:]))
'''


@needs_mpirun
def test_bad_input_seen_by_one_rank_only_is_agreed(env, tmp_path):
    script = tmp_path / "inject.py"
    script.write_text(INJECT)
    proc = run(env, ["setup", *IGW, "--output", tmp_path / "out.h5"], tmp_path, ranks=2,
               script=script)
    assert_one_line(proc, 2, "injected bad input seen by rank 1 only")
    assert leftovers(tmp_path) == []
    assert not any(p.name.startswith("out.h5") for p in tmp_path.iterdir())


# -------------------------------------------------------------- blow-up
@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=needs_mpirun)])
def test_blow_up_stops_writes_last_good_state(env, tmp_path, ranks):
    out = tmp_path / "out.h5"
    proc = run(env, [*UNSTABLE, "--output", out], tmp_path, ranks=ranks)
    assert_one_line(proc, 2, "'dt'", "--allow-unstable")  # refused without the flag
    proc = run(env, [*UNSTABLE, "--output", out, "--allow-unstable"], tmp_path, ranks=ranks)
    line = assert_one_line(proc, 1, "blow-up at step", "negative depth", "worst cell (i, j) = (",
                           "likely cause: the time step 8e+03 s is above the CFL stability limit",
                           "out.restart.h5", "--restart")
    assert leftovers(tmp_path) == []
    step = int(re.search(r"blow-up at step (\d+), t = (\S+) s", line).group(1))
    i, j = map(int, re.search(r"\(i, j\) = \((\d+), (\d+)\)", line).groups())
    assert 0 <= i < 16 and 0 <= j < 16
    # the restart file holds the last good state, bit for bit
    fields, t, saved_step = read_fields(tmp_path / "out.restart.h5")
    state, t_ref, steps, fault = reference(config_of(UNSTABLE), 400000.0, 40000.0)
    assert fault is not None and fault["kind"] == "negative depth"
    assert (saved_step, t) == (steps, t_ref) and step == steps + 1
    assert_equal_state(fields, state)
    assert np.all(fields["h"] >= 0)
    # the output is complete (renamed from .part) and holds the good frames only
    assert not (tmp_path / "out.h5.part").exists()
    with h5py.File(out, "r") as f:
        times = f["time"][()]
        assert times[-1] <= t and len(times) == 1 + int(t // 40000.0)
        assert f["h"].shape[0] == len(times) and np.all(np.isfinite(f["h"][()]))


# -------------------------------------------------------------- signals
def _start_and_signal(env, args, cwd, ranks, signum, target="launcher", wait_for=None):
    """Start a long run, wait until it steps (and ``wait_for`` exists), send
    ``signum`` to the launcher (python or mpirun) or to the ranks; return the
    finished process."""
    proc = subprocess.Popen(command(args, ranks), env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("dycore: inertia_gravity_wave")
        time.sleep(3.0)  # compile (cached) and step for a while
        for _ in range(600):
            if wait_for is None or wait_for.exists():
                break
            time.sleep(0.1)
        if target == "launcher":
            proc.send_signal(signum)
        else:
            pids = subprocess.run(["pgrep", "-f", f"dycore.run .*{cwd}"], capture_output=True,
                                  text=True).stdout.split()
            ranks_pids = [int(p) for p in pids if int(p) != proc.pid]
            assert len(ranks_pids) == ranks, pids
            for pid in ranks_pids:
                os.kill(pid, signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("ranks, signum, target", [
    (1, signal.SIGTERM, "launcher"),
    pytest.param(2, signal.SIGUSR1, "launcher", marks=needs_mpirun),
    pytest.param(2, signal.SIGTERM, "ranks", marks=needs_mpirun),
])
def test_signal_writes_restart_that_resumes_bit_for_bit(env, tmp_path, ranks, signum, target):
    out = tmp_path / "long.h5"
    proc = _start_and_signal(env, [*LONG, "--output", out], tmp_path, ranks, signum, target)
    name = signal.Signals(signum).name
    line = assert_one_line(proc, 128 + signum, f"interrupted by {name} at step",
                           "long.restart.h5", "resume with:", "--restart")
    assert ("mpirun -n 2 python -m dycore.run" in line) == (ranks == 2)
    assert leftovers(tmp_path) == []
    fields, t_stop, step = read_fields(tmp_path / "long.restart.h5")
    assert 0 < t_stop < T_LONG_EVENT and f"at step {step}," in line
    config = config_of(LONG)
    state, t_ref, steps, _ = reference(config, T_LONG_EVENT, T_LONG_EVENT, n_steps=step)
    assert (t_ref, steps) == (t_stop, step)
    assert_equal_state(fields, state)
    with h5py.File(out, "r") as f:  # closed and renamed: the frame at t = 0
        np.testing.assert_array_equal(f["time"][()], [0.0])
    # resume on one rank to a little later == the uninterrupted run to that time
    t_end = t_stop + 50000.0
    resumed = run(env, ["--restart", tmp_path / "long.restart.h5", "--t-end", t_end,
                        "--output", tmp_path / "resumed.h5"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    sim = dycore.Simulation(config.replace(t_end=t_end))
    final, t_final, n = sim.advance(sim.initial_state(), 0.0, t_end)
    with h5py.File(tmp_path / "resumed.h5", "r") as f:
        assert f["time"][-1] == t_final == t_end
        for name in FIELDS:
            np.testing.assert_array_equal(f[name][-1], np.asarray(getattr(final, name)))
    assert f"now at step {n})" in resumed.stdout


@needs_mpirun
def test_sigterm_to_mpirun_ends_the_job_and_keeps_the_checkpoint(env, tmp_path):
    """Open MPI's mpirun answers SIGTERM by killing the ranks after 1 s, too
    soon to write a restart file: the job still ends, nothing is left
    running, and the last periodic checkpoint stays whole."""
    out = tmp_path / "long.h5"
    proc = _start_and_signal(env, [*LONG, "--output", out, "--checkpoint-interval", "200000"],
                             tmp_path, 2, signal.SIGTERM, wait_for=tmp_path / "long.restart.h5")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert leftovers(tmp_path) == []
    fields, t, step = read_fields(tmp_path / "long.restart.h5")
    if proc.returncode != 128 + signal.SIGTERM:  # killed before the ranks could stop
        assert t > 0 and t % 200000.0 == 0
    state, t_ref, n, _ = reference(config_of(LONG), T_LONG_EVENT, T_LONG_EVENT, n_steps=step,
                                   checkpoint_interval=200000.0)
    assert (t_ref, n) == (t, step)
    assert_equal_state(fields, state)


# ------------------------------------------------------------ rank failure
@needs_mpirun
@pytest.mark.parametrize("mode", ["raise", "die"])
def test_failing_rank_aborts_the_job(env, tmp_path, mode):
    """A rank raising (a bug) or dying mid-run: the others do not wait
    forever; the job ends with a non-zero status and no process is left."""
    script = tmp_path / "inject.py"
    script.write_text(INJECT)
    proc = run(env, [mode, *LONG, "--output", tmp_path / "out.h5"], tmp_path, ranks=2,
               script=script, timeout=120)
    assert proc.returncode != 0
    if mode == "raise":
        assert "RuntimeError: injected failure on rank 1" in proc.stderr  # a bug: traceback
    assert leftovers(tmp_path) == []
    # the output of the failed run is left as .part: it does not look complete
    assert (tmp_path / "out.h5.part").exists() and not (tmp_path / "out.h5").exists()


# ------------------------------------------------- issue 15: write failures
LIMIT = '''
"""Run the driver under a file size limit (ulimit -f) set after MPI started
(Open MPI's shared-memory files are larger than the limit); tests only."""
import resource, signal, sys
if len(sys.argv) > 2 and sys.argv[2] == "mpi":
    from mpi4py import MPI  # noqa: F401
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
import dycore.run as run
sys.exit(run.main(sys.argv[3:]))
'''
FILE_LIMIT = 1 << 20


def _can_limit_file_size() -> bool:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        return hard == resource.RLIM_INFINITY or hard >= FILE_LIMIT
    except (ImportError, OSError, ValueError):
        return False


@pytest.mark.skipif(not _can_limit_file_size(), reason="cannot set RLIMIT_FSIZE here")
@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=needs_mpirun)])
def test_write_failure_mid_run_exits_1_keeping_what_was_written(env, tmp_path, ranks):
    """Issue 15, item 3: the output passes the file size limit mid-run
    (`ulimit -f`, SIGXFSZ ignored): one line naming the file and the error,
    exit 1, the last good state in the restart file, the frames written
    kept readable in the .part (no segfault, no h5py traceback)."""
    script = tmp_path / "limit.py"
    script.write_text(LIMIT)
    args = [FILE_LIMIT, "mpi" if ranks > 1 else "-", "--case", "inertia_gravity_wave",
            "--nx", 32 * ranks, "--ny", 32, "--t-end", 400000, "--output-interval", 4000,
            "--output", tmp_path / "o.h5"]
    proc = run(env, args, tmp_path, ranks=ranks, script=script)
    line = assert_one_line(proc, 1, "writing the output failed", "o.h5", "File too large",
                           "restart file", "o.restart.h5", "o.h5.part")
    assert "h5py" not in proc.stderr
    assert leftovers(tmp_path) == []
    fields, t, step = read_fields(tmp_path / "o.restart.h5")
    assert t > 0 and step > 0 and f"step {step}, t = {t:g} s" in line
    assert all(np.all(np.isfinite(q)) for q in fields.values())
    with h5py.File(tmp_path / "o.h5.part", "r") as f:
        times = f["time"][()]
        assert len(times) > 2 and times[-1] < t
        np.testing.assert_array_equal(times, 4000.0 * np.arange(len(times)))
        assert np.all(np.isfinite(f["h"][: len(times)]))


# ------------------------------------------ issue 15: inputs that escaped
ESCAPED = {
    # item 8: tiles narrower than the halo with walls on one rank
    "walls nx 1": (["--case", "lake_at_rest", "--nx", "1"], ["'nx'", "wall", "halo"]),
    "walls weno5z nx 2": (["--case", "lake_at_rest", "--nx", "2", "--scheme", "weno5z"],
                          ["'nx'", "3 cells"]),
    # item 9: division by zero in a case
    "kelvin f0 0": (["--case", "kelvin_wave", "--set", "f0=0"], ["'f0'", "> 0"]),
    "igw tiny depth": (["--case", "inertia_gravity_wave", "--set", "case_params.depth=1e-300"],
                       ["'case_params.depth'"]),
    # item 10: overflow of the mass
    "huge h_left": (["--case", "dam_break", "--set", "case_params.h_left=1e308"],
                    ["case_params", "too large"]),
    # item 12: memory
    "728 TiB": (["--nx", "10000000", "--ny", "10000000"],
                ["GiB of memory per rank", "this machine has", "more ranks"]),
    "1e10 cells": (["--nx", "100000", "--ny", "100000"], ["GiB", "more ranks"]),
    # item 11: integers past any grid
    "nx 2**64": (["--set", "nx=18446744073709551616"], ["'nx'", "<= 2147483647"]),
    "deep --set": (["--set", "nx=" + "[" * 5000 + "]" * 5000], ["--set", "nested"]),
    # item 13: absurd numbers of events
    "1e7 frames": (["--t-end", "1e7", "--output-interval", "1"],
                   ["'output_interval'", "1e+07 output frames", "--allow-many-frames"]),
    "checkpoint 1e-300": (["--checkpoint-interval", "1e-300"],
                          ["--checkpoint-interval", "restart files", "--allow-many-frames"]),
    # item 14: subnormal (non-normal) floats
    "output interval 5e-324": (["--output-interval", "5e-324"], ["'output_interval'", "normal"]),
    "t_end 1e-310": (["--t-end", "1e-310"], ["'t_end'", "normal"]),
    "lx 5e-324": (["--set", "lx=5e-324"], ["'lx'", "normal"]),
    "ly 5e-324": (["--set", "ly=5e-324"], ["'ly'", "normal"]),
    "g 5e-324": (["--set", "g=5e-324"], ["'g'", "normal"]),
    "cfl 5e-324": (["--set", "cfl=5e-324"], ["'cfl'", "normal"]),
    "dt 5e-324": (["--dt", "5e-324"], ["'dt'", "normal"]),
    "checkpoint 5e-324": (["--checkpoint-interval", "5e-324"], ["--checkpoint-interval",
                                                                "normal"]),
    "case param 5e-324": (["--case", "dam_break", "--set", "case_params.h_right=5e-324"],
                          ["'case_params.h_right'", "normal"]),
    "cell too small for time": (["--case", "dam_break", "--set", "lx=1e-300"],
                                ["time step", "resolution"]),
}


@pytest.mark.parametrize("name", list(ESCAPED))
def test_inputs_that_escaped_are_one_line_exit_2(name, tmp_path, capsys, monkeypatch):
    """Issue 15, items 8-14: one line, exit 2, before any step, nothing written."""
    monkeypatch.chdir(tmp_path)
    args, needles = ESCAPED[name]
    assert main([*args, "--output", str(tmp_path / "a" / "out.h5")]) == 2
    assert_refused_in_process(capsys, needles, tmp_path)


def test_bad_toml_files_are_one_line_exit_2(tmp_path, capsys, monkeypatch):
    """Issue 15, item 11: not UTF-8, nested 100000 levels deep, an integer past 64 bits."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "latin1.toml").write_bytes(b'case = "dam_break"\nnx = 3\xff\n')
    (tmp_path / "deep.toml").write_text("a = " + "[" * 100000 + "]" * 100000 + "\n")
    (tmp_path / "big.toml").write_text("nx = 18446744073709551616\n")
    for name, needle in (("latin1.toml", "not UTF-8"), ("deep.toml", "nested too deeply"),
                         ("big.toml", "'nx'")):
        assert main([name]) == 2, name
        out, err = capsys.readouterr()
        assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err
    assert sorted(os.listdir(tmp_path)) == ["big.toml", "deep.toml", "latin1.toml"]


def test_events_are_computed_lazily():
    """Issue 15, item 13: with --allow-many-frames an interval of 1e-300 s
    over 1e300 s yields its first events at once (nothing built up front)."""
    from dycore.driver.schedule import events
    it = events(0.0, 1e300, 1e-300, None)
    assert iter(it) is it  # an iterator, not a list (an eager list would never finish)
    first = [next(it) for _ in range(3)]
    assert [e[0] for e in first] == [1e-300, 2e-300, 3e-300] and first[0][1]


def test_many_frames_are_refused_unless_forced(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.h5").write_text("")
    args = ["--case", "dam_break", "--nx", "16", "--t-end", "2e-6", "--dt", "1e-6",
            "--checkpoint-interval", "1e-12", "--quiet", "--output", "taken.h5"]
    assert main(args) == 2
    assert "--allow-many-frames" in capsys.readouterr().err
    assert main([*args, "--allow-many-frames"]) == 2  # past the count: the next check
    assert "'taken.h5' exists" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["taken.h5"]


# ----------------------------------------------- issue 15: restart files
@pytest.fixture
def hostile_restarts(tmp_path):
    """Restart files of a 16 x 4 dam break, each wrong in one way."""
    from dycore.state import State

    folder = tmp_path / "r"
    folder.mkdir()
    sim = dycore.Simulation(Config(case="dam_break", nx=16))
    s0 = sim.initial_state()
    save_restart(folder / "good.h5", sim, s0, 0.0, 0)
    bad_h = np.asarray(s0.h).copy()
    bad_h[0, 0] = -1.0
    save_restart(folder / "negative.h5", sim, State(bad_h, s0.hu, s0.hv), 0.0, 0)
    save_restart(folder / "absurd.h5", sim, State(s0.h * 0 + 1e300, s0.hu, s0.hv), 0.0, 0)

    def variant(name, edit):
        shutil.copy(folder / "good.h5", folder / name)
        with h5py.File(folder / name, "r+") as f:
            edit(f)

    def replace_h(data):
        def edit(f):
            del f["h"]
            f["h"] = data
        return edit

    variant("strings.h5", replace_h(np.full((4, 16), b"deep")))
    variant("complex.h5", replace_h(np.ones((4, 16), complex)))
    variant("minus_inf.h5", lambda f: f.attrs.__setitem__("time", -np.inf))
    variant("time_text.h5", lambda f: f.attrs.__setitem__("time", "noon"))
    with h5py.File(tmp_path / "outside.h5", "w") as f:
        f["h"] = np.asarray(s0.h)
    variant("external.h5", replace_h(h5py.ExternalLink(str(tmp_path / "outside.h5"), "h")))

    def vds(f):
        layout = h5py.VirtualLayout(shape=(4, 16), dtype=np.float64)
        layout[:] = h5py.VirtualSource("../outside.h5", "h", shape=(4, 16))
        del f["h"]
        f.create_virtual_dataset("h", layout)
    variant("vds.h5", vds)
    variant("legacy.h5", lambda f: [f[n].attrs.__delitem__("dycore_checksum") for n in FIELDS])
    shutil.copy(folder / "good.h5", folder / "flipped.h5")
    with h5py.File(folder / "flipped.h5", "r") as f:
        offset = f["hu"].id.get_offset()
    with open(folder / "flipped.h5", "r+b") as fh:
        fh.seek(offset + 8 * 5 + 3)
        byte = fh.read(1)
        fh.seek(offset + 8 * 5 + 3)
        fh.write(bytes([byte[0] ^ 0x10]))
    return folder


RESTART_CASES = {
    "negative.h5": ["not an admissible state", "negative depth"],
    "absurd.h5": ["too large to compute with"],
    "strings.h5": ["'h'", "expected real floats"],
    "complex.h5": ["'h'", "complex128", "expected real floats"],
    "minus_inf.h5": ["'time'", "finite"],
    "time_text.h5": ["'time'", "a number"],
    "external.h5": ["'h'", "external link"],
    "vds.h5": ["'h'", "outside the restart file's folder"],
    "flipped.h5": ["'hu'", "checksum"],
}


def test_hostile_restart_files_are_refused(hostile_restarts, capsys, monkeypatch):
    """Issue 15, item 15: each is one line and exit 2; a file written before
    checksums were stored still reads."""
    monkeypatch.chdir(hostile_restarts)
    for name, needles in RESTART_CASES.items():
        assert main(["--restart", name, "--t-end", "0.02", "--quiet",
                     "--checkpoint", "out_" + name]) == 2, name
        out, err = capsys.readouterr()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, (name, err)
        for needle in needles:
            assert needle in err, (name, err)
        assert not os.path.exists("out_" + name)
    assert main(["--restart", "legacy.h5", "--t-end", "0.02", "--quiet",
                 "--checkpoint", "out_legacy.h5"]) == 0
    assert main(["--restart", "good.h5", "--t-end", "0.02", "--quiet",
                 "--checkpoint", "out_good.h5"]) == 0
    capsys.readouterr()


# ---------------------------------------------- issue 15: start-up signals
def _handlers_installed(pid: int) -> bool:
    """Whether the process catches SIGUSR1 (the driver's start-up handlers are in)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGUSR1 - 1)))
    except OSError:
        pass
    return False


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_start_up_exits_with_one_line_writing_nothing(env, tmp_path, signum):
    """Issue 15, item 16: a signal once `python -m dycore.run` has its
    handlers (before the driver's imports, the compile and any file):
    128 + N with one line, no traceback, nothing written."""
    proc = subprocess.Popen(command([*IGW, "--t-end", "1e5", "--output", tmp_path / "o.h5"]),
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _handlers_installed(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert_one_line(done, 128 + signum, f"interrupted by {signal.Signals(signum).name}",
                    "before the first step", "nothing was written")
    assert out == ""
    assert os.listdir(tmp_path) == []


@needs_mpirun
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_signal_during_start_up_on_two_ranks(env, tmp_path):
    """Issue 15, item 16 under mpirun: SIGUSR1 to mpirun (forwarded to both
    ranks) once the ranks have their handlers: 138 and one line on every
    rank's behalf, nothing written, no process left."""
    proc = subprocess.Popen(command([*IGW, "--t-end", "1e5", "--output", tmp_path / "o.h5"], 2),
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pids = subprocess.run(["pgrep", "-f", f"dycore.run .*{tmp_path}"],
                                  capture_output=True, text=True).stdout.split()
            ranks = [int(p) for p in pids if int(p) != proc.pid]
            if len(ranks) == 2 and all(_handlers_installed(p) for p in ranks):
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGUSR1)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert_one_line(done, 128 + signal.SIGUSR1, "interrupted by SIGUSR1", "nothing was written")
    assert os.listdir(tmp_path) == []
    assert leftovers(tmp_path) == []


UNFORESEEN = '''
"""As LIMIT, with the driver's room check switched off, so that HDF5 itself
meets the limit in the middle of a write (as when another process fills
the disk); tests only."""
import resource, signal, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
import dycore.io.output as output, dycore.io.restart as restart
output.check_room = restart.check_room = lambda *args, **kwargs: None
import dycore.driver.main as driver
driver.finish(driver.main(sys.argv[2:]))
'''


@pytest.mark.skipif(not _can_limit_file_size(), reason="cannot set RLIMIT_FSIZE here")
def test_unforeseen_write_failure_is_one_line_exit_1(env, tmp_path):
    """A write that HDF5 itself fails (no segfault, no h5py tracebacks, the
    last good state in the restart file)."""
    script = tmp_path / "unforeseen.py"
    script.write_text(UNFORESEEN)
    proc = run(env, [FILE_LIMIT, "--case", "inertia_gravity_wave", "--nx", 32, "--ny", 32,
                     "--t-end", 400000, "--output-interval", 4000, "--output",
                     tmp_path / "o.h5"], tmp_path, script=script)
    assert_one_line(proc, 1, "writing the output failed", "o.h5", "File too large",
                    "o.restart.h5")
    assert proc.stderr.count("\n") == 1, proc.stderr
    fields, t, step = read_fields(tmp_path / "o.restart.h5")
    assert t > 0 and all(np.all(np.isfinite(q)) for q in fields.values())


@needs_mpirun
def test_new_checks_exit_2_on_every_rank(env, hostile_restarts):
    """Issue 15 under mpirun -n 2: the memory estimate, a case check, a
    restart checksum and a hostile link: one line, exit 2, every rank."""
    cases = [(["--nx", "100000", "--ny", "100000"], ["GiB", "more ranks"]),
             (["--case", "kelvin_wave", "--set", "f0=0"], ["'f0'"]),
             (["--restart", "flipped.h5", "--t-end", "0.02", "--checkpoint", "x.h5"],
              ["'hu'", "checksum"]),
             (["--restart", "vds.h5", "--t-end", "0.02", "--checkpoint", "x.h5"],
              ["outside the restart file's folder"])]
    for args, needles in cases:
        proc = run(env, [*args, "--output", hostile_restarts / "o.h5"], hostile_restarts,
                   ranks=2)
        assert_one_line(proc, 2, *needles)
    assert not any(p.name.startswith(("o.h5", "x.h5")) for p in hostile_restarts.iterdir())
    assert leftovers(hostile_restarts) == []
