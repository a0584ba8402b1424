"""A thread-safe requests-per-minute limiter that spaces calls evenly instead of letting them burst."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Allow at most `per_minute` call starts per minute, with at most `burst` of them back to back.

    Quotas such as "predictions tokens per minute" punish bursts, so with the default `burst=1` starts are
    spaced `60 / per_minute` seconds apart. `acquire` blocks the calling thread until its slot comes; slots
    are handed out in the order threads ask for them. The clock and sleep are injectable so the spacing can
    be checked without waiting.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not per_minute > 0:
            raise ValueError(f"per_minute must be positive, got {per_minute!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.per_minute = float(per_minute)
        self.interval = 60.0 / self.per_minute
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Theoretical arrival time of the next call (GCRA): a call may start once now >= tat - (burst-1)*interval.
        self._tat: float | None = None

    def acquire(self) -> float:
        """Block until a call may start; return the seconds waited."""
        with self._lock:
            now = self._clock()
            tat = now if self._tat is None else max(self._tat, now)
            start = max(now, tat - (self.burst - 1) * self.interval)
            self._tat = tat + self.interval
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)
