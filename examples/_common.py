"""Shared plumbing of the hybrid-modelling examples (not part of the package).

Each example is a plain script (``python examples/NAME.py`` on one process,
``mpirun -n N python examples/NAME.py`` on N ranks). This module gives them
the same command-line conventions, rank-0 printing, the optional-dependency
check, global fields for plotting and the success/failure exit.

Exit status: 0 when the example's success criterion is met, 1 when it is not
(one line on stderr saying which), 2 for bad input or a missing optional
dependency (one line, no traceback).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
OUTPUT_DIR = HERE / "output"


def fail(message: str, status: int = 2):
    """Print one line on stderr (every rank that calls it) and exit."""
    print(f"{pathlib.Path(sys.argv[0]).name}: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


def require_extras():
    """Import optax and matplotlib (Agg backend), or exit 2 with the install hint."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
        import optax  # noqa: F401
    except ImportError as err:
        fail(f"needs the optional dependencies of the examples ({err.name} is missing): "
             "pip install -e '.[examples]'  (or: make examples)")


class ExampleParser(argparse.ArgumentParser):
    """argparse with the examples' common flags; a usage error exits 2 in one line."""

    def __init__(self, name: str, description: str):
        super().__init__(prog=f"{name}.py", description=description)
        self.name = name
        self.add_argument("--quick", action="store_true",
                          help="smoke test: tiny grid, few iterations (the success "
                               "criterion is relaxed accordingly)")
        self.add_argument("--output", default=str(OUTPUT_DIR / f"{name}.png"),
                          help="where to save the PNG plot (default: %(default)s)")
        self.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")

    def error(self, message):
        fail(f"error: {message} (see --help)")

    def add_window(self, steps: int, obs_every: int):
        """--steps and --obs-every: a twin experiment's assimilation window,
        observed every ``obs_every`` steps (check with :meth:`check_window`)."""
        self.add_argument("--steps", type=positive(int), default=steps,
                          help="time steps in the assimilation window (default: %(default)s)")
        self.add_argument("--obs-every", type=positive(int), default=obs_every,
                          help="observe every this many steps (default: %(default)s)")

    def check_window(self, args):
        """Exit 2 unless the window is a whole number of observation intervals."""
        if args.steps % args.obs_every:
            self.error(f"--steps ({args.steps}) must be a multiple of --obs-every "
                       f"({args.obs_every})")


def positive(kind):
    """argparse type: a positive int or float."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


class Reporter:
    """Rank-0 printing with the wall time since the example started."""

    def __init__(self, sim):
        self.sim = sim
        self.root = sim.context.is_root
        self.t0 = time.perf_counter()

    def __call__(self, *lines):
        if self.root:
            for line in lines:
                print(line, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def gather_field(sim, local):
    """The global (ny, nx) numpy array of a tile field on rank 0, None elsewhere."""
    import numpy as np

    return sim.context.gather(np.asarray(local))


def save_figure(fig, path: str, report: Reporter):
    """Save a matplotlib figure as PNG (rank 0 only) and close it."""
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    report(f"plot: {os.path.relpath(path)}")


def finish(sim, report: Reporter, ok: bool, why: str):
    """Exit 0 when the success criterion ``ok`` holds, else 1 with ``why`` (rank 0 prints)."""
    report(f"wall time: {report.elapsed():.1f} s on {sim.context.size} rank(s)")
    if ok:
        report("result: PASS")
        sys.exit(0)
    if report.root:
        print(f"{pathlib.Path(sys.argv[0]).name}: criterion not met: {why}",
              file=sys.stderr, flush=True)
    sys.exit(1)


def minimise_lbfgs(value_and_grad, unknowns, iterations: int, callback=None,
                   memory: int = 10, max_halvings: int = 12, rtol: float = 0.0):
    """Minimise with L-BFGS: optax's direction, a backtracking line search here.

    value_and_grad: jitted ``unknowns -> (loss, gradient)``; the loss must be
        the same number on every rank (a ``global_sum``), and ``unknowns``
        replicated on every rank (optax's L-BFGS takes inner products of the
        whole pytree, which would be per-rank for distributed fields).
    The direction is :func:`optax.scale_by_lbfgs` (Liu & Nocedal 1989, Math.
    Program. 45, 503-528; Nocedal & Wright 2006, Alg. 7.4). The step length
    is found by halving from 1 until the Armijo condition
    ``f(x - t d) <= f(x) - 1e-4 t <g, d>`` holds, in Python around the
    already-compiled ``value_and_grad``, so no second program is compiled
    and the gradient at the accepted point is reused by the next iteration
    (the first trial step is nearly always accepted). Every rank sees the
    same loss, so all ranks take the same decisions and stay identical.
    The iteration stops early when the loss has fallen below ``rtol`` times
    its first value, or when no step decreases it (converged to round-off).

    callback(iteration, unknowns, loss) is called for the first guess
    (iteration 0) and after every accepted step. Returns (unknowns, loss).
    """
    import jax
    import optax

    direction = optax.scale_by_lbfgs(memory_size=memory)
    update = jax.jit(direction.update)
    state = direction.init(unknowns)
    value, grad = value_and_grad(unknowns)
    value = float(value)
    first = value
    if callback is not None:
        callback(0, unknowns, value)
    for it in range(1, iterations + 1):
        if value <= rtol * first:
            break
        d, state = update(grad, state, unknowns)
        slope = float(optax.tree.vdot(grad, d))           # <g, d> > 0 for descent along -d
        if not slope > 0:                                  # not a descent direction: restart
            state = direction.init(unknowns)
            d, state = update(grad, state, unknowns)
            slope = float(optax.tree.vdot(grad, d))
        step = 1.0
        for _ in range(max_halvings):
            trial = jax.tree.map(lambda x, dx: x - step * dx, unknowns, d)
            trial_value, trial_grad = value_and_grad(trial)
            trial_value = float(trial_value)
            if trial_value <= value - 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            break                                          # no decrease left: converged
        unknowns, value, grad = trial, trial_value, trial_grad
        if callback is not None:
            callback(it, unknowns, value)
    return unknowns, value
