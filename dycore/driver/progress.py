"""What the driver prints: its lines on stdout, the one-line error on stderr,
and the progress (:class:`dycore.progress.Progress`: a bar on terminals, a
line every ``progress_interval`` s in batch logs). Only rank 0 prints, so
that N ranks say each thing once.
"""
from __future__ import annotations

import sys

from dycore.progress import Progress  # noqa: F401  (re-exported)


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


def grid_text(cfg) -> str:
    """The grid in words: "C48 cubed sphere (13824 cells)" or "128x128 cells"."""
    from dycore.cases import is_sphere

    if is_sphere(cfg.case):
        return f"C{cfg.nx} cubed sphere ({6 * cfg.nx * cfg.nx} cells)"
    return f"{cfg.nx}x{cfg.ny} cells"


def start_line(cfg, size: int, t: float) -> str:
    """The line a run starts with: case, grid, numerics, ranks, times, output."""
    return (f"dycore: {cfg.case} {grid_text(cfg)}, {cfg.scheme}/{cfg.limiter}/{cfg.riemann}/"
            f"{cfg.time_stepper}, {size} rank(s), t = {t:g} -> {cfg.t_end:g} s"
            + (f", output {cfg.output}" if cfg.output else
               ", no output file (pass --output FILE.h5 to write one)"))
