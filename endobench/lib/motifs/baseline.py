"""The motif baseline: a variant's signed motif score, from the TFs expressed in the biosample it is scored on.

The score of a variant is the signed log2 p-value fold of its strongest candidate change (`changes`) among the
profiles whose genes are all expressed in the biosample (a dimer such as RXRA::VDR needs both), 0 when it makes
or breaks no such site. Expressed, offline: the gene is in GTEx v8's eGenes table of the tissue, which lists
every gene GTEx tested for eQTLs there, those above 0.1 TPM and 6 reads in at least 20% of the tissue's samples.
A biosample without such a table (K562) is scored with every profile, and its track says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.io.tables import read_table
from endobench.lib.motifs.changes import baseline_score
from endobench.lib.motifs.library import MotifLibrary, gene_symbols
from endobench.lib.truth_sets.catalog import BIOSAMPLES

GTEX_EXPRESSED = "GTEx v8 tested genes"


def read_expressed_genes(path: Path) -> frozenset[str]:
    """The gene symbols (upper case) of a GTEx eGenes table: the genes GTEx counted as expressed in the tissue."""
    table = read_table(Path(path), ["gene_name"], "GTEx eGenes table (genes expressed in a tissue)")
    return frozenset(table["gene_name"].dropna().str.upper())


def expressed_profiles(library: MotifLibrary, genes: frozenset[str]) -> np.ndarray:
    """Per profile: whether every gene it stands for is in `genes`."""
    return np.array([all(g in genes for g in gene_symbols(name)) for name in library.names], dtype=bool)


def track_name(library: MotifLibrary, biosample: str, expressed: Mapping[str, frozenset[str]]) -> str:
    """What a baseline score was computed from, for the `track` column: the library and the profiles used."""
    known = BIOSAMPLES.get(biosample)
    name = known.name if known else biosample or "this biosample"
    if biosample in expressed:
        n = int(expressed_profiles(library, expressed[biosample]).sum())
        return f"motifs: {library.describe()}, the {n:,} expressed in {name} ({GTEX_EXPRESSED})"
    return f"motifs: {library.describe()}, all (no expression list for {name})"


def baseline_scores(candidates: pd.DataFrame, n_variants: int, variant_of_row: np.ndarray,
                    biosample_of_row: np.ndarray, library: MotifLibrary,
                    expressed: Mapping[str, frozenset[str]]) -> np.ndarray:
    """The baseline score of each row: of its variant (index into the scanned variants), in its biosample."""
    index = {motif: k for k, motif in enumerate(library.ids)}
    motif_of_candidate = candidates["motif_id"].map(index).to_numpy(dtype=np.int64)
    biosample_of_row = np.asarray(biosample_of_row, dtype=object)
    out = np.zeros(len(biosample_of_row))
    for biosample in pd.unique(biosample_of_row):
        rows = np.flatnonzero(biosample_of_row == biosample)
        keep = (expressed_profiles(library, expressed[biosample])[motif_of_candidate] if biosample in expressed
                else None)
        out[rows] = baseline_score(candidates, n_variants, keep)[np.asarray(variant_of_row)[rows]]
    return out


def baseline_rows(requests: pd.DataFrame, table: pd.DataFrame, candidates: pd.DataFrame, library: MotifLibrary,
                  expressed: Mapping[str, frozenset[str]], *, configuration: str, predictor: str,
                  held_out_scheme: str) -> pd.DataFrame:
    """Prediction rows of the motif baseline for truth-set requests (chrom, pos, ref, alt, biosample, ...), from
    a release's stored motif changes (`changes.variant_changes`): scored where the variant was scanned, failed with
    the scan's reason otherwise, so the report evaluates the baseline exactly as a model."""
    from endobench.lib.motifs.changes import SCANNED, VARIANT_KEYS

    index = pd.Series(np.arange(len(table)), index=pd.MultiIndex.from_frame(table[VARIANT_KEYS]))
    found = index.reindex(pd.MultiIndex.from_frame(requests[VARIANT_KEYS])).to_numpy()
    known = ~np.isnan(found)
    variant_of_row = np.where(known, found, 0).astype(np.int64)
    status = np.where(known, table["status"].to_numpy(dtype=object)[variant_of_row], "not_scanned")
    ok = status == SCANNED
    biosample = requests["biosample"].fillna("").astype(str).to_numpy(dtype=object)
    score = baseline_scores(candidates, len(table), variant_of_row, biosample, library, expressed)
    tracks = {b: track_name(library, b, expressed) for b in pd.unique(biosample)}
    return requests.assign(
        score=np.where(ok, score, np.nan), quantile_score=np.nan, status=np.where(ok, "scored", "failed"),
        reason=np.where(ok, "", status), from_cache=False, track=[tracks[b] for b in biosample], source="live",
        held_out=pd.NA,
        held_out_scheme=held_out_scheme, configuration=configuration, predictor=predictor)
