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
from endobench.lib.scoring.plan import ScoringPlan
from endobench.lib.scoring.score_cache import LIVE
from endobench.lib.truth_sets.catalog import GM12878

ACCESSIBILITY = "accessibility"
EXPRESSION = "expression"

# Columns of the frame every predictor is given: harmonised variants (REF is the genome's base, unless no reference
# was there to check it), one row per readout asked.
PREDICTOR_INPUT = ["variant_id", "chrom", "pos", "ref", "alt", "gene_id", "readout", "biosample", "window_start",
                   "window_end"]
# Columns of the frame every predictor returns, one row per input row, in input order. `track` names exactly what
# was scored (the AlphaGenome track name, with the strand for stranded tracks; the local model's description);
# `source` where the score came from: `live` (the model computed it for this run or an earlier one) or `atlas`
# (AlphaGenome's precomputed Atlas), '' where nothing answered.
PREDICTION_COLUMNS = ["variant_id", "gene_id", "score", "quantile_score", "status", "reason", "from_cache", "track",
                      "source"]
# The status of a prediction row (one vocabulary for the predictions asset and `score-variants`): `scored`, or why
# not in `reason` with status `failed` (the predictor was asked and gave no score) or `skipped_call_cap` (not asked
# in this run: the cap on new calls was reached; the next run asks).
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
    plan: dict[str, object] = field(default_factory=dict)  # what the run planned before its first call (plan_* keys)
    calls_by_source: dict[str, int] = field(default_factory=dict)  # paid calls by source (`live`, `atlas`)


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

    def biosample_scored(self, requested: str) -> str:
        """The biosample (ontology CURIE) whose readout a score stands for, when `requested` was asked for: the
        requested one for a predictor with a track per biosample; a model of one biosample says its own."""
        return requested

    def score_variants(
        self, variants: pd.DataFrame, *, reference: ReferenceGenome, cache_dir: Path, log: logging.Logger
    ) -> ScoringOutcome:
        raise NotImplementedError

    def plan(self, variants: pd.DataFrame, *, cache_dir: Path, log: logging.Logger) -> ScoringPlan:
        """What scoring `variants` would cost, without scoring them. A predictor that makes no paid call plans none;
        a remote one overrides this with its preflight and cache lookup."""
        n_variants = int(variants["variant_id"].nunique()) if len(variants) else 0
        return ScoringPlan(source=f"{self.predictor_name()} (computed here, no calls)", rows=len(variants),
                           distinct_variants=n_variants, cached=0, to_request=n_variants, over_cap=0,
                           no_track_rows=0, calls=0, per_minute=None, rate_source="no calls",
                           estimated_seconds=0.0)


# The local model learned GM12878 (LCL) DNase sensitivity from the Degner dsQTLs; each row's track names the fold
# model that scored it (`crossfit.SCORED_BY`).
LOCAL_TRACK = "local gkm DNase x GM12878 (LCL dsQTL contexts)"


def local_track(scored_by: str) -> str:
    return f"{LOCAL_TRACK}: {scored_by}"


class LocalPredictor(VariantEffectPredictor):
    """The gapped k-mer DNase model trained from the bundled data (`local_model` asset): no network, no weights.

    Cross-fitted by chromosome parity (`lib/model/crossfit.py`): each variant is scored by the fold model that never
    saw its chromosome, so every row is held out; its track and `scored_by` name that model. It learned GM12878
    DNase, so its scores stand for GM12878 whichever biosample a truth set asks for.
    """

    model_path: str  # `Storage.local_model_path()`: where the local_model asset writes the weights
    _loaded: object = PrivateAttr(default=None)

    def _model(self):
        from endobench.lib.model.crossfit import CrossFittedModel

        if self._loaded is None:
            path = Path(self.model_path)
            if not path.exists():
                raise dg.Failure(
                    f"the local model has not been trained yet ({path} is missing): materialize the local_model asset",
                    allow_retries=False,
                )
            self._loaded = CrossFittedModel.load(path)
        return self._loaded

    def training_split(self, variants: pd.DataFrame) -> TrainingSplit:
        from endobench.lib.model.crossfit import SCHEME, SCORED_BY, scoring_fold

        folds = scoring_fold(variants["chrom"].to_numpy())
        return TrainingSplit(SCHEME, held_out=np.ones(len(variants), dtype=bool),
                             scored_by=pd.Series(folds).map(SCORED_BY).to_numpy(dtype=object))

    def biosample_scored(self, requested: str) -> str:
        return GM12878.curie

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
        from endobench.lib.model.crossfit import SCORED_BY, scoring_fold
        from endobench.lib.model.held_out import allele_sequences

        model = self._model()
        with reference.reader() as fetch:
            refs, alts, ok_mask = allele_sequences(variants, fetch, model.flank)
        score = np.full(len(variants), np.nan)
        chroms = variants["chrom"].to_numpy()
        if ok_mask.any():
            s_ref, s_alt = model.score_pairs([r for r, k in zip(refs, ok_mask) if k],
                                             [a for a, k in zip(alts, ok_mask) if k], chroms[ok_mask])
            score[ok_mask] = s_alt - s_ref
        frame = pd.DataFrame(
            {
                "variant_id": variants["variant_id"].to_numpy(),
                "gene_id": variants["gene_id"].to_numpy(),
                "score": score,
                "quantile_score": np.nan,
                "status": np.where(ok_mask, SCORED, FAILED),
                "reason": np.where(ok_mask, "", "no_reference_sequence"),
                "from_cache": False,
                "track": [local_track(SCORED_BY[f]) for f in scoring_fold(chroms)],
                "source": LIVE,
            }
        )[PREDICTION_COLUMNS]
        failures = {} if ok_mask.all() else {"no_reference_sequence": int((~ok_mask).sum())}
        log.info(f"local model scored {int(ok_mask.sum()):,} of {len(variants):,} variants")
        return ScoringOutcome(scores=frame, failures_by_reason=failures)
