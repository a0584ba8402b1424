"""AlphaGenome's track catalogue, and which exact track a readout in a biosample is read from.

The catalogue is what the service's `GetMetadata` RPC returns (the SDK's `output_metadata()`; it is free): one row
per track with its name, output type, ontology CURIE and, for the 54 GTEx tissues, `gtex_tissue`. A scoring run
asks the server for it before any paid call and resolves every track it will read against it; the snapshot
bundled in the sample (`CATALOGUE_FILE`) serves what must work offline: the GTEx tissues, their biosamples and
tracks, for building truth sets.

The rules, the same whichever copy of the catalogue is read:
- accessibility in a biosample is the DNASE track whose `ontology_curie` is the biosample (the real catalogue has
  exactly one per biosample);
- expression in a biosample is the RNA_SEQ track whose `gtex_tissue` is set and whose `ontology_curie` is the
  biosample (or whose `gtex_tissue` is the biosample, when it is given as a GTEx tissue name such as `Liver`);
- a name chosen by hand must be a track of the readout's output type.
A track name is never made up: a pair without a track has none, and the run says so for its rows.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

CATALOGUE_FILE = "alphagenome_track_metadata.human.tsv.gz"
# The output type each readout's scorer reads (the SDK's `OutputType` names).
OUTPUT_TYPES = {"accessibility": "DNASE", "expression": "RNA_SEQ"}
_COLUMNS = ["name", "output_type", "ontology_curie", "gtex_tissue", "biosample_name"]


@dataclass(frozen=True)
class Track:
    """One track of the catalogue, as a run refers to it."""

    name: str
    output_type: str
    ontology_curie: str
    gtex_tissue: str = ""
    biosample_name: str = ""


class UnknownTracks(ValueError):
    """Track names chosen by hand that the catalogue does not hold; the message names each with the closest real
    names."""


class TrackCatalogue:
    """The tracks of one catalogue, indexed for the lookups a scoring run makes."""

    def __init__(self, frame: pd.DataFrame) -> None:
        missing = [c for c in ("name", "output_type") if c not in frame.columns]
        if missing:
            raise ValueError(f"a track catalogue needs columns {missing}; it has {list(frame.columns)}")
        frame = frame.reindex(columns=_COLUMNS)
        frame["output_type"] = frame["output_type"].astype(str).str.removeprefix("OutputType.")
        for column in _COLUMNS:
            frame[column] = frame[column].fillna("").astype(str)
        # Stranded tracks come as a + and a - row under one name: one entry per name and output type.
        self.frame = frame.drop_duplicates(["output_type", "name"]).reset_index(drop=True)
        self.n_rows = len(frame)

    @classmethod
    def from_file(cls, path: Path | str) -> TrackCatalogue:
        """The bundled snapshot (`data/sample/alphagenome_track_metadata.human.tsv.gz`)."""
        return _catalogue_file(str(path))

    @classmethod
    def from_output_metadata(cls, metadata) -> TrackCatalogue:
        """What `DnaClient.output_metadata()` returned (an SDK `OutputMetadata`)."""
        frame = metadata.concatenate()
        frame["output_type"] = [getattr(t, "name", t) for t in frame["output_type"]]
        return cls(frame)

    def __len__(self) -> int:
        return self.n_rows

    def tracks(self, output_type: str) -> pd.DataFrame:
        return self.frame[self.frame["output_type"] == output_type]

    def gtex_tracks(self) -> dict[str, Track]:
        """Each GTEx tissue (`Whole_Blood`, ...) with its expression track: the RNA_SEQ track of that tissue."""
        rna = self.tracks(OUTPUT_TYPES["expression"])
        rna = rna[rna["gtex_tissue"] != ""]
        return {row.gtex_tissue: _track(row) for row in rna.sort_values("gtex_tissue").itertuples(index=False)}

    def track_for(self, readout: str, biosample: str) -> Track | None:
        """The track a readout in a biosample (an ontology CURIE, or a GTEx tissue name for expression) is read
        from, or None when the catalogue has none."""
        candidates = self.tracks(OUTPUT_TYPES[readout])
        if readout == "expression":
            gtex = candidates[candidates["gtex_tissue"] != ""]
            chosen = gtex[(gtex["ontology_curie"] == biosample) | (gtex["gtex_tissue"] == biosample)]
        else:
            chosen = candidates[candidates["ontology_curie"] == biosample]
        return _track(next(chosen.itertuples(index=False))) if len(chosen) == 1 else None

    def named(self, readout: str, name: str) -> Track | None:
        """The track of the readout's output type with exactly this name."""
        hits = self.tracks(OUTPUT_TYPES[readout])
        hits = hits[hits["name"] == name]
        return _track(next(hits.itertuples(index=False))) if len(hits) else None

    def closest(self, readout: str, name: str, n: int = 3) -> list[str]:
        """The real names of the readout's output type closest to `name`, best first: those of a biosample the name
        mentions (by CURIE or by name, such as GM12878), then the most similar spellings (difflib)."""
        tracks = self.tracks(OUTPUT_TYPES[readout])
        words = {w.lower() for w in name.replace("_", " ").split()}
        mentioned = tracks[tracks["ontology_curie"].str.lower().isin(words) |
                           tracks["biosample_name"].str.lower().isin(words)]["name"].tolist()
        similar = difflib.get_close_matches(name, tracks["name"].tolist(), n=n, cutoff=0.5)
        return list(dict.fromkeys(mentioned + similar))[:n]

    def check_named(self, chosen: dict[str, tuple[str, str, str]]) -> None:
        """Raise `UnknownTracks` for every `{setting: (readout, biosample, name)}` whose name is not a track of the
        readout's output type, naming the closest real names (the catalogue's own track for the biosample first)."""
        problems = []
        for setting, (readout, biosample, name) in chosen.items():
            if self.named(readout, name) is None:
                own = self.track_for(readout, biosample)
                close = list(dict.fromkeys(([own.name] if own else []) + self.closest(readout, name)))[:3]
                hint = f"; closest real names: {', '.join(repr(c) for c in close)}" if close else ""
                problems.append(f"{setting}={name!r} is not a {OUTPUT_TYPES[readout]} track of the server's "
                                f"catalogue{hint}")
        if problems:
            raise UnknownTracks("; ".join(problems))


def _track(row) -> Track:
    return Track(row.name, row.output_type, row.ontology_curie, row.gtex_tissue, row.biosample_name)


@functools.lru_cache(maxsize=4)
def _catalogue_file(path: str) -> TrackCatalogue:
    return TrackCatalogue(pd.read_csv(path, sep="\t", dtype=str, usecols=lambda c: c in _COLUMNS))
