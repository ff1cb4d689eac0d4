"""What the driver prints: its lines on stdout, the one-line error on stderr,
and a progress bar on terminals. Only rank 0 prints, so that N ranks say
each thing once.
"""
from __future__ import annotations

import sys
import time


def say(rank: int, quiet: bool, text: str) -> None:
    """A line on stdout (rank 0, unless ``--quiet``)."""
    if rank == 0 and not quiet:
        print(text, flush=True)


def error(rank: int, message) -> None:
    """``dycore: error: MESSAGE`` on stderr as one line (rank 0)."""
    if rank == 0:
        text = " ".join(str(message).split())
        sys.stderr.write(f"dycore: error: {text}\n")
        sys.stderr.flush()


class Progress:
    """A one-line text progress bar on stderr (rank 0, terminals only):
    fraction of simulated time done, steps, wall time elapsed and left (s)."""

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
