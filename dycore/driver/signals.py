"""Stopping on a signal, and the exit statuses of the driver.

SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 ask the run to stop: the ranks finish
their step, agree to stop at the same step (the main loop checks about
once per :data:`SEGMENT_WALL_S` of stepping), write the restart file and
exit with 128 + the signal number. A second signal stops at once
(KeyboardInterrupt, status 130, no restart file). Under Open MPI's mpirun,
send SIGUSR1 or SIGUSR2 to mpirun (it forwards them; SIGTERM/SIGINT to
mpirun make it kill the ranks after 1 s), or signal the ranks themselves.
"""
from __future__ import annotations

import os
import signal
import threading

EXIT_OK = 0
EXIT_FAILED = 1
"""A blow-up, or writing failed mid-run."""
EXIT_BAD_INPUT = 2
"""Bad input, found before the first step."""
EXIT_INTERRUPTED = 128 + 2
"""A second Ctrl-C (or signal), which stops without writing a restart file."""


def exit_status(signum: int) -> int:
    """The status of a run stopped by signal ``signum`` (shell convention)."""
    return 128 + signum


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2")
                     if hasattr(signal, name))
SEGMENT_WALL_S = 1.0
"""Stepping between two checks for a stop request (about, in s): short
enough to stop promptly, long enough that the check (one allgather) costs
nothing next to the steps."""


class Stopped(Exception):
    """Stopped by a signal after writing a restart file; exit status 128 + signum."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum


def _launcher_rank() -> int:
    for var in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 0


class StopRequest:
    """Signal handlers that ask the run to stop at the next segment boundary
    (the first signal); a second signal raises KeyboardInterrupt at once.

    The handlers only take note (no exception is raised into whatever
    runs: an import, an XLA compile, a JAX callback), and the driver looks
    at :attr:`signum` at agreed points. While :attr:`startup` is True (no
    file written yet), a second signal ends the process at once with
    status 130 and one line."""

    def __init__(self):
        self.signum = 0
        self.startup = True
        self._old = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._old:
            return
        for sig in STOP_SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (OSError, ValueError):
                pass

    def _handle(self, signum, frame):
        if self.signum:
            if self.startup:
                if _launcher_rank() == 0:
                    os.write(2, b"dycore: error: interrupted during start-up by a second "
                                b"signal, before the first step; nothing was written\n")
                os._exit(EXIT_INTERRUPTED)
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


_EARLY: StopRequest | None = None


def install_early() -> None:
    """Take note of stop signals from now on (``python -m dycore.run`` calls
    this first, before the driver's heavier imports); :func:`take_early`
    hands the notes to the driver."""
    global _EARLY
    if _EARLY is None:
        _EARLY = StopRequest()
        _EARLY.install()


def take_early() -> StopRequest | None:
    """The StopRequest that :func:`install_early` installed (once), or None."""
    global _EARLY
    early, _EARLY = _EARLY, None
    return early
