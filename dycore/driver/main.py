"""The driver's entry point and main loop (see :mod:`dycore.driver` for what
a run does and its exit statuses).

The run is a :class:`dycore.loop.Loop` (the run loop of the Python API):
outputs and checkpoints are its callbacks (:class:`_DriverRun`, the one
place that calls the writers); it advances with :meth:`Simulation.advance`
from one event time to the next, in segments of steps between which the
ranks agree on a stop request; a blow-up, a signal or an error on any rank
stops every rank at the same step.
"""
from __future__ import annotations

import contextlib
import gc
import io
import os
import signal
import sys
import time
import traceback

from dycore import runtime
from dycore.cases import is_sphere
from dycore.config import Config, ConfigError, check_number
from dycore.driver.cli import (UsageError, build_parser, cases_text, config_values, restart_base,
                               resume_hint)
from dycore.driver.faults import (NonFinite, blow_up, check_stability, check_state,
                                  check_time_step)
from dycore.driver.files import check_files, open_output, restore, save_restart
from dycore.driver.progress import Progress, error, say, start_line
from dycore.driver.ranks import Team, agreed, launcher_rank
from dycore.driver.resources import check_events, check_memory
from dycore.driver.schedule import default_checkpoint_path
from dycore.driver.signals import (EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK,
                                   SEGMENT_WALL_S, StopRequest, Stopped, exit_status, take_early)
from dycore.io import OutputError, allgather, part_path, read_restart_attrs
from dycore.loop import Clock, Loop
from dycore.simulation import Simulation
from dycore.sphere.simulation import SphereSimulation
from parallel import world_duplicate


def _setup(args, team):
    """Config and Simulation from the restart file, TOML, flags (every rank).
    Everything is validated, and the memory the run needs is checked,
    before the Simulation allocates anything."""
    base, restart_attrs = None, None
    if args.restart:
        restart_attrs = read_restart_attrs(args.restart)
        base = restart_base(restart_attrs)
    config = Config.from_dict(config_values(args, base))
    if args.checkpoint_interval is not None:
        check_number("option --checkpoint-interval", args.checkpoint_interval, positive=True)
    resolved = config.resolved()
    check_memory(resolved, team.size)
    try:
        # looked up here, so that tests can inject a failure
        sim = (SphereSimulation if is_sphere(resolved.case) else Simulation)(config)
    except (ZeroDivisionError, OverflowError, FloatingPointError) as err:
        raise ConfigError(f"config key 'case_params': case {resolved.case!r} cannot set up its "
                          f"initial state with these parameters ({err})") from None
    except MemoryError:
        raise ConfigError(f"config keys 'nx'/'ny': out of memory setting up the "
                          f"{resolved.nx}x{resolved.ny} grid; use more ranks or a smaller "
                          f"grid") from None
    team.rank = sim.context.rank
    return sim, restart_attrs


def _check_stop(team, stop) -> None:
    """Before the first step: if a stop signal came on any rank, every rank
    stops here (nothing written, or everything written discarded)."""
    reports = allgather(team, stop.signum)
    signum = next((s for s in reports if s), 0)
    if signum:
        raise Stopped(signum, f"interrupted by {signal.Signals(signum).name} during start-up, "
                              f"before the first step; nothing was written")


def _quietly(fn) -> None:
    """Run ``fn`` (closing a file whose write failed) with stderr muted:
    h5py prints a traceback for every object of the broken file it frees."""
    with contextlib.redirect_stderr(io.StringIO()):
        fn()
        gc.collect()


class WriteFailed(Exception):
    """Writing the output or a restart file failed during the run; exit status 1."""


def _write_failed(err, sim, state, t, step, kind, ckpt_path, write_ckpt, writer, last_output):
    """A write failed mid-run (every rank; ``kind``: "output" or "restart"):
    save the last good state where possible, keep the frames written, and
    raise WriteFailed with one line naming the file and the error."""
    cfg = sim.config
    saved = ""
    if kind == "output":
        if writer:
            _quietly(writer.abandon)  # frees HDF5's objects of the failed file
        try:
            write_ckpt(state, t, step)
            saved = (f"; the last good state (step {step}, t = {t:.6g} s) is in the restart "
                     f"file {ckpt_path}")
        except OutputError as again:
            saved = f"; the restart file could not be written either ({again})"
        kept = (f"; the output up to t = {last_output:g} s is kept in {part_path(cfg.output)}"
                if last_output is not None else "")
    else:
        saved = "; the previous restart file, if any, is intact"
        kept = ""
        if writer:
            try:
                writer.close()
                if last_output is not None:
                    kept = f"; the output up to t = {last_output:g} s is in {cfg.output}"
            except OutputError:
                _quietly(writer.abandon)
    raise WriteFailed(f"writing the {kind} failed at step {step}, t = {t:.6g} s: {err}"
                      f"{saved}{kept}")


class _DriverRun:
    """The driver's run on the :class:`dycore.loop.Loop`: its outputs and
    checkpoints are callbacks (the one place that calls the writers), a
    stop request is agreed between segments, a blow-up is reported and
    ends the run. Every rank builds the same loop."""

    def __init__(self, sim, team, stop, ckpt_path, write_ckpt, writer):
        self.sim, self.team, self.stop = sim, team, stop
        self.ckpt_path, self.write_ckpt, self.writer = ckpt_path, write_ckpt, writer
        self.last_output = None
        self.checkpoint = None

    def loop(self, state, t, step0, ckpt_interval, periodic, progress) -> Loop:
        cfg = self.sim.config
        loop = Loop(self.sim, state, t_end=cfg.t_end, clock=Clock(t, step0), progress=progress,
                    on_fault=self.fault, on_segment=self.agree, segment_wall_s=SEGMENT_WALL_S)
        # Output times are events even without an output file, so that the
        # time steps (the last one before an event is shortened) depend on
        # the config only, not on whether a file is written. A restarted run
        # writes its first frame only on an output time.
        loop.add(self.output, every_seconds=cfg.output_interval, name="output")
        if periodic:
            self.checkpoint = loop.add(self.save, every_seconds=ckpt_interval or None,
                                       at_start=False, name="checkpoint")
        return loop

    def _failed(self, err, loop, kind):
        _write_failed(err, self.sim, loop.state, loop.clock.time, loop.clock.step, kind,
                      self.ckpt_path, self.write_ckpt, self.writer, self.last_output)

    def output(self, loop) -> None:
        if self.writer:
            try:
                self.writer.write(loop.state, loop.clock.time)
            except OutputError as err:
                self._failed(err, loop, "output")
            self.last_output = loop.clock.time

    def save(self, loop) -> None:
        try:
            self.write_ckpt(loop.state, loop.clock.time, loop.clock.step)
        except OutputError as err:
            self._failed(err, loop, "restart")

    def fault(self, loop, fault) -> None:
        # agreed: the fault check reduces over all ranks
        blow_up(self.sim, self.team, fault, loop.state, loop.clock.time, loop.clock.step,
                self.ckpt_path, self.write_ckpt, self.writer, self.last_output)

    def agree(self, loop, proposal):
        """Between segments: the root's segment length and any rank's stop signal."""
        reports = allgather(self.team, (self.stop.signum, proposal))
        return reports[0][1], next((s for s, _ in reports if s), 0)


def _relative_change(before, after):
    """(after - before) / before, or the plain difference where before is 0."""
    return (after - before) / before if before else after - before


def _simulate(args, team, stop) -> int:
    sim, restart_attrs = agreed(team, lambda: _setup(args, team))
    _check_stop(team, stop)
    cfg, ctx = sim.config, sim.context
    quiet = args.quiet
    ckpt_interval = args.checkpoint_interval
    if ckpt_interval is None and restart_attrs is not None:
        ckpt_interval = restart_attrs.get("checkpoint_interval") or None
    periodic = ckpt_interval is not None or args.checkpoint is not None
    # A blow-up or a signal writes a restart file even without checkpoints.
    ckpt_path = args.checkpoint or default_checkpoint_path(cfg.output)

    if args.restart:
        state, sim.params, t, step0 = restore(args.restart, sim)  # with the bed it used
        if not t < cfg.t_end:
            raise ConfigError(f"config key 't_end': the restart file is at t = {t:g} s, "
                              f"not before t_end = {cfg.t_end:g} s; pass a larger --t-end")
        source = f"restart file {args.restart!r}"
    else:
        state, t, step0 = sim.initial_state(), 0.0, 0
        source = f"config key 'case_params': the initial state of case {cfg.case!r}"
    check_state(sim, team, state, source)
    check_stability(sim, state, args.allow_unstable)
    check_time_step(sim, state, t)
    check_events(t, cfg.t_end, cfg.output_interval, ckpt_interval if periodic else None,
                 args.allow_many_frames)
    agreed(team, lambda: check_files(args, cfg, ckpt_path, restart_attrs)
           if ctx.is_root else None)

    extra = {"checkpoint_interval": float(ckpt_interval)} if ckpt_interval else None

    def write_ckpt(s, t_s, step_s):
        save_restart(ckpt_path, sim, s, t_s, step_s, extra=extra)

    t_start = t
    mass0 = sim.mass(state)
    tracer_mass = getattr(sim, "tracer_mass", None)  # the sphere's passive tracer, if carried
    tracer0 = tracer_mass(state) if tracer_mass else None
    wall0 = time.perf_counter()
    sim.advance(state, t, t)  # zero steps: compiles the stepping loop
    compile_s = time.perf_counter() - wall0
    _check_stop(team, stop)  # nothing written yet
    writer = open_output(cfg.output, sim) if cfg.output else None
    try:
        try:
            _check_stop(team, stop)
        except Stopped:
            if writer:
                writer.discard()
                writer = None
            raise
        stop.startup = False
        team.running = True
        say(ctx.rank, quiet, start_line(cfg, ctx.size, t))
        run = _DriverRun(sim, team, stop, ckpt_path, write_ckpt, writer)
        loop = run.loop(state, t, step0, ckpt_interval, periodic,
                        Progress(t, cfg.t_end, ctx.rank == 0 and not quiet,
                                 interval=cfg.progress_interval))
        state = loop.run()
        t, steps, stepping_s, last_output = loop.clock.time, loop.steps, loop.stepping_s, \
            run.last_output
        if loop.stopped:
            signum = loop.stopped
            if run.checkpoint not in loop.fired:
                write_ckpt(state, t, step0 + steps)
            if writer:
                writer.close()
            name = signal.Signals(signum).name
            kept = (f"; the output up to t = {last_output:g} s is in {cfg.output}"
                    if writer and last_output is not None else "")
            raise Stopped(signum, f"interrupted by {name} at step {step0 + steps}, "
                          f"t = {t:.6g} s of {cfg.t_end:g} s; the restart file "
                          f"{ckpt_path} holds this state{kept}; resume with: "
                          + resume_hint(ctx.size, ckpt_path, cfg.output, step0 + steps))
        mass1 = sim.mass(state)
        tracer1 = tracer_mass(state) if tracer0 is not None else None
        if writer:
            writer.close()
        wall = time.perf_counter() - wall0
    finally:
        if writer:
            writer.abandon()

    mcells = sim.n_cells / 1e6
    per_step = 1e3 * stepping_s / steps / mcells if steps else float("nan")
    rate = steps * sim.n_cells / stepping_s if stepping_s > 0 else float("nan")
    drift = _relative_change(mass0, mass1)
    tracer_text = ("" if tracer0 is None else
                   f", relative tracer mass drift {_relative_change(tracer0, tracer1):.2e}")
    say(ctx.rank, quiet,
        f"dycore: done: {steps} steps to t = {t:g} s (from t = {t_start:g} s, now at step "
        f"{step0 + steps}) on {ctx.size} rank(s) in {wall:.2f} s wall, of which JIT compile "
        f"{compile_s:.2f} s and stepping {stepping_s:.2f} s; stepping only (compile and I/O "
        f"excluded): {per_step:.3g} ms/step/Mcell, {rate:.3g} cells/s; relative mass drift "
        f"{drift:.2e}{tracer_text}")
    return EXIT_OK


_HARD_EXIT = False
"""Set when a write failed mid-run: HDF5 may hold a file it can no longer
flush, and its clean-up at exit would crash; :func:`finish` then ends the
process without it."""


def finish(code: int) -> None:
    """End the process with status ``code`` (``python -m dycore.run``). After
    a write failure, without the interpreter's and HDF5's clean-up (which
    would try to flush the broken file and crash): stdio flushed, MPI
    finalized if it was started, then ``os._exit``."""
    if not _HARD_EXIT:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    mpi = sys.modules.get("mpi4py.MPI")  # loaded by parallel/ under mpirun
    try:
        if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
            mpi.Finalize()
    finally:
        os._exit(code)


def _quiet_h5py_dealloc(previous):
    """An unraisable hook that drops the errors h5py reports while freeing
    the objects of a file whose write failed (they would print pages of
    tracebacks after the one-line message); others go to ``previous``."""
    def hook(unraisable):
        where = repr(getattr(unraisable, "object", ""))
        if "ObjectID" in where or "h5py" in where:
            return
        previous(unraisable)
    return hook


def _ignore_file_size_signal():
    """Ignore SIGXFSZ (main thread only), so that writing past a file size
    limit (``ulimit -f``) fails with EFBIG, reported as a write failure,
    instead of killing the process; returns the old handler (or None)."""
    if not hasattr(signal, "SIGXFSZ"):
        return None
    try:
        return signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    except (ValueError, OSError):
        return None


def main(argv=None) -> int:
    """Run the driver; returns the exit status (see :mod:`dycore.driver`)."""
    stop = take_early() or StopRequest()
    stop.install()  # first: a signal from now on is noted, never raised into the start-up
    xfsz = _ignore_file_size_signal()  # a file size limit fails the write, not the process
    unraisable = sys.unraisablehook
    sys.unraisablehook = _quiet_h5py_dealloc(unraisable)
    changed = runtime.configure()  # float64 and bit-for-bit XLA:CPU (dycore/runtime.py)
    # JAX's persistent compilation cache (~/.cache/dycore/jax; DYCORE_JAX_CACHE
    # names another folder or "off"): a later run of the same set-up skips
    # most of its compiles.
    runtime.enable_compile_cache()
    team = Team(launcher_rank(), runtime=changed)
    code, message = EXIT_OK, None
    try:
        team.comm = world_duplicate()
        args = build_parser().parse_args(argv)
        if args.list_cases:
            if team.rank == 0:
                try:
                    print(cases_text(), flush=True)
                except BrokenPipeError:  # e.g. piped into head: stop quietly
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        else:
            code = _simulate(args, team, stop)
    except (ConfigError, UsageError) as err:
        code, message = EXIT_BAD_INPUT, err
    except OutputError as err:
        code, message = (EXIT_FAILED if team.running else EXIT_BAD_INPUT), err
    except NonFinite as err:
        code, message = EXIT_FAILED, err
    except WriteFailed as err:
        global _HARD_EXIT
        _HARD_EXIT = True
        code, message = EXIT_FAILED, err
    except Stopped as err:
        code, message = exit_status(err.signum), err
    except KeyboardInterrupt:
        code, message = EXIT_INTERRUPTED, (
            "interrupted (a second signal stops at once, without writing a restart file; "
            "the last checkpoint, if any, is intact)" if stop.signum else "interrupted")
    except Exception:
        # A bug or a failure on this rank that the others cannot know about.
        traceback.print_exc()
        sys.stderr.flush()
        team.abort(EXIT_FAILED)
        raise
    finally:
        stop.restore()
        if xfsz is not None:
            signal.signal(signal.SIGXFSZ, xfsz)
        sys.unraisablehook = unraisable
    if message is not None:
        error(team.rank, message)
    if code:
        team.meet(message if message is not None else f"exit status {code}", code=code)
    team.free()
    return code
