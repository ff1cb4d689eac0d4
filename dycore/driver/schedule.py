"""When a run stops to write: the event times of outputs, checkpoints and the
end, and the default name of the restart file.

Events are measured from t = 0, not from the start of this run, so a run
restarted from an event time meets the same event times, takes the same
time steps (the last step before each event is shortened to land on it)
and repeats the uninterrupted run bit for bit.
"""
from __future__ import annotations

import heapq
import math

EVENT_TOL = 1e-9
"""Events closer than this fraction of the smaller interval are one event."""


def events(t_start: float, t_end: float, output_interval=None, checkpoint_interval=None):
    """The event times in (t_start, t_end] (s), each as (t, write_output,
    write_checkpoint), computed lazily (a generator: nothing is built up
    front, whatever the number of events). Outputs fall on multiples
    k * output_interval counted from t = 0, checkpoints on multiples of
    checkpoint_interval, and both on t_end; an interval of None disables
    that kind, 0 means t_end only. Times closer than 1e-9 of the smaller
    interval merge into the earlier one, so the last event is exactly t_end.
    A restart from an event time yields the rest of the same sequence,
    hence the same time steps."""
    positive = [i for i in (output_interval, checkpoint_interval) if i]
    tol = EVENT_TOL * min(positive) if positive else 0.0
    end = float(t_end)

    def multiples(kind, interval):
        k = max(1, math.floor(t_start / interval))
        while k * interval < t_end - tol:
            yield (k * interval, kind)
            k += 1

    streams = [iter([(end, None)])]
    tail = []
    for kind, interval in ((0, output_interval), (1, checkpoint_interval)):
        if interval is None:
            continue
        tail.append((end, kind))
        if interval > 0:
            streams.append(multiples(kind, interval))
    # The candidates in time order, as sorted() had them: ties keep their
    # order (t_end first, then the kinds), which changes no event.
    merged = heapq.merge(*streams, iter(tail), key=lambda c: c[0])
    current = None
    for t, kind in merged:
        if t <= t_start + tol:
            continue
        if current is None or t - current[0] > tol:
            if current is not None:
                yield tuple(current)
            current = [t, False, False]
        if kind is not None:
            current[1 + kind] = True
    if current is not None:
        yield tuple(current)


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
