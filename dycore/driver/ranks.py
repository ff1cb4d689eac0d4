"""The driver's agreement between ranks: bad input found on some ranks
stops all of them, an error exit waits (with a deadline) for the others,
and a failure the others cannot know about aborts them all.

The driver talks over its own duplicate of MPI_COMM_WORLD
(:func:`parallel.world_duplicate`; None on one process), so its messages
never match a collective of the numerics or the I/O that some rank is still
in. :class:`Team` wraps it as a context for :mod:`dycore.io.collective`,
whose :func:`~dycore.io.collective.collectively` is the one agreement helper
of the I/O and the driver; :func:`agreed` adds the deadline.
"""
from __future__ import annotations

import os
import sys
import time

from dycore.config import ConfigError
from dycore.driver.cli import UsageError
from dycore.io import OutputError, collectively

EXIT_DEADLINE_S = 10.0
"""How long an error exit waits for the other ranks before MPI_Abort (s)."""

BAD_INPUT = (ConfigError, UsageError, OutputError)
"""The errors of bad input that the ranks agree on before the first step."""

_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID")


def launcher_rank() -> int:
    """This process's rank as the MPI launcher set it (0 without one); known
    before MPI starts, so that only rank 0 prints even the earliest errors."""
    for var in _RANK_VARS:
        value = os.environ.get(var)
        if value is not None and value.isdigit():
            return int(value)
    return 0


class Team:
    """This process among the ranks of the run, as the driver sees it.

    comm:    the driver's private communicator (None on one process)
    rank:    the launcher's rank, then the Simulation context's
    running: True once stepping began (a write failure is then status 1,
             before it bad input, status 2)
    runtime: what :func:`dycore.runtime.configure` changed at the start
    """

    def __init__(self, rank: int, runtime=()):
        self.comm = None
        self.rank = rank
        self.running = False
        self.runtime = list(runtime)

    @property
    def size(self) -> int:
        return 1 if self.comm is None else self.comm.Get_size()

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def abort(self, code: int) -> None:
        """MPI_Abort all ranks (under MPI only): a rank failed in a way the
        others cannot know about."""
        if self.comm is not None:
            sys.stderr.flush()
            self.comm.Abort(code)

    def meet(self, message=None, code: int = 1) -> None:
        """Wait until every rank got here (a non-blocking barrier). A rank
        that brings an error (``message``) waits at most EXIT_DEADLINE_S,
        then prints it and aborts all ranks with ``code``: the others are
        stuck elsewhere and would never come. Ranks without an error wait
        as long as it takes."""
        if self.comm is None:
            return
        request = self.comm.Ibarrier()
        deadline = time.monotonic() + EXIT_DEADLINE_S
        while not request.Test():
            if message is not None and time.monotonic() > deadline:
                text = " ".join(str(message).split())
                sys.stderr.write(f"dycore: error: {text} (rank {self.rank}; the other ranks "
                                 f"did not stop with it: aborting all ranks)\n")
                self.abort(code)
            time.sleep(0.005)

    def free(self) -> None:
        if self.comm is not None:
            self.comm.Free()


def agreed(team: Team, fn):
    """Run ``fn`` on every rank and agree on its outcome: if it raised a bad
    input error (:data:`BAD_INPUT`) on any rank, raise that error on every
    rank (so that no rank goes on alone into a collective operation and
    waits forever). A rank that failed waits for the others at most
    EXIT_DEADLINE_S (they may be stuck in a collective inside ``fn``), then
    aborts all ranks with status 2."""
    return collectively(team, fn, catch=BAD_INPUT, error=None,
                        before=lambda message: team.meet(message, code=2))
