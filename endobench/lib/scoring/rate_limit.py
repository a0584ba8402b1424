"""Pacing of remote calls: evenly spaced starts at a rate that follows the server's quota.

The service publishes no rate; it answers RESOURCE_EXHAUSTED when a quota is spent, sometimes with a retry
delay. So the rate adapts: a refusal lowers it by a factor, each success raises it a little (by a fraction of
itself, so the mechanism is the same whether the quota is 20 per minute or 20 per second), a retry delay from the
server pauses every start until it has passed, and a configured ceiling caps it. Only calls started after the
last decrease can lower the rate again: the calls already in flight were sent at the old rate, and their refusals
say nothing new.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

MIN_PER_MINUTE = 1.0


class AdaptiveRateLimiter:
    """Start times for calls, at `per_minute` starts per minute (None: no limit until the first refusal).

    Used from one thread (the dispatcher's): `delay()` says how long until the next call may start, `started()`
    records a start, `succeeded()` and `refused()` feed back the outcome. The clock is injectable.
    """

    def __init__(
        self,
        ceiling_per_minute: float | None,
        *,
        decrease: float = 0.7,
        increase: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ceiling_per_minute is not None and not ceiling_per_minute > 0:
            raise ValueError(f"ceiling_per_minute must be positive or None, got {ceiling_per_minute!r}")
        if not 0 < decrease < 1 or not increase > 0:
            raise ValueError("need 0 < decrease < 1 and increase > 0")
        self.ceiling = ceiling_per_minute
        self.per_minute: float | None = ceiling_per_minute
        self.decrease = decrease
        self.increase = increase
        self._clock = clock
        self._next_start = -float("inf")
        self._paused_until = -float("inf")
        self._last_decrease = -float("inf")
        self._recent_starts: collections.deque[float] = collections.deque(maxlen=16)
        self.decreases = 0

    def delay(self) -> float:
        """Seconds until the next call may start (0 if it may start now)."""
        return max(0.0, max(self._next_start, self._paused_until) - self._clock())

    def started(self) -> float:
        """Record a call starting now; return its start time (pass it to `refused`)."""
        now = self._clock()
        self._recent_starts.append(now)
        if self.per_minute is not None:
            self._next_start = max(self._next_start, now) + 60.0 / self.per_minute
        return now

    def succeeded(self) -> None:
        if self.per_minute is not None:
            raised = self.per_minute * (1.0 + self.increase)
            self.per_minute = raised if self.ceiling is None else min(self.ceiling, raised)

    def refused(self, started_at: float, retry_delay: float | None = None) -> None:
        """A quota refusal of the call started at `started_at`, with the server's retry delay if it sent one."""
        now = self._clock()
        if retry_delay is not None and retry_delay > 0:
            self._paused_until = max(self._paused_until, now + retry_delay)
        if started_at <= self._last_decrease:
            return
        current = self.per_minute if self.per_minute is not None else self._observed_per_minute()
        self.per_minute = max(MIN_PER_MINUTE, current * self.decrease)
        self._next_start = self._recent_starts[-1] + 60.0 / self.per_minute if self._recent_starts else now
        self._last_decrease = now
        self.decreases += 1

    def _observed_per_minute(self) -> float:
        """The start rate of the last few calls, for the first decrease when there was no limit."""
        starts = self._recent_starts
        if len(starts) < 2 or starts[-1] <= starts[0]:
            return 60.0 * max(len(starts), 1)
        return 60.0 * (len(starts) - 1) / (starts[-1] - starts[0])
