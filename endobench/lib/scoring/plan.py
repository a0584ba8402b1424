"""The cost of a scoring run before it is spent: what the cache holds, what each source will be asked (the AlphaGenome
Atlas, the live model), how many calls, how long.

The plan is made after the free preflight (so every track is resolved and the cache can be looked up) and before
any paid call. `score-variants --dry-run` prints it and stops; the prediction asset logs it and keeps it in its
metadata. Each source's time is that of the pacing's own schedule (`QuotaPacer.finish_in`) at the quota learned from
this server's service by an earlier run, else at the configured ceiling, else at the workers' typical speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from endobench.lib.scoring.progress import duration_text
from endobench.lib.scoring.rate_limit import QuotaPacer

# A single client has been seen to score about 1.4 variants per second at 1 MB (docs/alphagenome.md).
TYPICAL_SECONDS_PER_CALL = 1 / 1.4


@dataclass(frozen=True)
class AtlasPlan:
    """The Atlas's part of a run: `status` is "on", or why the Atlas is not read (off, another configuration, not
    served); SNVs in `calls` calls (`listings` of them intervals, the rest lookups of one variant)."""

    status: str
    variants: int = 0
    calls: int = 0
    listings: int = 0
    per_minute: float | None = None
    rate_source: str = ""
    estimated_seconds: float = 0.0


@dataclass(frozen=True)
class ScoringPlan:
    """What a run will do. `calls` counts the live model's paid calls before retries (one per distinct variant to
    request from it); `atlas` the Atlas's part, when the predictor has one."""

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
    estimated_seconds: float  # the live calls'
    atlas: AtlasPlan | None = None

    def lines(self) -> list[str]:
        lines = [
            f"{self.source}: {self.rows:,} rows, {self.distinct_variants:,} distinct variants",
            f"  cached:       {self.cached:,} variants (no call)",
        ]
        atlas = self.atlas
        if atlas is not None and atlas.status == "on":
            lines.append(f"  Atlas:        {atlas.variants:,} SNVs in {atlas.calls:,} calls ({atlas.listings:,} listings "
                         f"of up to 32 bp, {atlas.calls - atlas.listings:,} lookups of one variant), about "
                         f"{duration_text(atlas.estimated_seconds)} at {_rate(atlas.per_minute)} ({atlas.rate_source})")
        elif atlas is not None:
            lines.append(f"  Atlas:        not read: {atlas.status}")
        live = " from the live model" if atlas is not None else ""
        lines += [
            f"  to request:   {self.to_request:,} variants{live}" +
            (f" ({self.over_cap:,} more over the cap of new calls per run, left for the next run)"
             if self.over_cap else ""),
            f"  calls:        {self.calls:,} (one per variant, before retries), about "
            f"{duration_text(self.estimated_seconds)} at {_rate(self.per_minute)} ({self.rate_source})",
            f"  wall time:    about {duration_text(self.total_seconds())}" + (
                " (the Atlas first, then the live model; an SNV the Atlas turns out to lack is asked live too)"
                if atlas is not None and atlas.status == "on" else ""),
        ]
        if self.no_track_rows:
            lines.append(f"  no track:     {self.no_track_rows:,} rows name a biosample without a track in the "
                         "catalogue (no_track_for_biosample, no call)")
        return lines

    def total_seconds(self) -> float:
        return self.estimated_seconds + (self.atlas.estimated_seconds if self.atlas is not None else 0.0)

    def metadata(self) -> dict[str, object]:
        out: dict[str, object] = {
            "plan_distinct_variants": self.distinct_variants, "plan_cached": self.cached,
            "plan_to_request": self.to_request, "plan_over_cap": self.over_cap, "plan_calls": self.calls,
            "plan_estimated_seconds": round(self.total_seconds(), 1),
            "plan_live_estimated_seconds": round(self.estimated_seconds, 1),
            "plan_rate_per_minute": round(self.per_minute, 2) if self.per_minute else 0.0,
            "plan_rate_source": self.rate_source,
        }
        if self.atlas is not None:
            out.update({
                "plan_atlas": self.atlas.status, "plan_atlas_variants": self.atlas.variants,
                "plan_atlas_calls": self.atlas.calls, "plan_atlas_listings": self.atlas.listings,
                "plan_atlas_estimated_seconds": round(self.atlas.estimated_seconds, 1),
                "plan_atlas_rate_per_minute": round(self.atlas.per_minute, 2) if self.atlas.per_minute else 0.0,
                "plan_atlas_rate_source": self.atlas.rate_source,
            })
        return out


def _rate(per_minute: float | None) -> str:
    return f"{per_minute:,.1f} calls/min" if per_minute else "no known rate"


def estimate(calls: int, *, learned: tuple[float, float] | None, ceiling_per_minute: float | None,
             concurrency: int, window_seconds: float = 60.0,
             seconds_per_call: float = TYPICAL_SECONDS_PER_CALL) -> tuple[float, float | None, str]:
    """(seconds, calls per minute, where that rate comes from) for `calls` calls; `learned` is (calls per minute,
    when it was learned) from the score cache; `seconds_per_call` a call's typical time (the service's)."""
    workers = 60.0 * concurrency / seconds_per_call
    if learned is not None:
        per_minute, when = learned
        pacer = QuotaPacer(ceiling_per_minute, window_seconds=window_seconds, known_per_minute=per_minute,
                           concurrency=concurrency, call_seconds=seconds_per_call)
        day = time.strftime("%Y-%m-%d", time.localtime(when))
        return pacer.finish_in(calls) or 0.0, per_minute, f"the quota learned from this server on {day}"
    if ceiling_per_minute:
        rate = min(ceiling_per_minute, workers)
        source = "the configured ceiling, requests_per_minute" if rate == ceiling_per_minute else \
            f"{concurrency} workers at about {1 / seconds_per_call:.1f} calls/s each, under the ceiling"
        return 60.0 * calls / rate, rate, source + "; no quota learned from this server yet"
    return (60.0 * calls / workers, workers,
            f"{concurrency} workers at about {1 / seconds_per_call:.1f} calls/s each; no ceiling and no "
            "quota learned from this server yet")
