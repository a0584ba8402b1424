"""The AlphaGenome predictor: a free preflight, a plan, then one `ScoreVariant` call per distinct variant, paced to
the quota the server shows, every answer cached under the server that gave it.

A run goes in this order, in the prediction asset and in `endobench score-variants` alike:
1. **Preflight** (free): an empty key is refused without a call; the channel must come up and the server must give
   its track catalogue (`GetMetadata`, which also checks the key) within `connect_timeout_seconds`. Every track the
   run will read is resolved against that catalogue (`lib/scoring/tracks.py`): a name set by hand that the server
   does not have stops the run, naming the closest real names; a (readout, biosample) without a track fails its
   rows with `no_track_for_biosample`, without a call. No track name is ever made up.
2. **Plan**: the score cache (keyed by variant, configuration, track and server) says what is known; the rest, up
   to `max_new_calls_per_run`, is to request. The plan (`lib/scoring/plan.py`) is logged and kept in the asset's
   metadata; `score-variants --dry-run` prints it and stops.
3. **Calls**: the live model is one source of scores (`lib/scoring/alphagenome_live.py`) behind the one dispatcher
   (`lib/scoring/dispatch.py`), which paces starts at the quota it learns (`lib/scoring/rate_limit.py`), retries
   what a retry can fix, stops on a refused key or a uniform rejection, and reports progress. Each answer is
   committed to the cache as it arrives; the quota learned is kept per server for the next plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.scoring import alphagenome_live as live
from endobench.lib.scoring.dispatch import Attempt, Dispatcher, DispatchSettings, UniformRejection
from endobench.lib.scoring.plan import ScoringPlan, estimate
from endobench.lib.scoring.progress import ScoringProgress
from endobench.lib.scoring.rate_limit import QuotaPacer
from endobench.lib.scoring.rpc_errors import RpcFailure, ServiceRefused, ServiceUnreachable
from endobench.lib.scoring.score_cache import CachedCall, CallKey, ScoreCache
from endobench.lib.scoring.tracks import TrackCatalogue, UnknownTracks
from endobench.resources.alphagenome_rows import KeyParts, Requests, assemble, build_requests, pairs
from endobench.resources.predictors import (
    ACCESSIBILITY,
    EXPRESSION,
    ScoringOutcome,
    TrainingSplit,
    VariantEffectPredictor,
)

PREDICTOR_NAME = "alphagenome"
SUPPORTED_INTERVAL_LENGTHS = (16_384, 131_072, 524_288, 1_048_576)
MODEL_VERSIONS = ("ALL_FOLDS", "FOLD_0", "FOLD_1", "FOLD_2", "FOLD_3")
API_KEY_VARIABLE = "ALPHAGENOME_API_KEY"
ONTOLOGY_PREFIXES = ("EFO", "UBERON", "CL", "CLO", "NTR")
strip_gene_version = live.strip_gene_version

TRACK_NOT_IN_OUTPUT = "track_not_in_output"


class AlphaGenomeConfigError(ValueError):
    """A predictor setting is out of range; the message names the setting and the allowed values."""


class ApiKeyRefused(dg.Failure):
    """The key is empty, or the service refused it or its project: no request can succeed, so the run stops."""


def track_key(readout: str, biosample: str) -> str:
    """The key of a `tracks` override: `accessibility|EFO:0002784`."""
    return f"{readout}|{biosample}"


def _is_curie(value: str) -> bool:
    prefix, _, local = value.partition(":")
    return prefix in ONTOLOGY_PREFIXES and local.isdigit()


class AlphaGenomePredictor(VariantEffectPredictor):
    """Variant effects from the AlphaGenome API (DNase center-mask for accessibility, RNA-seq gene LFC for eQTLs).

    `api_key` comes only from `dg.EnvVar("ALPHAGENOME_API_KEY")` in wiring and never prints. An empty `address`
    uses the public endpoint over TLS; a loopback address (`127.0.0.1:PORT`, `localhost:PORT`) gets an insecure
    channel, any other address TLS. Scores are cached under the run's cache directory, keyed by the server too, so
    reruns only pay for new variants and no server's scores are served for another's.
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
    requests_per_minute: float = Field(240.0, description="ceiling of the call rate; 0: no ceiling")
    quota_window_seconds: float = Field(60.0, description="the window the service's quota counts calls over")
    max_new_calls_per_run: int = 5_000
    call_deadline_seconds: float = 300.0
    max_retries: int = 8
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 60.0
    quota_patience_seconds: float = 900.0
    uniform_rejection_after: int = Field(5, description="stop when this many first variants are rejected alike")
    progress_interval_seconds: float = 30.0
    connect_timeout_seconds: float = 30.0
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
            if readout not in self.supported_readouts() or not biosample.strip() or not name.strip():
                problems.append(f"tracks[{key!r}]={name!r}: keys are '<readout>|<biosample>' with readout "
                                f"{' or '.join(sorted(self.supported_readouts()))}, values exact track names")
        if not 1 <= self.max_concurrency <= 64:
            problems.append(f"max_concurrency={self.max_concurrency} must be between 1 and 64 (4 is what the API "
                            "tolerates in practice)")
        if self.requests_per_minute < 0:
            problems.append(f"requests_per_minute={self.requests_per_minute} must be >= 0 (0 means no ceiling)")
        if self.max_new_calls_per_run < 0:
            problems.append(f"max_new_calls_per_run={self.max_new_calls_per_run} must be >= 0")
        for name in ("call_deadline_seconds", "quota_patience_seconds", "progress_interval_seconds",
                     "connect_timeout_seconds", "quota_window_seconds"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}={getattr(self, name)} must be positive")
        if self.max_retries < 0 or self.uniform_rejection_after < 1:
            problems.append("max_retries must be >= 0 and uniform_rejection_after >= 1")
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

    def configuration_id(self) -> str:
        """Model version, interval length, and a digest of everything that picks the tracks (the overrides, and the
        biosamples of rows that name none); the tracks themselves come from the server's catalogue by one rule."""
        self.check_config()
        chosen = {"rule": "catalogue", "tracks": sorted(self.tracks.items()), "dnase": self.dnase_ontology,
                  "rna": self.rna_ontology}
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
        from alphagenome.models import dna_output, variant_scorers

        if readout == ACCESSIBILITY:
            return variant_scorers.CenterMaskScorer(
                requested_output=dna_output.OutputType.DNASE, width=501,
                aggregation_type=variant_scorers.AggregationType.DIFF_LOG2_SUM,
            )
        if readout == EXPRESSION:
            return variant_scorers.GeneMaskLFCScorer(requested_output=dna_output.OutputType.RNA_SEQ)
        raise KeyError(readout)

    def server(self) -> str:
        """The server scores come from, as the cache records it."""
        return live.server_id(self.address)

    def track_for(self, catalogue: TrackCatalogue, readout: str, biosample: str) -> str | None:
        """The exact track a readout in a biosample is read from: the `tracks` override, else the catalogue's."""
        named = self.tracks.get(track_key(readout, biosample))
        if named is not None:
            return named
        track = catalogue.track_for(readout, biosample)
        return track.name if track is not None else None

    def connect_and_check(self, variants: pd.DataFrame, log: logging.Logger):
        """The preflight: (client, {(readout, biosample): track or None}) with every track the rows need resolved
        against the server's catalogue. The caller closes `client._channel`."""
        self.check_config()
        if not self.api_key.strip():
            raise ApiKeyRefused(f"{API_KEY_VARIABLE} is empty: export your AlphaGenome API key in it (nothing was "
                                "sent)", allow_retries=False)
        try:
            client = live.connect(self.address, live.Secret(self.api_key), model_version=self.model_version,
                                  call_deadline_seconds=self.call_deadline_seconds,
                                  connect_seconds=self.connect_timeout_seconds)
        except ServiceUnreachable as exc:
            raise dg.Failure(str(exc), allow_retries=True) from None
        try:
            catalogue = live.fetch_catalogue(client, self.address, self.connect_timeout_seconds)
            named = {f"tracks[{k!r}]": (*k.split("|", 1), v) for k, v in self.tracks.items()}
            catalogue.check_named(named)
        except ServiceRefused as exc:
            client._channel.close()
            raise self._refusal_failure(exc) from None
        except ServiceUnreachable as exc:
            client._channel.close()
            raise dg.Failure(str(exc), allow_retries=True) from None
        except UnknownTracks as exc:
            client._channel.close()
            raise dg.Failure(f"{exc}. Nothing was sent; fix ENDOBENCH_ALPHAGENOME_TRACKS (or the `tracks` setting).",
                             allow_retries=False) from None
        tracks = {pair: self.track_for(catalogue, *pair) for pair in pairs(variants, self._fallback())}
        log.info(f"AlphaGenome preflight: {self.server()} answered with {len(catalogue):,} tracks; "
                 + "; ".join(f"{r} x {b}: {t or 'no track'}" for (r, b), t in sorted(tracks.items())))
        return client, tracks

    def _fallback(self) -> dict[str, str]:
        return {ACCESSIBILITY: self.dnase_ontology, EXPRESSION: self.rna_ontology}

    def _requests(self, variants: pd.DataFrame, tracks: dict[tuple[str, str], str | None]) -> Requests:
        scorers = {readout: self.scorer_for(readout).name for readout in self.supported_readouts()}
        parts = KeyParts(PREDICTOR_NAME, self.model_version, self.interval_length, self.server(), scorers,
                         self._fallback())
        return build_requests(variants, tracks, parts)

    def _lookup(self, cache: ScoreCache, requests: Requests) -> tuple[dict[CallKey, CachedCall], list, list]:
        """Cached outcomes, and the variants to request this run and those over the cap, as (variant, keys)."""
        known = cache.lookup(k for _, keys in requests.wanted.values() for k in keys)
        if self.recall_cached_failures:
            known = {k: v for k, v in known.items() if v.ok}
        pending = [(variant, {k: g for k, g in keys.items() if k not in known})
                   for variant, keys in requests.wanted.values() if any(k not in known for k in keys)]
        return known, pending[: self.max_new_calls_per_run], pending[self.max_new_calls_per_run:]

    def _plan(self, cache: ScoreCache, requests: Requests, to_call: list, skipped: list) -> ScoringPlan:
        seconds, per_minute, source = estimate(
            len(to_call), learned=cache.learned_rate(self.server()),
            ceiling_per_minute=self.requests_per_minute or None, concurrency=self.max_concurrency,
            window_seconds=self.quota_window_seconds)
        return ScoringPlan(
            source=f"AlphaGenome at {self.server()}", rows=len(requests.keys), distinct_variants=len(requests.wanted),
            cached=len(requests.wanted) - len(to_call) - len(skipped), to_request=len(to_call), over_cap=len(skipped),
            no_track_rows=requests.failures.count("no_track_for_biosample"), calls=len(to_call), per_minute=per_minute,
            rate_source=source, estimated_seconds=seconds)

    def plan(self, variants: pd.DataFrame, *, cache_dir: Path, log: logging.Logger) -> ScoringPlan:
        """The preflight and the plan, without a paid call (what `score-variants --dry-run` prints)."""
        client, tracks = self.connect_and_check(variants, log)
        client._channel.close()
        requests = self._requests(variants, tracks)
        with ScoreCache(cache_dir) as cache:
            _, to_call, skipped = self._lookup(cache, requests)
            return self._plan(cache, requests, to_call, skipped)

    def score_variants(
        self, variants: pd.DataFrame, *, reference: ReferenceGenome | None = None, cache_dir: Path,
        log: logging.Logger,
    ) -> ScoringOutcome:
        """Score every row; a `biosample` column (ontology CURIE per row) picks the track, else the readout's
        `dnase_ontology` / `rna_ontology`. Raises `ApiKeyRefused` when the key is empty or refused."""
        client, tracks = self.connect_and_check(variants, log)
        try:
            requests = self._requests(variants, tracks)
            with ScoreCache(cache_dir) as cache:
                known, to_call, skipped = self._lookup(cache, requests)
                from_cache = set(known)
                if unbound := cache.unbound_calls():
                    log.info(f"AlphaGenome: the cache holds {unbound:,} outcomes written before it recorded servers; "
                             "they are kept but not served (docs/alphagenome.md says how to adopt them)")
                plan = self._plan(cache, requests, to_call, skipped)
                for line in plan.lines():
                    log.info(line)
                run_failures, calls = self._run_calls(client, cache, known, to_call, log)
        finally:
            client._channel.close()
        skipped_keys = {k for _, keys in skipped for k in keys}
        outcome = assemble(variants, requests, known, from_cache, run_failures, skipped_keys, calls)
        outcome.plan = plan.metadata()
        return outcome

    def _run_calls(self, client, cache: ScoreCache, known: dict, to_call: list,
                   log: logging.Logger) -> tuple[dict[CallKey, str], int]:
        """Hand the calls to the dispatcher; commit each answer; keep the quota learned for the next plan. Returns
        the failures of this run only (not cached) and the calls sent."""
        scorers = {self.scorer_for(r).name: self.scorer_for(r) for r in sorted(self.supported_readouts())}
        units = [self._unit(variant, keys, scorers) for variant, keys in to_call]
        learned = cache.learned_rate(self.server())
        pacer = QuotaPacer(self.requests_per_minute or None, window_seconds=self.quota_window_seconds,
                           known_per_minute=learned[0] if learned else None, concurrency=self.max_concurrency)
        progress = ScoringProgress(len(units), cache_hits=len(known), write=log.info,
                                   every_seconds=self.progress_interval_seconds, pace=pacer)
        settings = DispatchSettings(self.max_concurrency, self.max_retries, self.initial_backoff_seconds,
                                    self.max_backoff_seconds, self.quota_patience_seconds, self.uniform_rejection_after)
        run_failures: dict[CallKey, str] = {}

        def commit(unit: live.Unit, attempt: Attempt) -> None:
            for key, scores in attempt.result.scores.items():
                strands = attempt.result.strands[key]
                cache.store_scores(key, scores, strands)
                known[key] = CachedCall("ok", scores=scores, strands=strands)
            for key in attempt.result.track_missing:
                detail = f"no track named {key.track!r} in the response"
                cache.store_failure(key, TRACK_NOT_IN_OUTPUT, detail)
                known[key] = CachedCall(TRACK_NOT_IN_OUTPUT, detail)

        def fail(unit: live.Unit, reason: str, cacheable: bool, detail: str) -> None:
            for key in unit.keys:
                if cacheable:
                    cache.store_failure(key, reason, detail)
                    known[key] = CachedCall(reason, detail)
                else:
                    run_failures[key] = reason

        try:
            Dispatcher(live.LiveScoreVariant(client, self.interval_length), pacer, settings, progress).run(
                units, commit, fail)
        except ServiceRefused as exc:
            raise self._refusal_failure(exc) from None
        except UniformRejection as exc:
            raise dg.Failure(
                f"AlphaGenome rejected the first {exc.units} variants alike ({exc.failure.code}: "
                f"{exc.failure.message[:300]}), so the request itself is wrong for every variant; the run stopped "
                "and recorded none of them. Fix the cause (the settings, the model version, the SDK) and run again.",
                allow_retries=False, metadata={"calls_sent": progress.calls}) from None
        finally:
            if (per_minute := pacer.per_minute()) is not None:
                cache.store_learned_rate(self.server(), per_minute)
        return run_failures, progress.calls

    def _unit(self, variant, keys: dict[CallKey, bool], scorers: dict[str, Any]) -> live.Unit:
        needed = list(dict.fromkeys(k.scorer for k in keys))
        return live.Unit(variant, [scorers[n] for n in needed], list(keys), [needed.index(k.scorer) for k in keys],
                         list(keys.values()))

    def _refusal_failure(self, refused: ServiceRefused) -> ApiKeyRefused:
        failure: RpcFailure = refused.failure
        why = failure.code + (f" {failure.error_reason}" if failure.error_reason else "")
        message = failure.message.replace(self.api_key, "<secret>") if self.api_key else failure.message
        return ApiKeyRefused(
            f"the AlphaGenome service refused the API key or its project ({why}: {message[:200]}); set "
            f"{API_KEY_VARIABLE} to a valid key with the API enabled for {self.server()}. "
            "Nothing was recorded for the refused calls; scores already received are kept in the cache.",
            allow_retries=False,
            metadata={"calls_sent": refused.calls, "calls_sent_after_first_refusal": refused.calls_after_refusal},
        )
