"""The command line every implementation shares (benchmarks/PROTOCOL.md):

    EXECUTABLE PROBLEM_DIR --procs PX PY --steps S [--warmup W] [--repeats R]
               [--final FILE] [--precision float64|float32]

Imports neither jax nor dycore, so the NumPy baseline can use it.
"""
from __future__ import annotations

import argparse


class ProblemError(Exception):
    """Bad problem or command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ProblemError(message)


def protocol_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the protocol's arguments; errors raise :class:`ProblemError`."""
    p = _Parser(prog=prog, description=description)
    p.add_argument("problem")
    p.add_argument("--procs", type=int, nargs=2, metavar=("PX", "PY"))
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--final")
    p.add_argument("--precision", default="float64", choices=("float64", "float32"))
    return p


def check_counts(args) -> None:
    """--steps and --warmup >= 0, --repeats >= 1 (raises ProblemError)."""
    if args.steps < 0 or args.warmup < 0 or args.repeats < 1:
        raise ProblemError("--steps and --warmup must be >= 0, --repeats >= 1")
