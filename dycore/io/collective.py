"""Agreement between ranks: run a step on one or all ranks and make its
outcome the same everywhere.

Why: an error that only some ranks see (a file that one rank cannot create,
a config that one rank reads differently) must stop *every* rank, or the
others walk on into the next collective operation and wait forever. So every
operation that can fail on some ranks goes through :func:`collectively`: the
ranks exchange "failed, with this message" or "fine" (one small allgather)
and, if any failed, all raise the same error. The I/O and the command-line
driver share this one helper.

A *context* here is anything with ``size``, ``is_root`` and, when ``size >
1``, a ``comm`` with ``allgather`` (a :mod:`parallel` context, or the
driver's own communicator wrapper). MPI is reached only through it.
"""
from __future__ import annotations

from dycore.errors import ConfigError


class OutputError(Exception):
    """Writing or reading an HDF5 file failed (on this or another rank)."""


IO_ERRORS = (OSError, ValueError, KeyError, RuntimeError, OutputError)
"""What a file operation may raise that counts as a failure to agree on
(ConfigError is a ValueError); anything else is a bug and propagates."""

_COMPLETE = (ConfigError, OutputError)
"""Errors whose messages are whole sentences already (no ``what`` prefix)."""


def allgather(context, obj) -> list:
    """``obj`` from every rank, in rank order (a list of one on one rank)."""
    if context.size == 1:
        return [obj]
    return context.comm.allgather(obj)


def collectively(context, fn, *, what: str | None = None, root_only: bool = False,
                 share: bool = False, catch: tuple = IO_ERRORS, error=OutputError,
                 before=None):
    """Run ``fn`` (on the root rank only if ``root_only``), then agree across
    ranks. Collective: every rank calls it.

    If ``fn`` raised one of ``catch`` on any rank, every rank raises the
    error of the first failing rank (in rank order): as ``error`` with that
    rank's message if ``error`` is a class, or, with ``error=None``, as the
    class in ``catch`` that the original error was an instance of. A
    message is prefixed with ``what`` (e.g. ``"cannot write output 'x.h5'"``)
    unless it is a ConfigError or OutputError, whose messages are complete.

    ``before(message)``, if given, runs on every rank just before the
    exchange, with this rank's error message or None (the driver waits
    there, with a deadline, for ranks that may be stuck elsewhere).

    Returns this rank's result, or with ``share`` every rank's result in
    rank order (keep those small: they travel to all ranks).
    """
    result, failure = None, None
    if context.is_root or not root_only:
        try:
            result = fn()
        except catch as err:
            failure = (_kind(err, catch), _describe(err, what))
    if before is not None:
        before(None if failure is None else failure[1])
    gathered = allgather(context, (failure, result if share else None))
    for other, _ in gathered:
        if other is not None:
            kind, text = other
            raise (error or next(c for c in catch if c.__name__ == kind))(text)
    return [res for _, res in gathered] if share else result


def _kind(err: BaseException, catch: tuple) -> str:
    """The name of the first class in ``catch`` that ``err`` is an instance of."""
    return next(c.__name__ for c in catch if isinstance(err, c))


def _describe(err: BaseException, what: str | None) -> str:
    text = str(err) or type(err).__name__
    if what is None or isinstance(err, _COMPLETE):
        return text
    return f"{what}: {text}"
