"""Progress lines a person can follow while a long scoring run calls a remote service."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ScoringProgress:
    """Counts of a run in progress, written as one line at most every `every_seconds` (and when asked).

    A line reads: `AlphaGenome: 120 of 400 variants (30%), 2.1/s, ETA 2 min 13 s; 150 calls, 35 cache hits;
    failed: gene_not_in_output 3; retried: unavailable 2`.
    """

    def __init__(self, total: int, *, cache_hits: int, write: Callable[[str], None], every_seconds: float = 30.0,
                 label: str = "AlphaGenome", clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.cache_hits = cache_hits
        self.done = 0
        self.calls = 0
        self.failed: collections.Counter[str] = collections.Counter()
        self.retried: collections.Counter[str] = collections.Counter()
        self._write = write
        self._every = every_seconds
        self._label = label
        self._clock = clock
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
        eta = _duration((self.total - self.done) / rate) if rate > 0 else "unknown"
        text = (f"{self._label}: {self.done:,} of {self.total:,} variants{share}, {rate:.2f}/s, ETA {eta}; "
                f"{self.calls:,} calls, {self.cache_hits:,} cache hits")
        if self.failed:
            text += "; failed: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.failed.items()))
        if self.retried:
            text += "; retried: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.retried.items()))
        return text
