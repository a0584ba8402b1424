"""From a predictor's input rows to the calls a scoring run makes, and from the calls' outcomes back to one output
row per input row.

Every row names a readout and (optionally) a biosample; the pair picks one exact track (resolved by the preflight),
and the row becomes a cache key: the variant, the configuration, the scorer, the track and the server. Rows of one
variant share one call. After the calls, each row reads its own gene's score from what its key holds, or says why
it has none (`reason`), so that nothing is dropped. A source that scores from somewhere else (the Atlas) produces
the same keys and outcomes.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from endobench.lib.scoring.alphagenome_live import strip_gene_version
from endobench.lib.scoring.score_cache import CachedCall, CallKey
from endobench.resources.predictors import (
    EXPRESSION,
    FAILED,
    PREDICTION_COLUMNS,
    SCORED,
    SKIPPED_CALL_CAP,
    ScoringOutcome,
)

GENE_NOT_IN_OUTPUT = "gene_not_in_output"
NO_TRACK_FOR_BIOSAMPLE = "no_track_for_biosample"
MISSING_GENE_ID = "missing_gene_id"
INVALID_VARIANT = "invalid_variant"
UNSUPPORTED_READOUT = "unsupported_readout"
NOT_REQUESTED = "not_requested"


@dataclass(frozen=True)
class KeyParts:
    """What a cache key takes besides the row: the configuration and the server."""

    predictor: str
    model_version: str
    interval_length: int
    server: str
    scorers: dict[str, str]  # readout -> scorer name
    fallback: dict[str, str]  # readout -> biosample of rows that name none


@dataclass
class Requests:
    """The rows of a run turned into calls: per row its cache key (None when it cannot be asked), gene, failure and
    track; per distinct variant the SDK variant and its keys (True for the gene scorer's)."""

    keys: list[CallKey | None]
    genes: list[str]
    failures: list[str]
    tracks: list[str]
    wanted: dict[str, tuple[Any, dict[CallKey, bool]]] = field(default_factory=dict)


def _biosamples(variants: pd.DataFrame, fallback: dict[str, str]) -> list[tuple[str, str | None]]:
    """(readout, biosample) per row: the row's own, else the readout's fallback (None for a readout without one)."""
    given = variants["biosample"] if "biosample" in variants.columns else pd.Series(pd.NA, variants.index)
    return [(r, fallback.get(r) if pd.isna(b) else str(b)) for r, b in zip(variants["readout"], given)]


def pairs(variants: pd.DataFrame, fallback: dict[str, str]) -> set[tuple[str, str]]:
    """The (readout, biosample) pairs whose tracks a run reads."""
    return {(r, b) for r, b in _biosamples(variants, fallback) if r in fallback}


def build_requests(variants: pd.DataFrame, tracks: dict[tuple[str, str], str | None], parts: KeyParts) -> Requests:
    from alphagenome.data import genome

    n = len(variants)
    requests = Requests([None] * n, [""] * n, [""] * n, [""] * n)
    for i, (row, pair) in enumerate(zip(variants.itertuples(index=False), _biosamples(variants, parts.fallback))):
        if row.readout not in parts.scorers:
            requests.failures[i] = UNSUPPORTED_READOUT
            continue
        track = tracks[pair]
        if track is None:
            requests.failures[i] = NO_TRACK_FOR_BIOSAMPLE
            continue
        requests.tracks[i] = track
        if row.readout == EXPRESSION:
            if pd.isna(row.gene_id) or not str(row.gene_id):
                requests.failures[i] = MISSING_GENE_ID
                continue
            requests.genes[i] = strip_gene_version(str(row.gene_id))
        try:
            variant = genome.Variant(str(row.chrom), int(row.pos), str(row.ref), str(row.alt))
        except (ValueError, TypeError):
            requests.failures[i] = INVALID_VARIANT
            continue
        key = CallKey(str(variant), parts.predictor, parts.model_version, parts.scorers[row.readout], track,
                      parts.interval_length, parts.server)
        requests.keys[i] = key
        requests.wanted.setdefault(key.variant, (variant, {}))[1][key] = row.readout == EXPRESSION
    return requests


def assemble(variants: pd.DataFrame, requests: Requests, known: dict[CallKey, CachedCall], from_cache: set,
             run_failures: dict[CallKey, str], skipped_keys: set, calls: int) -> ScoringOutcome:
    """One output row per input row, in order: the score of the row's gene from its key's outcome, or the reason."""
    n = len(variants)
    score, quantile = np.full(n, np.nan), np.full(n, np.nan)
    status = np.full(n, FAILED, dtype=object)
    reason = np.array(requests.failures, dtype=object)
    track = np.array(requests.tracks, dtype=object)
    cached = np.zeros(n, dtype=bool)
    for i, key in enumerate(requests.keys):
        if key is None:
            continue
        cached[i] = key in from_cache
        if key in skipped_keys:
            status[i], reason[i] = SKIPPED_CALL_CAP, ""
        elif key in run_failures:
            reason[i] = run_failures[key]
        elif key in known:
            stored = known[key]
            if not stored.ok:
                reason[i] = stored.outcome
            elif requests.genes[i] in stored.scores:
                score[i], quantile[i] = stored.scores[requests.genes[i]]
                status[i], reason[i] = SCORED, ""
                strand = stored.strands.get(requests.genes[i], ".")
                track[i] = key.track if strand == "." else f"{key.track} ({strand})"
            else:
                reason[i] = GENE_NOT_IN_OUTPUT
        else:
            reason[i] = NOT_REQUESTED
    frame = pd.DataFrame({
        "variant_id": variants["variant_id"].to_numpy(), "gene_id": variants["gene_id"].to_numpy(),
        "score": score, "quantile_score": quantile, "status": status, "reason": reason, "from_cache": cached,
        "track": track,
    })[PREDICTION_COLUMNS]
    failures = collections.Counter(reason[status == FAILED])
    return ScoringOutcome(scores=frame, api_calls=calls, cache_hits=len(from_cache),
                          failures_by_reason=dict(sorted(failures.items())))
