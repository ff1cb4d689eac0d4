"""The run loop: a :class:`Loop` steps a :class:`dycore.Simulation` to an
end time, keeps a :class:`Clock` (model time and step count) beside the
state, and calls callbacks on an interval of steps or of model time
(diagnostics, output files, user functions). ``python -m dycore.run`` runs
on the same loop (its outputs and checkpoints are callbacks).

    loop = Loop(sim, sim.initial_state(), t_end=86400.0)
    loop.add(lambda lp: print(lp.clock.time, sim.mass(lp.state)), every_steps=100)
    loop.add(OutputFile("run.h5"), every_seconds=3600.0)   # dycore.callbacks
    state = loop.run()

In the spirit of Oceananigans' ``Simulation`` + ``run!`` (callbacks on
iteration or time intervals) and Dinosaur's ``trajectory_from_step``. The
time lives beside the state (not in it), so :meth:`Simulation.run`,
``step`` and ``trajectory`` and their gradients are unchanged; the loop
uses :meth:`Simulation.advance` (a while loop with blow-up checks), which is
for running, not for reverse-mode differentiation.

Time steps: model-time callbacks fire at multiples k * interval counted
from t = 0 and at t_end; the last step before each such time is shortened
to land on it, so those times change the steps (as output times do in the
driver). Step callbacks do not change the steps: cutting a run after any
number of steps repeats the uncut run bit for bit.
"""
from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

from dycore.errors import ConfigError

EVENT_TOL = 1e-9
"""Event times closer than this fraction of the smaller interval are one."""


@dataclass
class Clock:
    """Model time (s) and steps taken since t = 0 (a restarted run goes on counting)."""

    time: float = 0.0
    step: int = 0


class BlowUp(RuntimeError):
    """The state became non-finite or inadmissible; ``fault`` says where
    (see :func:`dycore.advance.advance`), ``loop.state`` is the last good one."""

    def __init__(self, message: str, fault: dict):
        super().__init__(message)
        self.fault = fault


@dataclass
class Callback:
    """``fn(loop)`` every ``steps`` steps or every ``seconds`` of model
    time (exactly one of them, or neither: start and end only), at the
    start when ``at_start`` (a time callback only if the start time is on
    its grid of multiples) and, for a time callback, at t_end."""

    fn: object
    steps: int | None = None
    seconds: float | None = None
    at_start: bool = True
    name: str = ""

    def __post_init__(self):
        if self.steps is not None and self.seconds is not None:
            raise ConfigError(f"callback {self.name!r}: give every_steps or every_seconds, "
                              f"not both")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise ConfigError(f"callback {self.name!r}: every_steps must be a positive "
                              f"integer, got {self.steps!r}")
        if self.seconds is not None and not (isinstance(self.seconds, (int, float))
                                             and math.isfinite(self.seconds)
                                             and self.seconds > 0):
            raise ConfigError(f"callback {self.name!r}: every_seconds must be a positive "
                              f"number of seconds, got {self.seconds!r}")

    def on_time_grid(self, t: float) -> bool:
        if not self.seconds:
            return True
        k = round(t / self.seconds)
        return abs(t - k * self.seconds) <= EVENT_TOL * self.seconds


def merged_events(t_start: float, t_end: float, intervals):
    """Event times in (t_start, t_end] (s) for several kinds, lazily, each as
    (t, flags) with one flag per kind of ``intervals``: a kind fires at
    multiples k * interval counted from t = 0 and at t_end; an interval of
    None disables its kind, 0 means t_end only. Times closer than
    :data:`EVENT_TOL` of the smallest interval merge into the earlier one,
    so the last event is exactly t_end."""
    positive = [i for i in intervals if i]
    tol = EVENT_TOL * min(positive) if positive else 0.0
    end = float(t_end)

    def multiples(kind, interval):
        k = max(1, math.floor(t_start / interval))
        while k * interval < t_end - tol:
            yield (k * interval, kind)
            k += 1

    streams = [iter([(end, None)])]
    tail = []
    for kind, interval in enumerate(intervals):
        if interval is None:
            continue
        tail.append((end, kind))
        if interval > 0:
            streams.append(multiples(kind, interval))
    merged = heapq.merge(*streams, iter(tail), key=lambda c: c[0])
    current = None
    for t, kind in merged:
        if t <= t_start + tol:
            continue
        if current is None or t - current[0] > tol:
            if current is not None:
                yield current[0], tuple(current[1:])
            current = [t] + [False] * len(intervals)
        if kind is not None:
            current[1 + kind] = True
    if current is not None:
        yield current[0], tuple(current[1:])


class Loop:
    """Steps ``sim`` from ``state`` at ``clock`` to ``t_end`` (s), calling
    callbacks. Attributes: ``sim``, ``state``, ``params``, ``clock``,
    ``t_end``, ``callbacks``, ``steps`` (taken by the last :meth:`run`),
    ``stopped`` (what ``on_segment`` returned to stop, else None), ``fired``
    (the callbacks of the last event).

    progress:   None, or an object with ``update(t, steps)`` and ``finish()``
                (a :class:`dycore.progress.Progress`), updated after every
                segment of steps.
    on_fault:   ``on_fault(loop, fault)`` on a blow-up (``loop.state`` is the
                last good state); default: raise :class:`BlowUp`.
    on_segment: ``on_segment(loop, proposal) -> (segment, stop)`` after every
                segment: the next segment length (the same on every rank) and
                a stop request (falsy to go on); default: the root rank's
                proposal, never stop. Segments aim at ``segment_wall_s`` of
                stepping each.
    """

    def __init__(self, sim, state, *, t_end: float, params=None, clock: Clock | None = None,
                 progress=None, on_fault=None, on_segment=None, segment: int = 16,
                 segment_wall_s: float = 1.0):
        self.sim, self.state, self.t_end = sim, state, float(t_end)
        self.params = sim.params if params is None else params
        self.clock = clock if clock is not None else Clock()
        self.callbacks: list[Callback] = []
        self.progress, self.on_fault = progress, on_fault
        self.on_segment = on_segment or _root_proposal
        self.segment, self.segment_wall_s = int(segment), float(segment_wall_s)
        self.steps, self.stopped, self.fired = 0, None, ()
        self.stepping_s = 0.0

    def add(self, fn, *, every_steps: int | None = None, every_seconds: float | None = None,
            at_start: bool = True, name: str | None = None) -> Callback:
        """Call ``fn(loop)`` every ``every_steps`` steps or every
        ``every_seconds`` s of model time (see :class:`Callback`)."""
        callback = Callback(fn, every_steps, every_seconds, at_start,
                            name or getattr(fn, "__name__", type(fn).__name__))
        self.callbacks.append(callback)
        return callback

    # ------------------------------------------------------------ running
    def _fire(self, callbacks) -> None:
        self.fired = tuple(callbacks)
        for callback in callbacks:
            callback.fn(self)

    def _to_next_step_callback(self) -> int | None:
        gaps = [c.steps - self.clock.step % c.steps for c in self.callbacks if c.steps]
        return min(gaps) if gaps else None

    def run(self, t_end: float | None = None, *, close: bool = True):
        """Step to ``t_end`` (default: the constructor's); returns the state.
        Collective: every rank calls it. At the end, callbacks with a
        ``close()`` method (output files) are closed, unless ``close=False``
        (to continue with another :meth:`run`); if the run fails, those
        with an ``abandon()`` method are abandoned."""
        if t_end is not None:
            self.t_end = float(t_end)
        if not self.t_end >= self.clock.time:
            raise ConfigError(f"t_end = {self.t_end:g} s is before the clock's time "
                              f"{self.clock.time:g} s")
        self.steps, self.stopped = 0, None
        timed = [c for c in self.callbacks if not c.steps]
        stepped = [c for c in self.callbacks if c.steps]
        try:
            t = self.clock.time
            self._fire([c for c in self.callbacks if c.at_start and (
                c.on_time_grid(t) if not c.steps else self.clock.step % c.steps == 0)])
            plan = merged_events(t, self.t_end, [c.seconds or 0.0 for c in timed])
            for t_next, flags in plan:
                self._advance_to(t_next, stepped)
                if self.clock.time == t_next:
                    self._fire([c for c, due in zip(timed, flags) if due])
                if self.stopped:
                    break
        except BaseException:
            for callback in self.callbacks:
                getattr(callback.fn, "abandon", lambda: None)()
            raise
        else:
            if close:
                for callback in self.callbacks:
                    getattr(callback.fn, "close", lambda: None)()
        finally:
            if self.progress is not None:
                self.progress.finish()
        return self.state

    def _advance_to(self, t_next: float, stepped) -> None:
        while self.clock.time < t_next and not self.stopped:
            gap = self._to_next_step_callback()
            limit = self.segment if gap is None else min(self.segment, gap)
            tic = time.perf_counter()
            state, t, n, fault = self.sim.advance(self.state, self.clock.time, t_next,
                                                  self.params, max_steps=limit, report=True)
            wall = time.perf_counter() - tic
            self.stepping_s += wall
            self.state, self.clock.time = state, t
            self.clock.step += n
            self.steps += n
            if fault:
                if self.on_fault is not None:
                    self.on_fault(self, fault)
                raise BlowUp(f"{fault['kind']} after step {self.clock.step}, t = {t:.6g} s "
                             f"(the last good state is loop.state)", fault)
            if n == self.segment and wall > 0:  # aim at segment_wall_s of stepping
                proposal = int(min(max(self.segment * self.segment_wall_s / wall,
                                       self.segment / 4, 1), 4 * self.segment, 1 << 20))
            else:
                proposal = self.segment
            self.segment, self.stopped = self.on_segment(self, proposal)
            self.stopped, self.fired = self.stopped or None, ()
            due = [c for c in stepped if self.clock.step % c.steps == 0]
            if due and n:
                self._fire(due)
            if self.progress is not None:
                self.progress.update(self.clock.time, self.steps)


def _root_proposal(loop, proposal):
    """The root rank's segment length on every rank (one allgather); no stop."""
    context = loop.sim.context
    if context.size == 1:
        return proposal, None
    return context.allgather(proposal)[0], None
