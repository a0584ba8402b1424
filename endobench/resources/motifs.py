"""The motif baseline as a predictor: JASPAR motifs gained and lost, scored like any model, offline and untrained."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.genome.reference import ReferenceGenome
from endobench.resources.predictors import (
    ACCESSIBILITY,
    EXPRESSION,
    FAILED,
    PREDICTION_COLUMNS,
    SCORED,
    ScoringOutcome,
    VariantEffectPredictor,
)

MOTIF = "motif_jaspar"
VARIANT_KEYS = ["chrom", "pos", "ref", "alt"]


class MotifPredictor(VariantEffectPredictor):
    """Scores ALT against REF by the strongest JASPAR motif change among the TFs expressed in the row's biosample
    (`lib/motifs/baseline.py`): a floor any sequence model should beat. It was fitted to no QTL."""

    release: str = "JASPAR2024"
    # Biosample CURIE -> a GTEx eGenes table whose genes count as expressed there (`DataSources.expressed_genes`).
    expressed_genes: dict[str, str] = {}

    def library(self):
        from endobench.lib.motifs.library import load_jaspar

        return load_jaspar(self.release)

    def expressed(self) -> dict[str, frozenset[str]]:
        return _read_expressed(tuple(sorted(self.expressed_genes.items())))

    def predictor_name(self) -> str:
        return MOTIF

    def configuration_id(self) -> str:
        from endobench.lib.motifs.changes import SITE_P

        return f"{MOTIF}|{self.release}|site_p={SITE_P:g}|expressed={','.join(sorted(self.expressed_genes))}"

    def window_length(self) -> int:
        return 2 * (self.library().max_length - 1) + 1

    def needs_local_sequence(self) -> bool:
        return True

    def supported_readouts(self) -> frozenset[str]:
        return frozenset({ACCESSIBILITY, EXPRESSION})

    def training_split(self, variants: pd.DataFrame) -> tuple[object, str]:
        return pd.NA, "none: JASPAR profiles, fitted to no QTL"

    def score_variants(
        self, variants: pd.DataFrame, *, reference: ReferenceGenome, cache_dir: Path, log: logging.Logger
    ) -> ScoringOutcome:
        from endobench.lib.codes import text_codes
        from endobench.lib.motifs.baseline import baseline_scores, track_name
        from endobench.lib.motifs.changes import SCANNED, scan_variants

        library, expressed = self.library(), self.expressed()
        keys = variants["chrom"].astype(str) + "|" + variants["pos"].astype(str) + "|" + variants["ref"] + ">" + \
            variants["alt"]
        variant_of_row, _ = text_codes(keys)
        first = np.unique(variant_of_row, return_index=True)[1]  # codes number variants by first appearance
        distinct = variants.iloc[first][VARIANT_KEYS].reset_index(drop=True)
        scan = scan_variants(distinct, reference, library)
        biosample = (variants["biosample"] if "biosample" in variants else pd.Series("", index=variants.index))
        biosample = biosample.fillna("").astype(str).to_numpy(dtype=object)
        score = baseline_scores(scan.candidates, len(distinct), variant_of_row, biosample, library, expressed)
        status = scan.status[variant_of_row]
        ok = status == SCANNED
        tracks = {b: track_name(library, b, expressed) for b in pd.unique(biosample)}
        frame = pd.DataFrame({
            "variant_id": variants["variant_id"].to_numpy(), "gene_id": variants["gene_id"].to_numpy(),
            "score": np.where(ok, score, np.nan), "quantile_score": np.nan,
            "status": np.where(ok, SCORED, FAILED), "error": np.where(ok, "", status),
            "from_cache": False, "track": [tracks[b] for b in biosample],
        })[PREDICTION_COLUMNS]
        failures = pd.Series(status[~ok]).value_counts().to_dict()
        log.info(f"motif baseline: scanned {int(ok.sum()):,} of {len(variants):,} rows ({len(distinct):,} variants, "
                 f"{len(library):,} profiles, {len(scan.candidates):,} sites made or broken)")
        return ScoringOutcome(scores=frame, failures_by_reason={str(k): int(v) for k, v in failures.items()})


@functools.lru_cache(maxsize=4)
def _read_expressed(tables: tuple[tuple[str, str], ...]) -> dict[str, frozenset[str]]:
    from endobench.lib.motifs.baseline import read_expressed_genes

    return {curie: read_expressed_genes(Path(path)) for curie, path in tables}
