"""The predictor abstraction the prediction asset depends on, and the local (offline) implementation.

Assets ask a `VariantEffectPredictor` to score harmonised variants; wiring picks the implementation
(`LocalPredictor` by default, `AlphaGenomePredictor` when `ENDOBENCH_PREDICTOR=alphagenome`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import PrivateAttr

from endobench.lib.genome.reference import ReferenceGenome

ACCESSIBILITY = "accessibility"
EXPRESSION = "expression"

# Columns of the frame every predictor returns, one row per input row, in input order. `track` names exactly what
# was scored (the AlphaGenome track name, with the strand for stranded tracks; the local model's description).
PREDICTION_COLUMNS = ["variant_id", "gene_id", "score", "quantile_score", "status", "error", "from_cache", "track"]
SCORED = "scored"
FAILED = "failed"
SKIPPED_CALL_CAP = "skipped_call_cap"


@dataclass(frozen=True)
class TrainingSplit:
    """What a predictor's model trained on, per row of the variants it was asked about.

    `held_out`: True where the model never trained on the row (NA where it cannot say). `beyond_context`: held out
    and also beyond the reach of any training input (AlphaGenome's 1 MB inputs around its training regions), NA
    where that does not apply. `scored_by`: which of several cross-fitted models scored the row (NA with one model).
    `scheme` says in words how the split is defined.
    """

    scheme: str
    held_out: object = pd.NA
    beyond_context: object = pd.NA
    scored_by: object = pd.NA

    def columns(self) -> dict[str, object]:
        """The prediction columns that carry the split, for `DataFrame.assign`."""
        return {"held_out": self.held_out, "held_out_scheme": self.scheme,
                "beyond_training_context": self.beyond_context, "scored_by": self.scored_by}


@dataclass
class ScoringOutcome:
    """Scores plus the accounting a run reports in its metadata."""

    scores: pd.DataFrame
    api_calls: int = 0
    cache_hits: int = 0
    failures_by_reason: dict[str, int] = field(default_factory=dict)


class VariantEffectPredictor(dg.ConfigurableResource):
    """Scores the effect of ALT versus REF for harmonised variants (alleles on the reference + strand).

    `variants` has columns variant_id, chrom, pos (1-based), ref, alt, gene_id (NA for accessibility readouts),
    readout (`accessibility` or `expression`), window_start, window_end (0-based half-open), and optionally
    biosample (an ontology CURIE per row, such as EFO:0002784 for GM12878) for predictors that score more than one.
    Every input row gets an output row (`PREDICTION_COLUMNS`, same order): a score, or a status saying why there
    is none. Nothing is dropped.
    """

    def predictor_name(self) -> str:
        raise NotImplementedError

    def configuration_id(self) -> str:
        """Everything that determines a score (model, version, scorer, track, length), as one stable string."""
        raise NotImplementedError

    def window_length(self) -> int:
        """Length of the window centred on each variant that this predictor reads."""
        raise NotImplementedError

    def needs_local_sequence(self) -> bool:
        """True when the whole window must be served by the local reference (a remote API holds its own)."""
        raise NotImplementedError

    def supported_readouts(self) -> frozenset[str]:
        raise NotImplementedError

    def training_split(self, variants: pd.DataFrame) -> TrainingSplit:
        """For each row of `variants` (chrom, pos, ref, alt), whether the model never trained on it, and how that
        split is defined. NA where the predictor cannot say; the report splits results only where it can."""
        return TrainingSplit("unknown: the predictor does not say what it trained on")

    def score_variants(
        self, variants: pd.DataFrame, *, reference: ReferenceGenome, cache_dir: Path, log: logging.Logger
    ) -> ScoringOutcome:
        raise NotImplementedError


LOCAL_TRACK = "local gkm DNase (trained on LCL dsQTL contexts)"


class LocalPredictor(VariantEffectPredictor):
    """The gapped k-mer DNase model trained from the bundled data (`local_model` asset): no network, no weights."""

    model_path: str  # `Storage.local_model_path()`: where the local_model asset writes the weights
    _loaded: object = PrivateAttr(default=None)

    def _model(self):
        from endobench.lib.model.gkm import LocalDnaseModel

        if self._loaded is None:
            path = Path(self.model_path)
            if not path.exists():
                raise dg.Failure(
                    f"the local model has not been trained yet ({path} is missing): materialize the local_model asset",
                    allow_retries=False,
                )
            self._loaded = LocalDnaseModel.load(path)
        return self._loaded

    def training_split(self, variants: pd.DataFrame) -> TrainingSplit:
        from endobench.lib.model.training import HELD_OUT_CHROMOSOMES

        return TrainingSplit("chromosomes: trained on the odd, held out the even",
                             variants["chrom"].isin(HELD_OUT_CHROMOSOMES).to_numpy())

    def predictor_name(self) -> str:
        return "local_gkm_dnase"

    def configuration_id(self) -> str:
        return f"local_gkm_dnase|{self._model().fingerprint()[:16]}"

    def window_length(self) -> int:
        return 2 * self._model().flank + 1

    def needs_local_sequence(self) -> bool:
        return True

    def supported_readouts(self) -> frozenset[str]:
        return frozenset({ACCESSIBILITY})

    def score_variants(
        self, variants: pd.DataFrame, *, reference: ReferenceGenome, cache_dir: Path, log: logging.Logger
    ) -> ScoringOutcome:
        from endobench.lib.model.held_out import allele_sequences

        model = self._model()
        flank = model.flank
        with reference.reader() as fetch:
            refs, alts, ok_mask = allele_sequences(variants, fetch, flank)
        score = np.full(len(variants), np.nan)
        if ok_mask.any():
            s_ref, s_alt = model.score_pairs(
                [r for r, k in zip(refs, ok_mask) if k], [a for a, k in zip(alts, ok_mask) if k]
            )
            score[ok_mask] = s_alt - s_ref
        frame = pd.DataFrame(
            {
                "variant_id": variants["variant_id"].to_numpy(),
                "gene_id": variants["gene_id"].to_numpy(),
                "score": score,
                "quantile_score": np.nan,
                "status": np.where(ok_mask, SCORED, FAILED),
                "error": np.where(ok_mask, "", "no_reference_sequence"),
                "from_cache": False,
                "track": LOCAL_TRACK,
            }
        )[PREDICTION_COLUMNS]
        failures = {} if ok_mask.all() else {"no_reference_sequence": int((~ok_mask).sum())}
        log.info(f"local model scored {int(ok_mask.sum()):,} of {len(variants):,} variants")
        return ScoringOutcome(scores=frame, failures_by_reason=failures)
