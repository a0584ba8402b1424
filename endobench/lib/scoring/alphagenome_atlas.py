"""The AlphaGenome Atlas as a source of scores: precomputed scores of every SNV of GRCh38, read instead of a live
`ScoreVariant` call where the run's configuration is the one the Atlas was computed with.

What the Atlas was computed with (docs/alphagenome.md, "The AlphaGenome Atlas", gives the sources):
- the scorers: the recommended variant scorers, by their names (`DNASE`, `RNA_SEQ`, ...). The SDK labels each Atlas
  scorer it reads with `variant_scorers.RECOMMENDED_VARIANT_SCORERS[name]` (`atlas.convert_variant_scores_to_anndata`),
  so a readout reads the Atlas only when its scorer equals the recommended one of that name;
- the interval: each answer says which interval its variant was scored in (`DenseVariantScores.interval`); the
  public docs name no other length than the model's 1 MB. A score is taken only at `ATLAS_INTERVAL_LENGTH`, and only
  when the interval an answer names is the variant's centred interval of that length (what a live call sends);
- the model version: the docs do not say. The conservative choice: only `ALL_FOLDS` (the API's default, trained on
  every region) reads the Atlas; a FOLD_k configuration never does.

Requests are built and answers parsed by the SDK: for one variant the request its `AtlasClient.query_variants` sends
(`GetDenseVariantScores`), for an interval the one its `query_interval` sends for each of its 32-bp chunks
(`ListDenseVariantScores`, every page), each with the SDK's filter and field mask, asked here one call at a time so
that retries, pacing and progress stay in the one dispatcher; `convert_variant_scores_to_anndata` parses the answer,
with each score's tracks from the answer when it names them, else from the Atlas's scorer metadata (as the SDK takes
them when its field mask leaves them out). Filters name the scorers, the tracks' ontology terms and, where every
score asked has genes, the genes (`atlas_utils.build_filter`). An indel or MNV is not in the Atlas; a variant the
Atlas lacks (NOT_FOUND for it or for its interval, or absent from a listing that holds its REF at the position) and a
score computed in another interval, or in one the answer does not name, are answers that send the variant live; a REF
that is not the genome's (INVALID_ARGUMENT saying so, or a listing whose base at the position differs) is the
variant's own `ref_mismatch`, never a stop of the run. An answer this code cannot read fails its variants for this
run only.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np

from endobench.lib.scoring.alphagenome_live import PREFLIGHT_ATTEMPTS, UNREADABLE_RESPONSE, Answer, Unit, read_answer
from endobench.lib.scoring.dispatch import Attempt
from endobench.lib.scoring.rpc_errors import Kind, RpcFailure, ServiceRefused, ServiceUnreachable, classify
from endobench.lib.scoring.score_cache import CallKey

ATLAS_MODEL_VERSION = "ALL_FOLDS"  # not stated by the docs: the conservative choice (module docstring)
ATLAS_INTERVAL_LENGTH = 1_048_576  # the model's 1 MB; every answer's own interval is checked against it too
AVI_SCORER = "AVI_SCORE"  # AlphaGenome Variant Impact: one unsigned number per SNV, in the Atlas only
LISTING_MAX_BP = 32  # the SDK's `atlas._INTERVAL_CHUNK_SIZE`: what one ListDenseVariantScores covers
SNVS_PER_BP = 3
# No latency is published; a lookup reads stored scores (no model runs), so it is taken as a fraction of a second.
TYPICAL_SECONDS_PER_CALL = 0.5
NOT_IN_ATLAS = "not_in_atlas"  # the Atlas lacks the variant (or the score): it goes live
OTHER_INTERVAL = "atlas_other_interval"  # the Atlas scored it in another interval than a live call would: live
REF_MISMATCH = "ref_mismatch"  # the vocabulary of sequence_windows: REF is not the genome's base
# How a refusal of REF reads (the stand-in: "Reference base mismatch for variant ..."); an INVALID_ARGUMENT that does
# not mention the reference is the request's fault, and recorded as such.
_REF_MESSAGE = re.compile(r"\breference\b", re.IGNORECASE)
_SDK_ERRORS = (grpc.RpcError, ValueError, PermissionError, TimeoutError, NotImplementedError, IndexError)


def reads_atlas(model_version: str, interval_length: int) -> bool:
    """Whether a configuration is the one the Atlas was computed with (else it never reads the Atlas)."""
    return model_version == ATLAS_MODEL_VERSION and interval_length == ATLAS_INTERVAL_LENGTH


def atlas_scorer_name(scorer: Any) -> str | None:
    """The Atlas's name for a scorer: the recommended scorer it equals, or None (a scorer the Atlas never ran)."""
    from alphagenome.models import variant_scorers

    return next((name for name, recommended in variant_scorers.RECOMMENDED_VARIANT_SCORERS.items()
                 if recommended == scorer), None)


def is_snv(variant: Any) -> bool:
    return len(variant.reference_bases) == 1 and len(variant.alternate_bases) == 1


def centred_interval(variant: Any):
    return variant.reference_interval.resize(ATLAS_INTERVAL_LENGTH)


@dataclass(frozen=True)
class AtlasCatalogue:
    """The scorers the Atlas holds (`ListVariantScoresMetadata`, parsed by the SDK) and each one's tracks."""

    metadata: Mapping[str, Any]  # name -> the SDK's `ScorerMetadata`

    @functools.cached_property
    def _curies(self) -> dict[tuple[str, str], str]:
        """(scorer, track name) -> the track's first ontology CURIE ('' where it has none): built once, since every
        key of every variant is looked up."""
        import pandas as pd  # the SDK's track metadata are pandas frames

        index: dict[tuple[str, str], str] = {}
        for scorer, found in self.metadata.items():
            frame = found.track_metadata
            if "name" not in frame:
                continue
            curies = frame["ontology_curie"] if "ontology_curie" in frame else [None] * len(frame)
            for name, curie in zip(frame["name"], curies):
                key = (scorer, name)
                if not index.get(key):
                    index[key] = "" if pd.isna(curie) else str(curie)
        return index

    def holds(self, scorer: str, track: str) -> bool:
        return (scorer, track) in self._curies

    def curie(self, scorer: str, track: str) -> str:
        return self._curies.get((scorer, track), "")


class _Deadline:
    """A stub whose every call carries a deadline (the SDK's client methods take none)."""

    def __init__(self, stub, seconds: float) -> None:
        self._stub, self._seconds = stub, seconds

    def __getattr__(self, name: str):
        return functools.partial(getattr(self._stub, name), timeout=self._seconds)


def rpc_error(exc: BaseException) -> grpc.RpcError | None:
    """The gRPC error behind an exception the SDK's `handle_rpc_error` raised from it."""
    return exc if isinstance(exc, grpc.RpcError) else (
        exc.__cause__ if isinstance(exc.__cause__, grpc.RpcError) else None)


def fetch_catalogue(stub, address: str, timeout_seconds: float) -> AtlasCatalogue | None:
    """The Atlas's scorers and tracks (the SDK's `scorer_metadata()`, metadata only), within the preflight's time; None
    when the server has no Atlas (UNIMPLEMENTED). Raises `ServiceRefused` for a refused key, `ServiceUnreachable` when
    the Atlas does not answer."""
    from alphagenome.atlas import atlas

    deadline = time.monotonic() + timeout_seconds
    for attempt in range(PREFLIGHT_ATTEMPTS):
        try:
            left = max(deadline - time.monotonic(), 0.1)
            return AtlasCatalogue(atlas.AtlasClient(_Deadline(stub, left)).scorer_metadata())
        except _SDK_ERRORS as exc:
            error = rpc_error(exc)
            if error is None:
                raise
            failure = classify(error)
        if failure.kind is Kind.REFUSED:
            raise ServiceRefused(failure) from None
        if failure.code == "UNIMPLEMENTED":
            return None
        if failure.kind not in (Kind.TRANSIENT, Kind.QUOTA) or time.monotonic() + 2**attempt > deadline:
            break
        time.sleep(2**attempt)
    raise ServiceUnreachable(f"the AlphaGenome Atlas at {address} did not give its scorers (ListVariantScoresMetadata)"
                             f" within {timeout_seconds:g} s: {failure.code} {failure.message[:200]}; nothing was "
                             "sent (ENDOBENCH_ALPHAGENOME_ATLAS=off scores with the live model only)") from None


@dataclass
class AtlasUnit:
    """One Atlas call: a lookup of one variant, or a listing of an interval of at most 32 bp holding several.
    `keys[i]` are variant i's keys (source atlas) and whether each is a gene scorer's."""

    variants: list[Any]
    keys: list[dict[CallKey, bool]]
    scorers: list[str]  # Atlas scorer names to ask for
    ontology_terms: list[str]
    gene_ids: list[str] | None  # the gene filter, where every score asked has genes
    interval: Any = None  # a listing's interval; None for a lookup
    names: Mapping[str, str] = field(default_factory=dict)  # a key's scorer -> its Atlas name


@dataclass
class Verdict:
    """What the Atlas said about one variant: its scores (`answer`) and AVI, or why it gave none (`reason`)."""

    reason: str = ""
    answer: Answer | None = None
    avi: tuple[float, float] | None = None


@dataclass
class AtlasAnswer:
    verdicts: list[Verdict]
    pages: int = 1


def plan_units(pending: Sequence[tuple[Any, dict[CallKey, bool]]], names: Mapping[str, str],
               catalogue: AtlasCatalogue, with_avi: set[str], genes: Mapping[CallKey, set[str]]) -> list[AtlasUnit]:
    """The fewest calls for the variants to ask: variants within 32 bp of each other share one listing (it returns
    all three SNVs of each base); a variant alone is one lookup. `with_avi`: the variants whose AVI to ask too, when the Atlas holds it;
    `genes`: the genes each gene scorer's key is wanted for (the gene filter, where every score asked has genes)."""
    ordered = sorted(pending, key=lambda p: (p[0].chromosome, p[0].position, p[0].alternate_bases))
    groups: list[list[tuple[Any, dict[CallKey, bool]]]] = []
    for item in ordered:
        first = groups[-1][0][0] if groups else None
        if first is not None and first.chromosome == item[0].chromosome and \
                item[0].position - first.position < LISTING_MAX_BP:
            groups[-1].append(item)
        else:
            groups.append([item])
    units = []
    for group in groups:
        variants = [v for v, _ in group]
        keys = [k for _, k in group]
        wanted = {names[k.scorer]: k for ks in keys for k in ks}
        avi = AVI_SCORER in catalogue.metadata and any(str(v) in with_avi for v in variants)  # only if it holds it
        scorers = sorted(wanted) + ([AVI_SCORER] if avi else [])
        curies = sorted({c for ks in keys for k in ks if (c := catalogue.curie(names[k.scorer], k.track))})
        by_gene = all(b for ks in keys for b in ks.values()) and AVI_SCORER not in scorers
        gene_ids = sorted({g for ks in keys for k in ks for g in genes.get(k, ())}) if by_gene else None
        interval = None
        if len(variants) > 1:
            from alphagenome.data import genome

            interval = genome.Interval(variants[0].chromosome, variants[0].start, variants[-1].end)
        units.append(AtlasUnit(variants, keys, scorers, curies, gene_ids, interval, names))
    return units


class AtlasSource:
    """The Atlas: `call(unit)` makes one lookup or one listing (its pages) and reads each variant's scores."""

    def __init__(self, stub, catalogue: AtlasCatalogue) -> None:
        self.stub, self.catalogue = stub, catalogue

    def call(self, unit: AtlasUnit) -> Attempt:
        try:
            entries, pages = self._ask(unit)
        except _SDK_ERRORS as exc:
            error = rpc_error(exc)
            if error is None:
                return Attempt(failure=RpcFailure(UNREADABLE_RESPONSE.upper(), Kind.OTHER,
                                                  f"{type(exc).__name__}: {exc}"))
            failure = classify(error)
            if failure.kind is Kind.PERMANENT:
                if failure.code == "NOT_FOUND":  # a variant, or an interval, the Atlas does not hold: live
                    return Attempt(result=AtlasAnswer([Verdict(NOT_IN_ATLAS) for _ in unit.variants]))
                if unit.interval is None and failure.code == "INVALID_ARGUMENT" and _REF_MESSAGE.search(
                        failure.message):
                    return Attempt(result=AtlasAnswer([Verdict(REF_MISMATCH)]))
            return Attempt(failure=failure)
        try:
            outputs = self._parse(unit, entries)
            listed = _listed(entries)
            return Attempt(result=AtlasAnswer([self._read(unit, i, outputs, listed)
                                               for i in range(len(unit.variants))], pages))
        except (KeyError, IndexError, ValueError) as exc:  # an answer this code cannot read: this run only
            return Attempt(failure=RpcFailure(UNREADABLE_RESPONSE.upper(), Kind.OTHER, f"{type(exc).__name__}: {exc}"))

    def _ask(self, unit: AtlasUnit) -> tuple[list, int]:
        """The request the SDK's `query_variants` sends for one variant (`GetDenseVariantScores`), or the one its
        `query_interval` sends for one chunk (`ListDenseVariantScores`, every page of it): the SDK's filter and field
        mask. Returns the answer's `DenseVariantScores` and the requests made."""
        from alphagenome.atlas import atlas, atlas_utils
        from alphagenome.protos import atlas_service_pb2
        from alphagenome.protos.v1 import dna_model_pb2

        query = atlas_utils.build_filter(requested_scorers=unit.scorers, ontology_terms=unit.ontology_terms or None,
                                         gene_ids=unit.gene_ids)
        if unit.interval is None:
            request = atlas_service_pb2.GetDenseVariantScoresRequest(
                variant=unit.variants[0].to_proto(), organism=dna_model_pb2.ORGANISM_HOMO_SAPIENS, filter=query)
            metadata = [("x-goog-fieldmask", ",".join(atlas._GET_DENSE_VARIANT_SCORE_FIELD_MASKS))]
            with atlas.handle_rpc_error():
                return [self.stub.GetDenseVariantScores(request, metadata=metadata)], 1
        request = atlas_service_pb2.ListDenseVariantScoresRequest(
            interval=unit.interval.to_proto(), organism=dna_model_pb2.ORGANISM_HOMO_SAPIENS, filter=query,
            page_size=SNVS_PER_BP * unit.interval.width)
        metadata = [("x-goog-fieldmask", ",".join(atlas._LIST_DENSE_VARIANT_SCORES_FIELD_MASKS))]
        entries, pages = [], 0
        while True:
            with atlas.handle_rpc_error():
                response = self.stub.ListDenseVariantScores(request, metadata=metadata)
            pages += 1
            entries.extend(response.variant_scores)
            if not response.next_page_token:
                return entries, pages
            request.page_token = response.next_page_token

    def _parse(self, unit: AtlasUnit, entries: list) -> dict:
        """The answer as the SDK parses it: each score's tracks from the answer when every score names them, else
        (a field mask left them out, as the SDK asks) from the Atlas's scorer metadata filtered to the unit's
        ontology terms, as the SDK's `query_variants` and `query_interval` take them."""
        from alphagenome.atlas import atlas

        if all(any(m.HasField("tracks") for m in score.metadata) for entry in entries for score in entry.scores):
            return atlas.convert_variant_scores_to_anndata(entries, None)
        wanted = {name: meta for name, meta in self.catalogue.metadata.items() if name in unit.scorers}
        filtered = atlas._filter_scorer_metadata(wanted, unit.ontology_terms or None)
        tracks = {}
        for name, frame in filtered.items():  # a server that did not filter the tracks sends all of them
            widths = {score.shape[-1] for entry in entries for score in entry.scores
                      if score.variant_scorer.name == name and score.shape}
            every = wanted[name].track_metadata
            tracks[name] = (every if widths == {len(every)} else frame).copy()
        return atlas.convert_variant_scores_to_anndata(entries, tracks)

    def _read(self, unit: AtlasUnit, i: int, outputs: Mapping[str, Any], listed: dict | None) -> Verdict:
        """Variant i's scores from the answer, or why it has none."""
        variant = unit.variants[i]
        rows = {name: _rows_of(adata, variant) for name, adata in outputs.items()}
        here = listed.get((variant.chromosome, variant.position), {})
        if str(variant) not in here:  # what it holds at the position has the genome's base as REF
            bases = {ref for ref, _ in here.values()}
            return Verdict(REF_MISMATCH if bases and variant.reference_bases not in bases else NOT_IN_ATLAS)
        named = here[str(variant)][1]
        if named is None or (named.chromosome, named.start, named.end) != (
                (c := centred_interval(variant)).chromosome, c.start, c.end):
            return Verdict(OTHER_INTERVAL)  # scored elsewhere, or not saying where: the live model is asked
        keys = [k for k in unit.keys[i] if k.scorer != AVI_SCORER]
        scorers = list(dict.fromkeys(unit.names[k.scorer] for k in keys))
        if any(name not in outputs for name in scorers):
            return Verdict(NOT_IN_ATLAS)
        as_unit = Unit(variant, scorers, keys, [scorers.index(unit.names[k.scorer]) for k in keys],
                       [unit.keys[i][k] for k in keys])
        answer = read_answer(as_unit, [outputs[name][rows[name]] for name in scorers])
        if answer.track_missing:
            return Verdict(NOT_IN_ATLAS)
        avi = None
        if AVI_SCORER in outputs and rows[AVI_SCORER].any():
            adata = outputs[AVI_SCORER][rows[AVI_SCORER]]
            quantiles = adata.layers["quantiles"] if "quantiles" in adata.layers else np.full_like(adata.X, np.nan)
            avi = (float(np.asarray(adata.X)[0, 0]), float(np.asarray(quantiles)[0, 0]))
        return Verdict("", answer, avi)


def _rows_of(adata, variant) -> np.ndarray:
    """The rows of an answer that belong to one variant (every row, in a lookup's answer)."""
    obs = adata.obs
    if obs is None or "variant" not in obs.columns:
        return np.zeros(adata.n_obs, dtype=bool) if adata.n_obs == 0 else np.ones(adata.n_obs, dtype=bool)
    return (obs["variant"].astype(str) == str(variant)).to_numpy()


def _listed(entries: list) -> dict[tuple[str, int], dict[str, tuple[str, Any]]]:
    """What an answer holds at each (chromosome, position): per variant, its REF and the interval the answer says it
    was scored in (None when it does not say)."""
    from alphagenome.data import genome

    listed: dict[tuple[str, int], dict[str, tuple[str, Any]]] = {}
    for entry in entries:
        variant = genome.Variant.from_proto(entry.variant)
        interval = genome.Interval.from_proto(entry.interval) if entry.HasField("interval") else None
        listed.setdefault((variant.chromosome, variant.position), {})[str(variant)] = (variant.reference_bases,
                                                                                       interval)
    return listed
