"""Variant effect predictions, one partition per GTEx release and chromosome, from the configured predictor."""

import dagster as dg
import numpy as np
import pandas as pd

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.metadata import exclusion_metadata, table_metadata
from endobench.defs.partitions import release_chromosome_partitions
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.windows import OK
from endobench.lib.io.atomic import write_parquet
from endobench.resources.predictors import (
    ACCESSIBILITY,
    EXPRESSION,
    SCORED,
    VariantEffectPredictor,
)
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage

API_POOL = "alphagenome_api"
TRUTH_COLUMNS = [
    "truth_set", "variant_id", "gene_id", "chrom", "pos", "ref", "alt", "effect", "effect_se", "pval", "maf",
    "tss_distance", "is_significant", "in_peak",
]


def scoring_requests(windows: pd.DataFrame, readouts: frozenset[str]) -> pd.DataFrame:
    """One row per (truth set, readout, unit): accessibility counts each variant once, expression keeps pairs.

    For an accessibility readout of an eQTL truth set, the variant's measured effect is that of its most
    significant gene, so a variant tagging five genes is one point, not five.
    """
    usable = windows[windows["window_status"] == OK]
    parts = []
    if ACCESSIBILITY in readouts:
        once = usable.sort_values(["truth_set", "variant_id", "pval"], kind="stable")
        once = once.drop_duplicates(["truth_set", "variant_id"]).assign(readout=ACCESSIBILITY)
        once["gene_id"] = pd.NA
        parts.append(once)
    if EXPRESSION in readouts:
        parts.append(usable[usable["gene_id"].notna()].assign(readout=EXPRESSION))
    if not parts:
        return usable.iloc[0:0].assign(readout=pd.Series(dtype=object))
    return pd.concat(parts, ignore_index=True)


@dg.asset(
    partitions_def=release_chromosome_partitions,
    group_name="predictions",
    kinds={"parquet"},
    deps=["sequence_windows", "local_model"],
    pool=API_POOL,
    automation_condition=UP_TO_DATE,
    code_version="1",
    retry_policy=dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
)
def variant_effect_predictions(
    context: dg.AssetExecutionContext, sources: DataSources, storage: Storage, predictor: VariantEffectPredictor
) -> dg.MaterializeResult:
    """Predicted ALT-vs-REF effects for the usable windows of one chromosome, with every request accounted for.

    Each distinct variant is scored once per readout it is needed for; a failed or skipped call is a row with
    its status and reason, never a missing row. Runs share the `alphagenome_api` pool so that backfills of many
    chromosomes share one API budget.
    """
    keys = context.partition_key.keys_by_dimension
    release, chrom = keys["release"], keys["chrom"]
    windows = storage.read_table("sequence_windows", release)
    windows = windows[windows["chrom"] == chrom]
    requests = scoring_requests(windows, predictor.supported_readouts())
    source = sources.reference()
    reference = ReferenceGenome(source.path, source.build)
    units = requests.drop_duplicates(["variant_id", "gene_id", "readout"])
    outcome = predictor.score_variants(
        units[["variant_id", "chrom", "pos", "ref", "alt", "gene_id", "readout", "window_start", "window_end"]]
        .reset_index(drop=True),
        reference=reference, cache_dir=storage.cache_path(), log=context.log,
    )
    scores = outcome.scores.assign(readout=units["readout"].to_numpy())
    merged = requests[TRUTH_COLUMNS + ["readout"]].merge(
        scores, on=["variant_id", "gene_id", "readout"], how="left", validate="many_to_one"
    )
    held_out = predictor.held_out_chromosomes()
    merged["held_out"] = (chrom in held_out) if held_out is not None else pd.NA
    merged["configuration"] = predictor.configuration_id() + "|" + merged["readout"]
    merged["predictor"] = predictor.predictor_name()
    merged["release"] = release
    path = write_parquet(merged, storage.configuration_path(
        "variant_effect_predictions", f"{release}|{chrom}", predictor.configuration_id()))
    n_scored = int((merged["status"] == SCORED).sum())
    statuses = merged.loc[merged["status"] != SCORED, "status"].value_counts().to_dict()
    context.log.info(f"{release} {chrom}: {n_scored:,} of {len(merged):,} scored")
    return dg.MaterializeResult(
        metadata={
            **table_metadata(path, len(merged)),
            "release": release,
            "chrom": chrom,
            "predictor": predictor.predictor_name(),
            "configuration": predictor.configuration_id(),
            "n_variants": int(merged["variant_id"].nunique()),
            "n_scored": n_scored,
            "api_calls": outcome.api_calls,
            "cache_hits": outcome.cache_hits,
            "mean_abs_score": float(np.nanmean(np.abs(merged["score"]))) if n_scored else 0.0,
            **exclusion_metadata({**statuses, **outcome.failures_by_reason}, prefix="prediction_"),
        }
    )
