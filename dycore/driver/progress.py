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
