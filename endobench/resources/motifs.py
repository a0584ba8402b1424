"""The motif baseline as a predictor: JASPAR motifs gained and lost, scored like any model, offline and untrained."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pandas as pd

from endobench.lib.genome.reference import ReferenceGenome
from endobench.resources.predictors import (
    ACCESSIBILITY,
    EXPRESSION,
    PREDICTION_COLUMNS,
    SCORED,
    ScoringOutcome,
    VariantEffectPredictor,
)

MOTIF = "motif_jaspar"


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
        from endobench.lib.motifs.baseline import baseline_rows
        from endobench.lib.motifs.changes import changes_of_variants

        library = self.library()
        table, candidates = changes_of_variants(variants, reference, library)
        rows = baseline_rows(variants.assign(biosample=variants.get("biosample", "")), table, candidates, library,
                             self.expressed(), configuration=self.configuration_id(), predictor=MOTIF,
                             held_out_scheme=self.training_split(variants)[1])
        failures = rows.loc[rows["status"] != SCORED, "reason"].value_counts().to_dict()
        log.info(f"motif baseline: scored {int((rows['status'] == SCORED).sum()):,} of {len(rows):,} rows "
                 f"({len(table):,} variants, {len(library):,} profiles, {len(candidates):,} sites made or broken)")
        return ScoringOutcome(scores=rows[PREDICTION_COLUMNS].reset_index(drop=True),
                              failures_by_reason={str(k): int(v) for k, v in failures.items()})


@functools.lru_cache(maxsize=4)
def _read_expressed(tables: tuple[tuple[str, str], ...]) -> dict[str, frozenset[str]]:
    from endobench.lib.motifs.baseline import read_expressed_genes

    return {curie: read_expressed_genes(Path(path)) for curie, path in tables}
