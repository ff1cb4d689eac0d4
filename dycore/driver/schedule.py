"""When a run stops to write: the event times of outputs, checkpoints and the
end, and the default name of the restart file.

Events are measured from t = 0, not from the start of this run, so a run
restarted from an event time meets the same event times, takes the same
time steps (the last step before each event is shortened to land on it)
and repeats the uninterrupted run bit for bit.
"""
from __future__ import annotations

import math

EVENT_TOL = 1e-9
"""Events closer than this fraction of the smaller interval are one event."""


def schedule(t_start: float, t_end: float, output_interval=None, checkpoint_interval=None):
    """The event times in (t_start, t_end] (s), each as (t, write_output,
    write_checkpoint). Outputs fall on multiples k * output_interval counted
    from t = 0, checkpoints on multiples of checkpoint_interval, and both on
    t_end; an interval of None disables that kind, 0 means t_end only. Times
    closer than 1e-9 of the smaller interval merge into the earlier one, so
    the last event is exactly t_end. A restart from an event time yields the
    rest of the same list, hence the same time steps."""
    positive = [i for i in (output_interval, checkpoint_interval) if i]
    tol = EVENT_TOL * min(positive) if positive else 0.0
    candidates = [(float(t_end), None)]
    for kind, interval in ((0, output_interval), (1, checkpoint_interval)):
        if interval is None:
            continue
        candidates.append((float(t_end), kind))
        if interval > 0:
            k = max(1, math.floor(t_start / interval))
            while k * interval < t_end - tol:
                candidates.append((k * interval, kind))
                k += 1
    events: list[list] = []
    for t, kind in sorted(candidates, key=lambda c: c[0]):
        if t <= t_start + tol:
            continue
        if not events or t - events[-1][0] > tol:
            events.append([t, False, False])
        if kind is not None:
            events[-1][1 + kind] = True
    return [tuple(e) for e in events]


def on_output_grid(t: float, interval) -> bool:
    """Whether ``t`` (s) is an output time k * interval (any t without an
    interval): a restarted run writes its first frame only then."""
    if not interval:
        return True
    k = round(t / interval)
    return abs(t - k * interval) <= EVENT_TOL * interval


def default_checkpoint_path(output: str | None) -> str:
    """The restart file of a run: OUTPUT with ``.restart.h5``, or
    ``dycore_restart.h5`` without an output file."""
    if output:
        stem = output[:-3] if output.endswith(".h5") else output
        return stem + ".restart.h5"
    return "dycore_restart.h5"
