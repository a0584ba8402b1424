"""Input assets: the GTEx tissue table of a release, the generic QTL tables, and the accessibility peaks."""

from collections import Counter
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.failures import bad_input_fails_the_run
from endobench.defs.metadata import exclusion_metadata, markdown_table, rounded, table_metadata
from endobench.defs.partitions import gtex_release_partitions
from endobench.lib.genome.liftover import NOT_LIFTED, lift_intervals, lift_variants, require_chain
from endobench.lib.genome.peaks import PeakSet, filter_peaks, read_peaks
from endobench.lib.io.errors import InputError
from endobench.lib.truth_sets.annotate import sites_as_peaks
from endobench.lib.truth_sets.catalog import DSQTL_DEGNER
from endobench.lib.truth_sets.finemap import read_finemapped_eqtls
from endobench.lib.truth_sets.generic import read_generic_qtls, read_selected_qtls
from endobench.lib.truth_sets.gtex import read_gtex_eqtls
from endobench.lib.truth_sets.schema import QTL_SCHEMA, ParsedQtls, distinct_variants, qtl_table
from endobench.resources.sources import FINEMAPPED, DataSources
from endobench.resources.storage import Storage


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="inputs", kinds={"pandas", "parquet"},
    automation_condition=UP_TO_DATE, code_version=source_code_version("1", __name__),
)
def raw_gtex_eqtls(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """The GTEx eQTL tables of one release, one per configured tissue, parsed by header name into the QTL schema.

    Accepts `signif_variant_gene_pairs` and `egenes` files; `effect` is GTEx `slope` (the signed effect of ALT),
    looked up by name, or with `gtex_effect=log2_aFC` the eGenes' log2 allelic fold change. Rows that cannot be used (non-finite slope, bad alleles, unknown chromosome, duplicates)
    are counted by reason, never dropped silently. `truth_set` holds the tissue's key (`gtex_wb`, `gtex_lcl`).
    """
    release = context.partition_key
    tables = []
    for source_key, tissue in sources.gtex_sources():
        source = sources.gtex_eqtls(release, tissue)
        with bad_input_fails_the_run(sources):
            parsed = read_gtex_eqtls(source.path, truth_set=source_key, effect=sources.gtex_effect)
            declared = parsed.table.column("build")[0].as_py() if parsed.table.num_rows else source.build
            if declared != source.build:
                raise InputError(source.path, f"variant ids say {declared} but the source declares {source.build}",
                                 "Fix the data source's build")
        for warning in parsed.warnings:
            context.log.warning(f"{source.path}: {warning}")
        tables.append((source_key, source.path, parsed, _lift_qtls_to_reference(context, parsed, source.path,
                                                                                source.build, sources)))
    table, stats, summary = combine_tables(tables)
    path = storage.write_table(table, "raw_gtex_eqtls", release)
    storage.write_stats(stats, "raw_gtex_eqtls", release)
    return dg.MaterializeResult(
        metadata=rounded({
            **table_metadata(path, table.num_rows),
            "release": release,
            "tables": dg.MetadataValue.md(markdown_table(summary)),
            "rows_read": sum(s["rows_read"] for s in stats.values()),
            "effect_column": sources.gtex_effect,
            "genome_build": sources.reference_file().build,
            "n_variants": distinct_variants(table),
            "n_significant": int(pc.sum(table.column("is_significant")).as_py() or 0),
            **exclusion_metadata(Counter({f"{k}_{r}": n for k, s in stats.items() for r, n in s["excluded"].items()})),
        })
    )


@dg.asset(group_name="inputs", kinds={"pandas", "parquet"}, automation_condition=UP_TO_DATE,
          code_version=source_code_version("2", __name__))
def raw_qtl_tables(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """Generic QTL truth sets (chrom, pos, ref, alt, effect, se, p, build), such as the Degner 2012 dsQTLs and the
    field's strong subset of them (a published selection of their rows by id).

    Read by header name through a declared column mapping; minus-strand rows are reverse-complemented so alleles
    are on the + strand of the declared build; unusable rows (and selected ids the table lacks) are counted by reason.
    """
    tables = []
    for table in sources.qtl_tables():
        with bad_input_fails_the_run():
            if table.kind == FINEMAPPED:
                parsed = read_finemapped_eqtls(table.path, truth_set=table.truth_set, tissue=table.tissue)
            elif table.selection is not None:
                parsed = read_selected_qtls(table.selection, table.path, id_column=table.selection_id_column,
                                            truth_set=table.truth_set, build=table.build, columns=table.columns)
            else:
                parsed = read_generic_qtls(table.path, truth_set=table.truth_set, build=table.build,
                                           columns=table.columns)
        for warning in parsed.warnings:
            context.log.warning(f"{table.path}: {warning}")
        build = parsed.table.column("build")[0].as_py() if parsed.table.num_rows else (table.build or "hg38")
        tables.append((table.truth_set, table.path, parsed,
                       _lift_qtls_to_reference(context, parsed, table.path, build, sources)))
    combined, stats, summary = combine_tables(tables)
    path = storage.write_table(combined, "raw_qtl_tables")
    storage.write_stats(stats, "raw_qtl_tables")
    return dg.MaterializeResult(
        metadata=rounded({
            **table_metadata(path, combined.num_rows),
            "truth_sets": dg.MetadataValue.md(markdown_table(summary)),
            "n_variants": distinct_variants(combined),
            **exclusion_metadata(Counter({f"{k}_{r}": n for k, s in stats.items() for r, n in s["excluded"].items()})),
        })
    )


def combine_tables(tables: list[tuple[str, object, ParsedQtls, str | None]]) -> tuple[pa.Table, dict, list]:
    """One table of several parsed tables, their funnel statistics by source key, and a summary row per table."""
    stats, summary = {}, []
    for key, path, parsed, lifted_from in tables:
        kept = parsed.table.num_rows
        stats[key] = {"rows_read": parsed.rows_read, "rows_kept": kept, "excluded": dict(parsed.excluded)}
        summary.append({"source": key, "file": Path(str(path)).name, "kind": parsed.kind, "rows_read": parsed.rows_read,
                        "kept": kept, "excluded": dict(parsed.excluded) or "none",
                        "lifted_from": lifted_from or "not lifted"})
    return pa.concat_tables([t[2].table for t in tables]) if tables else QTL_SCHEMA.empty_table(), stats, summary


@dg.asset(group_name="inputs", kinds={"pandas", "bed"}, deps=["raw_qtl_tables"], automation_condition=UP_TO_DATE,
          code_version=source_code_version("1", __name__))
def dsqtl_sites(storage: Storage) -> dg.MaterializeResult:
    """LCL DNase-sensitive sites: the positions of the Degner dsQTLs, as an accessibility annotation for eQTLs.

    A site where DNase sensitivity was measured to depend on the genotype is accessible by construction, so an
    eQTL there can be asked whether its predicted (or measured) accessibility change tracks its expression effect.
    """
    dsqtls = storage.read_table("raw_qtl_tables")
    dsqtls = dsqtls[dsqtls["truth_set"] == DSQTL_DEGNER.source]
    build = str(dsqtls["build"].iloc[0]) if len(dsqtls) else "hg38"
    sites = sites_as_peaks(dsqtls, build)
    path = storage.write_table(sites.frame.assign(build=build), "dsqtl_sites")
    bed_path = storage.write_bed(sites.frame[["chrom", "start", "end", "name"]], "dsqtl_sites")
    return dg.MaterializeResult(metadata=rounded({**table_metadata(path, len(sites.frame)), "genome_build": build,
                                          "bed_path": dg.MetadataValue.path(str(bed_path)),
                                          "covered_bp": sites.covered_bp}))


class PeakFilterConfig(dg.Config):
    max_width: int = 5_000
    min_qvalue: float = 2.0


@dg.asset(group_name="inputs", kinds={"bedtools", "parquet"}, automation_condition=UP_TO_DATE,
          code_version=source_code_version("1", __name__))
def dhs_peaks(
    context: dg.AssetExecutionContext, config: PeakFilterConfig, sources: DataSources, storage: Storage
) -> dg.MaterializeResult:
    """Accessibility peaks of the readout cell type (K562 DNase), with their build, filtered and blacklisted.

    Peaks wider than `max_width` (artifact "peaks" over gaps) and weaker than `min_qvalue` (-log10 q) are
    removed, then anything overlapping the ENCODE blacklist. Written as parquet and as BED.
    """
    source, blacklist_source = sources.peaks(), sources.blacklist()
    reference = sources.reference_file()
    with bad_input_fails_the_run(sources):
        peaks = read_peaks(source.path, source.build)
        blacklist = read_peaks(blacklist_source.path, blacklist_source.build)
        peaks = _peaks_on_build(peaks, source.path, reference.build, reference.path, sources)
        blacklist = _peaks_on_build(blacklist, blacklist_source.path, reference.build, reference.path, sources)
    if source.build != reference.build:
        context.log.info(f"{source.path}: lifted {source.build} -> {reference.build}, "
                         f"{peaks.excluded[NOT_LIFTED]:,} peaks not lifted")
    filtered = filter_peaks(peaks, max_width=config.max_width, min_qvalue=config.min_qvalue, blacklist=blacklist)
    # narrowPeak q = -1 means "not computed": a file without one q-value cannot be filtered by it, and says so.
    q_filter = (f"applied: -log10 q >= {config.min_qvalue:g}" if peaks.frame["qvalue"].notna().any()
                else "skipped: the file gives no q-values (all -1 or absent)")
    if q_filter.startswith("skipped"):
        context.log.warning(f"{source.path}: q-value filter {q_filter}")
    frame = filtered.frame.assign(build=peaks.build)
    path = storage.write_table(frame, "dhs_peaks")
    bed_path = storage.write_bed(frame[["chrom", "start", "end", "name", "qvalue"]], "dhs_peaks")
    if not peaks.was_sorted:
        context.log.warning(f"{source.path}: peaks were not sorted; sorted them by chromosome and start")
    context.log.info(f"{peaks.rows_read:,} peaks read, {len(frame):,} kept covering {filtered.covered_bp:,} bp")
    return dg.MaterializeResult(
        metadata=rounded({
            **table_metadata(path, len(frame)),
            "bed_path": dg.MetadataValue.path(str(bed_path)),
            "rows_read": peaks.rows_read,
            "covered_bp": filtered.covered_bp,
            "peak_chromosomes": ", ".join(sorted(frame["chrom"].unique())),
            "genome_build": peaks.build,
            "lifted_from": source.build if source.build != peaks.build else "not lifted",
            "not_lifted": int(peaks.excluded.get(NOT_LIFTED, 0)),
            "input_was_sorted": peaks.was_sorted,
            "qvalue_filter": q_filter,
            "source_checksum": source.verified or "bundled file (provenance in data/sample/SOURCES.md)",
            **exclusion_metadata(filtered.excluded),
        })
    )


def _peaks_on_build(peaks: PeakSet, path, target_build: str, target_path, sources: DataSources) -> PeakSet:
    """The peaks on `target_build`: lifted with the configured chain, or a BuildMismatchError naming both files.

    The seed intersected hg38 variants with hg19 K562 peaks; a build difference is never intersected as is.
    """
    if peaks.build == target_build:
        return peaks
    chain = require_chain(sources.chain(peaks.build, target_build), from_build=peaks.build, to_build=target_build,
                          what=path, against=target_path)
    lifted = lift_intervals(peaks.frame, chain, from_build=peaks.build, to_build=target_build)
    excluded = peaks.excluded + lifted.excluded
    excluded[NOT_LIFTED] = lifted.not_lifted  # kept even when 0, so the metadata always shows it
    return PeakSet(lifted.frame, target_build, peaks.rows_read, excluded, peaks.was_sorted)


def _lift_qtls_to_reference(
    context: dg.AssetExecutionContext, parsed: ParsedQtls, path, build: str, sources: DataSources
) -> str | None:
    """Lift a parsed truth set onto the reference build in place; returns the build it came from, if lifted."""
    reference = sources.reference_file()
    if build == reference.build:
        return None
    with bad_input_fails_the_run():  # no chain, or one that cannot be read
        chain = require_chain(sources.chain(build, reference.build), from_build=build, to_build=reference.build,
                              what=path, against=reference.path)
        lifted = lift_variants(parsed.frame, chain, from_build=build, to_build=reference.build)
    parsed.table = qtl_table(lifted.frame)
    parsed.excluded[NOT_LIFTED] += lifted.not_lifted
    context.log.info(f"{path}: lifted {build} -> {reference.build}, {lifted.not_lifted:,} variants not lifted")
    return build
