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

Exit status: 0 done; 1 the state became non-finite (the output written so far
is kept) or writing failed mid-run; 2 bad configuration or usage (one line
``dycore: error: ...`` on stderr, on rank 0); 130 interrupted (Ctrl-C), after
flushing the output.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import tomllib
import traceback

import numpy as np

from dycore.cases import CASES
from dycore.config import Config, ConfigError, check_keys
from dycore.io import (OutputError, OutputWriter, read_restart, read_restart_attrs,
                       write_restart)
from dycore.io.hdf5 import config_from_json
from dycore.simulation import Simulation

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


def _finite(state) -> bool:
    return all(np.all(np.isfinite(np.asarray(getattr(state, n)))) for n in ("h", "hu", "hv"))


def _on_any_rank(ctx, flag: bool) -> bool:
    """True on every rank if ``flag`` is true on some rank (collective)."""
    return bool(flag) if ctx.size == 1 else any(ctx.comm.allgather(bool(flag)))


class NonFinite(Exception):
    """The state became NaN or infinite."""


# ------------------------------------------------------------------ main
def _say(rank: int, quiet: bool, text: str) -> None:
    if rank == 0 and not quiet:
        print(text, flush=True)


def _error(rank: int, message: str) -> None:
    if rank == 0:
        text = " ".join(str(message).split())
        sys.stderr.write(f"dycore: error: {text}\n")
        sys.stderr.flush()


def _simulate(args, box: dict) -> int:
    base, restart_attrs = None, None
    if args.restart:
        restart_attrs = read_restart_attrs(args.restart)
        base = config_from_json(restart_attrs["config_json"]).to_dict()
        for key in _LAUNCH_KEYS:
            base.pop(key, None)
    values = config_values(args, base)
    config = Config.from_dict(values)
    if args.checkpoint_interval is not None and not (
            math.isfinite(args.checkpoint_interval) and args.checkpoint_interval > 0):
        raise ConfigError(f"option --checkpoint-interval: must be > 0, "
                          f"got {args.checkpoint_interval}")
    sim = Simulation(config)
    cfg, ctx = sim.config, sim.context
    box["rank"], box["context"] = ctx.rank, ctx
    quiet = args.quiet
    ckpt_interval = args.checkpoint_interval
    if ckpt_interval is None and restart_attrs is not None:
        ckpt_interval = restart_attrs.get("checkpoint_interval") or None
    ckpt_path = None
    if ckpt_interval is not None or args.checkpoint:
        ckpt_path = args.checkpoint or default_checkpoint_path(cfg.output)

    if args.restart:
        state, t, step0 = read_restart(args.restart, sim)
        old_output = restart_attrs.get("output")
        if (cfg.output and old_output and os.path.exists(cfg.output)
                and os.path.exists(old_output) and os.path.samefile(cfg.output, old_output)):
            raise ConfigError(f"config key 'output': {cfg.output!r} holds the output of the run "
                              f"that wrote the restart file; choose another --output so it is "
                              f"not overwritten")
        if not t < cfg.t_end:
            raise ConfigError(f"config key 't_end': the restart file is at t = {t:g} s, "
                              f"not before t_end = {cfg.t_end:g} s; pass a larger --t-end")
    else:
        state, t, step0 = sim.initial_state(), 0.0, 0
    if ckpt_path is not None and cfg.output and os.path.abspath(ckpt_path) == \
            os.path.abspath(cfg.output):
        raise ConfigError("option --checkpoint: must differ from the output file")

    t_start = t
    writer = OutputWriter(cfg.output, sim) if cfg.output else None
    try:
        mass0 = sim.mass(state)
        _say(ctx.rank, quiet,
             f"dycore: {cfg.case} {cfg.nx}x{cfg.ny} cells, {cfg.scheme}/{cfg.limiter}/"
             f"{cfg.riemann}/{cfg.time_stepper}, {ctx.size} rank(s), t = {t:g} -> "
             f"{cfg.t_end:g} s" + (f", output {cfg.output}" if cfg.output else ""))
        last_output = None
        if writer:
            writer.write(state, t)
            last_output = t
        box["running"] = True
        # Output times are events even without an output file, so that the
        # time steps (the last one before an event is shortened) depend on
        # the config only, not on whether a file is written.
        events = schedule(t, cfg.t_end, cfg.output_interval or 0.0,
                          (ckpt_interval or 0.0) if ckpt_path else None)
        extra = {"checkpoint_interval": float(ckpt_interval)} if ckpt_interval else None

        wall0 = time.perf_counter()
        sim.advance(state, t, t)  # zero steps: compiles the stepping loop
        compile_s = time.perf_counter() - wall0
        progress = Progress(t, cfg.t_end, ctx.rank == 0 and not quiet and sys.stderr.isatty())
        steps, stepping_s = 0, 0.0
        for t_next, do_output, do_checkpoint in events:
            tic = time.perf_counter()
            new_state, t_new, n = sim.advance(state, t, t_next)
            stepping_s += time.perf_counter() - tic
            steps += n
            # advance() ends at exactly t_next, or early at t = NaN when dt turned
            # NaN; a finite t short of t_next would mean the step size collapsed.
            if _on_any_rank(ctx, not (t_new == t_next and _finite(new_state))):
                progress.finish()
                raise NonFinite(f"the state became non-finite (NaN/inf) between t = {t:g} s "
                                f"and t = {t_next:g} s, by step {step0 + steps}; stopped"
                                + (f"; output up to t = {last_output:g} s is kept in "
                                   f"{cfg.output}" if writer else ""))
            state, t = new_state, t_next
            if do_output and writer:
                writer.write(state, t)
                last_output = t
            if do_checkpoint:
                write_restart(ckpt_path, sim, state, t, step0 + steps, extra=extra)
            progress.update(t, steps)
        progress.finish()
        mass1 = sim.mass(state)
        wall = time.perf_counter() - wall0
    finally:
        if writer:
            writer.close()

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
    box = {"rank": _launcher_rank(), "context": None, "running": False}
    try:
        args = build_parser().parse_args(argv)
        if args.list_cases:
            if box["rank"] == 0:
                for name, case in CASES.items():
                    print(f"{name:24s} {case.summary}")
            return 0
        return _simulate(args, box)
    except (ConfigError, UsageError) as err:
        _error(box["rank"], err)
        return 2
    except OutputError as err:  # before the first step: a bad output path
        _error(box["rank"], err)
        return 1 if box["running"] else 2
    except NonFinite as err:
        _error(box["rank"], err)
        return 1
    except KeyboardInterrupt:
        _error(box["rank"], "interrupted; the output written so far is flushed and closed")
        return 130
    except Exception:
        ctx = box["context"]
        if ctx is not None and ctx.size > 1:  # a bug on some ranks: don't leave others waiting
            traceback.print_exc()
            sys.stderr.flush()
            ctx.comm.Abort(1)
        raise


if __name__ == "__main__":
    sys.exit(main())
