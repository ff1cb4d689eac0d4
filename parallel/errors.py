"""The error type of the parallel layer."""
from __future__ import annotations


class DecompositionError(ValueError):
    """A process grid or topology that cannot work (too few cells per tile,
    a rank count that does not match, ...). One line; ``key`` names the
    setting to change (e.g. ``"procs"``, ``"nx"``), for callers that map it
    to their own configuration errors."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key
