"""Quota shapes a server may enforce, for the AlphaGenome stand-in and for simulations of a client against them.

AlphaGenome publishes no quota shape ("predictions tokens per minute"), so a client must do well under each:
- `SlidingWindow`: at most `per_window` calls granted in any `window_seconds` (a refused call is not counted);
- `WindowBucket`: `per_window` calls per window, the bucket filled again at each window boundary (windows start at
  the first call);
- `ContinuousBucket`: a token bucket of `per_window` refilled evenly over the window, full at the start.
Each, when it refuses, says how long until a call would be granted (what a RetryInfo delay carries). Every shape
records its grants, so that `used_fraction()` says how much of what it offered a client used.
"""

from __future__ import annotations

import collections
import math


class QuotaShape:
    """`take(now)`: None when a call is granted, else the seconds until one would be."""

    name = "quota"

    def __init__(self, per_window: int, window_seconds: float = 60.0, *, retry_info: bool = False) -> None:
        self.per_window = per_window
        self.window_seconds = window_seconds
        self.retry_info = retry_info
        self.started: float | None = None
        self.granted: list[float] = []
        self.refused = 0

    def take(self, now: float) -> float | None:
        if self.started is None:
            self.started = now
        wait = self._wait(now)
        if wait is None:
            self.granted.append(now)
        else:
            self.refused += 1
        return wait

    def _wait(self, now: float) -> float | None:
        raise NotImplementedError

    def offered(self) -> float:
        """Calls the quota could have granted from the first call to the last granted one."""
        if not self.granted:
            return float(self.per_window)
        return self.per_window * (math.floor((self.granted[-1] - self.started) / self.window_seconds) + 1)

    def used_fraction(self) -> float:
        return len(self.granted) / self.offered() if self.granted else 0.0

    def describe(self) -> str:
        delay = "RetryInfo" if self.retry_info else "no retry delay"
        return f"{self.name}, {self.per_window} per {self.window_seconds:g} s, {delay}"


class SlidingWindow(QuotaShape):
    name = "sliding window"

    def __init__(self, per_window: int, window_seconds: float = 60.0, *, retry_info: bool = False) -> None:
        super().__init__(per_window, window_seconds, retry_info=retry_info)
        self._recent: collections.deque[float] = collections.deque()

    def _wait(self, now: float) -> float | None:
        while self._recent and self._recent[0] <= now - self.window_seconds:
            self._recent.popleft()
        if len(self._recent) < self.per_window:
            self._recent.append(now)
            return None
        return self._recent[0] + self.window_seconds - now


class WindowBucket(QuotaShape):
    name = "bucket refilled each window"

    def __init__(self, per_window: int, window_seconds: float = 60.0, *, retry_info: bool = False) -> None:
        super().__init__(per_window, window_seconds, retry_info=retry_info)
        self._window = -1
        self._used = 0

    def _wait(self, now: float) -> float | None:
        window = math.floor((now - self.started) / self.window_seconds)
        if window != self._window:
            self._window, self._used = window, 0
        if self._used < self.per_window:
            self._used += 1
            return None
        return self.started + (window + 1) * self.window_seconds - now


class ContinuousBucket(QuotaShape):
    name = "bucket refilled continuously"

    def __init__(self, per_window: int, window_seconds: float = 60.0, *, retry_info: bool = False) -> None:
        super().__init__(per_window, window_seconds, retry_info=retry_info)
        self.refill_per_second = per_window / window_seconds
        self._tokens = float(per_window)
        self._updated: float | None = None

    def _wait(self, now: float) -> float | None:
        if self._updated is None:
            self._updated = now
        self._tokens = min(self.per_window, self._tokens + (now - self._updated) * self.refill_per_second)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self.refill_per_second

    def offered(self) -> float:
        if not self.granted:
            return float(self.per_window)
        return self.per_window + (self.granted[-1] - self.started) * self.refill_per_second


SHAPES = (SlidingWindow, WindowBucket, ContinuousBucket)
