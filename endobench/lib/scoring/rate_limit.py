"""Pacing of remote calls at the rate the server's quota allows, learned from the server's own refusals.

The service publishes no rate. Its quota may be a sliding window (at most Q calls in any 60 s), a bucket filled
again at each window, or one refilled continuously, with or without a RetryInfo delay in its RESOURCE_EXHAUSTED.
A client that cuts its rate by a factor at each burst of refusals collapses under a sliding window, which refuses
everything for up to a minute after a burst: the rate is cut again and again. This pacer learns the quota instead:

- until the first refusal, calls start as fast as the ceiling (if any) and the workers allow;
- at the refusal of a call started after the last change, the calls the server counted (those started in the
  trailing window before the refused one, succeeded or still in flight) are a sample of the quota, and the
  estimate is the largest of the last three samples (one refusal the quota did not cause cannot collapse it; a
  quota that shrank shows in every sample). New starts are held until the window frees: until the first counted
  call leaves the window (or the server's retry delay, if longer). One call then probes: refused, it waits again
  (the retry delay, or a twentieth of the window); let through, starts resume;
- from then on at most the estimate starts in any trailing window (a sliding window of our own, which never asks a
  sliding window, a per-window bucket or a continuous bucket for more than it holds), and the estimate grows by
  `growth` after each window without a refusal, so that an underestimated or a raised quota is found.

Refusals of calls started before the last change say nothing new (one that was counted lowers the estimate by one).
A quota learned by an earlier run (kept per server beside the score cache) is where a run starts. `finish_in()`
follows the same schedule forward, so the time it gives is the time the pacing will take.
"""

from __future__ import annotations

import bisect
import collections
import math
import time
from collections.abc import Callable

FREE = "free"  # no quota known: as fast as the ceiling and the workers allow
HOLD = "hold"  # refused: no start until the window frees, then one probe at a time
PACED = "paced"  # at most `quota` starts in any trailing window
MAX_SCHEDULE_STEPS = 100_000  # `finish_in` extrapolates beyond this many future starts
SAMPLES = 3  # refusals the estimate remembers


class QuotaPacer:
    """Start times for calls. Used from one thread (the dispatcher's): `delay()` says how long until the next call
    may start (inf while a probe is out), `started()` records a start and returns its token, and `succeeded()` (the
    quota let the call through, whatever the answer), `refused()` (a quota refusal) or `ended()` (anything else)
    reports how the call started at that token ended. The clock is injectable."""

    def __init__(
        self,
        ceiling_per_minute: float | None = None,
        *,
        window_seconds: float = 60.0,
        known_per_minute: float | None = None,
        growth: float = 0.05,
        concurrency: int = 1,
        call_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ceiling_per_minute is not None and not ceiling_per_minute > 0:
            raise ValueError(f"ceiling_per_minute must be positive or None, got {ceiling_per_minute!r}")
        if not window_seconds > 0 or not growth >= 0 or concurrency < 1:
            raise ValueError("need window_seconds > 0, growth >= 0 and concurrency >= 1")
        if known_per_minute is not None and not known_per_minute > 0:
            raise ValueError(f"known_per_minute must be positive or None, got {known_per_minute!r}")
        self.ceiling = ceiling_per_minute
        self.window = window_seconds
        self.growth = growth
        self.concurrency = concurrency
        self._clock = clock
        self.quota: float | None = None if known_per_minute is None else known_per_minute * window_seconds / 60.0
        # The counts of the last refusals: the quota is their largest, so that one refusal the quota did not cause
        # (or calls another client made) cannot collapse the estimate, while a quota that shrank shows in them all.
        self._samples: collections.deque[int] = collections.deque(
            [] if self.quota is None else [math.floor(self.quota)], maxlen=SAMPLES)
        self.phase = FREE if self.quota is None else PACED
        self.learned = False  # the quota was learned from a refusal in this run
        self.refusals = 0
        self.holds = 0
        # The calls the server counts (in flight, or let through): their start times, for the estimate, and the
        # times they hold a place in the window until, less one window: the start while in flight, the answer once
        # answered (the server counted the call at some moment in between, so the answer is the safe side).
        self._counted: list[float] = []
        self._occupied: list[float] = []
        self._flying: set[float] = set()  # start times of the calls on their way
        self._next_start = -math.inf  # the ceiling's spacing
        self._epoch = -math.inf  # refusals of calls started before it are stale
        self._refused_start = -math.inf
        self._hold_until = -math.inf
        self._probe_out = False
        self._grown_at = clock()
        self._duration = call_seconds  # mean seconds per call (exponentially weighted), for `finish_in`

    def _cap(self) -> int | None:
        return max(1, math.floor(self.quota)) if self.quota and self.phase != FREE else None

    def _trim(self, now: float) -> None:
        for times in (self._counted, self._occupied):
            del times[:bisect.bisect_right(times, now - self.window)]

    def delay(self) -> float:
        """Seconds until the next call may start: 0 now, inf while the probe of a hold is out."""
        now = self._clock()
        if self.phase == HOLD:
            return math.inf if self._probe_out else max(0.0, self._hold_until - now)
        wait = self._next_start - now
        cap = self._cap()
        if cap is not None:
            self._trim(now)
            if len(self._occupied) >= cap:  # the window is full until its oldest calls leave it
                wait = max(wait, self._occupied[len(self._occupied) - cap] + self.window - now)
        return max(0.0, wait)

    def started(self) -> float:
        now = self._clock()
        if self.phase == HOLD:
            self._probe_out = True
        self._trim(now)
        bisect.insort(self._counted, now)
        bisect.insort(self._occupied, now)
        self._flying.add(now)
        self._next_start = max(self._next_start, now) + (60.0 / self.ceiling if self.ceiling else 0.0)
        return now

    def succeeded(self, started_at: float) -> None:
        now = self._clock()
        self._flying.discard(started_at)
        if _remove(self._occupied, started_at):
            bisect.insort(self._occupied, now)
        self._duration = now - started_at if not self._duration else 0.8 * self._duration + 0.2 * (now - started_at)
        if self.phase == HOLD and started_at >= self._epoch:  # the probe got through: the window has freed
            self.phase = PACED if self.quota else FREE
            self._probe_out = False
            self._grown_at = now
        elif self.phase == PACED and now - self._grown_at >= self.window:
            self.quota *= 1.0 + self.growth
            self._grown_at = now

    def ended(self, started_at: float) -> None:
        """The call ended in a way that says nothing about the quota (a transient fault): a probe is probed again."""
        self._flying.discard(started_at)
        if self.phase == HOLD and started_at >= self._epoch:
            self._probe_out = False

    def refused(self, started_at: float, retry_delay: float | None = None) -> None:
        """A quota refusal of the call started at `started_at`, with the server's retry delay if it sent one."""
        now = self._clock()
        self.refusals += 1
        self._flying.discard(started_at)
        _remove(self._counted, started_at)  # the server did not count it
        _remove(self._occupied, started_at)
        wait = retry_delay if retry_delay is not None and retry_delay > 0 else 0.0
        if started_at < self._epoch:  # sent before the last change: says nothing new
            if self._samples and self._refused_start - self.window < started_at < self._refused_start:
                self._samples[-1] = max(1, self._samples[-1] - 1)  # counted in the estimate, but refused too
                self.quota = float(max(self._samples))
            if self.phase == HOLD and wait:
                self._hold_until = max(self._hold_until, now + wait)
            return
        if self.phase == HOLD:  # the probe: the window has not freed yet
            self._probe_out = False
            self._hold_until = max(self._hold_until, now + (wait or self.window / 20))
            return
        counted = [t for t in self._counted if started_at - self.window < t < started_at]
        if counted:  # what the server let through in the window before it refused, the estimate's latest sample
            self._samples.append(len(counted))
            self.quota = float(max(self._samples))
            self.learned = True
        self._refused_start = started_at
        self._epoch = now
        self.phase = HOLD
        self.holds += 1
        self._probe_out = False
        frees = self._occupied[0] + self.window if counted else now + (wait or self.window / 20)
        self._hold_until = max(now + wait, frees)

    def calls_per_second(self) -> float | None:
        """The quota's rate, once it is known (learned here or by an earlier run); None before."""
        return self.quota / self.window if self.quota else None

    def finish_in(self, remaining: int) -> float | None:
        """Seconds until `remaining` more calls have run at this pace (each needing one call), or None while no
        quota is known. Follows the schedule forward: the hold, then at most the quota in any window, no closer
        than the ceiling allows, and no faster than the workers can take them."""
        if self.quota is None or remaining <= 0:
            return None if self.quota is None else 0.0
        now = self._clock()
        remaining -= len(self._flying)  # those are on their way already
        if remaining <= 0:
            return max(0.0, max(self._flying, default=now) + self._duration - now)
        cap = max(1, math.floor(self.quota))
        spacing = max(60.0 / self.ceiling if self.ceiling else 0.0, self._duration / self.concurrency)
        self._trim(now)
        starts = list(self._occupied)
        t = max(now, self._hold_until) if self.phase == HOLD else now
        steps = min(remaining, MAX_SCHEDULE_STEPS)
        for _ in range(steps):
            if len(starts) >= cap:
                t = max(t, starts[-cap] + self.window)
            starts.append(t)
            t += spacing
        last = starts[-1] + (remaining - steps) * max(spacing, self.window / cap)
        return last - now + self._duration

    def per_minute(self) -> float | None:
        """The quota learned in this run, per minute (what the next run starts from), or None."""
        return self.quota * 60.0 / self.window if self.learned and self.quota else None


def _remove(times: list[float], value: float) -> bool:
    i = bisect.bisect_left(times, value)
    if i < len(times) and times[i] == value:
        del times[i]
        return True
    return False
