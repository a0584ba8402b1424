"""AlphaGenome's real track catalogue as the loopback stand-in serves it: every row of the bundled
`data/sample/alphagenome_track_metadata.human.tsv.gz` built into the protos the service sends, once per process:
`OutputMetadata` for `GetMetadata` (every field a row has, junctions as `JunctionsMetadata`), and per output type the
tracks a `ScoreVariant` answer lists (one per name; stranded tracks have a + and a - row)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import pandas as pd
from alphagenome.data import genome, ontology
from alphagenome.protos.v1 import dna_model_pb2

from endobench.lib.scoring.tracks import CATALOGUE_FILE
from endobench_tests.paths import SAMPLE_DIR

CATALOGUE = SAMPLE_DIR / CATALOGUE_FILE
_BIOSAMPLE_TYPES = {name.removeprefix("BIOSAMPLE_TYPE_").lower(): value
                    for name, value in dna_model_pb2.BiosampleType.items()}


def _track_proto(row: pd.Series, junction: bool = False):
    """One row of the catalogue as the proto the real service sends (every field the row has)."""
    def text(column: str) -> str:
        value = row.get(column)
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)

    proto = dna_model_pb2.JunctionMetadata(name=text("name")) if junction else dna_model_pb2.TrackMetadata(
        name=text("name"), strand=genome.Strand.from_str(text("strand") or ".").to_proto())
    if text("ontology_curie"):
        proto.ontology_term.CopyFrom(ontology.from_curie(text("ontology_curie")).to_proto())
    if text("biosample_name") or text("biosample_type"):
        proto.biosample.CopyFrom(dna_model_pb2.Biosample(type=_BIOSAMPLE_TYPES.get(text("biosample_type"), 0),
                                                         name=text("biosample_name")))
        if text("biosample_life_stage"):
            proto.biosample.stage = text("biosample_life_stage")
    for column, attribute in (("gtex_tissue", "gtex_tissue"), ("data_source", "data_source")):
        if text(column):
            setattr(proto, attribute, text(column))
    if junction:
        return proto
    for column, attribute in (("Assay title", "assay"), ("histone_mark", "histone_mark_code"),
                              ("transcription_factor", "transcription_factor_code")):
        if text(column):
            setattr(proto, attribute, text(column))
    if text("endedness"):
        proto.endedness = dna_model_pb2.Endedness.Value(f"ENDEDNESS_{text('endedness').upper()}")
    if text("genetically_modified"):
        proto.genetically_modified = text("genetically_modified") == "True"
    if text("nonzero_mean"):
        proto.nonzero_mean = float(text("nonzero_mean"))
    return proto


@dataclass(frozen=True)
class StandInTrack:
    """A track of the catalogue as ScoreVariant answers with it; `stranded` tracks come as a + and a - row of one
    name (merged into one unstranded track when the request asks for it)."""

    name: str
    ontology_curie: str
    proto: dna_model_pb2.TrackMetadata
    stranded: bool = False

    def to_proto(self, strand: str = ".") -> dna_model_pb2.TrackMetadata:
        proto = dna_model_pb2.TrackMetadata()
        proto.CopyFrom(self.proto)
        proto.strand = genome.Strand.from_str(strand).to_proto()
        return proto


@functools.lru_cache(maxsize=1)
def catalogue() -> tuple[list[dna_model_pb2.OutputMetadata], dict[int, tuple[StandInTrack, ...]]]:
    """The real catalogue as GetMetadata sends it (one `OutputMetadata` per output type, every row), and its
    tracks by output type as ScoreVariant sends them (one entry per name)."""
    table = pd.read_csv(CATALOGUE, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
    metadata, tracks = [], {}
    for output_type, rows in table.groupby("output_type", sort=False):
        number = dna_model_pb2.OutputType.Value("OUTPUT_TYPE_" + output_type.removeprefix("OutputType."))
        if number == dna_model_pb2.OUTPUT_TYPE_SPLICE_JUNCTIONS:
            junctions = [_track_proto(row, junction=True) for _, row in rows.iterrows()]
            metadata.append(dna_model_pb2.OutputMetadata(output_type=number,
                                                         junctions=dna_model_pb2.JunctionsMetadata(metadata=junctions)))
            continue
        protos = [_track_proto(row) for _, row in rows.iterrows()]
        metadata.append(dna_model_pb2.OutputMetadata(output_type=number,
                                                     tracks=dna_model_pb2.TracksMetadata(metadata=protos)))
        by_name: dict[str, StandInTrack] = {}
        for row, proto in zip(rows.itertuples(index=False), protos):
            stranded = row.strand in ("+", "-")
            if row.name not in by_name:
                curie = row.ontology_curie if isinstance(row.ontology_curie, str) else ""
                by_name[row.name] = StandInTrack(row.name, curie, proto, stranded)
        tracks[number] = tuple(by_name.values())
    return metadata, tracks


def tracks_of(output_type: int) -> tuple[StandInTrack, ...]:
    return catalogue()[1].get(output_type, ())
