"""Progress of a run: on a terminal a one-line bar that advances with the
steps, off a terminal (a batch log) one line every ``interval`` seconds of
wall time. Both give the model time, the wall time, steps per second and the
estimated time left (from the fraction of model time done). Only the rank
that is given ``enabled=True`` (rank 0) prints.
"""
from __future__ import annotations

import sys
import time

REDRAW_S = 0.2
"""Shortest wall time (s) between two redraws of the terminal bar."""


def _duration(seconds: float) -> str:
    """A wall time as 12.3 s, 4 min 05 s or 2 h 03 min."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Progress:
    """Progress of a run from model time ``t0`` to ``t_end`` (s), on ``stream``.

    enabled:  print at all (rank 0 and not ``--quiet``);
    tty:      draw the bar (default: whether ``stream`` is a terminal);
    interval: wall seconds between two lines off a terminal (config key
              ``progress_interval``).
    """

    def __init__(self, t0: float, t_end: float, enabled: bool = True, *, stream=None,
                 tty: bool | None = None, interval: float = 60.0, width: int = 30,
                 clock=time.monotonic):
        self.t0, self.t_end, self.enabled, self.width = t0, t_end, enabled, width
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval, self.clock = float(interval), clock
        self.start = clock()
        self.last_line = self.last_draw = self.start
        self.drawn = False

    def text(self, t: float, steps: int, now: float) -> str:
        """The progress of ``steps`` steps to model time ``t`` (s) at wall time ``now``."""
        frac = min(max((t - self.t0) / max(self.t_end - self.t0, 1e-300), 0.0), 1.0)
        elapsed = now - self.start
        rate = steps / elapsed if elapsed > 0 else float("nan")
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        return (f"{100 * frac:5.1f}%  t = {t:.6g} s of {self.t_end:g} s  step {steps}  "
                f"{rate:.3g} steps/s  wall {_duration(elapsed)}  ETA {_duration(eta)}")

    def update(self, t: float, steps: int) -> None:
        """After some steps: redraw the bar, or print a line if ``interval`` passed."""
        if not self.enabled:
            return
        now = self.clock()
        if self.tty:
            if now - self.last_draw < REDRAW_S and t < self.t_end:
                return
            self.last_draw = now
            frac = min(max((t - self.t0) / max(self.t_end - self.t0, 1e-300), 0.0), 1.0)
            filled = int(round(frac * self.width))
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r[{bar}] {self.text(t, steps, now)} ")
            self.drawn = True
        elif now - self.last_line >= self.interval:
            self.last_line = now
            self.stream.write(f"dycore: progress {self.text(t, steps, now)}\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line (idempotent)."""
        if self.enabled and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
