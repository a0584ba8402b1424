"""The live AlphaGenome model as a source of scores: one `ScoreVariant` call per distinct variant, and the free
`GetMetadata` that the preflight asks before any paid call.

Requests are built and answers parsed by the SDK's `DnaClient` itself (`score_variant` with its retry decorator
bypassed, so that retries happen in one place, the dispatcher); against the public endpoint or a loopback server
the code path is the same. Only the named tracks' raw and quantile scores are copied out of each answer: no AnnData
object is kept, so memory stays flat however many variants a run scores.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np

from endobench.lib.scoring.dispatch import Attempt
from endobench.lib.scoring.rpc_errors import Kind, RpcFailure, ServiceRefused, ServiceUnreachable, classify
from endobench.lib.scoring.score_cache import CallKey
from endobench.lib.scoring.tracks import TrackCatalogue

API_KEY_HEADER = "x-goog-api-key"
PUBLIC_ADDRESS = "gdmscience.googleapis.com:443"  # where the SDK's `dna_client.create` connects by default
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
INCOMPLETE_RESPONSE = "incomplete_response"
REJECTED_BY_CLIENT = "rejected_by_client"
UNREADABLE_RESPONSE = "unreadable_response"
PREFLIGHT_ATTEMPTS = 4
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def server_id(address: str) -> str:
    """The server a cached score came from: the address, with the public endpoint spelled one way."""
    address = address.strip().removeprefix("dns:///")
    return (address or PUBLIC_ADDRESS).lower()


def strip_gene_version(gene_id: str) -> str:
    """`ENSG00000187634.11` -> `ENSG00000187634` (GTEx ids carry a version, AlphaGenome's do not)."""
    return gene_id.split(".", 1)[0]


class Secret:
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


class _CallOptions(grpc.StreamStreamClientInterceptor, grpc.UnaryStreamClientInterceptor,
                   grpc.UnaryUnaryClientInterceptor):
    """Give every call a deadline (the SDK sets none, so a hung stream would block a worker forever) and the API
    key header (added here rather than in the client's metadata, so that no client object holds the key)."""

    def __init__(self, seconds: float, key: Secret) -> None:
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

    def intercept_unary_unary(self, continuation, client_call_details, request):  # the Atlas's RPCs
        return continuation(self._details(client_call_details), request)


def connect(address: str, key: Secret, *, model_version: str, call_deadline_seconds: float,
            connect_seconds: float):
    """A `DnaClient` on a channel that is up, whose every call carries the key and a deadline; the caller closes
    `client._channel`. A loopback address gets a plain channel, any other TLS (so the key never travels in clear).
    Raises `ServiceUnreachable` when the channel is not up within `connect_seconds`."""
    from alphagenome.models import dna_client

    host = address.rsplit(":", 1)[0] if address else ""
    if host in LOOPBACK_HOSTS:
        channel = grpc.insecure_channel(address, options=_CHANNEL_OPTIONS)
    else:
        channel = grpc.secure_channel(address or f"dns:///{PUBLIC_ADDRESS}", grpc.ssl_channel_credentials(),
                                      options=_CHANNEL_OPTIONS)
    try:
        grpc.channel_ready_future(channel).result(timeout=connect_seconds)
    except grpc.FutureTimeoutError:
        channel.close()
        raise ServiceUnreachable(
            f"could not reach {address or 'the public AlphaGenome endpoint (' + PUBLIC_ADDRESS + ')'} within "
            f"{connect_seconds:g} s; nothing was sent. Check the network and ENDOBENCH_ALPHAGENOME_ADDRESS (empty for "
            "the public endpoint)") from None
    intercepted = grpc.intercept_channel(channel, _CallOptions(call_deadline_seconds, key))
    return dna_client.DnaClient(channel=intercepted, model_version=dna_client.ModelVersion[model_version])


def fetch_catalogue(client, address: str, timeout_seconds: float) -> TrackCatalogue:
    """The server's track catalogue: one free `GetMetadata`, the request the SDK's `output_metadata()` sends, parsed
    by the SDK, with a deadline of its own. It also checks the key: raises `ServiceRefused` for a refused key or
    project and `ServiceUnreachable` when the server does not answer."""
    from alphagenome.models import dna_client
    from alphagenome.protos.v1 import dna_model_service_pb2, dna_model_service_pb2_grpc

    request = dna_model_service_pb2.MetadataRequest(organism=dna_client.Organism.HOMO_SAPIENS.to_proto())
    stub = dna_model_service_pb2_grpc.DnaModelServiceStub(client._channel)
    deadline = time.monotonic() + timeout_seconds
    for attempt in range(PREFLIGHT_ATTEMPTS):
        try:
            left = max(deadline - time.monotonic(), 0.1)
            metadata = dna_client.construct_output_metadata(stub.GetMetadata(request, timeout=left))
            return TrackCatalogue.from_output_metadata(metadata)
        except grpc.RpcError as exc:
            failure = classify(exc)
        if failure.kind is Kind.REFUSED:
            raise ServiceRefused(failure) from None
        if failure.kind not in (Kind.TRANSIENT, Kind.QUOTA) or time.monotonic() + 2**attempt > deadline:
            break
        time.sleep(2**attempt)  # a hiccup of the service: ask again while the preflight's time lasts
    raise ServiceUnreachable(f"{address or PUBLIC_ADDRESS} did not give its track catalogue (GetMetadata, free) "
                             f"within {timeout_seconds:g} s: {failure.code} {failure.message[:200]}; nothing was "
                             "sent") from None


@dataclass
class Unit:
    """One distinct request: a variant, the scorers it carries, and the (scorer, track) keys to read back."""

    variant: Any
    scorers: list[Any]
    keys: list[CallKey]
    key_scorer: list[int]  # index into `scorers` for each key
    key_by_gene: list[bool]  # gene scorer (one row per gene) or not


@dataclass
class Answer:
    """The scores one answer holds, by key and gene, the strand each came from, and the keys whose named track the
    answer lacks."""

    scores: dict[CallKey, dict[str, tuple[float, float]]] = field(default_factory=dict)
    strands: dict[CallKey, dict[str, str]] = field(default_factory=dict)
    track_missing: list[CallKey] = field(default_factory=list)


class LiveScoreVariant:
    """The live model: `call(unit)` makes one `ScoreVariant` call and reads the unit's tracks from its answer."""

    def __init__(self, client, interval_length: int) -> None:
        from alphagenome.models import dna_client

        self.client = client
        self.interval_length = interval_length
        method = dna_client.DnaClient.score_variant
        self._score_variant = getattr(method, "__wrapped__", method)  # retries happen in the dispatcher

    def call(self, unit: Unit) -> Attempt:
        interval = unit.variant.reference_interval.resize(self.interval_length)
        try:
            outputs = self._score_variant(self.client, interval, unit.variant, unit.scorers)
        except grpc.RpcError as exc:
            return Attempt(failure=classify(exc))
        except ValueError as exc:
            # The SDK raises ValueError when a stream ends before the chunks it announced: a dropped connection.
            message = " ".join(str(exc).split())
            if "end of stream" in message or "tensor_chunk" in message:
                return Attempt(failure=RpcFailure(INCOMPLETE_RESPONSE.upper(), Kind.TRANSIENT, message))
            return Attempt(failure=RpcFailure(REJECTED_BY_CLIENT.upper(), Kind.PERMANENT, message))
        try:
            return Attempt(result=read_answer(unit, outputs))
        except (KeyError, IndexError, ValueError) as exc:  # an answer this code cannot read: this run only
            return Attempt(failure=RpcFailure(UNREADABLE_RESPONSE.upper(), Kind.OTHER, f"{type(exc).__name__}: {exc}"))


def read_answer(unit: Unit, outputs: list) -> Answer:
    """Copy the named track's raw and quantile scores out of each AnnData; keep nothing else."""
    answer = Answer()
    for key, scorer_index, by_gene in zip(unit.keys, unit.key_scorer, unit.key_by_gene):
        adata = outputs[scorer_index]
        names = adata.var["name"].astype(str).to_numpy() if "name" in adata.var.columns else np.array([])
        named = names == key.track
        if not named.any():
            answer.track_missing.append(key)
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
        answer.scores[key] = scores
        answer.strands[key] = used
    return answer


def _track_column(named: np.ndarray, strands: np.ndarray, strand: str) -> int:
    """The column of the named track on `strand`; else its unstranded column; else its first column."""
    for wanted in (strand, "."):
        hits = np.flatnonzero(named & (strands == wanted))
        if len(hits):
            return int(hits[0])
    return int(np.flatnonzero(named)[0])
