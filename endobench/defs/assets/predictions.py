"""Variant effect predictions, one partition per GTEx release and chromosome, from the configured predictor."""

import dagster as dg
import numpy as np
import pandas as pd

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.failures import bad_input_fails_the_run, only_service_failures_retried
from endobench.defs.metadata import exclusion_metadata, rounded, table_metadata
from endobench.defs.partitions import release_chromosome_partitions
from endobench.lib.genome.windows import OK
from endobench.lib.io.atomic import write_parquet
from endobench.lib.truth_sets.catalog import TruthSetSpec
from endobench.resources.predictors import (
    EXPRESSION,
    PREDICTOR_INPUT,
    SCORED,
    VariantEffectPredictor,
)
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage

# Every prediction step, whichever the predictor, runs in this pool: its limit is the AlphaGenome API's budget, and
# a backfill of 23 chromosome partitions must share it (the local model is cheap, but the pool is the same setting).
SCORING_POOL = "alphagenome_api"
TRUTH_COLUMNS = [
    "truth_set", "variant_id", "gene_id", "chrom", "pos", "ref", "alt", "effect", "effect_se", "pval", "maf",
    "tss_distance", "is_significant", "in_annotation",
]
# What identifies one prediction: the same variant in two truth sets, or for two genes in an accessibility readout,
# is scored once.
REQUEST_KEYS = ["variant_id", "score_gene_id", "readout", "biosample"]
NO_GENE = ""  # a value, not NA: a join never pairs missing keys


def scoring_requests(windows: pd.DataFrame, specs: list[TruthSetSpec], readouts: frozenset[str]) -> pd.DataFrame:
    """One row per (truth-set row, readout the predictor supports), with the biosample the truth set is scored on.

    Rows stay variant-gene pairs in both readouts (the gene is an eQTL truth set's unit); `score_gene_id` is the
    gene an expression score is taken for, and empty for accessibility, which is scored once per variant.
    """
    usable = windows[windows["window_status"] == OK]
    parts = []
    for spec in specs:
        rows = usable[usable["truth_set"] == spec.name]
        for readout in spec.readouts:
            if readout.kind not in readouts:
                continue
            part = rows[rows["gene_id"].notna()] if readout.kind == EXPRESSION else rows
            parts.append(part.assign(readout=readout.kind, biosample=readout.biosample.curie,
                                     score_gene_id=part["gene_id"] if readout.kind == EXPRESSION else NO_GENE))
    if not parts:
        return usable.iloc[0:0].assign(readout=pd.Series(dtype=object), biosample=pd.Series(dtype=object),
                                       score_gene_id=pd.Series(dtype=object))
    return pd.concat(parts, ignore_index=True)


def prediction_rows(requests: pd.DataFrame, units: pd.DataFrame, scores: pd.DataFrame,
                    predictor: VariantEffectPredictor) -> pd.DataFrame:
    """Every requested truth-set row with the score of its unit, the predictor's training split and configuration.

    `biosample` becomes the biosample the score stands for (a model of one biosample says its own); the one the
    truth set asked for stays in `requested_biosample`.
    """
    columns = list(dict.fromkeys([*scores.columns.drop("gene_id"), "track"]))  # every frame names its track
    scores = scores.reindex(columns=columns).assign(**{k: units[k].to_numpy() for k in REQUEST_KEYS[1:]})
    merged = requests[TRUTH_COLUMNS + REQUEST_KEYS[1:]].merge(scores, on=REQUEST_KEYS, how="left",
                                                              validate="many_to_one").drop(columns="score_gene_id")
    return merged.assign(**predictor.training_split(merged).columns(), configuration=predictor.configuration_id(),
                         predictor=predictor.predictor_name(), requested_biosample=merged["biosample"],
                         biosample=merged["biosample"].map(predictor.biosample_scored))


@dg.asset(
    partitions_def=release_chromosome_partitions,
    group_name="predictions",
    kinds={"parquet"},
    deps=["sequence_windows", "local_model"],
    pool=SCORING_POOL, automation_condition=UP_TO_DATE,
    # The AlphaGenome predictor is a resource chosen at load time: its module is named, not imported here.
    code_version=source_code_version("1", __name__, "endobench.resources.alphagenome"),
    retry_policy=dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
)
def variant_effect_predictions(
    context: dg.AssetExecutionContext, sources: DataSources, storage: Storage, predictor: VariantEffectPredictor
) -> dg.MaterializeResult:
    """Predicted ALT-vs-REF effects for the usable windows of one chromosome, with every request accounted for.

    Each distinct variant is scored once per readout it is needed for; a failed or skipped call is a row with
    its status and reason, never a missing row; `source` says where each score came from (AlphaGenome's Atlas or the
    live model). A remote predictor logs its plan (cached, Atlas, live, calls, time) before its first call and the
    metadata keeps it (`plan_*`, with the calls made by source: `atlas_calls`, `live_calls`). Only a transient
    failure of the service is retried by the retry policy. Runs share the `alphagenome_api` pool so that backfills
    of many chromosomes share one API budget.
    """
    keys = context.partition_key.keys_by_dimension
    release, chrom = keys["release"], keys["chrom"]
    windows = storage.read_table("sequence_windows", release)
    requests = scoring_requests(windows[windows["chrom"] == chrom], sources.truth_sets(), predictor.supported_readouts())
    with bad_input_fails_the_run(sources):
        reference = sources.reference_genome()
    units = requests.drop_duplicates(REQUEST_KEYS).reset_index(drop=True)
    with only_service_failures_retried(), bad_input_fails_the_run():  # a damaged score cache names itself
        outcome = predictor.score_variants(
            units.assign(gene_id=units["score_gene_id"].replace(NO_GENE, pd.NA))[PREDICTOR_INPUT],
            reference=reference, cache_dir=storage.cache_path(), log=context.log,
        )
    merged = prediction_rows(requests, units, outcome.scores, predictor).assign(release=release)
    path = write_parquet(merged, storage.configuration_path(
        "variant_effect_predictions", f"{release}|{chrom}", predictor.configuration_id()))
    n_scored = int((merged["status"] == SCORED).sum())
    statuses = merged.loc[merged["status"] != SCORED, "status"].value_counts().to_dict()
    context.log.info(f"{release} {chrom}: {n_scored:,} of {len(merged):,} scored")
    return dg.MaterializeResult(
        metadata=rounded({
            **table_metadata(path, len(merged)),
            "release": release,
            "chrom": chrom,
            "predictor": predictor.predictor_name(),
            "configuration": predictor.configuration_id(),
            "n_variants": int(merged["variant_id"].nunique()),
            "n_scored": n_scored,
            "api_calls": outcome.api_calls, "cache_hits": outcome.cache_hits, **outcome.plan,
            **{f"{source}_calls": n for source, n in outcome.calls_by_source.items()},
            "mean_abs_score": float(np.nanmean(np.abs(merged["score"]))) if n_scored else 0.0,
            **exclusion_metadata({**statuses, **outcome.failures_by_reason}, prefix="prediction_"),
        })
    )
