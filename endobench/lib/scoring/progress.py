"""Progress lines a person can follow while a long scoring run calls a remote service."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Protocol


def duration_text(seconds: float) -> str:
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Pace(Protocol):
    """What the pacing knows about the time ahead (`rate_limit.QuotaPacer`)."""

    def finish_in(self, remaining: int) -> float | None: ...

    def calls_per_second(self) -> float | None: ...


class ScoringProgress:
    """Counts of a run in progress, written as one line at most every `every_seconds` (and when asked).

    A line reads: `AlphaGenome: 120 of 400 variants (30%), 2.1/s, ETA 2 min 13 s; 150 calls, 35 cache hits;
    quota 20/min; failed: gene_not_in_output 3; retried: unavailable 2`. Once the pacing knows the quota, the ETA
    is the time its schedule needs for what remains (a burst of early calls says nothing about the rate a quota
    allows); before, it is the rate so far.
    """

    def __init__(self, total: int, *, cache_hits: int, write: Callable[[str], None], every_seconds: float = 30.0,
                 label: str = "AlphaGenome", noun: str = "variants", clock: Callable[[], float] = time.monotonic,
                 pace: Pace | None = None) -> None:
        self.total = total
        self.cache_hits = cache_hits
        self.done = 0
        self.calls = 0
        self.failed: collections.Counter[str] = collections.Counter()
        self.retried: collections.Counter[str] = collections.Counter()
        self._write = write
        self._every = every_seconds
        self._label = label
        self._noun = noun  # what one unit of work is: a variant (one live call each), a call (an Atlas lookup)
        self._clock = clock
        self._pace = pace
        self.started = clock()
        self._last_line = self.started

    def seconds_until_due(self) -> float:
        return max(0.0, self._last_line + self._every - self._clock())

    def maybe_write(self) -> None:
        if self.seconds_until_due() <= 0:
            self.write()

    def write(self) -> None:
        now = self._clock()
        self._last_line = now
        self._write(self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        seconds = self.eta_seconds(now)
        eta = duration_text(seconds) if seconds is not None else "unknown"
        text = (f"{self._label}: {self.done:,} of {self.total:,} {self._noun}{share}, {rate:.2f}/s, ETA {eta}; "
                f"{self.calls:,} calls, {self.cache_hits:,} cache hits")
        quota = self._pace.calls_per_second() if self._pace is not None else None
        if quota:
            text += f"; quota {60 * quota:.1f}/min"
        if self.failed:
            text += "; failed: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.failed.items()))
        if self.retried:
            text += "; retried: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.retried.items()))
        return text

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Seconds until every variant is done: the pacing's schedule once it knows the quota, else the rate so
        far; None when nothing is done yet and the quota is unknown."""
        now = self._clock() if now is None else now
        remaining = self.total - self.done
        ahead = self._pace.finish_in(remaining) if self._pace is not None else None
        if ahead is not None:
            return ahead
        rate = self.done / max(now - self.started, 1e-9)
        return remaining / rate if rate > 0 else None
