"""The command-line driver: ``python -m dycore.run [CONFIG.toml] [flags]``,
the same under ``mpirun -n N``; ``python -m dycore`` is an alias.

Settings come from, later ones winning: a restart file's config (with
``--restart``), the TOML file, the flags, then ``--set key=value``. The run
advances with :meth:`Simulation.advance` from one event time to the next;
events are the output times (multiples of ``output_interval``), the
checkpoint times (multiples of ``--checkpoint-interval``) and ``t_end``, all
measured from t = 0, so a restarted run meets the same event times and
repeats the uninterrupted run bit for bit. The last step before each event is
shortened to land on it; output times count whether or not a file is
written, so the time steps follow from the config alone, except that
checkpoint times which are not output times add step boundaries (choose a
multiple of ``output_interval`` to leave the steps unchanged). A restart file
remembers the checkpoint interval, so ``--restart FILE`` alone continues
exactly as the run that wrote it would have.

Reliability (see README, "When things go wrong"):

- Bad input is found before the first step: every rank exits with status 2
  and rank 0 prints one line ``dycore: error: ...`` (no traceback). This
  covers the config (keys, types, names, sizes), a fixed ``dt`` above the
  CFL limit of the initial state (``--allow-unstable`` to run anyway), an
  output or restart file that exists (``--overwrite``) or cannot be written,
  and a restart file that is missing, truncated, not ours or incompatible.
  Checks that can differ between ranks are agreed over all ranks first.
- Blow-up: the state is checked on all ranks after every step (one scalar
  reduction). On a non-finite value or a negative depth every rank stops,
  the last good state is written to the restart file, the output is closed,
  and the message names the step, the time, the worst cell and the likely
  cause; exit status 1.
- SIGTERM, SIGINT, SIGUSR1, SIGUSR2: the ranks finish their step, agree to
  stop at the same step (checked about once a second of stepping), write
  the restart file, close the output and exit with 128 + the signal number
  (a second signal stops at once). Under Open MPI's mpirun, send SIGUSR1 or
  SIGUSR2 to mpirun (it forwards them; SIGTERM/SIGINT to mpirun make it
  kill the ranks after 1 s), or signal the ranks themselves.
- An unexpected exception on some rank prints its traceback and aborts all
  ranks (MPI_Abort); an error exit that not every rank reaches within 10 s
  aborts too, so no rank is left waiting.
- The output is written as ``OUTPUT.part`` and renamed when it is complete;
  restart files are written under a temporary name, fsynced and renamed.

Exit status: 0 done; 1 blow-up, or writing failed mid-run; 2 bad input;
128 + N stopped by signal N after writing a restart file (130 for Ctrl-C);
130 also for a second Ctrl-C, which stops without one.
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import threading
import time
import tomllib
import traceback

import numpy as np

from dycore.cases import CASES
from dycore.config import Config, ConfigError, check_keys
from dycore.io import (OutputError, OutputWriter, part_path, read_restart,
                       read_restart_attrs, write_restart)
from dycore.io.hdf5 import config_from_json
from dycore.simulation import Simulation
from parallel import world_duplicate

_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID")
# Config keys taken from a restart file that belong to the launch, not the run.
_LAUNCH_KEYS = ("procs", "output")

FLAG_KEYS = {"case": "case", "nx": "nx", "ny": "ny", "t_end": "t_end", "dt": "dt",
             "cfl": "cfl", "scheme": "scheme", "limiter": "limiter", "riemann": "riemann",
             "time_stepper": "time_stepper", "output": "output",
             "output_interval": "output_interval", "procs": "procs"}


class UsageError(Exception):
    """Bad command line; exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dycore.run",
                description="Run the finite-volume shallow-water dycore (also under mpirun -n N).")
    p.add_argument("config", nargs="?", metavar="CONFIG.toml",
                   help="TOML file with config keys (flags override it)")
    p.add_argument("--case", help=f"test case: {', '.join(CASES)}")
    p.add_argument("--nx", type=int, help="cells in x")
    p.add_argument("--ny", type=int, help="cells in y")
    p.add_argument("--t-end", type=float, metavar="SECONDS", help="end time (s)")
    p.add_argument("--dt", type=float, metavar="SECONDS", help="fixed time step (s)")
    p.add_argument("--cfl", type=float, help="CFL number (when dt is not fixed)")
    p.add_argument("--scheme", help="reconstruction: muscl, weno5z, ...")
    p.add_argument("--limiter", help="MUSCL limiter: minmod, mc, van_leer, ...")
    p.add_argument("--riemann", help="Riemann solver: rusanov, hll, hllc, ...")
    p.add_argument("--time-stepper", help="ssp_rk2 or ssp_rk3")
    p.add_argument("--output", metavar="FILE.h5", help="HDF5 output file (folder is created)")
    p.add_argument("--output-interval", type=float, metavar="SECONDS",
                   help="simulated time between outputs (s)")
    p.add_argument("--procs", type=int, nargs=2, metavar=("PX", "PY"),
                   help="MPI process grid (PX*PY ranks)")
    p.add_argument("--restart", metavar="FILE", help="continue from this restart file")
    p.add_argument("--checkpoint-interval", type=float, metavar="SECONDS",
                   help="write a restart file every SECONDS of simulated time and at the end")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="restart file to write (default: OUTPUT with .restart.h5, "
                        "or dycore_restart.h5)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, value as TOML (e.g. case_params.variant=ritter); "
                        "repeatable")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output or restart file (refused otherwise)")
    p.add_argument("--allow-unstable", action="store_true",
                   help="run even if the fixed --dt (or --cfl) exceeds the CFL stability limit")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--list-cases", action="store_true", help="list the test cases and exit")
    return p


# --------------------------------------------------------------- config
def parse_value(text: str):
    """A --set value: a TOML value if it parses as one, else the plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _read_toml(path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a directory") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None


def _merge(values: dict, key: str, value) -> None:
    if key == "case_params" and isinstance(value, dict):
        values["case_params"] = {**values.get("case_params", {}), **value}
    else:
        values[key] = value


def config_values(args, base: dict | None = None) -> dict:
    """Config key -> value from a base (restart) dict, the TOML file, the flags
    and --set, later ones winning; case_params tables are merged key by key."""
    values = dict(base or {})
    if args.config:
        toml = _read_toml(args.config)
        check_keys(toml)
        for key, value in toml.items():
            _merge(values, key, value)
    for attr, key in FLAG_KEYS.items():
        value = getattr(args, attr)
        if value is not None:
            _merge(values, key, list(value) if attr == "procs" else value)
    for item in args.set:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"argument --set: expected KEY=VALUE, got {item!r}")
        value = parse_value(text.strip())
        if key.startswith("case_params."):
            _merge(values, "case_params", {key.split(".", 1)[1]: value})
        elif "." in key:
            raise ConfigError(f"unknown config key {key!r}; only case_params.NAME has a dot")
        else:
            check_keys({key: value})
            _merge(values, key, value)
    return values


def schedule(t_start: float, t_end: float, output_interval=None, checkpoint_interval=None):
    """The event times in (t_start, t_end], each as (t, write_output,
    write_checkpoint). Outputs fall on multiples k * output_interval counted
    from t = 0, checkpoints on multiples of checkpoint_interval, and both on
    t_end; an interval of None disables that kind, 0 means t_end only. Times
    closer than 1e-9 of the smaller interval merge into the earlier one, so
    the last event is exactly t_end. A restart from an event time yields the
    rest of the same list, hence the same time steps."""
    positive = [i for i in (output_interval, checkpoint_interval) if i]
    tol = 1e-9 * min(positive) if positive else 0.0
    candidates = [(float(t_end), None)]
    for kind, interval in ((0, output_interval), (1, checkpoint_interval)):
        if interval is None:
            continue
        candidates.append((float(t_end), kind))
        if interval > 0:
            k = max(1, math.floor(t_start / interval))
            while k * interval < t_end - tol:
                candidates.append((k * interval, kind))
                k += 1
    events: list[list] = []
    for t, kind in sorted(candidates, key=lambda c: c[0]):
        if t <= t_start + tol:
            continue
        if not events or t - events[-1][0] > tol:
            events.append([t, False, False])
        if kind is not None:
            events[-1][1 + kind] = True
    return [tuple(e) for e in events]


def default_checkpoint_path(output: str | None) -> str:
    if output:
        stem = output[:-3] if output.endswith(".h5") else output
        return stem + ".restart.h5"
    return "dycore_restart.h5"


# ---------------------------------------------------------------- output
def _launcher_rank() -> int:
    for var in _RANK_VARS:
        value = os.environ.get(var)
        if value is not None and value.isdigit():
            return int(value)
    return 0


class Progress:
    """A one-line text progress bar on stderr (rank 0, terminals only)."""

    def __init__(self, t0: float, t_end: float, enabled: bool, width: int = 30):
        self.t0, self.t_end, self.enabled, self.width = t0, t_end, enabled, width
        self.start = time.perf_counter()

    def update(self, t: float, steps: int) -> None:
        if not self.enabled:
            return
        frac = min(max((t - self.t0) / max(self.t_end - self.t0, 1e-300), 0.0), 1.0)
        filled = int(round(frac * self.width))
        elapsed = time.perf_counter() - self.start
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {100 * frac:5.1f}%  t = {t:.6g} s  {steps} steps  "
                         f"{elapsed:.1f} s elapsed, ~{eta:.0f} s left ")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ------------------------------------------------------- faults and ranks
CFL_LIMIT = 1.0
"""Largest stable Courant number dt * max((|u| + c)/dx + (|v| + c)/dy): the
limit of the TVD/positivity argument for the MUSCL schemes with SSP-RK2/3
(Gottlieb, Shu & Tadmor 2001, SIAM Rev. 43, 89-112); a fixed dt above it at
the initial state (or cfl above it) needs --allow-unstable."""
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2")
                     if hasattr(signal, name))
SEGMENT_WALL_S = 1.0   # stepping between two checks for a stop request (about, in s)
EXIT_DEADLINE_S = 10.0  # how long an error exit waits for the other ranks before MPI_Abort


class NonFinite(Exception):
    """The state blew up (non-finite values or negative depth); exit status 1."""


class Stopped(Exception):
    """Stopped by a signal after writing a restart file; exit status 128 + signum."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum


class StopRequest:
    """Signal handlers that ask the run to stop at the next segment boundary
    (the first signal); a second signal raises KeyboardInterrupt at once."""

    def __init__(self):
        self.signum = 0
        self._old = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in STOP_SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (OSError, ValueError):
                pass

    def _handle(self, signum, frame):
        if self.signum:
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


def _allgather(box, obj) -> list:
    comm = box.get("comm")
    return [obj] if comm is None else comm.allgather(obj)


def _abort(box, code: int) -> None:
    """MPI_Abort all ranks (under MPI only): a rank failed in a way the others
    cannot know about."""
    comm = box.get("comm")
    if comm is not None:
        sys.stderr.flush()
        comm.Abort(code)


def _meet(box, message=None) -> None:
    """Wait until every rank got here (a non-blocking barrier). A rank that
    brings an error (``message``) waits at most EXIT_DEADLINE_S, then prints
    it and aborts all ranks: the others are stuck elsewhere and would never
    come. Ranks without an error wait as long as it takes."""
    comm = box.get("comm")
    if comm is None:
        return
    request = comm.Ibarrier()
    deadline = time.monotonic() + EXIT_DEADLINE_S
    while not request.Test():
        if message is not None and time.monotonic() > deadline:
            text = " ".join(str(message).split())
            sys.stderr.write(f"dycore: error: {text} (rank {box['rank']}; the other ranks did "
                             f"not stop with it: aborting all ranks)\n")
            _abort(box, box.get("code") or 1)
        time.sleep(0.005)


def _agreed(box, fn):
    """Run ``fn`` on every rank and agree on its outcome: if it raised a bad
    input error on any rank, raise that error on every rank (so that no
    rank goes on alone into a collective operation and waits forever)."""
    error, result = None, None
    try:
        result = fn()
    except (ConfigError, UsageError, OutputError) as err:
        error = err
    if box.get("comm") is not None:
        box["code"] = 2
        _meet(box, error)
        reports = _allgather(box, None if error is None else (type(error).__name__, str(error)))
    else:
        reports = [None]
    if error is not None:
        raise error
    for report in reports:
        if report is not None:
            kind, text = report
            raise {"UsageError": UsageError, "OutputError": OutputError}.get(kind, ConfigError)(text)
    return result


def _signal_rate(sim, state) -> float:
    """max((|u| + c)/dx + (|v| + c)/dy) over all ranks (1/s); collective."""
    return float(sim.context.global_max(sim.model.max_signal_rate(state, sim.params.g)))


def _check_stability(sim, state, allow: bool) -> None:
    """Bad input: a fixed dt (or a cfl) above the CFL limit of ``state``."""
    cfg = sim.config
    if allow:
        return
    if cfg.dt is None:
        if cfg.cfl > CFL_LIMIT:
            raise ConfigError(f"config key 'cfl': {cfg.cfl:g} is above the stability limit "
                              f"{CFL_LIMIT:g}; use cfl <= {CFL_LIMIT:g} (default 0.45), or pass "
                              f"--allow-unstable")
        return
    rate = _signal_rate(sim, state)
    courant = cfg.dt * rate
    if courant > CFL_LIMIT:
        raise ConfigError(f"config key 'dt': {cfg.dt:g} s is above the CFL stability limit of "
                          f"the initial state, {CFL_LIMIT / rate:.3g} s (Courant number "
                          f"{courant:.3g} > {CFL_LIMIT:g}); use a smaller --dt (the CFL step at "
                          f"cfl = {cfg.cfl:g} is {cfg.cfl / rate:.3g} s), or pass "
                          f"--allow-unstable")


def _check_writable(path: str, what: str) -> None:
    """Bad input: the folder of ``path`` cannot be created or written to."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".dycore-probe-", dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise ConfigError(f"{what} {path!r}: its folder is not writable "
                          f"({err.strerror or err})") from None


def _check_files(args, cfg, ckpt_path: str, restart_attrs) -> None:
    """Bad input about files (rank 0; the result is agreed over the ranks)."""
    out = cfg.output
    if args.restart and out:
        old = restart_attrs.get("output")
        for mine in (out, part_path(out)):
            if old and os.path.exists(mine) and os.path.exists(old) and os.path.samefile(mine, old):
                raise ConfigError(f"config key 'output': {out!r} holds the output of the run "
                                  f"that wrote the restart file; choose another --output so it "
                                  f"is not overwritten")
    if out and os.path.abspath(ckpt_path) == os.path.abspath(out):
        raise ConfigError("option --checkpoint: must differ from the output file")
    if out and not args.overwrite:
        for path in (out, part_path(out)):
            if os.path.lexists(path):
                raise ConfigError(f"output file {path!r} exists; pass --overwrite to replace "
                                  f"it, or choose another --output")
    source = args.restart
    continuing = (source and os.path.exists(ckpt_path) and os.path.exists(source)
                  and os.path.samefile(ckpt_path, source))
    if os.path.lexists(ckpt_path) and not args.overwrite and not continuing:
        raise ConfigError(f"restart file {ckpt_path!r} exists (from an earlier run?); pass "
                          f"--overwrite to replace it, or --checkpoint ANOTHER.h5")
    if out:
        _check_writable(out, "cannot create output")
    _check_writable(ckpt_path, "option --checkpoint: cannot write the restart file"
                    if args.checkpoint else "cannot write the restart file (choose one with "
                    "--checkpoint)")


def _resume_hint(ctx, ckpt_path: str, output, step: int, extra: str = "") -> str:
    launcher = f"mpirun -n {ctx.size} " if ctx.size > 1 else ""
    text = f"{launcher}python -m dycore.run --restart {ckpt_path}"
    if output:
        stem = output[:-3] if output.endswith(".h5") else output
        text += f" --output {stem}_from_step{step}.h5"
    return text + extra


def _blow_up(sim, box, fault, state, t, step, ckpt_path, write_ckpt, writer, last_output):
    """Report a blow-up (all ranks): locate the worst cell, write the last
    good state to the restart file, close the output, raise NonFinite."""
    ctx, cfg = sim.context, sim.config
    kind, dt = fault["kind"], fault["dt"]
    found = [(r, cell) for r, (local, cell) in
             enumerate(_allgather(box, (fault["local"], fault["cell"])))
             if local == kind and cell is not None]
    rate = _signal_rate(sim, state)
    courant = dt * rate
    write_ckpt(state, t, step)
    if writer:
        writer.close()
    what = {"non-finite": "non-finite values (NaN or inf)",
            "negative depth": "negative depth",
            "time step": "the time step became zero or non-finite"}[kind]
    if found:
        rank, (i, j) = found[0]
        x, y = float(sim.grid.x_centres()[i]), float(sim.grid.y_centres()[j])
        what += (f", worst cell (i, j) = ({i}, {j}) of {cfg.nx}x{cfg.ny} at x = {x:.6g} m, "
                 f"y = {y:.6g} m" + (f" (rank {rank})" if ctx.size > 1 else ""))
    if courant > CFL_LIMIT:
        cause = (f"the time step {dt:.3g} s is above the CFL stability limit {CFL_LIMIT / rate:.3g}"
                 f" s (Courant number {courant:.3g} > {CFL_LIMIT:g})")
        retry = f" --dt {cfg.cfl / rate:.3g}" if cfg.dt is not None else " --cfl 0.45"
    else:
        cause = (f"not the CFL limit (Courant number {courant:.3g} <= {CFL_LIMIT:g}); the flow "
                 f"may be under-resolved: try a smaller --cfl, --limiter minmod, --riemann hll "
                 f"or a finer grid")
        retry = " --cfl 0.3" if cfg.dt is None else f" --dt {0.5 * dt:.3g}"
    kept = (f"; the output up to t = {last_output:g} s is kept in {cfg.output}"
            if writer and last_output is not None else "")
    raise NonFinite(f"blow-up at step {step + 1}, t = {t + dt:.6g} s: {what}; likely cause: "
                    f"{cause}; the last good state (step {step}, t = {t:.6g} s) is in the "
                    f"restart file {ckpt_path}{kept}; to go on from it: "
                    + _resume_hint(ctx, ckpt_path, cfg.output, step, retry))


# ------------------------------------------------------------------ main
def _say(rank: int, quiet: bool, text: str) -> None:
    if rank == 0 and not quiet:
        print(text, flush=True)


def _error(rank: int, message: str) -> None:
    if rank == 0:
        text = " ".join(str(message).split())
        sys.stderr.write(f"dycore: error: {text}\n")
        sys.stderr.flush()


def _setup(args, box):
    """Config and Simulation from the restart file, TOML, flags (every rank)."""
    base, restart_attrs = None, None
    if args.restart:
        restart_attrs = read_restart_attrs(args.restart)
        base = config_from_json(restart_attrs["config_json"]).to_dict()
        for key in _LAUNCH_KEYS:
            base.pop(key, None)
    config = Config.from_dict(config_values(args, base))
    if args.checkpoint_interval is not None and not (
            math.isfinite(args.checkpoint_interval) and args.checkpoint_interval > 0):
        raise ConfigError(f"option --checkpoint-interval: must be > 0, "
                          f"got {args.checkpoint_interval}")
    sim = Simulation(config)
    box["rank"], box["context"] = sim.context.rank, sim.context
    return sim, restart_attrs


def _on_output_grid(t: float, interval) -> bool:
    if not interval:
        return True
    k = round(t / interval)
    return abs(t - k * interval) <= 1e-9 * interval


def _simulate(args, box, stop) -> int:
    sim, restart_attrs = _agreed(box, lambda: _setup(args, box))
    cfg, ctx = sim.config, sim.context
    quiet = args.quiet
    ckpt_interval = args.checkpoint_interval
    if ckpt_interval is None and restart_attrs is not None:
        ckpt_interval = restart_attrs.get("checkpoint_interval") or None
    periodic = ckpt_interval is not None or args.checkpoint is not None
    # A blow-up or a signal writes a restart file even without checkpoints.
    ckpt_path = args.checkpoint or default_checkpoint_path(cfg.output)

    if args.restart:
        state, t, step0 = read_restart(args.restart, sim)
        if not t < cfg.t_end:
            raise ConfigError(f"config key 't_end': the restart file is at t = {t:g} s, "
                              f"not before t_end = {cfg.t_end:g} s; pass a larger --t-end")
    else:
        state, t, step0 = sim.initial_state(), 0.0, 0
    _check_stability(sim, state, args.allow_unstable)
    _agreed(box, lambda: _check_files(args, cfg, ckpt_path, restart_attrs)
            if ctx.is_root else None)

    extra = {"checkpoint_interval": float(ckpt_interval)} if ckpt_interval else None

    def write_ckpt(s, t_s, step_s):
        write_restart(ckpt_path, sim, s, t_s, step_s, extra=extra)

    t_start = t
    writer = OutputWriter(cfg.output, sim) if cfg.output else None
    try:
        mass0 = sim.mass(state)
        stop.install()  # before the first line, so that a caller who saw it may signal
        _say(ctx.rank, quiet,
             f"dycore: {cfg.case} {cfg.nx}x{cfg.ny} cells, {cfg.scheme}/{cfg.limiter}/"
             f"{cfg.riemann}/{cfg.time_stepper}, {ctx.size} rank(s), t = {t:g} -> "
             f"{cfg.t_end:g} s" + (f", output {cfg.output}" if cfg.output else ""))
        last_output = None
        if writer and (not args.restart or _on_output_grid(t, cfg.output_interval)):
            writer.write(state, t)
            last_output = t
        box["running"] = True
        # Output times are events even without an output file, so that the
        # time steps (the last one before an event is shortened) depend on
        # the config only, not on whether a file is written.
        events = schedule(t, cfg.t_end, cfg.output_interval or 0.0,
                          (ckpt_interval or 0.0) if periodic else None)

        wall0 = time.perf_counter()
        sim.advance(state, t, t)  # zero steps: compiles the stepping loop
        compile_s = time.perf_counter() - wall0
        progress = Progress(t, cfg.t_end, ctx.rank == 0 and not quiet and sys.stderr.isatty())
        steps, stepping_s, segment = 0, 0.0, 16
        for t_next, do_output, do_checkpoint in events:
            # Segments of `segment` steps: between them the ranks agree on a
            # stop request. Cutting does not change the steps (see advance).
            signum = 0
            while t < t_next and not signum:
                tic = time.perf_counter()
                state, t, n, fault = sim.advance(state, t, t_next, max_steps=segment,
                                                 report=True)
                wall = time.perf_counter() - tic
                stepping_s += wall
                steps += n
                if fault:  # agreed: the fault check reduces over all ranks
                    progress.finish()
                    _blow_up(sim, box, fault, state, t, step0 + steps, ckpt_path, write_ckpt,
                             writer, last_output)
                if n == segment and wall > 0:  # aim at SEGMENT_WALL_S of stepping
                    proposal = int(min(max(segment * SEGMENT_WALL_S / wall, segment / 4, 1),
                                       4 * segment, 1 << 20))
                else:
                    proposal = segment
                reports = _allgather(box, (stop.signum, proposal))
                segment = reports[0][1]
                signum = next((s for s, _ in reports if s), 0)
            if t == t_next:
                if do_output and writer:
                    writer.write(state, t)
                    last_output = t
                if do_checkpoint:
                    write_ckpt(state, t, step0 + steps)
                progress.update(t, steps)
            if signum:
                progress.finish()
                if not (t == t_next and do_checkpoint):
                    write_ckpt(state, t, step0 + steps)
                if writer:
                    writer.close()
                name = signal.Signals(signum).name
                kept = (f"; the output up to t = {last_output:g} s is in {cfg.output}"
                        if writer and last_output is not None else "")
                raise Stopped(signum, f"interrupted by {name} at step {step0 + steps}, "
                              f"t = {t:.6g} s of {cfg.t_end:g} s; the restart file "
                              f"{ckpt_path} holds this state{kept}; resume with: "
                              + _resume_hint(ctx, ckpt_path, cfg.output, step0 + steps))
        progress.finish()
        mass1 = sim.mass(state)
        if writer:
            writer.close()
        wall = time.perf_counter() - wall0
    finally:
        if writer:
            writer.abandon()

    mcells = sim.n_cells / 1e6
    per_step = 1e3 * stepping_s / steps / mcells if steps else float("nan")
    rate = steps * sim.n_cells / stepping_s if stepping_s > 0 else float("nan")
    drift = (mass1 - mass0) / mass0 if mass0 else mass1 - mass0
    _say(ctx.rank, quiet,
         f"dycore: done: {steps} steps to t = {t:g} s (from t = {t_start:g} s, now at step "
         f"{step0 + steps}) on {ctx.size} rank(s) in {wall:.2f} s wall, of which JIT compile "
         f"{compile_s:.2f} s and stepping {stepping_s:.2f} s; stepping only (compile and I/O "
         f"excluded): {per_step:.3g} ms/step/Mcell, {rate:.3g} cells/s; relative mass drift "
         f"{drift:.2e}")
    return 0


def main(argv=None) -> int:
    """Run the driver; returns the exit status (see the module docstring)."""
    box = {"rank": _launcher_rank(), "context": None, "running": False, "comm": None}
    stop = StopRequest()
    code, message = 0, None
    try:
        box["comm"] = world_duplicate()
        args = build_parser().parse_args(argv)
        if args.list_cases:
            if box["rank"] == 0:
                for name, case in CASES.items():
                    print(f"{name:24s} {case.summary}")
        else:
            code = _simulate(args, box, stop)
    except (ConfigError, UsageError) as err:
        code, message = 2, err
    except OutputError as err:
        code, message = (1 if box["running"] else 2), err
    except NonFinite as err:
        code, message = 1, err
    except Stopped as err:
        code, message = 128 + err.signum, err
    except KeyboardInterrupt:
        code, message = 130, ("interrupted (a second signal stops at once, without writing a "
                              "restart file; the last checkpoint, if any, is intact)"
                              if stop.signum else "interrupted")
    except Exception:
        # A bug or a failure on this rank that the others cannot know about.
        traceback.print_exc()
        sys.stderr.flush()
        _abort(box, 1)
        raise
    finally:
        stop.restore()
    if message is not None:
        _error(box["rank"], message)
    if code:
        box["code"] = code
        _meet(box, message if message is not None else f"exit status {code}")
    if box["comm"] is not None:
        box["comm"].Free()
    return code


if __name__ == "__main__":
    sys.exit(main())
