"""When a run stops to write: the event times of outputs, checkpoints and the
end, and the default name of the restart file.

Events are measured from t = 0, not from the start of this run, so a run
restarted from an event time meets the same event times, takes the same
time steps (the last step before each event is shortened to land on it)
and repeats the uninterrupted run bit for bit.
"""
from __future__ import annotations

import math

from dycore.loop import EVENT_TOL, merged_events


def events(t_start: float, t_end: float, output_interval=None, checkpoint_interval=None):
    """The event times in (t_start, t_end] (s), each as (t, write_output,
    write_checkpoint), computed lazily (a generator: nothing is built up
    front, whatever the number of events). Outputs fall on multiples
    k * output_interval counted from t = 0, checkpoints on multiples of
    checkpoint_interval, and both on t_end; an interval of None disables
    that kind, 0 means t_end only. Times closer than 1e-9 of the smaller
    interval merge into the earlier one, so the last event is exactly t_end.
    A restart from an event time yields the rest of the same sequence,
    hence the same time steps. (:func:`dycore.loop.merged_events`, which
    the run loop uses, for these two kinds.)"""
    for t, (output, checkpoint) in merged_events(t_start, t_end,
                                                 [output_interval, checkpoint_interval]):
        yield t, output, checkpoint


def schedule(t_start: float, t_end: float, output_interval=None, checkpoint_interval=None):
    """:func:`events` as a list (for small schedules and tests)."""
    return list(events(t_start, t_end, output_interval, checkpoint_interval))


def count_events(t_start: float, t_end: float, interval) -> float:
    """About how many events of one kind (every ``interval`` s) fall in
    (t_start, t_end]: the size of a schedule, without building it (may be
    inf)."""
    if not interval:
        return 1.0
    try:
        return max((t_end - t_start) / interval, 0.0) + 1.0
    except OverflowError:
        return math.inf


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
