"""The AlphaGenome predictor: a free preflight, a plan, then the AlphaGenome Atlas's precomputed scores for the SNVs it
holds and one live `ScoreVariant` call per other distinct variant, each paced to the quota its service shows, every
answer cached under the server and the source that gave it.

A run goes in this order, in the prediction asset and in `endobench score-variants` alike:
1. **Preflight** (free): an empty key is refused without a call; the channel must come up and the server must give
   its track catalogue (`GetMetadata`, which also checks the key) within `connect_timeout_seconds`. Every track the
   run will read is resolved against that catalogue (`lib/scoring/tracks.py`): a name set by hand that the server
   does not have stops the run, naming the closest real names; a (readout, biosample) without a track fails its
   rows with `no_track_for_biosample`, without a call. No track name is ever made up.
   With the Atlas on (`atlas`, ENDOBENCH_ALPHAGENOME_ATLAS) and the configuration the Atlas was computed with
   (`lib/scoring/alphagenome_atlas.py`), the preflight also asks the Atlas for its scorers and tracks (free).
2. **Plan**: the score cache (keyed by variant, configuration, track, server and source) says what is known; the
   rest is to ask the Atlas (SNVs whose every track it holds) or the live model (the others, up to
   `max_new_calls_per_run`). The plan (`lib/scoring/plan.py`) is logged and kept in the asset's metadata;
   `score-variants --dry-run` prints it and stops.
3. **Calls** (`alphagenome_calls.py`): the Atlas and the live model are two sources of scores behind the one
   dispatcher (`lib/scoring/dispatch.py`), which paces starts at the quota it learns (`lib/scoring/rate_limit.py`,
   one pacer per service), retries what a retry can fix, stops on a refused key or a uniform rejection, and reports
   progress. The Atlas goes first; the SNVs it lacks join the live calls. Each answer is committed to the cache as
   it arrives; the quota learned is kept per server and service for the next plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.scoring import alphagenome_atlas as atlas
from endobench.lib.scoring import alphagenome_live as live
from endobench.lib.scoring.plan import AtlasPlan, ScoringPlan, estimate
from endobench.lib.scoring.rpc_errors import ServiceRefused, ServiceUnreachable
from endobench.lib.scoring.score_cache import ATLAS, LIVE, ScoreCache
from endobench.lib.scoring.tracks import TrackCatalogue, UnknownTracks
from endobench.resources.alphagenome_calls import (
    API_KEY_VARIABLE,
    TRACK_NOT_IN_OUTPUT,
    ApiKeyRefused,
    refusal_failure,
    run_atlas,
    run_live,
)
from endobench.resources.alphagenome_rows import KeyParts, Requests, Routing, assemble, build_requests, pairs, route
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
ONTOLOGY_PREFIXES = ("EFO", "UBERON", "CL", "CLO", "NTR")
strip_gene_version = live.strip_gene_version
__all__ = ["ApiKeyRefused", "API_KEY_VARIABLE", "TRACK_NOT_IN_OUTPUT"]  # (from alphagenome_calls, where runs use them)


class AlphaGenomeConfigError(ValueError):
    """A predictor setting is out of range; the message names the setting and the allowed values."""


@dataclass
class Session:
    """What the preflight established: the live client, the track of each (readout, biosample), and the Atlas (its
    stub, scorers and tracks, and the Atlas name of each scorer the run reads) or why it is not read."""

    client: Any
    tracks: dict[tuple[str, str], str | None]
    atlas_status: str = ""
    atlas_stub: Any = None
    atlas_catalogue: atlas.AtlasCatalogue | None = None
    atlas_names: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.client._channel.close()


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
    atlas: bool = Field(True, description="read the AlphaGenome Atlas's precomputed scores of the SNVs it holds, in "
                                          "the configuration it was computed with (False: the live model only)")
    atlas_requests_per_minute: float = Field(0.0, description="ceiling of the Atlas's call rate; 0: no ceiling (its "
                                                              "quota, learned, paces it)")
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
        for name in ("requests_per_minute", "atlas_requests_per_minute"):
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)} must be >= 0 (0 means no ceiling)")
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

    def atlas_status(self) -> str:
        """"on" when this configuration reads the Atlas, else why not."""
        if not self.atlas:
            return "off (ENDOBENCH_ALPHAGENOME_ATLAS=off): the live model only"
        if not atlas.reads_atlas(self.model_version, self.interval_length):
            return (f"{self.model_version} at {self.interval_length:,} bp is not the configuration the Atlas was "
                    f"computed with ({atlas.ATLAS_MODEL_VERSION} at {atlas.ATLAS_INTERVAL_LENGTH:,} bp)")
        return "on"

    def connect_and_check(self, variants: pd.DataFrame, log: logging.Logger) -> Session:
        """The preflight: the live client and every track the rows need resolved against the server's catalogue, and
        the Atlas's scorers when the run may read it. The caller closes the session."""
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
            session = Session(client, {pair: self.track_for(catalogue, *pair)
                                       for pair in pairs(variants, self._fallback())})
            self._check_atlas(session)
        except ServiceRefused as exc:
            client._channel.close()
            raise refusal_failure(exc, self.api_key, self.server()) from None
        except ServiceUnreachable as exc:
            client._channel.close()
            raise dg.Failure(str(exc), allow_retries=True) from None
        except UnknownTracks as exc:
            client._channel.close()
            raise dg.Failure(f"{exc}. Nothing was sent; fix ENDOBENCH_ALPHAGENOME_TRACKS (or the `tracks` setting).",
                             allow_retries=False) from None
        log.info(f"AlphaGenome preflight: {self.server()} answered with {len(catalogue):,} tracks; "
                 + "; ".join(f"{r} x {b}: {t or 'no track'}" for (r, b), t in sorted(session.tracks.items()))
                 + f"; Atlas: {session.atlas_status}")
        return session

    def _check_atlas(self, session: Session) -> None:
        """Ask the Atlas for its scorers (free) when this run may read it; say why not otherwise."""
        from alphagenome.protos import atlas_service_pb2_grpc

        session.atlas_status = self.atlas_status()
        if session.atlas_status != "on":
            return
        stub = atlas_service_pb2_grpc.AtlasServiceStub(session.client._channel)
        found = atlas.fetch_catalogue(stub, self.server(), self.connect_timeout_seconds)
        if found is None:
            session.atlas_status = f"{self.server()} serves no Atlas (UNIMPLEMENTED): every variant goes live"
            return
        names = {}
        for readout in sorted(self.supported_readouts()):
            scorer = self.scorer_for(readout)
            name = atlas.atlas_scorer_name(scorer)
            if name is not None and name in found.metadata:
                names[scorer.name] = name
        session.atlas_stub, session.atlas_catalogue, session.atlas_names = stub, found, names

    def _fallback(self) -> dict[str, str]:
        return {ACCESSIBILITY: self.dnase_ontology, EXPRESSION: self.rna_ontology}

    def _requests(self, variants: pd.DataFrame, tracks: dict[tuple[str, str], str | None]) -> Requests:
        scorers = {readout: self.scorer_for(readout).name for readout in self.supported_readouts()}
        parts = KeyParts(PREDICTOR_NAME, self.model_version, self.interval_length, self.server(), scorers,
                         self._fallback())
        return build_requests(variants, tracks, parts)

    def _route(self, cache: ScoreCache, requests: Requests, session: Session) -> Routing:
        """Where each key is answered from; the SNVs whose every (scorer, track) the Atlas holds may ask it."""
        in_atlas = set()
        if session.atlas_catalogue is not None:
            names, held = session.atlas_names, session.atlas_catalogue
            in_atlas = {name for name, (variant, keys) in requests.wanted.items()
                        if atlas.is_snv(variant) and all(k.scorer in names and held.holds(names[k.scorer], k.track)
                                                         for k in keys)}
        return route(cache, requests, in_atlas, recall_failures=self.recall_cached_failures)

    def _plan(self, cache: ScoreCache, requests: Requests, routing: Routing, session: Session) -> ScoringPlan:
        live_calls = list(routing.live.values())
        to_call, skipped = live_calls[: self.max_new_calls_per_run], live_calls[self.max_new_calls_per_run:]
        seconds, per_minute, source = estimate(
            len(to_call), learned=cache.learned_rate(self.server(), LIVE),
            ceiling_per_minute=self.requests_per_minute or None, concurrency=self.max_concurrency,
            window_seconds=self.quota_window_seconds)
        atlas_plan = AtlasPlan(session.atlas_status)
        if session.atlas_status == "on":
            pending = list(routing.atlas.values())
            units = atlas.plan_units(pending, session.atlas_names, session.atlas_catalogue, routing.avi_wanted,
                                     requests.genes_of)
            a_seconds, a_rate, a_source = estimate(
                len(units), learned=cache.learned_rate(self.server(), ATLAS),
                ceiling_per_minute=self.atlas_requests_per_minute or None, concurrency=self.max_concurrency,
                window_seconds=self.quota_window_seconds, seconds_per_call=atlas.TYPICAL_SECONDS_PER_CALL)
            atlas_plan = AtlasPlan("on", len(pending), len(units), sum(u.interval is not None for u in units),
                                   a_rate, a_source, a_seconds)
        asked = set(routing.atlas) | set(routing.live)
        return ScoringPlan(
            source=f"AlphaGenome at {self.server()}", rows=len(requests.keys), distinct_variants=len(requests.wanted),
            cached=len(requests.wanted) - len(asked), to_request=len(to_call), over_cap=len(skipped),
            no_track_rows=requests.failures.count("no_track_for_biosample"), calls=len(to_call), per_minute=per_minute,
            rate_source=source, estimated_seconds=seconds, atlas=atlas_plan)

    def plan(self, variants: pd.DataFrame, *, cache_dir: Path, log: logging.Logger) -> ScoringPlan:
        """The preflight and the plan, without a paid call (what `score-variants --dry-run` prints)."""
        session = self.connect_and_check(variants, log)
        session.close()
        requests = self._requests(variants, session.tracks)
        with ScoreCache(cache_dir) as cache:
            return self._plan(cache, requests, self._route(cache, requests, session), session)

    def score_variants(
        self, variants: pd.DataFrame, *, reference: ReferenceGenome | None = None, cache_dir: Path,
        log: logging.Logger,
    ) -> ScoringOutcome:
        """Score every row; a `biosample` column (ontology CURIE per row) picks the track, else the readout's
        `dnase_ontology` / `rna_ontology`. Raises `ApiKeyRefused` when the key is empty or refused."""
        session = self.connect_and_check(variants, log)
        calls = {ATLAS: 0, LIVE: 0}
        try:
            requests = self._requests(variants, session.tracks)
            with ScoreCache(cache_dir) as cache:
                routing = self._route(cache, requests, session)
                if unbound := cache.unbound_calls():
                    log.info(f"AlphaGenome: the cache holds {unbound:,} outcomes written before it recorded servers; "
                             "they are kept but not served (docs/alphagenome.md says how to adopt them)")
                plan = self._plan(cache, requests, routing, session)
                for line in plan.lines():
                    log.info(line)
                if routing.atlas:
                    calls[ATLAS] = run_atlas(self, session, cache, requests, routing, log)
                live_calls = list(routing.live.values())
                to_call, skipped = live_calls[: self.max_new_calls_per_run], live_calls[self.max_new_calls_per_run:]
                calls[LIVE] = run_live(self, session.client, cache, routing, to_call, log)
        finally:
            session.close()
        outcome = assemble(variants, requests, routing, {k for _, keys in skipped for k in keys}, calls)
        outcome.plan = plan.metadata()
        return outcome
