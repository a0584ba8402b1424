"""Variant assets: the truth sets restricted to open chromatin, then checked against the reference and windowed."""

import dagster as dg
import pyarrow as pa

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.failures import bad_input_fails_the_run
from endobench.defs.metadata import exclusion_metadata, markdown_table, rounded, table_metadata
from endobench.defs.partitions import gtex_release_partitions
from endobench.lib.genome.builds import build_mismatches, input_builds
from endobench.lib.genome.peaks import PeakSet
from endobench.lib.genome.windows import OK, exclusion_counts
from endobench.lib.io.errors import BuildMismatchError
from endobench.lib.truth_sets.annotate import annotate_truth_sets
from endobench.lib.truth_sets.catalog import K562_DHS_PEAKS, LCL_DSQTL_SITES
from endobench.lib.truth_sets.schema import SOURCE_COLUMNS, as_sources, drop_unpredicted_chromosomes, truth_set_builds
from endobench.lib.truth_sets.windowing import distinct_windows, window_statistics, window_truth_sets
from endobench.resources.predictors import VariantEffectPredictor
from endobench.resources.sources import DataSources, SourceFile
from endobench.resources.storage import Storage


def load_sources(storage: Storage, release: str) -> tuple[pa.Table, dict]:
    """Every source table of a release in one Arrow table (the release's GTEx tissues and the generic QTL tables),
    text as codes, only the columns `annotate_truth_sets` reads (`as_sources`)."""
    tables = [storage.read_arrow(asset, partition, SOURCE_COLUMNS)
              for asset, partition in (("raw_gtex_eqtls", release), ("raw_qtl_tables", None))]
    stats = {**storage.read_stats("raw_gtex_eqtls", release), **storage.read_stats("raw_qtl_tables")}
    return as_sources(tables), stats


def load_annotations(storage: Storage) -> dict[str, PeakSet]:
    """The accessibility annotations by key: the filtered K562 DNase peaks and the LCL dsQTL sites."""
    out = {}
    for key, asset in ((K562_DHS_PEAKS.key, "dhs_peaks"), (LCL_DSQTL_SITES.key, "dsqtl_sites")):
        frame = storage.read_table(asset)
        out[key] = PeakSet(frame.drop(columns="build"), str(frame["build"].iloc[0]) if len(frame) else "hg38", len(frame))
    return out


def check_builds(table: pa.Table, annotations: dict[str, PeakSet], reference: SourceFile) -> None:
    """Every input must be on the reference's build: the seed intersected hg38 variants with hg19 peaks."""
    annotation_builds = {k: p.build for k, p in annotations.items() if len(p.frame)}
    builds = input_builds(truth_set_builds(table), annotation_builds, reference.build)
    wrong = build_mismatches(builds)
    if wrong:
        raise BuildMismatchError(reference.path, f"{', '.join(wrong)} on another build than this reference "
                                 f"({reference.build})", "Lift them to the reference build (a UCSC chain in the data "
                                 "sources) or use inputs of that build")


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="variants", kinds={"bedtools", "parquet"},
    deps=["raw_gtex_eqtls", "raw_qtl_tables", "dhs_peaks", "dsqtl_sites"],
    automation_condition=UP_TO_DATE, code_version=source_code_version("1", __name__),
)
def dhs_filtered_variants(
    context: dg.AssetExecutionContext, sources: DataSources, storage: Storage
) -> dg.MaterializeResult:
    """Each truth set: the variants of its source table inside its accessibility annotation (bedtools intersect).

    eQTL truth sets keep only variants in their annotation (K562 DNase peaks, or LCL DNase-sensitive sites);
    accessibility QTL truth sets (dsQTLs are DNase sites by construction) keep all variants and carry
    `in_annotation` (in K562 peaks) as an annotation. One source table under two annotations is two truth sets.
    """
    release = context.partition_key
    table, source_stats = load_sources(storage, release)
    table = drop_unpredicted_chromosomes(table, source_stats)
    annotations = load_annotations(storage)
    with bad_input_fails_the_run():
        check_builds(table, annotations, sources.reference_file())
    specs = sources.truth_sets()
    annotated = annotate_truth_sets(table, specs, annotations, default_annotation=K562_DHS_PEAKS.key)
    stats = {spec.name: {"rows_read": source_stats.get(spec.source, {}).get("rows_read", 0),
                         "excluded": source_stats.get(spec.source, {}).get("excluded", {}),
                         **annotated.funnel[spec.name]} for spec in specs}
    path = storage.write_table(annotated.frame, "dhs_filtered_variants", release)
    storage.write_stats(stats, "dhs_filtered_variants", release)
    rows = [{"truth_set": name, **{k: v for k, v in s.items() if k != "excluded"}} for name, s in stats.items()]
    context.log.info(f"{release}: {len(annotated.frame):,} rows kept in {len(specs)} truth sets")
    return dg.MaterializeResult(
        metadata=rounded({
            **table_metadata(path, len(annotated.frame)),
            "release": release,
            "funnel": dg.MetadataValue.md(markdown_table(rows)),
            "rows_read": int(sum(s.get("rows_read", 0) for s in source_stats.values())),
            "n_variants": int(annotated.frame["variant_id"].nunique()),
            **{f"kept_{name}": int(s["kept_after_annotation"]) for name, s in stats.items()},
        })
    )


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="variants", kinds={"pyfaidx", "parquet"},
    deps=["dhs_filtered_variants"], automation_condition=UP_TO_DATE, code_version=source_code_version("1", __name__),
)
def sequence_windows(
    context: dg.AssetExecutionContext, sources: DataSources, storage: Storage, predictor: VariantEffectPredictor
) -> dg.MaterializeResult:
    """For each variant, the window the predictor reads, with the reference allele checked (pyfaidx).

    A variant whose ALT is the genome base is swapped and its effect negated; one matching neither allele is a
    `ref_mismatch`. Windows the reference cannot serve, N-rich windows and windows past a chromosome end are
    counted by reason. Coordinates and checks are stored, not sequence.
    """
    release = context.partition_key
    variants = storage.read_table("dhs_filtered_variants", release)
    with bad_input_fails_the_run(sources):
        reference = sources.reference_genome()
    window_length = predictor.window_length()
    windows = window_truth_sets(variants, reference, window_length=window_length,
                                needs_sequence=predictor.needs_local_sequence())
    stats = storage.read_stats("dhs_filtered_variants", release)
    for truth_set, numbers in window_statistics(windows).items():
        stats.setdefault(truth_set, {}).update(numbers)
    rows = [{"truth_set": t, "variants": s.get("kept_after_annotation"), "windows_ok": s["windows_ok"],
             "ref_agreement": s["reference_agreement"], "swapped": s["swapped"],
             "excluded": ", ".join(f"{k}={v:,}" for k, v in sorted(s["window_exclusions"].items())) or "none"}
            for t, s in stats.items() if "windows_ok" in s]
    path = storage.write_table(windows, "sequence_windows", release)
    storage.write_stats(stats, "sequence_windows", release)
    unique_all = distinct_windows(windows)
    n_ok = int((unique_all["window_status"] == OK).sum())
    context.log.info(f"{release}: {n_ok:,} of {len(unique_all):,} windows usable")
    return dg.MaterializeResult(
        metadata=rounded({
            **table_metadata(path, len(windows)),
            "release": release,
            "window_length": window_length,
            "predictor": predictor.predictor_name(),
            "windows_by_truth_set": dg.MetadataValue.md(markdown_table(rows)),
            "n_variants": len(unique_all),
            "n_windows_ok": n_ok,
            **exclusion_metadata(exclusion_counts(unique_all)),
        })
    )

