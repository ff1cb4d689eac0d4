"""Steady states that settle (issue 16, item 4).

Started from the exact subcritical flow over a bump (SWASHES 3.1.1; Delestre
et al. 2013, Int. J. Numer. Meth. Fluids 72, 269-300), the residual of
MUSCL-MC used to stall in a limit cycle (about 1e-6 relative per step at
n = 100) because the limiter's switches act on small variations of the
nearly uniform flow; with the small-variation threshold (``slope_threshold``,
docs/numerics.md#steady-states) it falls to round-off.
"""
import numpy as np
import pytest

from dycore import Config, Simulation
from dycore.state import State

G, Q, DEPTH, LENGTH = 9.81, 4.42, 2.0, 25.0


def bump_bed(x):
    return np.where((x > 8) & (x < 12), 0.2 - 0.05 * (x - 10) ** 2, 0.0)


def subcritical_depth(bed):
    """The subcritical root of Bernoulli's relation q^2/(2 g h^2) + h + b = const."""
    head = Q * Q / (2 * G * DEPTH * DEPTH) + DEPTH
    lo, hi = np.full_like(bed, 1.0), np.full_like(bed, 3.0)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        above = Q * Q / (2 * G * mid * mid) + mid + bed > head
        lo, hi = np.where(above, lo, mid), np.where(above, mid, hi)
    return 0.5 * (lo + hi)


def relative_residual(sim, state, params):
    """dt max_k |dq_k/dt| / max |q_k| over h and hu: the relative change per CFL step."""
    r = sim.rhs(state, params)
    dt = float(sim.stable_dt(state, params))
    return max(dt * float(np.max(np.abs(np.asarray(getattr(r, k)))))
               / float(np.max(np.abs(np.asarray(getattr(state, k))))) for k in ("h", "hu"))


def settle(n, steps, **config):
    """The bump flow on n x 4 cells (open ends, periodic rows), from the exact
    state, after ``steps`` steps: its relative residual."""
    sim = Simulation(Config(case="dam_break", nx=n, ny=4, lx=LENGTH, ly=4 * LENGTH / n, x0=0.0,
                            bc_west="open", bc_east="open", **config))
    bed = bump_bed(np.asarray(sim.x))
    params = sim.params.replace(b=np.tile(bed, (4, 1)))
    h = np.tile(subcritical_depth(bed), (4, 1))
    state = sim._as_state((h, Q * np.ones_like(h), np.zeros_like(h)))
    state = sim.run(state, steps, params)
    return relative_residual(sim, state, params)


@pytest.mark.parametrize("limiter", ["mc", "van_leer", "minmod"])
def test_default_muscl_settles_to_a_steady_state(limiter):
    assert settle(50, 1500, limiter=limiter) < 1e-10


def test_without_the_threshold_mc_stalls():
    """The scheme before the fix (every slope limited): the residual stays far
    above round-off, so the test above would have failed."""
    assert settle(50, 1500, slope_threshold=0.0) > 1e-8
