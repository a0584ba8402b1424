"""Blocking checks that guard the expensive prediction step: effect sign sanity, genome builds, reference agreement."""

import warnings

import dagster as dg

from endobench.defs.metadata import rounded
from endobench.defs.partitions import gtex_release_partitions
from endobench.lib.genome.builds import build_mismatches, input_builds
from endobench.lib.genome.windows import OK
from endobench.lib.truth_sets.sanity import effect_column_problems
from endobench.resources.predictors import VariantEffectPredictor
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage

# Checks share the partitions of the assets they guard (one evaluation per release); Dagster marks that preview.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning)

MIN_REFERENCE_AGREEMENT = 0.9
MIN_VARIANTS_PER_TRUTH_SET = 20
MIN_VARIANTS_POOLED = 10


EFFECT_COLUMNS = ["truth_set", "effect"]


def _effect_check(frame) -> dg.AssetCheckResult:
    problems = {
        truth_set: effect_column_problems(group["effect"].to_numpy())
        for truth_set, group in frame.groupby("truth_set")
    }
    failing = {k: v for k, v in problems.items() if v}
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{k}: {' / '.join(v)}" for k, v in failing.items()) or "effects are signed",
        metadata=rounded({f"negative_fraction_{t}": float((g["effect"] < 0).mean())
                          for t, g in frame.groupby("truth_set")}),
    )


@dg.asset_check(asset="raw_gtex_eqtls", blocking=True, partitions_def=gtex_release_partitions)
def gtex_effect_is_signed(context: dg.AssetCheckExecutionContext, storage: Storage) -> dg.AssetCheckResult:
    """The effect column is a signed effect (GTEx slope), not a p-value like `pval_nominal`."""
    return _effect_check(storage.read_table("raw_gtex_eqtls", context.partition_key, columns=EFFECT_COLUMNS))


@dg.asset_check(asset="raw_qtl_tables", blocking=True)
def qtl_effect_is_signed(storage: Storage) -> dg.AssetCheckResult:
    """Each generic QTL truth set's effect column is signed, not a p-value."""
    return _effect_check(storage.read_table("raw_qtl_tables", columns=EFFECT_COLUMNS))


@dg.asset_check(asset="dhs_filtered_variants", blocking=True, partitions_def=gtex_release_partitions)
def genome_builds_match(
    context: dg.AssetCheckExecutionContext, storage: Storage, sources: DataSources
) -> dg.AssetCheckResult:
    """Every truth set, the annotations and the reference are on one genome build (the seed mixed hg38 and hg19)."""
    annotations = {asset: ",".join(sorted(set(storage.read_table(asset, columns=["build"])["build"])))
                   for asset in ("dhs_peaks", "dsqtl_sites")}
    return builds_result(
        storage.read_table("dhs_filtered_variants", context.partition_key, columns=["truth_set", "build"]),
        annotations, sources.reference_file().build,
    )


def builds_result(variants, annotations: dict[str, str], reference_build: str) -> dg.AssetCheckResult:
    """Pass when every truth set and annotation names the reference's build."""
    builds = input_builds(variants, annotations, reference_build)
    wrong = build_mismatches(builds)
    return dg.AssetCheckResult(
        passed=not wrong,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"all inputs on {reference_build}" if not wrong else f"builds differ from the reference's "
                                                                         f"({reference_build}): {', '.join(wrong)}",
        metadata={k: dg.MetadataValue.text(v) for k, v in builds.items()},
    )


@dg.asset_check(asset="sequence_windows", blocking=True, partitions_def=gtex_release_partitions)
def reference_allele_agreement(context: dg.AssetCheckExecutionContext, storage: Storage) -> dg.AssetCheckResult:
    """At least 90% of checked variants have REF or ALT equal to the genome base.

    On the right build nearly all do; a file on another build labelled as this one matches only by chance
    (about half of SNVs). Judged per truth set when it has 20 checked variants, and over all truth sets
    together when they have 10 (the reference is shared, so a mislabelled reference shows in the pooled rate).
    """
    stats = storage.read_stats("sequence_windows", context.partition_key)
    failing, metadata = [], {}
    agree_total, checked_total = 0.0, 0
    for truth_set, s in sorted(stats.items()):
        agreement, n = s.get("reference_agreement"), int(s.get("reference_checked", 0))
        metadata[f"agreement_{truth_set}"] = dg.MetadataValue.float(float(agreement)) if n else dg.MetadataValue.text("n/a")
        metadata[f"checked_{truth_set}"] = dg.MetadataValue.int(n)
        if n:
            agree_total += agreement * n
            checked_total += n
        if n >= MIN_VARIANTS_PER_TRUTH_SET and agreement < MIN_REFERENCE_AGREEMENT:
            failing.append(f"{truth_set}: {agreement:.1%} of {n:,} variants match the reference")
    pooled = agree_total / checked_total if checked_total else float("nan")
    metadata["agreement_all"] = dg.MetadataValue.float(pooled) if checked_total else dg.MetadataValue.text("n/a")
    metadata["checked_all"] = dg.MetadataValue.int(checked_total)
    if checked_total >= MIN_VARIANTS_POOLED and pooled < MIN_REFERENCE_AGREEMENT:
        failing.append(f"all truth sets: {pooled:.1%} of {checked_total:,} variants match the reference")
    return dg.AssetCheckResult(
        passed=not failing, severity=dg.AssetCheckSeverity.ERROR, metadata=rounded(metadata),
        description="; ".join(failing) + " (is the reference or a truth set on another genome build?)"
        if failing else "reference alleles agree",
    )


@dg.asset_check(asset="sequence_windows", blocking=True, partitions_def=gtex_release_partitions)
def window_lengths_match_predictor(
    context: dg.AssetCheckExecutionContext, storage: Storage, predictor: VariantEffectPredictor
) -> dg.AssetCheckResult:
    """Usable windows have exactly the length the configured predictor reads."""
    windows = storage.read_table("sequence_windows", context.partition_key,
                                 columns=["window_status", "window_start", "window_end"])
    return window_length_result(windows, predictor.window_length())


def window_length_result(windows, expected: int) -> dg.AssetCheckResult:
    """Pass when every usable window is exactly `expected` bases long."""
    usable = windows[windows["window_status"] == OK]
    lengths = (usable["window_end"] - usable["window_start"]).unique()
    return dg.AssetCheckResult(
        passed=bool(len(lengths) == 0 or (len(lengths) == 1 and lengths[0] == expected)),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"expected_length": expected, "lengths_seen": str(sorted(int(x) for x in lengths))},
    )
