"""The run loop (issue 14 item 3) and the progress report (item 5):
callbacks on step and model-time intervals, the clock beside the state,
diagnostics, an output file attached to a run, blow-up, and progress lines.

Exact answers: step callbacks do not change the steps (the loop's result
equals one uncut ``advance`` bit for bit); model-time callbacks fire at
k * interval and t_end exactly; the total mass of a periodic run is
conserved to round-off; with a CFL step the next step's Courant number is
the ``cfl`` key.
"""
from __future__ import annotations

import io

import h5py
import numpy as np
import pytest

from dycore import Config, Simulation
from dycore.callbacks import Diagnostics, OutputFile
from dycore.errors import ConfigError
from dycore.loop import BlowUp, Clock, Loop, merged_events
from dycore.driver.schedule import schedule
from dycore.progress import Progress

T_END = 3600.0


@pytest.fixture(scope="module")
def sim():
    return Simulation(Config(case="inertia_gravity_wave", nx=10, ny=8))


def test_step_callbacks_leave_the_steps_unchanged(sim):
    state = sim.initial_state()
    reference, t, n = sim.advance(state, 0.0, T_END)
    seen = []
    loop = Loop(sim, state, t_end=T_END)
    loop.add(lambda lp: seen.append(lp.clock.step), every_steps=3)
    final = loop.run()
    np.testing.assert_array_equal(np.asarray(final.h), np.asarray(reference.h))
    assert (loop.clock.time, loop.clock.step, loop.steps) == (T_END, n, n)
    assert seen == list(range(0, n + 1, 3))


def test_time_callbacks_fire_on_their_grid_and_at_the_end(sim):
    times = []
    loop = Loop(sim, sim.initial_state(), t_end=T_END)
    loop.add(lambda lp: times.append(lp.clock.time), every_seconds=1000.0)
    loop.run()
    assert times == [0.0, 1000.0, 2000.0, 3000.0, T_END]
    # Continuing from the clock: the next run goes on counting.
    step = loop.clock.step
    loop.run(t_end=T_END + 1000.0)
    assert times[-1] == T_END + 1000.0 and loop.clock.step > step


def test_diagnostics_and_output_file(sim, tmp_path):
    diagnostics = Diagnostics()
    path = tmp_path / "loop.h5"
    loop = Loop(sim, sim.initial_state(), t_end=T_END)
    loop.add(diagnostics, every_seconds=1200.0)
    loop.add(OutputFile(path), every_seconds=1800.0)
    loop.run()
    mass = diagnostics.column("mass")
    assert np.all(np.abs(mass - mass[0]) <= 1e-14 * mass[0])
    assert np.all(diagnostics.column("energy") > 0)
    np.testing.assert_allclose(diagnostics.column("max_courant"), sim.config.cfl, rtol=1e-12)
    assert list(diagnostics.column("t")) == [0.0, 1200.0, 2400.0, T_END]
    with h5py.File(path, "r") as f:
        assert list(f["time"][:]) == [0.0, 1800.0, T_END]
        np.testing.assert_array_equal(f["h"][-1], np.asarray(loop.state.h))


def test_blow_up_raises_with_the_last_good_state():
    unstable = Simulation(Config(case="inertia_gravity_wave", nx=10, ny=8, dt=40000.0))
    loop = Loop(unstable, unstable.initial_state(), t_end=1e6)
    with pytest.raises(BlowUp) as err:
        loop.run()
    assert err.value.fault["kind"] in ("non-finite", "negative depth")
    assert np.all(np.isfinite(np.asarray(loop.state.h)))


def test_bad_callbacks_are_config_errors(sim):
    loop = Loop(sim, sim.initial_state(), t_end=T_END, clock=Clock(10.0, 1))
    with pytest.raises(ConfigError, match="not both"):
        loop.add(print, every_steps=2, every_seconds=3.0)
    with pytest.raises(ConfigError, match="every_steps"):
        loop.add(print, every_steps=0)
    with pytest.raises(ConfigError, match="before the clock"):
        loop.run(t_end=5.0)


def test_merged_events_match_the_driver_schedule():
    for args in ((0.0, 10.0, 3.0, 4.0), (2.5, 10.0, 2.5, None), (0.0, 1.0, None, 0.0)):
        assert [(t, *flags) for t, flags in merged_events(args[0], args[1], args[2:])] \
            == schedule(*args)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_lines_off_a_terminal():
    out, clock = io.StringIO(), FakeClock()
    progress = Progress(0.0, 100.0, stream=out, tty=False, interval=10.0, clock=clock)
    for k in range(1, 31):
        clock.now = float(k)
        progress.update(k * 2.0, 4 * k)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3                        # at 10, 20 and 30 s of wall time
    assert lines[0].startswith("dycore: progress  20.0%  t = 20 s of 100 s  step 40")
    assert "4 steps/s" in lines[0] and "ETA 40.0 s" in lines[0]


def test_progress_bar_on_a_terminal_advances_with_steps():
    out, clock = io.StringIO(), FakeClock()
    progress = Progress(0.0, 10.0, stream=out, tty=True, clock=clock)
    for k in range(1, 6):
        clock.now = float(k)
        progress.update(float(k), k)
    progress.finish()
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 5 and frames[-1].endswith("\n")
    assert "[" + "#" * 15 + "." * 15 + "]" in frames[-1] and "ETA 5.0 s" in frames[-1]
    silent = io.StringIO()
    Progress(0.0, 1.0, False, stream=silent, tty=True).update(0.5, 1)
    assert silent.getvalue() == ""


@pytest.mark.mpi
def test_loop_on_every_rank_count_equals_one_rank(tmp_path_factory):
    """Under mpirun -n N: the loop (segments agreed over ranks, step and
    time callbacks, diagnostics) gives the 1-rank state bit for bit and the
    same diagnostics on every rank."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    cfg = Config(case="unstable_jet", nx=20, ny=16, t_end=7200.0)
    many, one = Simulation(cfg, comm=comm), Simulation(cfg, comm=MPI.COMM_SELF)
    diagnostics = Diagnostics(("mass", "max_courant"))
    loop = Loop(many, many.initial_state(), t_end=3600.0, segment=2)
    loop.add(diagnostics, every_seconds=1200.0)
    loop.add(lambda lp: None, every_steps=3)
    loop.run()
    reference = Loop(one, one.initial_state(), t_end=3600.0)
    reference.add(lambda lp: None, every_seconds=1200.0)
    reference.run()
    gathered = many.gather(loop.state)
    rows = comm.allgather(diagnostics.rows)
    assert all(r == rows[0] for r in rows)
    if comm.rank == 0:
        np.testing.assert_array_equal(gathered["h"], np.asarray(reference.state.h))
        assert loop.clock.step == reference.clock.step
