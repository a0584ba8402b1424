"""From a predictor's input rows to the calls a scoring run makes, and from the calls' outcomes back to one output
row per input row.

Every row names a readout and (optionally) a biosample; the pair picks one exact track (resolved by the preflight),
and the row becomes a cache key: the variant, the configuration, the scorer, the track and the server. Rows of one
variant share one call. After the calls, each row reads its own gene's score from what its key holds, or says why
it has none (`reason`), so that nothing is dropped. A source that scores from somewhere else (the Atlas) produces
the same keys and outcomes.

With the Atlas, a key can be answered from two sources (`score_cache.LIVE`, `score_cache.ATLAS`): `route` looks both
up and sends each distinct variant where it is answered with the fewest calls: the cache, else the Atlas (an SNV in
the configuration the Atlas was computed with), else the live model; every row says which source its outcome came
from (`source`), and an SNV's AVI score (Atlas only) rides along (`avi_score`).
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from endobench.lib.scoring.alphagenome_atlas import AVI_SCORER, REF_MISMATCH
from endobench.lib.scoring.alphagenome_live import strip_gene_version
from endobench.lib.scoring.score_cache import ATLAS, LIVE, CachedCall, CallKey, ScoreCache
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
    genes_of: dict[CallKey, set[str]] = field(default_factory=dict)  # the genes a gene scorer's key is read for
    parts: KeyParts | None = None

    def avi_key(self, variant: str) -> CallKey:
        """Where a variant's AVI score is kept: the Atlas's, for this configuration and server."""
        parts = self.parts
        return CallKey(variant, parts.predictor, parts.model_version, AVI_SCORER, AVI_SCORER, parts.interval_length,
                       parts.server, ATLAS)


def atlas_key(key: CallKey) -> CallKey:
    """The same question answered by the Atlas."""
    return dataclasses.replace(key, source=ATLAS)


@dataclass
class Routing:
    """Where each key of a run is answered from. `known`: outcomes so far by the rows' (live) keys, each saying its
    source; `atlas` / `live`: per distinct variant, the keys still to ask each source; `avi`: AVI scores known."""

    known: dict[CallKey, CachedCall] = field(default_factory=dict)
    from_cache: set[CallKey] = field(default_factory=set)
    atlas: dict[str, tuple[Any, dict[CallKey, bool]]] = field(default_factory=dict)
    live: dict[str, tuple[Any, dict[CallKey, bool]]] = field(default_factory=dict)
    avi: dict[str, tuple[float, float]] = field(default_factory=dict)
    avi_wanted: set[str] = field(default_factory=set)
    run_failures: dict[CallKey, tuple[str, str]] = field(default_factory=dict)  # this run only: (reason, source)

    def ask_live(self, variant: Any, key: CallKey, by_gene: bool) -> None:
        self.live.setdefault(str(variant), (variant, {}))[1][key] = by_gene


def route(cache: ScoreCache, requests: Requests, atlas_variants: set[str], *, recall_failures: bool) -> Routing:
    """Look every key up in both sources' cached outcomes and say what is left to ask whom. For a variant the Atlas
    may answer (`atlas_variants`): a score from either source is taken as it is (the configuration is the same), an
    Atlas `ref_mismatch` is the row's outcome, a cached live failure too; a variant the Atlas said it lacks goes
    live; anything else asks the Atlas. Any other variant is asked live, as before the Atlas."""
    live_keys = [k for _, keys in requests.wanted.values() for k in keys]
    found = cache.lookup([*live_keys, *(atlas_key(k) for v in atlas_variants for k in requests.wanted[v][1]),
                          *(requests.avi_key(v) for v in atlas_variants)])
    if recall_failures:
        found = {k: v for k, v in found.items() if v.ok}
    routing = Routing()
    for name, (variant, keys) in requests.wanted.items():
        in_atlas = name in atlas_variants
        if in_atlas:
            avi = found.get(requests.avi_key(name))
            if avi is not None and avi.ok:
                routing.avi[name] = avi.scores[""]
            else:
                routing.avi_wanted.add(name)
        for key, by_gene in keys.items():
            genes = requests.genes_of.get(key, ())
            live, atlas = found.get(key), found.get(atlas_key(key)) if in_atlas else None
            answered = next((o for o in (atlas, live) if o is not None and o.ok and o.answers(genes)), None)
            if answered is None and atlas is not None and atlas.outcome == REF_MISMATCH:
                answered = atlas
            if answered is None and live is not None and not live.ok:
                answered = live
            if answered is not None:
                routing.known[key] = answered
                routing.from_cache.add(key)
            elif in_atlas and (atlas is None or atlas.ok):
                routing.atlas.setdefault(name, (variant, {}))[1][key] = by_gene
            else:
                routing.ask_live(variant, key, by_gene)
    routing.avi_wanted &= set(routing.atlas)  # the AVI rides along with a call made anyway, never costs one
    return routing


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
    requests = Requests([None] * n, [""] * n, [""] * n, [""] * n, parts=parts)
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
        if row.readout == EXPRESSION:
            requests.genes_of.setdefault(key, set()).add(requests.genes[i])
    return requests


def assemble(variants: pd.DataFrame, requests: Requests, routing: Routing, skipped_keys: set,
             calls: dict[str, int]) -> ScoringOutcome:
    """One output row per input row, in order: the score of the row's gene from its key's outcome, or the reason;
    `source` says which source gave the outcome ('' when none did), `avi_score` the variant's AVI where the Atlas
    gave one."""
    n = len(variants)
    score, quantile, avi = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    status = np.full(n, FAILED, dtype=object)
    reason = np.array(requests.failures, dtype=object)
    track = np.array(requests.tracks, dtype=object)
    source = np.full(n, "", dtype=object)
    cached = np.zeros(n, dtype=bool)
    known, run_failures = routing.known, routing.run_failures
    for i, key in enumerate(requests.keys):
        if key is None:
            continue
        cached[i] = key in routing.from_cache
        avi[i] = routing.avi.get(key.variant, (np.nan, np.nan))[0]
        if key in skipped_keys:
            status[i], reason[i] = SKIPPED_CALL_CAP, ""
        elif key in run_failures:
            reason[i], source[i] = run_failures[key]
        elif key in known:
            stored = known[key]
            source[i] = stored.source
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
        "track": track, "source": source,
    })[PREDICTION_COLUMNS].assign(avi_score=avi)
    failures = collections.Counter(reason[status == FAILED])
    return ScoringOutcome(scores=frame, api_calls=sum(calls.values()), cache_hits=len(routing.from_cache),
                          failures_by_reason=dict(sorted(failures.items())), calls_by_source=dict(calls))
