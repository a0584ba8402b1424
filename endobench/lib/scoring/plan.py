"""The cost of a scoring run before it is spent: what the cache holds, what will be asked, how many calls, how long.

The plan is made after the free preflight (so every track is resolved and the cache can be looked up) and before
any paid call. `score-variants --dry-run` prints it and stops; the prediction asset logs it and keeps it in its
metadata. The time is that of the pacing's own schedule (`QuotaPacer.finish_in`) at the quota learned from this
server by an earlier run, else at the configured ceiling, else at the workers' typical speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from endobench.lib.scoring.progress import duration_text
from endobench.lib.scoring.rate_limit import QuotaPacer

# A single client has been seen to score about 1.4 variants per second at 1 MB (docs/alphagenome.md).
TYPICAL_SECONDS_PER_CALL = 1 / 1.4


@dataclass(frozen=True)
class ScoringPlan:
    """What a run will do. `calls` counts paid calls before retries (one per distinct variant to request)."""

    source: str  # "AlphaGenome at 127.0.0.1:50051"
    rows: int
    distinct_variants: int
    cached: int  # distinct variants every score of which the cache holds
    to_request: int
    over_cap: int  # beyond the cap on new calls per run: left for the next run
    no_track_rows: int  # rows whose (readout, biosample) has no track in the catalogue: no call
    calls: int
    per_minute: float | None  # the rate the estimate assumes
    rate_source: str
    estimated_seconds: float

    def lines(self) -> list[str]:
        rate = f"{self.per_minute:,.1f} calls/min" if self.per_minute else "no known rate"
        lines = [
            f"{self.source}: {self.rows:,} rows, {self.distinct_variants:,} distinct variants",
            f"  cached:       {self.cached:,} variants (no call)",
            f"  to request:   {self.to_request:,} variants" +
            (f" ({self.over_cap:,} more over the cap of new calls per run, left for the next run)"
             if self.over_cap else ""),
            f"  calls:        {self.calls:,} (one per variant, before retries)",
            f"  wall time:    about {duration_text(self.estimated_seconds)} at {rate} ({self.rate_source})",
        ]
        if self.no_track_rows:
            lines.append(f"  no track:     {self.no_track_rows:,} rows name a biosample without a track in the "
                         "catalogue (no_track_for_biosample, no call)")
        return lines

    def metadata(self) -> dict[str, object]:
        return {
            "plan_distinct_variants": self.distinct_variants, "plan_cached": self.cached,
            "plan_to_request": self.to_request, "plan_over_cap": self.over_cap, "plan_calls": self.calls,
            "plan_estimated_seconds": round(self.estimated_seconds, 1),
            "plan_rate_per_minute": round(self.per_minute, 2) if self.per_minute else 0.0,
            "plan_rate_source": self.rate_source,
        }


def estimate(calls: int, *, learned: tuple[float, float] | None, ceiling_per_minute: float | None,
             concurrency: int, window_seconds: float = 60.0) -> tuple[float, float | None, str]:
    """(seconds, calls per minute, where that rate comes from) for `calls` calls; `learned` is (calls per minute,
    when it was learned) from the score cache."""
    workers = 60.0 * concurrency / TYPICAL_SECONDS_PER_CALL
    if learned is not None:
        per_minute, when = learned
        pacer = QuotaPacer(ceiling_per_minute, window_seconds=window_seconds, known_per_minute=per_minute,
                           concurrency=concurrency, call_seconds=TYPICAL_SECONDS_PER_CALL)
        day = time.strftime("%Y-%m-%d", time.localtime(when))
        return pacer.finish_in(calls) or 0.0, per_minute, f"the quota learned from this server on {day}"
    if ceiling_per_minute:
        rate = min(ceiling_per_minute, workers)
        source = "the configured ceiling, requests_per_minute" if rate == ceiling_per_minute else \
            f"{concurrency} workers at about {1 / TYPICAL_SECONDS_PER_CALL:.1f} calls/s each, under the ceiling"
        return 60.0 * calls / rate, rate, source + "; no quota learned from this server yet"
    return (60.0 * calls / workers, workers,
            f"{concurrency} workers at about {1 / TYPICAL_SECONDS_PER_CALL:.1f} calls/s each; no ceiling and no "
            "quota learned from this server yet")
