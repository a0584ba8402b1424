"""The AlphaGenome Atlas as the loopback stand-in serves it: a real gRPC `AtlasService` beside its `DnaModelService`.

It answers the three RPCs of `alphagenome/protos/atlas_service.proto` with the messages the SDK's `AtlasClient`
parses: `ListVariantScoresMetadata` (each scorer it holds with its tracks, from the same real catalogue the live
model answers with; not metered), `GetDenseVariantScores` (one SNV) and `ListDenseVariantScores` (every SNV of an
interval of at most 32 bp, paged). Its scores are the live `ScoreVariant`'s own (`scores.py`) for its configuration
(`AtlasHoldings`: ALL_FOLDS at 1 MB by default, the centred interval each variant was scored in sent with it), so
that a test can check that the Atlas and the live model give the same number for the same SNV, track and
configuration. AVI_SCORE is one unsigned number per SNV.

Like the service, it holds single-nucleotide substitutions only: an indel or MNV, or a position whose base it does
not know, is NOT_FOUND; a REF that is not the genome's base is INVALID_ARGUMENT naming the base expected. Its
genome is the bundled sample reference (real hg38 segments), so it holds the SNVs of those segments and no others.
Filters (the AIP-160 text the SDK's `atlas_utils.build_filter` writes) select scorers, track ontology terms and gene
ids; anything else in a filter is INVALID_ARGUMENT. A gene filter keeps the rows of those genes, and, read
strictly, drops scores that have no genes (a center-mask scorer's). The `x-goog-fieldmask` header of the SDK's
listing leaves the tracks' metadata out of each score, as the SDK expects (it takes them from the scorer metadata).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
from alphagenome.data import genome, ontology
from alphagenome.models import variant_scorers
from alphagenome.protos import atlas_service_pb2, atlas_service_pb2_grpc
from alphagenome.protos.v1 import dna_model_pb2

from endobench.lib.genome.reference import ReferenceGenome
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.stand_ins.scores import expected_avi, expected_quantile, scores

ATLAS_RPCS = frozenset({"GetDenseVariantScores", "ListDenseVariantScores", "ListVariantScoresMetadata"})
AVI_SCORE = "AVI_SCORE"
SAMPLE_REFERENCE = SAMPLE_DIR / "hg38_sample_segments.fa"
BASES = "ACGT"
FIELD_MASK_HEADER = "x-goog-fieldmask"

_SCORER = re.compile(r'scores\.variant_scorer\.name = "([^"]+)"')
_ONTOLOGY = re.compile(r"\(scores\.metadata\.tracks\.metadata\.ontology_term\.ontology_type = (\w+) AND "
                       r"scores\.metadata\.tracks\.metadata\.ontology_term\.id = (\d+)\)")
_GENE = re.compile(r'scores\.metadata\.gene_scorers\.metadata\.gene_id = "([^"]+)"')
_ANY_ONTOLOGY = "-scores.metadata.tracks.metadata.ontology_term:*"


class AtlasRefusal(Exception):
    """An answer the Atlas gives with a status instead of scores."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class AtlasHoldings:
    """What the stand-in's Atlas holds: the configuration its scores were computed with, the scorers, its genome,
    and how it pages. `interval_shift` moves the interval it scored each variant in off the centred one (a
    configuration a live call never asks for). What a real Atlas may also do: lack some SNVs (`missing`, `str` of
    each SNV: NOT_FOUND for a lookup, absent from a listing), hold nothing of some chromosomes (`unheld_chromosomes`:
    every lookup and listing there is NOT_FOUND, one message for all), leave each score's track metadata out of its
    answers whatever the field mask (`tracks_in_answers=False`; the proto makes it optional), answer every track of
    a scorer whatever the filter's ontology terms (`filters_tracks=False`), not say the interval a variant was
    scored in (`names_intervals=False`), or refuse a filter naming a scorer it does not hold (INVALID_ARGUMENT,
    `rejects_unknown_scorers=True`)."""

    model_version: str = "ALL_FOLDS"
    interval_length: int = 1_048_576
    interval_shift: int = 0
    scorers: tuple[str, ...] = ("DNASE", "RNA_SEQ", "ATAC", AVI_SCORE)
    reference: Path = SAMPLE_REFERENCE
    default_page_size: int = 48
    max_page_size: int = 100
    max_listing_bp: int = 32
    missing: frozenset[str] = frozenset()
    unheld_chromosomes: frozenset[str] = frozenset()
    tracks_in_answers: bool = True
    filters_tracks: bool = True
    names_intervals: bool = True
    rejects_unknown_scorers: bool = False


@dataclass(frozen=True)
class _Filter:
    scorers: frozenset[str] | None
    ontology_curies: frozenset[str] | None
    gene_ids: frozenset[str] | None


def parse_filter(text: str) -> _Filter:
    """The scorers, ontology terms and gene ids of a filter as `atlas_utils.build_filter` writes it."""
    rest = text
    for pattern in (_SCORER, _ONTOLOGY, _GENE):
        rest = pattern.sub("", rest)
    rest = re.sub(r"\b(AND|OR)\b|[()\s]", "", rest.replace(_ANY_ONTOLOGY, ""))
    if rest:
        raise AtlasRefusal(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid filter: cannot parse {text!r}")
    curies = [ontology.from_proto(dna_model_pb2.OntologyTerm(ontology_type=dna_model_pb2.OntologyType.Value(kind),
                                                             id=int(number))).ontology_curie
              for kind, number in _ONTOLOGY.findall(text)]
    return _Filter(frozenset(_SCORER.findall(text)) or None, frozenset(curies) or None,
                   frozenset(_GENE.findall(text)) or None)


class AtlasServicer(atlas_service_pb2_grpc.AtlasServiceServicer):
    def __init__(self, stand_in, holdings: AtlasHoldings) -> None:
        self.stand_in, self.holdings = stand_in, holdings
        self.genome = ReferenceGenome(holdings.reference, "hg38")
        self._tracks = {name: self._scorer_tracks(name) for name in holdings.scorers}

    def _scorer_tracks(self, name: str) -> tuple[list, list[str], list[str]]:
        """A scorer's tracks as the live model answers with them: protos, names, ontology CURIEs."""
        if name == AVI_SCORE:
            return [dna_model_pb2.TrackMetadata(name=AVI_SCORE, strand=dna_model_pb2.STRAND_UNSTRANDED)], [AVI_SCORE], [""]
        output = variant_scorers.RECOMMENDED_VARIANT_SCORERS[name].requested_output.to_proto()
        protos, names = self.stand_in.answer_tracks(output, True)
        curies = [ontology.from_proto(p.ontology_term).ontology_curie if p.HasField("ontology_term") else ""
                  for p in protos]
        return protos, [n for n, _ in names], curies

    def ListVariantScoresMetadata(self, request, context):
        def answer():
            return atlas_service_pb2.ListVariantScoresMetadataResponse(variant_scorer_metadata=[
                atlas_service_pb2.VariantScorerMetadata(
                    variant_scorer=atlas_service_pb2.VariantScorerInfo(name=name, is_signed=_signed(name)),
                    metadata=[atlas_service_pb2.Metadata(tracks=dna_model_pb2.TracksMetadata(
                        metadata=self._tracks[name][0]))])
                for name in self.holdings.scorers])

        return self.stand_in._serve_unary("ListVariantScoresMetadata", "", context, answer)

    def GetDenseVariantScores(self, request, context):
        variant = genome.Variant.from_proto(request.variant)
        return self.stand_in._serve_unary("GetDenseVariantScores", str(variant), context,
                                          lambda: self._get(request, variant, context), request.filter)

    def ListDenseVariantScores(self, request, context):
        interval = genome.Interval.from_proto(request.interval)
        return self.stand_in._serve_unary("ListDenseVariantScores", str(interval), context,
                                          lambda: self._list(request, interval, context), request.filter)

    def _get(self, request, variant: genome.Variant, context) -> atlas_service_pb2.DenseVariantScores:
        _check_organism(request.organism)
        wanted = self._filter(request.filter)
        self._check_held(variant.chromosome)
        if str(variant) in self.holdings.missing:
            raise AtlasRefusal(grpc.StatusCode.NOT_FOUND, f"Variant {variant} not found")
        if len(variant.reference_bases) != 1 or len(variant.alternate_bases) != 1:
            raise AtlasRefusal(grpc.StatusCode.NOT_FOUND, f"Variant {variant} not found: the Atlas holds "
                                                          "single-nucleotide variants only")
        with self.genome.reader() as fetch:
            base = fetch(variant.chromosome, variant.start, variant.end)
        if base is None or base not in BASES:
            raise AtlasRefusal(grpc.StatusCode.NOT_FOUND, f"Variant {variant} not found")
        if variant.reference_bases != base:
            raise AtlasRefusal(grpc.StatusCode.INVALID_ARGUMENT,
                               f"Reference base mismatch for variant {variant}: the reference genome has {base} "
                               f"at {variant.chromosome}:{variant.position}")
        if variant.alternate_bases == base:
            raise AtlasRefusal(grpc.StatusCode.INVALID_ARGUMENT, f"Variant {variant}: ALT equals the reference base")
        return self._scores(variant, wanted, self._with_tracks(context))

    def _filter(self, text: str) -> _Filter:
        wanted = parse_filter(text)
        unknown = sorted((wanted.scorers or frozenset()) - set(self.holdings.scorers))
        if unknown and self.holdings.rejects_unknown_scorers:
            raise AtlasRefusal(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid filter: no variant scorer named {unknown}")
        return wanted

    def _check_held(self, chromosome: str) -> None:
        if chromosome in self.holdings.unheld_chromosomes:
            raise AtlasRefusal(grpc.StatusCode.NOT_FOUND, "Not found in the AlphaGenome Atlas")

    def _with_tracks(self, context) -> bool:
        return self.holdings.tracks_in_answers and _with_tracks(context)

    def _list(self, request, interval: genome.Interval, context) -> atlas_service_pb2.ListDenseVariantScoresResponse:
        _check_organism(request.organism)
        wanted = self._filter(request.filter)
        self._check_held(interval.chromosome)
        if not 0 < interval.width <= self.holdings.max_listing_bp:
            raise AtlasRefusal(grpc.StatusCode.INVALID_ARGUMENT, f"Interval {interval} is {interval.width} bp; "
                                                                 f"at most {self.holdings.max_listing_bp} bp are listed")
        with self.genome.reader() as fetch:
            bases = [fetch(interval.chromosome, p, p + 1) for p in range(interval.start, interval.end)]
        variants = [genome.Variant(interval.chromosome, p + 1, base, alt)
                    for p, base in zip(range(interval.start, interval.end), bases) if base and base in BASES
                    for alt in BASES if alt != base]
        variants = [v for v in variants if str(v) not in self.holdings.missing]
        size = min(request.page_size or self.holdings.default_page_size, self.holdings.max_page_size)
        first = int(request.page_token or 0)
        page = variants[first:first + size]
        more = first + size < len(variants)
        with_tracks = self._with_tracks(context)
        return atlas_service_pb2.ListDenseVariantScoresResponse(
            variant_scores=[self._scores(v, wanted, with_tracks) for v in page],
            next_page_token=str(first + size) if more else "", interval=interval.to_proto())

    def _scores(self, variant: genome.Variant, wanted: _Filter, with_tracks: bool):
        """The variant's scores for every scorer the filter selects, computed as the live model computes them."""
        holdings = self.holdings
        interval = variant.reference_interval.resize(holdings.interval_length)
        interval = genome.Interval(interval.chromosome, interval.start + holdings.interval_shift,
                                   interval.end + holdings.interval_shift)
        # A shifted interval is another computation: its scores differ from the centred one's.
        version = holdings.model_version + (f"|shifted {holdings.interval_shift}" if holdings.interval_shift else "")
        out = []
        for name in holdings.scorers:
            if wanted.scorers is not None and name not in wanted.scorers:
                continue
            protos, names, curies = self._tracks[name]
            by_gene = isinstance(variant_scorers.RECOMMENDED_VARIANT_SCORERS.get(name),
                                 variant_scorers.GeneMaskLFCScorer)
            if wanted.gene_ids is not None and not by_gene:
                continue  # the gene filter asks for gene rows; a score without genes has none
            columns = [i for i, c in enumerate(curies) if not holdings.filters_tracks
                       or wanted.ontology_curies is None or not c or c in wanted.ontology_curies]
            if name == AVI_SCORE:
                raw = np.array([[expected_avi(str(variant))]], dtype=np.float32)
                quantile, metadata = raw, []
            else:
                genes = [g for g in self.stand_in.genes_in(interval)
                         if wanted.gene_ids is None or g.gene_id in wanted.gene_ids] if by_gene else [None]
                keys = [g.gene_id if g else "" for g in genes]
                raw = scores(str(variant), [names[i] for i in columns], keys, version, interval.width)
                raw = raw.reshape(len(keys), len(columns)).astype(np.float32)
                quantile = expected_quantile(raw).astype(np.float32)
                metadata = [atlas_service_pb2.Metadata(gene_scorers=atlas_service_pb2.GeneScorersMetadata(metadata=[
                    dna_model_pb2.GeneScorerMetadata(gene_id=g.gene_id,
                                                     strand=genome.Strand.from_str(g.strand).to_proto())
                    for g in genes]))] if by_gene else []
            if with_tracks:
                metadata.append(atlas_service_pb2.Metadata(tracks=dna_model_pb2.TracksMetadata(
                    metadata=[protos[i] for i in columns])))
            out.append(atlas_service_pb2.DenseVariantScore(
                variant_scorer=atlas_service_pb2.VariantScorerInfo(name=name, is_signed=_signed(name)),
                metadata=metadata, shape=list(raw.shape), scores=raw.tobytes(),
                calibrated_scores=quantile.tobytes()))
        named = {"interval": interval.to_proto()} if holdings.names_intervals else {}
        return atlas_service_pb2.DenseVariantScores(variant=variant.to_proto(), scores=out, **named)


def _signed(name: str) -> bool:
    return name != AVI_SCORE


def _with_tracks(context) -> bool:
    """Whether each score carries its tracks' metadata: yes unless a field mask leaves them out."""
    mask = dict(context.invocation_metadata()).get(FIELD_MASK_HEADER)
    return mask is None or "scores.metadata.tracks" in mask


def _check_organism(organism: int) -> None:
    if organism != dna_model_pb2.ORGANISM_HOMO_SAPIENS:
        raise AtlasRefusal(grpc.StatusCode.INVALID_ARGUMENT, "The Atlas holds human variants only")


DSQTLS_CHR22 = SAMPLE_DIR / "maggie_Degner2012_dsQTL.liftover_hg38.chr22.tsv.gz"
GM12878 = "EFO:0002784"


def sample_snvs(n: int, *, genes) -> pd.DataFrame:
    """Predictor input for the first `n` real chr22 Degner dsQTL SNVs at their lifted hg38 positions (REF the base of
    the bundled sample reference, which the stand-in's Atlas holds): one GM12878 accessibility row each, and one
    expression row for the first gene of `genes` (the stand-in's annotation) within its centred 1 MB interval."""
    table = pd.read_csv(DSQTLS_CHR22, sep="\t").dropna(subset=["pos_hg38"])
    reference = ReferenceGenome(SAMPLE_REFERENCE, "hg38")
    rows = []
    with reference.reader() as fetch:
        for entry in table.itertuples(index=False):
            pos = int(entry.pos_hg38)
            base = fetch(entry.chr_hg38, pos - 1, pos)
            if base not in (entry.Ref, entry.Alt) or len(rows) >= 2 * n:
                continue
            alt = entry.Alt if base == entry.Ref else entry.Ref
            variant = genome.Variant(entry.chr_hg38, pos, base, alt)
            interval = variant.reference_interval.resize(1_048_576)
            gene = next((g for g in genes if g.chrom == interval.chromosome and g.start < interval.end
                         and g.end > interval.start), None)
            base_row = {"variant_id": f"{entry.chr_hg38}_{pos}_{base}_{alt}_b38", "chrom": entry.chr_hg38,
                        "pos": pos, "ref": base, "alt": alt, "biosample": GM12878}
            rows.append({**base_row, "gene_id": pd.NA, "readout": "accessibility"})
            if gene is not None:
                rows.append({**base_row, "gene_id": gene.gene_id + ".1", "readout": "expression",
                             "biosample": "UBERON:0013756"})
    frame = pd.DataFrame(rows)
    frame = frame[frame["variant_id"].isin(frame["variant_id"].drop_duplicates().head(n))].reset_index(drop=True)
    frame["window_start"] = frame["pos"] - 1 - 1_048_576 // 2
    frame["window_end"] = frame["window_start"] + 1_048_576
    return frame
