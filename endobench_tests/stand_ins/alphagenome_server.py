"""A loopback AlphaGenome server: a real gRPC `DnaModelService` speaking the exact messages the SDK parses.

It serves `GetMetadata` with AlphaGenome's real human track catalogue (all 5,563 tracks of the bundled
`data/sample/alphagenome_track_metadata.human.tsv.gz`, built into the `OutputMetadata` protos the SDK's
`output_metadata()` parses), `ScoreVariant` (one output message per requested scorer, holding every track of the
scorer's output type from that catalogue, then its tensor chunks) and a minimal `PredictSequence`. Scores are a
deterministic function of the request (variant, track, gene, model version, interval width), so two runs that ask
the same thing get the same numbers. Latency, transient faults at a rate, aborts mid-stream, slow calls, permanent
errors for chosen variants, and one rejection for every variant are injected with a seeded random generator.
Every request is recorded so tests can assert that nothing is asked twice.

Like Google's API front end, it refuses a wrong key with INVALID_ARGUMENT "API key not valid" and a
`google.rpc.ErrorInfo` (reason API_KEY_INVALID) in the `grpc-status-details-bin` trailer (GetMetadata included),
can refuse a project (SERVICE_DISABLED, BILLING_DISABLED), and enforces a quota on `ScoreVariant` in any of the
shapes of `quotas.py` (a sliding window, a bucket refilled each window, a bucket refilled continuously) with
RESOURCE_EXHAUSTED, optionally carrying a `google.rpc.RetryInfo` delay. `GetMetadata` is not metered.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
from alphagenome import tensor_utils
from alphagenome.data import genome, ontology, track_data
from alphagenome.models.v1 import dna_client, track_data_utils
from alphagenome.protos.v1 import dna_model_pb2, dna_model_service_pb2, dna_model_service_pb2_grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from alphagenome.protos import atlas_service_pb2_grpc

from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.stand_ins.alphagenome_atlas import ATLAS_RPCS, AtlasHoldings, AtlasRefusal, AtlasServicer
from endobench_tests.stand_ins.alphagenome_catalogue import catalogue, tracks_of
from endobench_tests.stand_ins.quotas import QuotaShape
from endobench_tests.stand_ins.scores import expected_quantile, expected_score, scores, unit_hash

__all__ = ["expected_quantile", "expected_score"]  # the stand-in's scores, for tests that check values

API_KEY_HEADER = "x-goog-api-key"
TRANSIENT_CODES = (
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DEADLINE_EXCEEDED,
)


@dataclass(frozen=True)
class StandInGene:
    """A gene of the stand-in's annotation: 0-based half-open body on the + strand of the reference."""

    gene_id: str  # without version, as the real service returns it
    chrom: str
    start: int
    end: int
    strand: str = "+"


@dataclass
class FaultPlan:
    """What goes wrong, and how often. Rates are per request; `permanent` maps variant strings to a status."""

    transient_rate: float = 0.0
    transient_codes: Sequence[grpc.StatusCode] = TRANSIENT_CODES
    mid_stream_rate: float = 0.0
    truncate_rate: float = 0.0  # the stream ends cleanly (status OK) before the announced tensor chunks
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    permanent: Mapping[str, grpc.StatusCode] = field(default_factory=dict)
    flaky: Mapping[str, int] = field(default_factory=dict)  # variant -> UNAVAILABLE answers before it succeeds
    reject_all: grpc.StatusCode | None = None  # every ScoreVariant refused with this code and `reject_message`
    reject_message: str = "Request contains an invalid argument."
    seed: int = 0


@dataclass(frozen=True)
class Refusal:
    """How Google's API front end refuses a caller: the status code, message and ErrorInfo reason it sends."""

    code: grpc.StatusCode
    message: str
    reason: str = ""


WRONG_KEY = Refusal(grpc.StatusCode.INVALID_ARGUMENT, "API key not valid. Please pass a valid API key.",
                    "API_KEY_INVALID")
MISSING_KEY = Refusal(grpc.StatusCode.PERMISSION_DENIED, "The request is missing a valid API key.")
SERVICE_DISABLED = Refusal(
    grpc.StatusCode.PERMISSION_DENIED,
    "AlphaGenome API has not been used in project 0 before or it is disabled. Enable it by visiting the API "
    "console, then retry.", "SERVICE_DISABLED")
BILLING_DISABLED = Refusal(grpc.StatusCode.PERMISSION_DENIED,
                           "This API method requires billing to be enabled.", "BILLING_DISABLED")
UNAUTHENTICATED = Refusal(grpc.StatusCode.UNAUTHENTICATED, "Request had invalid authentication credentials.")
SERVICE = "gdmscience.googleapis.com"
FREE_RPCS = frozenset({"GetMetadata", "ListVariantScoresMetadata"})  # catalogues: not metered


def _packed(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def rich_status(code: grpc.StatusCode, message: str, reason: str = "", retry_delay: float | None = None):
    """A status with google.rpc details (ErrorInfo, RetryInfo), as `context.abort_with_status` sends it."""
    details = []
    if reason:
        details.append(_packed(error_details_pb2.ErrorInfo(reason=reason, domain="googleapis.com",
                                                           metadata={"service": SERVICE})))
    if retry_delay is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(retry_delay * 1e9))
        details.append(_packed(error_details_pb2.RetryInfo(retry_delay=delay)))
    return rpc_status.to_status(status_pb2.Status(code=getattr(code_pb2, code.name), message=message,
                                                  details=details))


@dataclass
class RequestRecord:
    """One request as the server saw it; recorded on arrival, so a request the client gave up on still counts."""

    rpc: str
    variant: str  # `chr:pos:REF>ALT` for ScoreVariant, the sequence hash for PredictSequence
    started: float
    had_api_key: bool
    outcome: str = "incomplete"  # "ok", the status code name injected, or "incomplete" if the stream was dropped
    finished: float | None = None
    retry_delay: float | None = None  # the RetryInfo delay sent with a quota refusal
    filter: str = ""  # an Atlas request's filter (AIP-160 text)


class _Servicer(dna_model_service_pb2_grpc.DnaModelServiceServicer):
    def __init__(self, stand_in: AlphaGenomeStandIn) -> None:
        self.stand_in = stand_in

    def ScoreVariant(self, request_iterator, context):
        request = next(iter(request_iterator))
        variant = genome.Variant.from_proto(request.variant)
        yield from self.stand_in._serve("ScoreVariant", str(variant), context,
                                        lambda: self.stand_in._score_variant_messages(request, variant))

    def GetMetadata(self, request, context):
        yield from self.stand_in._serve("GetMetadata", "", context, self.stand_in._metadata_messages)

    def PredictSequence(self, request_iterator, context):
        request = next(iter(request_iterator))
        key = hashlib.blake2b(request.sequence.encode(), digest_size=8).hexdigest()
        yield from self.stand_in._serve("PredictSequence", key, context,
                                        lambda: self.stand_in._predict_sequence_messages(request))


class AlphaGenomeStandIn:
    """Start with `with AlphaGenomeStandIn(...) as server:`; connect to `server.address` (127.0.0.1:port)."""

    def __init__(
        self,
        *,
        genes: Sequence[StandInGene] = (),
        latency: float = 0.0,
        network_latency: float = 0.0,
        faults: FaultPlan | None = None,
        expected_api_key: str | None = None,
        wrong_key: Refusal = WRONG_KEY,
        project_refusal: Refusal | None = None,
        status_details: bool = True,
        quota: QuotaShape | None = None,
        merges_stranded_tracks: bool = True,
        withheld_tracks: frozenset[str] | set[str] = frozenset(),
        max_workers: int = 16,
        bytes_per_chunk: int = 16_384,
        atlas: AtlasHoldings | None = AtlasHoldings(),
        atlas_faults: FaultPlan | None = None,
        atlas_quota: QuotaShape | None = None,
        atlas_latency: float = 0.0,
    ) -> None:
        self.genes = list(genes)
        # The AtlasService beside the model, from the same scores (None: the server has no Atlas, UNIMPLEMENTED);
        # its faults, quota and latency are its own, as the real Atlas is a service of its own.
        self.atlas = atlas
        self.atlas_faults = atlas_faults or FaultPlan()
        self.atlas_quota = atlas_quota
        self.atlas_latency = atlas_latency
        self._atlas_rng = random.Random(self.atlas_faults.seed)
        self.latency = latency
        self.network_latency = network_latency  # before every answer, refusals included (`latency` is the model's)
        self.faults = faults or FaultPlan()
        self.expected_api_key = expected_api_key
        self.wrong_key = wrong_key
        self.key_revoked = False  # set mid-run: the key passed the free preflight, now every paid call is refused
        self.project_refusal = project_refusal
        self.status_details = status_details
        self.quota = quota
        self.merges_stranded_tracks = merges_stranded_tracks
        self.withheld_tracks = frozenset(withheld_tracks)  # in the catalogue, left out of ScoreVariant answers
        self._answer_cache: dict[tuple[int, bool], tuple[list, list]] = {}
        self.bytes_per_chunk = bytes_per_chunk
        self.max_workers = max_workers
        self._rng = random.Random(self.faults.seed)
        self._flaky_left = Counter(self.faults.flaky)
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._server: grpc.Server | None = None
        self.address = ""

    def __enter__(self) -> AlphaGenomeStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> AlphaGenomeStandIn:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.max_workers))
        dna_model_service_pb2_grpc.add_DnaModelServiceServicer_to_server(_Servicer(self), self._server)
        if self.atlas is not None:
            atlas_service_pb2_grpc.add_AtlasServiceServicer_to_server(AtlasServicer(self, self.atlas), self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None

    def set_faults(self, faults: FaultPlan) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)
            self._flaky_left = Counter(faults.flaky)

    def genes_in(self, interval: genome.Interval) -> list[StandInGene]:
        """The genes of the stand-in's annotation that overlap an interval (what a gene scorer answers for)."""
        return [g for g in self.genes
                if g.chrom == interval.chromosome and g.start < interval.end and g.end > interval.start]

    @property
    def records(self) -> list[RequestRecord]:
        """The paid requests (ScoreVariant, PredictSequence, the Atlas's Get/ListDenseVariantScores), in arrival
        order."""
        with self._lock:
            return [r for r in self._records if r.rpc not in FREE_RPCS]

    @property
    def live_records(self) -> list[RequestRecord]:
        """The live model's paid requests (ScoreVariant, PredictSequence)."""
        return [r for r in self.records if r.rpc not in ATLAS_RPCS]

    @property
    def atlas_records(self) -> list[RequestRecord]:
        """The Atlas's paid requests: one variant (GetDenseVariantScores) or one interval (ListDenseVariantScores)."""
        return [r for r in self.records if r.rpc in ATLAS_RPCS]

    @property
    def metadata_requests(self) -> list[RequestRecord]:
        """The free catalogue requests (GetMetadata; the Atlas's ListVariantScoresMetadata)."""
        with self._lock:
            return [r for r in self._records if r.rpc in FREE_RPCS]

    def clear_records(self) -> None:
        with self._lock:
            self._records.clear()

    def requests_by_variant(self, rpc: str = "ScoreVariant") -> Counter:
        return Counter(r.variant for r in self.records if r.rpc == rpc)

    def completed(self, rpc: str = "ScoreVariant") -> int:
        return sum(1 for r in self.records if r.rpc == rpc and r.outcome == "ok")

    def _serve(self, rpc: str, variant: str, context, build_messages):
        """A streaming answer: admitted (key, quota, faults), then its messages, which a fault may cut short."""
        finish, mid_stream, truncate = self._admit(rpc, variant, context)
        try:
            messages = build_messages()
        except ValueError as exc:
            finish("INVALID_ARGUMENT")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if mid_stream:
            # The first message (an output header announcing chunks) goes out, then the stream breaks.
            yield messages[0]
            finish("MID_STREAM_ABORT")
            context.abort(grpc.StatusCode.UNAVAILABLE, "stand-in connection dropped mid-stream")
        if truncate:
            yield messages[0]
            finish("TRUNCATED")
            return
        if not context.is_active():
            finish("CANCELLED")
            return
        # Marked finished before the last message leaves, so a client's next call never appears to overlap it.
        yield from messages[:-1]
        finish("ok")
        yield from messages[-1:]

    def _serve_unary(self, rpc: str, key: str, context, build_message, filter_text: str = ""):
        """A unary answer (the Atlas's RPCs), admitted as a streaming one is; `build_message` may abort with its own
        status (a variant the Atlas lacks, a REF that is not the genome's)."""
        finish, _, _ = self._admit(rpc, key, context, filter_text)
        try:
            message = build_message()
        except AtlasRefusal as refusal:
            finish(refusal.code.name)
            context.abort(refusal.code, refusal.message)
        finish("ok")
        return message

    def _admit(self, rpc: str, variant: str, context, filter_text: str = ""):
        """Record the request and answer what comes before any score: the key, the project, the quota, the faults
        the plan injects. Returns how to mark the request finished, and whether the stream breaks or ends early."""
        started = time.monotonic()
        metadata = dict(context.invocation_metadata())
        had_key = bool(metadata.get(API_KEY_HEADER))
        paid = rpc not in FREE_RPCS
        with self._lock:
            plan = (self.atlas_faults if rpc in ATLAS_RPCS else self.faults) if paid else FaultPlan()
            rng = (self._atlas_rng if rpc in ATLAS_RPCS else self._rng) if paid else random.Random(0)
            transient = rng.random() < plan.transient_rate
            code = rng.choice(list(plan.transient_codes)) if transient else None
            if self._flaky_left[variant] > 0 and paid:
                self._flaky_left[variant] -= 1
                code = grpc.StatusCode.UNAVAILABLE
            mid_stream = rng.random() < plan.mid_stream_rate
            truncate = rng.random() < plan.truncate_rate
            slow = rng.random() < plan.slow_rate

        record = RequestRecord(rpc, variant, started, had_key, filter=filter_text)
        with self._lock:
            self._records.append(record)

        def finish(outcome: str) -> None:
            with self._lock:
                record.outcome, record.finished = outcome, time.monotonic()

        time.sleep(self.network_latency)
        key = metadata.get(API_KEY_HEADER)
        refusal = self.project_refusal
        if self.expected_api_key is not None and key != self.expected_api_key:
            refusal = self.wrong_key if key else MISSING_KEY
        if self.key_revoked and paid:
            refusal = self.wrong_key
        if refusal is not None:
            finish(refusal.code.name)
            self._abort(context, refusal.code, refusal.message, refusal.reason)
        quota = self.atlas_quota if rpc in ATLAS_RPCS else self.quota
        if quota is not None and paid and rpc != "PredictSequence":
            with self._lock:
                wait = quota.take(time.monotonic())
            if wait is not None:
                record.retry_delay = wait if quota.retry_info else None
                finish("RESOURCE_EXHAUSTED")
                self._abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                            "Quota exceeded for quota metric 'AlphaGenome predictions tokens' and limit "
                            f"'per minute' of service '{SERVICE}'.", "RATE_LIMIT_EXCEEDED",
                            wait if quota.retry_info else None)
        latency = self.atlas_latency if rpc in ATLAS_RPCS else self.latency
        time.sleep((latency if paid else 0.0) + (plan.slow_seconds if slow else 0.0))
        if plan.reject_all is not None and paid:
            finish(plan.reject_all.name)
            context.abort(plan.reject_all, plan.reject_message)
        if variant in plan.permanent:
            status = plan.permanent[variant]
            finish(status.name)
            context.abort(status, f"stand-in rejects {variant}")
        if code is not None:
            finish(code.name)
            context.abort(code, "stand-in transient fault")
        return finish, mid_stream, truncate

    def _abort(self, context, code: grpc.StatusCode, message: str, reason: str = "",
               retry_delay: float | None = None) -> None:
        if self.status_details:
            context.abort_with_status(rich_status(code, message, reason, retry_delay))
        context.abort(code, message)

    def _score_variant_messages(self, request, variant: genome.Variant) -> list:
        interval = genome.Interval.from_proto(request.interval)
        dna_client.validate_sequence_length(interval.width)
        if not (interval.start <= variant.start and variant.end <= interval.end):
            raise ValueError(f"variant {variant} lies outside interval {interval}")
        if not variant.chromosome.startswith("chr"):
            raise ValueError(f"unknown chromosome {variant.chromosome!r}")
        messages = []
        for scorer in request.variant_scorers:
            kind = scorer.WhichOneof("scorer")
            if kind == "center_mask":
                output_type, genes = scorer.center_mask.requested_output, [None]
            elif kind == "gene_mask":
                output_type = scorer.gene_mask.requested_output
                genes = self.genes_in(interval)
            else:
                raise ValueError(f"the stand-in does not implement scorer {kind!r}")
            merged = (request.merge_stranded_gene_tracks and self.merges_stranded_tracks) or kind == "center_mask"
            track_protos, track_names = self.answer_tracks(output_type, merged)
            gene_keys = [(g.gene_id if g else "") for g in genes]
            names = [name for name, _ in track_names]
            if merged:
                raw = scores(str(variant), names, gene_keys, request.model_version, interval.width)
            else:  # a stranded track scores each gene on each strand differently
                raw = np.stack([[expected_score(str(variant), n, k + (s if s != "." else ""), request.model_version,
                                                interval.width) for n, s in track_names] for k in gene_keys])
            raw = raw.reshape(len(genes), len(track_names)).astype(np.float32)
            values = np.stack([raw, expected_quantile(raw).astype(np.float32)])
            tensor, chunks = tensor_utils.pack_tensor(values, bytes_per_chunk=self.bytes_per_chunk)
            gene_metadata = [
                dna_model_pb2.GeneScorerMetadata(gene_id=g.gene_id, strand=genome.Strand.from_str(g.strand).to_proto())
                for g in genes if g is not None
            ]
            messages.append(dna_model_service_pb2.ScoreVariantResponse(
                output=dna_model_pb2.ScoreVariantOutput(variant_data=dna_model_pb2.VariantData(
                    values=tensor,
                    metadata=dna_model_pb2.VariantMetadata(
                        variant=request.variant, track_metadata=track_protos, gene_metadata=gene_metadata),
                ))
            ))
            messages.extend(dna_model_service_pb2.ScoreVariantResponse(tensor_chunk=c) for c in chunks)
        return messages

    def answer_tracks(self, output_type: int, merged: bool) -> tuple[list, list[tuple[str, str]]]:
        """The tracks a ScoreVariant answer lists for an output type (built once per server and kind of answer)."""
        cache = self._answer_cache
        if (output_type, merged) not in cache:
            tracks = [t for t in tracks_of(output_type) if t.name not in self.withheld_tracks]
            if not tracks:
                raise ValueError(f"no tracks for output type {output_type}")
            strands = [(t, s) for t in tracks for s in (["+", "-"] if t.stranded and not merged else ["."])]
            cache[(output_type, merged)] = ([t.to_proto(s) for t, s in strands], [(t.name, s) for t, s in strands])
        return cache[(output_type, merged)]

    def _metadata_messages(self) -> list:
        """The catalogue in two messages, as a stream may split it."""
        metadata, _ = catalogue()
        half = len(metadata) // 2
        return [dna_model_service_pb2.MetadataResponse(output_metadata=metadata[:half]),
                dna_model_service_pb2.MetadataResponse(output_metadata=metadata[half:])]

    def _predict_sequence_messages(self, request) -> list:
        dna_client.validate_sequence_length(len(request.sequence))
        wanted = {ontology.from_proto(t).ontology_curie for t in request.ontology_terms}
        messages = []
        for output_type in request.requested_outputs:
            tracks = [t for t in tracks_of(output_type) if not wanted or t.ontology_curie in wanted]
            # A smooth per-base profile whose level depends on the sequence, so ref and alt differ.
            level = np.array([1.0 + abs(unit_hash(request.sequence, t.name)) for t in tracks], dtype=np.float32)
            values = np.broadcast_to(level, (len(request.sequence), len(tracks))).astype(np.float32)
            data = track_data.TrackData(
                values=values,
                metadata=pd.DataFrame({"name": [t.name for t in tracks], "strand": ["."] * len(tracks)}),
            )
            proto, chunks = track_data_utils.to_protos(data, bytes_per_chunk=max(self.bytes_per_chunk, 1 << 16))
            messages.append(dna_model_service_pb2.PredictSequenceResponse(
                output=dna_model_pb2.Output(output_type=output_type, track_data=proto)))
            messages.extend(dna_model_service_pb2.PredictSequenceResponse(tensor_chunk=c) for c in chunks)
        return messages


SAMPLE_EGENES = SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.chr22.txt.gz"


def fast_predictor(address: str, **overrides):
    """The production AlphaGenome predictor pointed at a stand-in, with test-speed settings (no rate ceiling,
    millisecond backoffs) and the live model only, so that a test of the live path counts its calls alone (the
    Atlas's tests pass `atlas=True`, the production default); `overrides` replace any setting."""
    from endobench.resources.alphagenome import AlphaGenomePredictor

    settings = dict(api_key="stand-in-test-key", address=address, requests_per_minute=0, initial_backoff_seconds=0.005,
                    max_backoff_seconds=0.02, call_deadline_seconds=10, connect_timeout_seconds=5, atlas=False)
    return AlphaGenomePredictor(**(settings | overrides))


def gene_desert(genes: Sequence[StandInGene], width: int, chrom: str = "chr22") -> int:
    """A 1-based position whose centred `width` interval overlaps no gene of `genes` (the first such gap)."""
    reach = 0
    for start, end in sorted((g.start, g.end) for g in genes if g.chrom == chrom):
        if start - reach > width + 2:
            return (reach + start) // 2
        reach = max(reach, end)
    raise ValueError(f"no gene desert of {width:,} bp among the genes on {chrom}")


def sample_eqtl_requests(n_genes: int, *, path: Path = SAMPLE_EGENES) -> tuple[pd.DataFrame, list[StandInGene]]:
    """Predictor input for the first `n_genes` real GTEx Whole Blood eGenes on chr22, and their gene annotation.

    One `expression` row per eGene (its lead variant and versioned GTEx gene id) plus one `accessibility` row per
    distinct lead variant, in the columns the prediction asset passes. The annotation holds every eGene of the file
    (unversioned ids, 0-based bodies), so a 1 MB interval contains many genes, as the real service returns.
    """
    table = pd.read_csv(path, sep="\t", usecols=["gene_id", "gene_chr", "gene_start", "gene_end", "strand",
                                                 "variant_id", "chr", "variant_pos", "ref", "alt"])
    genes = [StandInGene(g.split(".")[0], c, int(s) - 1, int(e), st) for g, c, s, e, st in
             table[["gene_id", "gene_chr", "gene_start", "gene_end", "strand"]].itertuples(index=False)]
    chosen = table.head(n_genes)
    base = pd.DataFrame({
        "variant_id": chosen["variant_id"], "chrom": chosen["chr"], "pos": chosen["variant_pos"].astype(int),
        "ref": chosen["ref"], "alt": chosen["alt"], "gene_id": chosen["gene_id"],
    })
    expression = base.assign(readout="expression")
    accessibility = base.drop_duplicates("variant_id").assign(gene_id=pd.NA, readout="accessibility")
    frame = pd.concat([expression, accessibility], ignore_index=True)
    frame["window_start"] = frame["pos"] - 1 - 1_048_576 // 2
    frame["window_end"] = frame["window_start"] + 1_048_576
    return frame, genes
