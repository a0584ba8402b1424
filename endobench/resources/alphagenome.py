"""The AlphaGenome predictor: one `score_variant` RPC per distinct variant, bounded, rate-limited, cached.

The SDK's own `score_variants` stops at the first error and its per-call retry only covers two status codes,
so this resource runs its own loop: a thread pool of `max_concurrency` calls, a requests-per-minute limiter,
retries of transient failures with exponential backoff and jitter under a per-call deadline, permanent failures
recorded per variant, a cap on new calls per run, and every outcome committed to the score cache as it arrives.
Requests are built and responses parsed by the SDK's `DnaClient.score_variant` itself (its retry decorator is
bypassed so that retries happen in exactly one place); against the public endpoint or a loopback server the
code path is the same.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import grpc
import numpy as np
import pandas as pd

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.scoring.rate_limit import RateLimiter
from endobench.lib.scoring.score_cache import CachedCall, CallKey, ScoreCache
from endobench.resources.predictors import (
    ACCESSIBILITY,
    EXPRESSION,
    FAILED,
    PREDICTION_COLUMNS,
    SCORED,
    SKIPPED_CALL_CAP,
    ScoringOutcome,
    VariantEffectPredictor,
)

PREDICTOR_NAME = "alphagenome"
SUPPORTED_INTERVAL_LENGTHS = (16_384, 131_072, 524_288, 1_048_576)
MODEL_VERSIONS = ("ALL_FOLDS", "FOLD_0", "FOLD_1", "FOLD_2", "FOLD_3")
API_KEY_HEADER = "x-goog-api-key"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
TRANSIENT_CODES = frozenset({
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
})
# Errors that would recur for the same request: stored in the cache so later runs do not pay for them again.
CACHEABLE_CODES = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
})
# Errors about the caller, not the variant: every other call would fail the same way, so the run stops.
AUTH_CODES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
GENE_NOT_IN_OUTPUT = "gene_not_in_output"
TRACK_NOT_IN_OUTPUT = "track_not_in_output"
MISSING_GENE_ID = "missing_gene_id"
INVALID_VARIANT = "invalid_variant"
UNSUPPORTED_READOUT = "unsupported_readout"
PROGRESS_EVERY = 1_000
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


class AlphaGenomeConfigError(ValueError):
    """A predictor setting is out of range; the message names the setting and the allowed values."""


def strip_gene_version(gene_id: str) -> str:
    """`ENSG00000187634.11` -> `ENSG00000187634` (GTEx ids carry a version, AlphaGenome's do not)."""
    return gene_id.split(".", 1)[0]


def _sdk():
    from alphagenome.data import genome
    from alphagenome.models import dna_client, dna_output, variant_scorers

    return genome, dna_client, dna_output, variant_scorers


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _DeadlineInterceptor(grpc.StreamStreamClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Give every call a deadline; the SDK sets none, so a hung stream would otherwise block a worker forever."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def _with_deadline(self, details: grpc.ClientCallDetails) -> _CallDetails:
        timeout = self.seconds if details.timeout is None else min(details.timeout, self.seconds)
        return _CallDetails(details.method, timeout, details.metadata, details.credentials,
                            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._with_deadline(client_call_details), request_iterator)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._with_deadline(client_call_details), request)


@dataclass
class _CallResult:
    """What one variant's request produced: scores by cache key, or a failure for all its keys."""

    scores: dict[CallKey, dict[str, tuple[float, float]]] = field(default_factory=dict)
    track_missing: list[CallKey] = field(default_factory=list)
    failure: str = ""
    detail: str = ""
    cacheable: bool = False
    attempts: int = 0


@dataclass
class _Unit:
    """One distinct request: a variant and the scorers wanted for it (one per readout)."""

    variant: Any
    keys: list[CallKey]
    scorers: list[Any]
    tracks: list[str]
    gene_scorer: list[bool]


class AlphaGenomePredictor(VariantEffectPredictor):
    """Variant effects from the AlphaGenome API (DNase center-mask for accessibility, RNA-seq gene LFC for eQTLs).

    `api_key` comes only from `dg.EnvVar("ALPHAGENOME_API_KEY")` in wiring. An empty `address` uses the public
    endpoint over TLS; a loopback address (`127.0.0.1:PORT`, `localhost:PORT`) gets an insecure channel, any
    other address TLS. Scores are cached under the run's cache directory, so reruns only pay for new variants.
    """

    api_key: str
    address: str = ""
    interval_length: int = 1_048_576
    model_version: str = "ALL_FOLDS"
    dnase_ontology: str = "EFO:0002067"
    rna_ontology: str = "UBERON:0013756"
    max_concurrency: int = 4
    requests_per_minute: float = 240.0
    max_new_calls_per_run: int = 5_000
    call_deadline_seconds: float = 300.0
    max_retries: int = 6
    initial_backoff_seconds: float = 2.0
    max_backoff_seconds: float = 120.0
    connect_timeout_seconds: float = 60.0
    recall_cached_failures: bool = False

    def check_config(self) -> None:
        """Raise `AlphaGenomeConfigError` naming the first setting that is out of range."""
        problems = []
        if self.interval_length not in SUPPORTED_INTERVAL_LENGTHS:
            problems.append(f"interval_length={self.interval_length:,} is not one the model accepts; "
                            f"use one of {', '.join(f'{n:,}' for n in SUPPORTED_INTERVAL_LENGTHS)}")
        if self.model_version not in MODEL_VERSIONS:
            problems.append(f"model_version={self.model_version!r} is unknown; use one of {', '.join(MODEL_VERSIONS)}")
        for name in ("dnase_ontology", "rna_ontology"):
            value = getattr(self, name)
            prefix, _, local = value.partition(":")
            if prefix not in {"EFO", "UBERON", "CL", "CLO", "NTR"} or not local.isdigit():
                problems.append(f"{name}={value!r} is not an ontology CURIE such as EFO:0002067 or UBERON:0013756")
        if not 1 <= self.max_concurrency <= 64:
            problems.append(f"max_concurrency={self.max_concurrency} must be between 1 and 64 (4 is what the API "
                            "tolerates in practice)")
        if self.requests_per_minute < 0:
            problems.append(f"requests_per_minute={self.requests_per_minute} must be >= 0 (0 means no limit)")
        if self.max_new_calls_per_run < 0:
            problems.append(f"max_new_calls_per_run={self.max_new_calls_per_run} must be >= 0")
        if not self.call_deadline_seconds > 0:
            problems.append(f"call_deadline_seconds={self.call_deadline_seconds} must be positive")
        if self.max_retries < 0:
            problems.append(f"max_retries={self.max_retries} must be >= 0")
        if self.initial_backoff_seconds < 0 or self.max_backoff_seconds < self.initial_backoff_seconds:
            problems.append("backoff must satisfy 0 <= initial_backoff_seconds <= max_backoff_seconds")
        if problems:
            raise AlphaGenomeConfigError("AlphaGenomePredictor settings: " + "; ".join(problems))

    def predictor_name(self) -> str:
        return PREDICTOR_NAME

    def configuration_id(self) -> str:
        self.check_config()
        return (f"{PREDICTOR_NAME}|{self.model_version}|{self.interval_length}"
                f"|dnase={self.dnase_ontology}|rna={self.rna_ontology}")

    def window_length(self) -> int:
        self.check_config()
        return self.interval_length

    def needs_local_sequence(self) -> bool:
        return False

    def supported_readouts(self) -> frozenset[str]:
        return frozenset({ACCESSIBILITY, EXPRESSION})

    def scorer_for(self, readout: str):
        """The SDK scorer and the track ontology used for a readout."""
        _, _, dna_output, variant_scorers = _sdk()
        if readout == ACCESSIBILITY:
            scorer = variant_scorers.CenterMaskScorer(
                requested_output=dna_output.OutputType.DNASE, width=501,
                aggregation_type=variant_scorers.AggregationType.DIFF_LOG2_SUM,
            )
            return scorer, self.dnase_ontology
        if readout == EXPRESSION:
            return variant_scorers.GeneMaskLFCScorer(requested_output=dna_output.OutputType.RNA_SEQ), self.rna_ontology
        raise KeyError(readout)

    def make_client(self):
        """A `DnaClient` whose every call carries `call_deadline_seconds`; the caller closes `client._channel`."""
        self.check_config()
        _, dna_client, _, _ = _sdk()
        version = dna_client.ModelVersion[self.model_version]
        host = self.address.rsplit(":", 1)[0] if self.address else ""
        if host in LOOPBACK_HOSTS:
            channel = grpc.insecure_channel(self.address, options=_CHANNEL_OPTIONS)
            metadata = [(API_KEY_HEADER, self.api_key)]
        else:
            try:
                public = dna_client.create(self.api_key, model_version=version, timeout=self.connect_timeout_seconds,
                                           address=self.address or None)
            except grpc.FutureTimeoutError:
                where = self.address or "the public AlphaGenome endpoint"
                raise dg.Failure(
                    f"could not connect to {where} within {self.connect_timeout_seconds:.0f} s: check the network "
                    "and ENDOBENCH_ALPHAGENOME_ADDRESS (empty for the public endpoint)",
                ) from None
            # create() opens the TLS channel and attaches the key; reuse both, adding only the deadline.
            channel, metadata = public._channel, public._metadata
        return dna_client.DnaClient(
            channel=grpc.intercept_channel(channel, _DeadlineInterceptor(self.call_deadline_seconds)),
            model_version=version,
            metadata=metadata,
        )

    def score_variants(
        self, variants: pd.DataFrame, *, reference: ReferenceGenome | None = None, cache_dir: Path,
        log: logging.Logger,
    ) -> ScoringOutcome:
        self.check_config()
        genome, dna_client, _, _ = _sdk()
        n_rows = len(variants)
        row_keys: list[CallKey | None] = [None] * n_rows
        row_gene: list[str] = [""] * n_rows
        row_failure: list[str] = [""] * n_rows
        units: dict[str, _Unit] = {}
        scorers = {readout: self.scorer_for(readout) for readout in self.supported_readouts()}  # once, not per row
        for i, row in enumerate(variants.itertuples(index=False)):
            if row.readout not in scorers:
                row_failure[i] = UNSUPPORTED_READOUT
                continue
            if row.readout == EXPRESSION:
                if pd.isna(row.gene_id) or not str(row.gene_id):
                    row_failure[i] = MISSING_GENE_ID
                    continue
                row_gene[i] = strip_gene_version(str(row.gene_id))
            try:
                variant = genome.Variant(str(row.chrom), int(row.pos), str(row.ref), str(row.alt))
            except ValueError:
                row_failure[i] = INVALID_VARIANT
                continue
            scorer, track = scorers[row.readout]
            key = CallKey(str(variant), PREDICTOR_NAME, self.model_version, scorer.name, track, self.interval_length)
            row_keys[i] = key
            unit = units.setdefault(key.variant, _Unit(variant, [], [], [], []))
            if key not in unit.keys:
                unit.keys.append(key)
                unit.scorers.append(scorer)
                unit.tracks.append(track)
                unit.gene_scorer.append(row.readout == EXPRESSION)

        with ScoreCache(cache_dir) as cache:
            known: dict[CallKey, CachedCall] = cache.lookup(k for u in units.values() for k in u.keys)
            if self.recall_cached_failures:
                known = {k: v for k, v in known.items() if v.ok}
            from_cache = set(known)
            pending = []
            for unit in units.values():
                missing = [j for j, k in enumerate(unit.keys) if k not in known]
                if missing:
                    pending.append(_Unit(unit.variant, [unit.keys[j] for j in missing],
                                         [unit.scorers[j] for j in missing], [unit.tracks[j] for j in missing],
                                         [unit.gene_scorer[j] for j in missing]))
            to_call, skipped = pending[: self.max_new_calls_per_run], pending[self.max_new_calls_per_run:]
            skipped_keys = {k for u in skipped for k in u.keys}
            log.info(
                f"AlphaGenome: {n_rows:,} rows, {len(units):,} distinct variants; {len(from_cache):,} scores cached, "
                f"{len(to_call):,} variants to request"
                + (f", {len(skipped):,} over the cap of {self.max_new_calls_per_run:,} new calls per run"
                   if skipped else "")
            )
            run_failures: dict[CallKey, tuple[str, str]] = {}
            attempts = self._run_calls(to_call, dna_client, cache, known, run_failures, log)

        return self._assemble(variants, row_keys, row_gene, row_failure, known, from_cache, run_failures,
                              skipped_keys, attempts)

    def _run_calls(self, units: list[_Unit], dna_client, cache: ScoreCache, known: dict, run_failures: dict,
                   log: logging.Logger) -> int:
        """Call for each unit on a bounded pool, committing each result from this thread as it arrives."""
        if not units:
            return 0
        client = self.make_client()
        limiter = RateLimiter(self.requests_per_minute) if self.requests_per_minute > 0 else None
        stop = threading.Event()
        score_variant = getattr(dna_client.DnaClient.score_variant, "__wrapped__", dna_client.DnaClient.score_variant)
        attempts = done = n_failed = 0
        refused = ""
        started = time.monotonic()
        todo = iter(units)
        in_flight: dict[concurrent.futures.Future, _Unit] = {}
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.max_concurrency,
                                                     thread_name_prefix="alphagenome")
        try:
            while True:
                while len(in_flight) < 2 * self.max_concurrency and not stop.is_set():
                    unit = next(todo, None)
                    if unit is None:
                        break
                    in_flight[pool.submit(self._call_one, client, score_variant, unit, limiter, stop)] = unit
                if not in_flight:
                    break
                finished, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    unit = in_flight.pop(future)
                    result = future.result()
                    attempts += result.attempts
                    done += 1
                    for key, scores in result.scores.items():
                        cache.store_scores(key, scores)
                        known[key] = CachedCall("ok", scores=scores)
                    for key in result.track_missing:
                        detail = f"no {key.track} track in the response"
                        cache.store_failure(key, TRACK_NOT_IN_OUTPUT, detail)
                        known[key] = CachedCall(TRACK_NOT_IN_OUTPUT, detail)
                    if result.failure in {c.name.lower() for c in AUTH_CODES}:
                        refused = result.failure
                    if result.failure:
                        n_failed += 1
                        for key in unit.keys:
                            if result.cacheable:
                                cache.store_failure(key, result.failure, result.detail)
                                known[key] = CachedCall(result.failure, result.detail)
                            else:
                                run_failures[key] = (result.failure, result.detail)
                    if done % PROGRESS_EVERY == 0:
                        rate = done / max(time.monotonic() - started, 1e-9)
                        log.info(f"AlphaGenome: {done:,} of {len(units):,} variants requested "
                                 f"({n_failed:,} failed, {rate:.1f}/s)")
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            client._channel.close()
        elapsed = time.monotonic() - started
        log.info(f"AlphaGenome: {done:,} variants requested in {elapsed:,.1f} s with {attempts:,} calls "
                 f"({n_failed:,} failed)")
        if refused:
            raise dg.Failure(
                f"the AlphaGenome server refused the request ({refused.upper()}): set ALPHAGENOME_API_KEY to a valid "
                f"key for {self.address or 'the public endpoint'}; scores already received are kept in the cache",
                allow_retries=False,
            )
        return attempts

    def _call_one(self, client, score_variant, unit: _Unit, limiter: RateLimiter | None,
                  stop: threading.Event) -> _CallResult:
        """One variant: retry transient failures with backoff until success, a permanent error or the budget."""
        interval = unit.variant.reference_interval.resize(self.interval_length)
        jitter = random.Random()
        attempt = 0
        while True:
            attempt += 1
            if limiter is not None:
                limiter.acquire()
            try:
                outputs = score_variant(client, interval, unit.variant, unit.scorers)
                result = self._extract(unit, outputs)
                result.attempts = attempt
                return result
            except grpc.RpcError as exc:
                code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
                reason, detail = code.name.lower(), _short(exc.details() if callable(getattr(exc, "details", None))
                                                          else "")
                transient = code in TRANSIENT_CODES
            except ValueError as exc:
                code = None
                # The SDK raises ValueError when a stream ends before the chunks it announced: a dropped connection.
                message = str(exc)
                transient = "end of stream" in message or "tensor_chunk" in message
                reason = "incomplete_response" if transient else "rejected_by_client"
                detail = _short(message)
            if not transient:
                cacheable = reason == "rejected_by_client" or code in CACHEABLE_CODES
                if reason != "rejected_by_client" and code in AUTH_CODES:
                    stop.set()
                return _CallResult(failure=reason, detail=detail, cacheable=cacheable, attempts=attempt)
            if attempt > self.max_retries or stop.is_set():
                return _CallResult(failure=f"retries_exhausted_{reason}", detail=detail, attempts=attempt)
            backoff = min(self.max_backoff_seconds, self.initial_backoff_seconds * 2 ** (attempt - 1))
            stop.wait(backoff * jitter.uniform(0.5, 1.5))

    def _extract(self, unit: _Unit, outputs: list) -> _CallResult:
        """Copy the selected track's raw and quantile scores out of each AnnData; keep nothing else."""
        result = _CallResult()
        for key, adata, track, by_gene in zip(unit.keys, outputs, unit.tracks, unit.gene_scorer):
            var = adata.var
            if "ontology_curie" not in var.columns:
                result.track_missing.append(key)
                continue
            matches = (var["ontology_curie"] == track).to_numpy()
            if not matches.any():
                result.track_missing.append(key)
                continue
            strands = var["strand"].astype(str).to_numpy()
            raw = np.asarray(adata.X, dtype=np.float64)
            quantiles = adata.layers["quantiles"] if "quantiles" in adata.layers else None
            quantiles = np.asarray(quantiles, dtype=np.float64) if quantiles is not None else np.full_like(raw, np.nan)
            scores: dict[str, tuple[float, float]] = {}
            if not by_gene:
                scores[""] = (float(raw[0, matches].mean()), float(quantiles[0, matches].mean()))
            else:
                obs = adata.obs
                gene_strand = obs["strand"].astype(str).to_numpy() if "strand" in obs.columns else None
                for i, gene in enumerate(obs["gene_id"].astype(str)):
                    columns = matches
                    if gene_strand is not None:
                        # Stranded tracks count only on the gene's own strand (as tidy_scores does); '.' always.
                        same = matches & ((strands == ".") | (strands == gene_strand[i]))
                        columns = same if same.any() else matches
                    scores[strip_gene_version(gene)] = (float(raw[i, columns].mean()),
                                                        float(quantiles[i, columns].mean()))
            result.scores[key] = scores
        return result

    def _assemble(self, variants, row_keys, row_gene, row_failure, known, from_cache, run_failures, skipped_keys,
                  attempts) -> ScoringOutcome:
        n = len(variants)
        score = np.full(n, np.nan)
        quantile = np.full(n, np.nan)
        status = np.full(n, FAILED, dtype=object)
        error = np.array(row_failure, dtype=object)
        cached = np.zeros(n, dtype=bool)
        for i, key in enumerate(row_keys):
            if key is None:
                continue
            cached[i] = key in from_cache
            if key in skipped_keys:
                status[i], error[i] = SKIPPED_CALL_CAP, ""
            elif key in run_failures:
                error[i] = run_failures[key][0]
            elif key in known:
                stored = known[key]
                if not stored.ok:
                    error[i] = stored.outcome
                elif row_gene[i] in stored.scores:
                    score[i], quantile[i] = stored.scores[row_gene[i]]
                    status[i], error[i] = SCORED, ""
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
            "error": error,
            "from_cache": cached,
        })[PREDICTION_COLUMNS]
        failures = collections.Counter(error[status == FAILED])
        return ScoringOutcome(scores=frame, api_calls=attempts, cache_hits=len(from_cache),
                              failures_by_reason=dict(sorted(failures.items())))


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
