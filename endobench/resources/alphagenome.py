"""The AlphaGenome predictor: one `score_variant` RPC per distinct variant, paced to the quota, cached.

The SDK's own `score_variants` stops at the first error and its per-call retry only covers two status codes,
so this resource runs its own loop. One dispatcher thread keeps a queue of variants, each with a not-before
time, and hands them to at most `max_concurrency` workers that make exactly one call each and return. A variant
that must wait (a transient error's backoff, the server's retry delay) goes back into the queue and holds no
worker. Call starts are paced by an adaptive limiter that slows down on RESOURCE_EXHAUSTED and creeps back up on
success. A refusal of the key or the project stops the run at once and nothing of it is cached; per-variant
failures are recorded; every outcome is committed to the score cache as it arrives. Requests are built and
responses parsed by the SDK's `DnaClient.score_variant` itself (its retry decorator bypassed so that retries
happen in exactly one place); against the public endpoint or a loopback server the code path is the same.

Each row is scored on one exactly named track: the `(readout, biosample)` pair maps to an AlphaGenome track
name (`DEFAULT_TRACKS`, overridable with the `tracks` setting), never the mean of every track sharing an
ontology term.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import heapq
import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import grpc
import numpy as np
import pandas as pd
from pydantic import Field

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.scoring.progress import ScoringProgress
from endobench.lib.scoring.rate_limit import AdaptiveRateLimiter
from endobench.lib.scoring.rpc_errors import Kind, RpcFailure, classify
from endobench.lib.scoring.score_cache import CachedCall, CallKey, ScoreCache
from endobench.resources.predictors import (
    ACCESSIBILITY,
    EXPRESSION,
    FAILED,
    PREDICTION_COLUMNS,
    SCORED,
    SKIPPED_CALL_CAP,
    ScoringOutcome,
    TrainingSplit,
    VariantEffectPredictor,
)

PREDICTOR_NAME = "alphagenome"
SUPPORTED_INTERVAL_LENGTHS = (16_384, 131_072, 524_288, 1_048_576)
MODEL_VERSIONS = ("ALL_FOLDS", "FOLD_0", "FOLD_1", "FOLD_2", "FOLD_3")
API_KEY_HEADER = "x-goog-api-key"
API_KEY_VARIABLE = "ALPHAGENOME_API_KEY"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
ONTOLOGY_PREFIXES = ("EFO", "UBERON", "CL", "CLO", "NTR")

# (readout, biosample ontology CURIE) -> the exact AlphaGenome track name (track metadata `name`) scored for it.
# Accessibility of any other biosample uses its DNase track, `<CURIE> DNase-seq` (every DNase track of the
# catalogue is named so); other expression biosamples need an entry in the `tracks` setting.
DEFAULT_TRACKS: Mapping[tuple[str, str], str] = {
    (ACCESSIBILITY, "EFO:0002784"): "EFO:0002784 DNase-seq",  # GM12878, the LCL of Degner's dsQTLs
    (ACCESSIBILITY, "EFO:0002067"): "EFO:0002067 DNase-seq",  # K562
    (EXPRESSION, "UBERON:0013756"): "UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq",
    (EXPRESSION, "EFO:0000572"): "EFO:0000572 gtex Cells_EBV-transformed_lymphocytes polyA plus RNA-seq",
}
DNASE_TRACK = "{curie} DNase-seq"

GENE_NOT_IN_OUTPUT = "gene_not_in_output"
TRACK_NOT_IN_OUTPUT = "track_not_in_output"
NO_TRACK_FOR_BIOSAMPLE = "no_track_for_biosample"
MISSING_GENE_ID = "missing_gene_id"
INVALID_VARIANT = "invalid_variant"
UNSUPPORTED_READOUT = "unsupported_readout"
QUOTA_EXHAUSTED = "quota_exhausted"
INCOMPLETE_RESPONSE = "incomplete_response"
REJECTED_BY_CLIENT = "rejected_by_client"
UNREADABLE_RESPONSE = "unreadable_response"
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


class AlphaGenomeConfigError(ValueError):
    """A predictor setting is out of range; the message names the setting and the allowed values."""


class ApiKeyRefused(dg.Failure):
    """The service refused the key or the project: no request can succeed, so the run stops."""


def strip_gene_version(gene_id: str) -> str:
    """`ENSG00000187634.11` -> `ENSG00000187634` (GTEx ids carry a version, AlphaGenome's do not)."""
    return gene_id.split(".", 1)[0]


def track_key(readout: str, biosample: str) -> str:
    """The key of a `tracks` override: `accessibility|EFO:0002784`."""
    return f"{readout}|{biosample}"


def _is_curie(value: str) -> bool:
    prefix, _, local = value.partition(":")
    return prefix in ONTOLOGY_PREFIXES and local.isdigit()


def _sdk():
    from alphagenome.data import genome
    from alphagenome.models import dna_client, dna_output, variant_scorers

    return genome, dna_client, dna_output, variant_scorers


class _Secret:
    """A value that prints as `<secret>`, so no repr, log line or traceback shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _CallOptions(grpc.StreamStreamClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Give every call a deadline (the SDK sets none, so a hung stream would block a worker forever) and the API
    key header (added here rather than in the client's metadata, so that no client object holds the key)."""

    def __init__(self, seconds: float, key: _Secret) -> None:
        self.seconds = seconds
        self.key = key

    def _details(self, details: grpc.ClientCallDetails) -> _CallDetails:
        timeout = self.seconds if details.timeout is None else min(details.timeout, self.seconds)
        metadata = [*(details.metadata or ()), (API_KEY_HEADER, self.key.reveal())]
        return _CallDetails(details.method, timeout, metadata, details.credentials,
                            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)


@dataclass
class _Unit:
    """One distinct request: a variant, the scorers it carries, and the (scorer, track) keys to read back."""

    variant: Any
    scorers: list[Any]
    keys: list[CallKey]
    key_scorer: list[int]  # index into `scorers` for each key
    key_by_gene: list[bool]  # gene scorer (one row per gene) or not
    transient_failures: int = 0


@dataclass
class _Attempt:
    """What one call produced: scores by key, or a failure for all the unit's keys."""

    sent: bool = True
    sent_at: float = 0.0  # when the call left (monotonic clock)
    answered_at: float = 0.0  # when its answer came back
    scores: dict[CallKey, dict[str, tuple[float, float]]] = field(default_factory=dict)
    strands: dict[CallKey, dict[str, str]] = field(default_factory=dict)
    track_missing: list[CallKey] = field(default_factory=list)
    failure: RpcFailure | None = None


class AlphaGenomePredictor(VariantEffectPredictor):
    """Variant effects from the AlphaGenome API (DNase center-mask for accessibility, RNA-seq gene LFC for eQTLs).

    `api_key` comes only from `dg.EnvVar("ALPHAGENOME_API_KEY")` in wiring and never prints. An empty `address`
    uses the public endpoint over TLS; a loopback address (`127.0.0.1:PORT`, `localhost:PORT`) gets an insecure
    channel, any other address TLS. Scores are cached under the run's cache directory, so reruns only pay for
    new variants.
    """

    api_key: str = Field(repr=False, description="The AlphaGenome API key; wire it as dg.EnvVar('ALPHAGENOME_API_KEY')")
    address: str = ""
    interval_length: int = 1_048_576
    model_version: str = "ALL_FOLDS"
    dnase_ontology: str = Field("EFO:0002067", description="biosample of accessibility rows without a biosample")
    rna_ontology: str = Field("UBERON:0013756", description="biosample of expression rows without a biosample")
    tracks: dict[str, str] = Field(default_factory=dict,
                                   description="track name overrides: {'<readout>|<CURIE>': '<exact track name>'}")
    max_concurrency: int = 4
    requests_per_minute: float = Field(240.0, description="ceiling of the adaptive call rate; 0: no ceiling")
    max_new_calls_per_run: int = 5_000
    call_deadline_seconds: float = 300.0
    max_retries: int = 8
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 60.0
    quota_patience_seconds: float = 900.0
    progress_interval_seconds: float = 30.0
    connect_timeout_seconds: float = 60.0
    recall_cached_failures: bool = False
    fold_regions_path: str = Field("", description="AlphaGenome's fold regions (the SDK's regions file, bundled in "
                                                   "data/sample) for telling which variants a FOLD_k model held out")

    def check_config(self) -> None:
        """Raise `AlphaGenomeConfigError` naming every setting that is out of range."""
        problems = []
        if self.interval_length not in SUPPORTED_INTERVAL_LENGTHS:
            problems.append(f"interval_length={self.interval_length:,} is not one the model accepts; "
                            f"use one of {', '.join(f'{n:,}' for n in SUPPORTED_INTERVAL_LENGTHS)}")
        if self.model_version not in MODEL_VERSIONS:
            problems.append(f"model_version={self.model_version!r} is unknown; use one of {', '.join(MODEL_VERSIONS)}")
        for name in ("dnase_ontology", "rna_ontology"):
            if not _is_curie(getattr(self, name)):
                problems.append(f"{name}={getattr(self, name)!r} is not an ontology CURIE such as EFO:0002067 or "
                                "UBERON:0013756")
        for key, name in self.tracks.items():
            readout, _, biosample = key.partition("|")
            if readout not in self.supported_readouts() or not _is_curie(biosample) or not name.strip():
                problems.append(f"tracks[{key!r}]={name!r}: keys are '<readout>|<CURIE>' with readout "
                                f"{' or '.join(sorted(self.supported_readouts()))}, values exact track names")
        if not 1 <= self.max_concurrency <= 64:
            problems.append(f"max_concurrency={self.max_concurrency} must be between 1 and 64 (4 is what the API "
                            "tolerates in practice)")
        if self.requests_per_minute < 0:
            problems.append(f"requests_per_minute={self.requests_per_minute} must be >= 0 (0 means no ceiling)")
        if self.max_new_calls_per_run < 0:
            problems.append(f"max_new_calls_per_run={self.max_new_calls_per_run} must be >= 0")
        for name in ("call_deadline_seconds", "quota_patience_seconds", "progress_interval_seconds"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}={getattr(self, name)} must be positive")
        if self.max_retries < 0:
            problems.append(f"max_retries={self.max_retries} must be >= 0")
        if self.initial_backoff_seconds < 0 or self.max_backoff_seconds < self.initial_backoff_seconds:
            problems.append("backoff must satisfy 0 <= initial_backoff_seconds <= max_backoff_seconds")
        if problems:
            raise AlphaGenomeConfigError("AlphaGenomePredictor settings: " + "; ".join(problems))

    def predictor_name(self) -> str:
        return PREDICTOR_NAME

    def training_split(self, variants: pd.DataFrame) -> TrainingSplit:
        """Held out: in the validation or test regions of a FOLD_k model and in none of its training regions (from
        the SDK's fold definition), and beyond training context where no training input reached either; NA for
        ALL_FOLDS, which trained on every region."""
        from endobench.lib.genome.folds import fold_split, held_out_scheme

        if self.model_version != "ALL_FOLDS" and not self.fold_regions_path:
            return TrainingSplit("unknown: no fold regions file configured (fold_regions_path)")
        split = fold_split(variants, self.model_version, Path(self.fold_regions_path)) if len(variants) else None
        if split is None:
            return TrainingSplit(held_out_scheme(self.model_version))
        return TrainingSplit(held_out_scheme(self.model_version), split.held_out, split.beyond_context)

    def track_table(self) -> dict[str, str]:
        """The named tracks in force: the defaults with the `tracks` overrides on top, keyed `readout|CURIE`."""
        return {track_key(*pair): name for pair, name in DEFAULT_TRACKS.items()} | dict(self.tracks)

    def track_name(self, readout: str, biosample: str) -> str | None:
        """The exact track scored for a readout in a biosample, or None when none is known."""
        name = self.track_table().get(track_key(readout, biosample))
        if name is None and readout == ACCESSIBILITY and _is_curie(biosample):
            name = DNASE_TRACK.format(curie=biosample)
        return name

    def configuration_id(self) -> str:
        """Model version, interval length, and a digest of everything that picks the tracks (the track table with
        its overrides, and the biosamples used for rows that name none)."""
        self.check_config()
        chosen = {"tracks": sorted(self.track_table().items()), "dnase": self.dnase_ontology, "rna": self.rna_ontology}
        digest = hashlib.sha256(json.dumps(chosen).encode()).hexdigest()[:10]
        return f"{PREDICTOR_NAME}|{self.model_version}|{self.interval_length}|tracks={digest}"

    def window_length(self) -> int:
        self.check_config()
        return self.interval_length

    def needs_local_sequence(self) -> bool:
        return False

    def supported_readouts(self) -> frozenset[str]:
        return frozenset({ACCESSIBILITY, EXPRESSION})

    def scorer_for(self, readout: str):
        """The SDK scorer used for a readout."""
        _, _, dna_output, variant_scorers = _sdk()
        if readout == ACCESSIBILITY:
            return variant_scorers.CenterMaskScorer(
                requested_output=dna_output.OutputType.DNASE, width=501,
                aggregation_type=variant_scorers.AggregationType.DIFF_LOG2_SUM,
            )
        if readout == EXPRESSION:
            return variant_scorers.GeneMaskLFCScorer(requested_output=dna_output.OutputType.RNA_SEQ)
        raise KeyError(readout)

    def make_client(self):
        """A `DnaClient` whose every call carries the key and `call_deadline_seconds`; the caller closes
        `client._channel`. Neither the client nor its metadata holds the key."""
        self.check_config()
        _, dna_client, _, _ = _sdk()
        version = dna_client.ModelVersion[self.model_version]
        host = self.address.rsplit(":", 1)[0] if self.address else ""
        if host in LOOPBACK_HOSTS:
            channel = grpc.insecure_channel(self.address, options=_CHANNEL_OPTIONS)
        else:
            try:
                # create() opens and waits for the TLS channel; the key is added per call by _CallOptions instead.
                channel = dna_client.create("", model_version=version, timeout=self.connect_timeout_seconds,
                                            address=self.address or None)._channel
            except grpc.FutureTimeoutError:
                where = self.address or "the public AlphaGenome endpoint"
                raise dg.Failure(
                    f"could not connect to {where} within {self.connect_timeout_seconds:.0f} s: check the network "
                    "and ENDOBENCH_ALPHAGENOME_ADDRESS (empty for the public endpoint)",
                ) from None
        interceptor = _CallOptions(self.call_deadline_seconds, _Secret(self.api_key))
        return dna_client.DnaClient(channel=grpc.intercept_channel(channel, interceptor), model_version=version)

    def score_variants(
        self, variants: pd.DataFrame, *, reference: ReferenceGenome | None = None, cache_dir: Path,
        log: logging.Logger,
    ) -> ScoringOutcome:
        """Score every row; a `biosample` column (ontology CURIE per row) picks the track, else the readout's
        `dnase_ontology` / `rna_ontology`. Raises `ApiKeyRefused` when the service refuses the key or project."""
        self.check_config()
        genome, _, _, _ = _sdk()
        n_rows = len(variants)
        row_keys: list[CallKey | None] = [None] * n_rows
        row_gene = [""] * n_rows
        row_failure = [""] * n_rows
        row_track = [""] * n_rows
        fallback = {ACCESSIBILITY: self.dnase_ontology, EXPRESSION: self.rna_ontology}
        biosamples = variants["biosample"] if "biosample" in variants.columns else pd.Series(pd.NA, variants.index)
        scorers = {readout: self.scorer_for(readout) for readout in self.supported_readouts()}  # once, not per row
        wanted: dict[str, tuple[Any, dict[CallKey, bool]]] = {}  # variant -> (Variant, {key: by_gene})
        tracks: dict[tuple[str, str], str | None] = {}  # (readout, biosample) -> track: a few pairs, looked up once
        for i, (row, biosample) in enumerate(zip(variants.itertuples(index=False), biosamples)):
            if row.readout not in scorers:
                row_failure[i] = UNSUPPORTED_READOUT
                continue
            pair = (row.readout, fallback[row.readout] if pd.isna(biosample) else str(biosample))
            if pair not in tracks:
                tracks[pair] = self.track_name(*pair)
            track = tracks[pair]
            if track is None:
                row_failure[i] = NO_TRACK_FOR_BIOSAMPLE
                continue
            row_track[i] = track
            if row.readout == EXPRESSION:
                if pd.isna(row.gene_id) or not str(row.gene_id):
                    row_failure[i] = MISSING_GENE_ID
                    continue
                row_gene[i] = strip_gene_version(str(row.gene_id))
            try:
                variant = genome.Variant(str(row.chrom), int(row.pos), str(row.ref), str(row.alt))
            except (ValueError, TypeError):
                row_failure[i] = INVALID_VARIANT
                continue
            key = CallKey(str(variant), PREDICTOR_NAME, self.model_version, scorers[row.readout].name, track,
                          self.interval_length)
            row_keys[i] = key
            wanted.setdefault(key.variant, (variant, {}))[1][key] = row.readout == EXPRESSION
        if n_failed := sum(1 for f in row_failure if f == NO_TRACK_FOR_BIOSAMPLE):
            log.warning(f"AlphaGenome: {n_failed:,} rows name a biosample with no known track; add it to the "
                        "`tracks` setting (ENDOBENCH_ALPHAGENOME_TRACKS) as '<readout>|<CURIE>': '<track name>'")

        with ScoreCache(cache_dir) as cache:
            known: dict[CallKey, CachedCall] = cache.lookup(k for _, keys in wanted.values() for k in keys)
            if self.recall_cached_failures:
                known = {k: v for k, v in known.items() if v.ok}
            from_cache = set(known)
            pending = [self._unit(variant, {k: g for k, g in keys.items() if k not in known}, scorers)
                       for variant, keys in wanted.values() if any(k not in known for k in keys)]
            to_call, skipped = pending[: self.max_new_calls_per_run], pending[self.max_new_calls_per_run:]
            skipped_keys = {k for u in skipped for k in u.keys}
            log.info(
                f"AlphaGenome: {n_rows:,} rows, {len(wanted):,} distinct variants; {len(from_cache):,} scores cached, "
                f"{len(to_call):,} variants to request"
                + (f", {len(skipped):,} over the cap of {self.max_new_calls_per_run:,} new calls per run"
                   if skipped else "")
            )
            run_failures: dict[CallKey, str] = {}
            progress = ScoringProgress(len(to_call), cache_hits=len(from_cache), write=log.info,
                                       every_seconds=self.progress_interval_seconds)
            self._run_calls(to_call, cache, known, run_failures, progress)

        return self._assemble(variants, row_keys, row_gene, row_failure, row_track, known, from_cache, run_failures,
                              skipped_keys, progress.calls)

    def _unit(self, variant, keys: dict[CallKey, bool], scorers: dict[str, Any]) -> _Unit:
        by_name = {s.name: s for s in scorers.values()}
        needed = list(dict.fromkeys(k.scorer for k in keys))
        return _Unit(variant, [by_name[n] for n in needed], list(keys), [needed.index(k.scorer) for k in keys],
                     list(keys.values()))

    def _run_calls(self, units: list[_Unit], cache: ScoreCache, known: dict, run_failures: dict,
                   progress: ScoringProgress) -> None:
        """Dispatch the units' calls from this thread: a queue ordered by not-before time, at most
        `max_concurrency` calls in flight, starts paced by the adaptive limiter, each outcome committed here."""
        if not units:
            return
        _, dna_client, _, _ = _sdk()
        score_variant = getattr(dna_client.DnaClient.score_variant, "__wrapped__", dna_client.DnaClient.score_variant)
        client = self.make_client()
        limiter = AdaptiveRateLimiter(self.requests_per_minute or None)
        refused = threading.Event()
        refusal: RpcFailure | None = None
        refused_at = float("inf")
        sent_times: list[float] = []
        queue: list[tuple[float, int]] = [(0.0, i) for i in range(len(units))]  # (not before, unit), a heap
        in_flight: dict[concurrent.futures.Future, tuple[int, float]] = {}
        jitter = random.Random()
        last_success = time.monotonic()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="alphagenome")

        def finish(unit: _Unit, reason: str, *, cacheable: bool, detail: str = "") -> None:
            for key in unit.keys:
                if cacheable:
                    cache.store_failure(key, reason, detail)
                    known[key] = CachedCall(reason, detail)
                else:
                    run_failures[key] = reason
            progress.failed[reason] += 1
            progress.done += 1

        try:
            while queue or in_flight:
                now = time.monotonic()
                while (queue and len(in_flight) < self.max_concurrency and not refused.is_set()
                       and queue[0][0] <= now and limiter.delay() == 0):
                    _, i = heapq.heappop(queue)
                    future = pool.submit(self._call_once, client, score_variant, units[i], refused)
                    in_flight[future] = (i, limiter.started())
                if not in_flight and (refused.is_set() or not queue):
                    break
                timeout = progress.seconds_until_due()
                if queue and len(in_flight) < self.max_concurrency and not refused.is_set():
                    timeout = min(timeout, max(queue[0][0] - now, limiter.delay()))
                if in_flight:
                    finished, _ = concurrent.futures.wait(in_flight, timeout=timeout,
                                                          return_when=concurrent.futures.FIRST_COMPLETED)
                else:  # every queued variant waits for its not-before time or the limiter
                    time.sleep(timeout)
                    finished = set()
                for future in finished:
                    i, started = in_flight.pop(future)
                    unit, attempt = units[i], future.result()
                    now = time.monotonic()
                    progress.calls += attempt.sent
                    if attempt.sent:
                        sent_times.append(attempt.sent_at)
                    failure = attempt.failure
                    if failure is None:
                        limiter.succeeded()
                        last_success = now
                        self._commit(attempt, cache, known)
                        progress.done += 1
                    elif failure.kind is Kind.REFUSED:
                        refusal = refusal or failure
                        refused_at = min(refused_at, attempt.answered_at)
                    elif not attempt.sent:
                        continue
                    elif failure.kind is Kind.QUOTA:
                        limiter.refused(started, failure.retry_delay)
                        progress.retried[failure.reason] += 1
                        if now - last_success > self.quota_patience_seconds:
                            finish(unit, QUOTA_EXHAUSTED, cacheable=False)
                        else:
                            heapq.heappush(queue, (now + (failure.retry_delay or 0.0), i))
                    elif failure.kind is Kind.TRANSIENT:
                        unit.transient_failures += 1
                        if unit.transient_failures > self.max_retries:
                            finish(unit, f"retries_exhausted_{failure.reason}", cacheable=False)
                        else:
                            progress.retried[failure.reason] += 1
                            heapq.heappush(queue, (now + self._backoff(unit.transient_failures, jitter), i))
                    else:
                        finish(unit, failure.reason, cacheable=failure.kind is Kind.PERMANENT,
                               detail=failure.message[:200])
                if queue and time.monotonic() - last_success > self.quota_patience_seconds and not in_flight:
                    progress.write()
                    for _, i in queue:  # the quota did not let one call through in all that time: next run
                        finish(units[i], QUOTA_EXHAUSTED, cacheable=False)
                    queue.clear()
                progress.maybe_write()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            client._channel.close()
        progress.write()
        if refusal is not None:
            raise self._refusal_failure(refusal, len(sent_times), sum(t > refused_at for t in sent_times))

    def _backoff(self, failures: int, jitter: random.Random) -> float:
        backoff = min(self.max_backoff_seconds, self.initial_backoff_seconds * 2 ** (failures - 1))
        return backoff * jitter.uniform(0.5, 1.5)

    def _refusal_failure(self, refusal: RpcFailure, calls: int, calls_after: int) -> ApiKeyRefused:
        why = refusal.code + (f" {refusal.error_reason}" if refusal.error_reason else "")
        message = refusal.message.replace(self.api_key, "<secret>") if self.api_key else refusal.message
        return ApiKeyRefused(
            f"the AlphaGenome service refused the API key or its project ({why}: {message[:200]}); set "
            f"{API_KEY_VARIABLE} to a valid key with the API enabled for {self.address or 'the public endpoint'}. "
            "Nothing was recorded for the refused calls; scores already received are kept in the cache.",
            allow_retries=False,
            metadata={"calls_sent": calls, "calls_sent_after_first_refusal": calls_after},
        )

    def _commit(self, attempt: _Attempt, cache: ScoreCache, known: dict) -> None:
        for key, scores in attempt.scores.items():
            strands = attempt.strands[key]
            cache.store_scores(key, scores, strands)
            known[key] = CachedCall("ok", scores=scores, strands=strands)
        for key in attempt.track_missing:
            detail = f"no track named {key.track!r} in the response"
            cache.store_failure(key, TRACK_NOT_IN_OUTPUT, detail)
            known[key] = CachedCall(TRACK_NOT_IN_OUTPUT, detail)

    def _call_once(self, client, score_variant, unit: _Unit, refused: threading.Event) -> _Attempt:
        """One call for one unit, in a worker thread; never sleeps, never retries."""
        if refused.is_set():  # the key was refused while this call waited for a worker: do not send it
            return _Attempt(sent=False, failure=RpcFailure("CANCELLED", Kind.OTHER, "not sent"))
        sent_at = time.monotonic()
        attempt = self._attempt(client, score_variant, unit)
        attempt.sent_at, attempt.answered_at = sent_at, time.monotonic()
        if attempt.failure is not None and attempt.failure.kind is Kind.REFUSED:
            refused.set()
        return attempt

    def _attempt(self, client, score_variant, unit: _Unit) -> _Attempt:
        interval = unit.variant.reference_interval.resize(self.interval_length)
        try:
            outputs = score_variant(client, interval, unit.variant, unit.scorers)
        except grpc.RpcError as exc:
            return _Attempt(failure=classify(exc))
        except ValueError as exc:
            # The SDK raises ValueError when a stream ends before the chunks it announced: a dropped connection.
            message = " ".join(str(exc).split())
            if "end of stream" in message or "tensor_chunk" in message:
                return _Attempt(failure=RpcFailure(INCOMPLETE_RESPONSE.upper(), Kind.TRANSIENT, message))
            return _Attempt(failure=RpcFailure(REJECTED_BY_CLIENT.upper(), Kind.PERMANENT, message))
        try:
            return self._extract(unit, outputs)
        except (KeyError, IndexError, ValueError) as exc:  # a response this code cannot read: this run only
            return _Attempt(failure=RpcFailure(UNREADABLE_RESPONSE.upper(), Kind.OTHER, f"{type(exc).__name__}: {exc}"))

    def _extract(self, unit: _Unit, outputs: list) -> _Attempt:
        """Copy the named track's raw and quantile scores out of each AnnData; keep nothing else."""
        attempt = _Attempt()
        for key, scorer_index, by_gene in zip(unit.keys, unit.key_scorer, unit.key_by_gene):
            adata = outputs[scorer_index]
            names = adata.var["name"].astype(str).to_numpy() if "name" in adata.var.columns else np.array([])
            named = names == key.track
            if not named.any():
                attempt.track_missing.append(key)
                continue
            strands = adata.var["strand"].astype(str).to_numpy()
            raw = np.asarray(adata.X, dtype=np.float64)
            quantiles = adata.layers["quantiles"] if "quantiles" in adata.layers else None
            quantiles = np.asarray(quantiles, dtype=np.float64) if quantiles is not None else np.full_like(raw, np.nan)
            scores: dict[str, tuple[float, float]] = {}
            used: dict[str, str] = {}
            if not by_gene:
                column = _track_column(named, strands, ".")
                scores[""], used[""] = (float(raw[0, column]), float(quantiles[0, column])), strands[column]
            elif "gene_id" in adata.obs.columns:  # without it the interval holds no gene: nothing to record
                obs = adata.obs
                gene_strands = obs["strand"].astype(str).to_numpy() if "strand" in obs.columns else None
                for i, gene in enumerate(obs["gene_id"].astype(str)):
                    column = _track_column(named, strands, gene_strands[i] if gene_strands is not None else ".")
                    gene = strip_gene_version(gene)
                    scores[gene], used[gene] = (float(raw[i, column]), float(quantiles[i, column])), strands[column]
            attempt.scores[key] = scores
            attempt.strands[key] = used
        return attempt

    def _assemble(self, variants, row_keys, row_gene, row_failure, row_track, known, from_cache, run_failures,
                  skipped_keys, calls) -> ScoringOutcome:
        n = len(variants)
        score = np.full(n, np.nan)
        quantile = np.full(n, np.nan)
        status = np.full(n, FAILED, dtype=object)
        error = np.array(row_failure, dtype=object)
        track = np.array(row_track, dtype=object)
        cached = np.zeros(n, dtype=bool)
        for i, key in enumerate(row_keys):
            if key is None:
                continue
            cached[i] = key in from_cache
            if key in skipped_keys:
                status[i], error[i] = SKIPPED_CALL_CAP, ""
            elif key in run_failures:
                error[i] = run_failures[key]
            elif key in known:
                stored = known[key]
                if not stored.ok:
                    error[i] = stored.outcome
                elif row_gene[i] in stored.scores:
                    score[i], quantile[i] = stored.scores[row_gene[i]]
                    status[i], error[i] = SCORED, ""
                    strand = stored.strands.get(row_gene[i], ".")
                    track[i] = key.track if strand == "." else f"{key.track} ({strand})"
                else:
                    error[i] = GENE_NOT_IN_OUTPUT
            else:
                error[i] = "not_requested"
        frame = pd.DataFrame({
            "variant_id": variants["variant_id"].to_numpy(),
            "gene_id": variants["gene_id"].to_numpy(),
            "score": score,
            "quantile_score": quantile,
            "status": status,
            "reason": error,
            "from_cache": cached,
            "track": track,
        })[PREDICTION_COLUMNS]
        failures = collections.Counter(error[status == FAILED])
        return ScoringOutcome(scores=frame, api_calls=calls, cache_hits=len(from_cache),
                              failures_by_reason=dict(sorted(failures.items())))


def _track_column(named: np.ndarray, strands: np.ndarray, strand: str) -> int:
    """The column of the named track on `strand`; else its unstranded column; else its first column."""
    for wanted in (strand, "."):
        hits = np.flatnonzero(named & (strands == wanted))
        if len(hits):
            return int(hits[0])
    return int(np.flatnonzero(named)[0])
