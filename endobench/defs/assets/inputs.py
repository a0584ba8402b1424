"""Input assets: the GTEx tissue table of a release, the generic QTL tables, and the accessibility peaks."""

from collections import Counter

import dagster as dg
import pandas as pd

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.metadata import exclusion_metadata, markdown_table, table_metadata
from endobench.defs.partitions import gtex_release_partitions
from endobench.lib.genome.liftover import NOT_LIFTED, lift_intervals, lift_variants, require_chain
from endobench.lib.genome.peaks import PeakSet, filter_peaks, read_peaks
from endobench.lib.io.atomic import atomic_path
from endobench.lib.io.errors import InputError
from endobench.lib.truth_sets.finemap import read_finemapped_eqtls
from endobench.lib.truth_sets.generic import read_generic_qtls
from endobench.lib.truth_sets.gtex import read_gtex_eqtls
from endobench.lib.truth_sets.schema import ParsedQtls
from endobench.resources.sources import FINEMAPPED, DataSources
from endobench.resources.storage import Storage


def input_failure(exc: InputError) -> dg.Failure:
    """Bad input is the user's to fix: fail with the actionable message, and do not retry."""
    return dg.Failure(description=str(exc), allow_retries=False)


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="inputs", kinds={"pandas", "parquet"},
    automation_condition=UP_TO_DATE, code_version="1",
)
def raw_gtex_eqtls(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """The GTEx tissue eQTL table of one release, parsed by header name into the QTL schema.

    Accepts `signif_variant_gene_pairs` and `egenes` files; `effect` is GTEx `slope` (the signed effect of ALT),
    looked up by name. Rows that cannot be used (non-finite slope, bad alleles, unknown chromosome, duplicates)
    are counted by reason, never dropped silently.
    """
    release = context.partition_key
    source = sources.gtex_eqtls(release)
    try:
        parsed = read_gtex_eqtls(source.path, truth_set=sources.gtex_truth_set)
    except InputError as exc:
        raise input_failure(exc) from exc
    if parsed.frame["build"].iloc[0] != source.build:
        raise dg.Failure(
            f"{source.path}: variant ids say {parsed.frame['build'].iloc[0]} but the source declares {source.build}; "
            "fix the data source's build",
            allow_retries=False,
        )
    lifted_from = _lift_qtls_to_reference(context, parsed, source.path, source.build, sources)
    path = storage.write_table(parsed.frame, "raw_gtex_eqtls", release)
    storage.write_stats(
        {parsed.frame["truth_set"].iloc[0]: {"rows_read": parsed.rows_read, "excluded": dict(parsed.excluded)}},
        "raw_gtex_eqtls", release,
    )
    context.log.info(f"{release}: {parsed.rows_read:,} rows read, {len(parsed.frame):,} kept ({parsed.kind})")
    return dg.MaterializeResult(
        metadata={
            **table_metadata(path, len(parsed.frame)),
            "release": release,
            "rows_read": parsed.rows_read,
            "file_kind": parsed.kind,
            "effect_column": "slope",
            "genome_build": sources.reference_location().build,
            "lifted_from": lifted_from or "not lifted",
            "source_path": dg.MetadataValue.path(str(source.path)),
            "n_variants": int(parsed.frame["variant_id"].nunique()),
            "n_significant": int(parsed.frame["is_significant"].sum()),
            **exclusion_metadata(parsed.excluded),
        }
    )


@dg.asset(group_name="inputs", kinds={"pandas", "parquet"}, automation_condition=UP_TO_DATE, code_version="1")
def raw_qtl_tables(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """Generic QTL truth sets (chrom, pos, ref, alt, effect, se, p, build), such as the Degner 2012 dsQTLs.

    Read by header name through a declared column mapping; minus-strand rows are complemented so alleles are on
    the + strand of the declared build; unusable rows are counted by reason.
    """
    frames, rows, stats = [], [], {}
    excluded_all: Counter = Counter()
    for table in sources.qtl_tables():
        try:
            if table.kind == FINEMAPPED:
                parsed = read_finemapped_eqtls(table.path, truth_set=table.truth_set, tissue=table.tissue)
            else:
                parsed = read_generic_qtls(table.path, truth_set=table.truth_set, build=table.build,
                                           columns=table.columns)
        except InputError as exc:
            raise input_failure(exc) from exc
        _lift_qtls_to_reference(context, parsed, table.path, str(parsed.frame["build"].iloc[0]) if len(parsed.frame)
                                else (table.build or "hg38"), sources)
        parsed.frame["require_peak"] = table.require_peak
        frames.append(parsed.frame)
        excluded_all.update({f"{table.truth_set}_{k}": v for k, v in parsed.excluded.items()})
        stats[table.truth_set] = {"rows_read": parsed.rows_read, "excluded": dict(parsed.excluded)}
        rows.append({"truth_set": table.truth_set, "rows_read": parsed.rows_read, "kept": len(parsed.frame),
                     "build": table.build or "from variant ids", "excluded": dict(parsed.excluded) or "none",
                     "lifted_to": parsed.frame["build"].iloc[0] if len(parsed.frame) else table.build})
        context.log.info(f"{table.truth_set}: {parsed.rows_read:,} rows read, {len(parsed.frame):,} kept")
    frame = pd.concat(frames, ignore_index=True)
    path = storage.write_table(frame, "raw_qtl_tables")
    storage.write_stats(stats, "raw_qtl_tables")
    return dg.MaterializeResult(
        metadata={
            **table_metadata(path, len(frame)),
            "truth_sets": dg.MetadataValue.md(markdown_table(rows)),
            "n_variants": int(frame["variant_id"].nunique()),
            **exclusion_metadata(excluded_all),
        }
    )


class PeakFilterConfig(dg.Config):
    max_width: int = 5_000
    min_qvalue: float = 2.0


@dg.asset(group_name="inputs", kinds={"bedtools", "parquet"}, automation_condition=UP_TO_DATE, code_version="1")
def dhs_peaks(
    context: dg.AssetExecutionContext, config: PeakFilterConfig, sources: DataSources, storage: Storage
) -> dg.MaterializeResult:
    """Accessibility peaks of the readout cell type (K562 DNase), with their build, filtered and blacklisted.

    Peaks wider than `max_width` (artifact "peaks" over gaps) and weaker than `min_qvalue` (-log10 q) are
    removed, then anything overlapping the ENCODE blacklist. Written as parquet and as BED.
    """
    source, blacklist_source = sources.peaks(), sources.blacklist()
    reference = sources.reference_location()
    try:
        peaks = read_peaks(source.path, source.build)
        blacklist = read_peaks(blacklist_source.path, blacklist_source.build)
        peaks = _peaks_on_build(peaks, source.path, reference.build, reference.path, sources)
        blacklist = _peaks_on_build(blacklist, blacklist_source.path, reference.build, reference.path, sources)
    except InputError as exc:
        raise input_failure(exc) from exc
    if source.build != reference.build:
        context.log.info(f"{source.path}: lifted {source.build} -> {reference.build}, "
                         f"{peaks.excluded[NOT_LIFTED]:,} peaks not lifted")
    filtered = filter_peaks(peaks, max_width=config.max_width, min_qvalue=config.min_qvalue, blacklist=blacklist)
    frame = filtered.frame.assign(build=peaks.build)
    path = storage.write_table(frame, "dhs_peaks")
    bed_path = path.with_suffix(".bed")
    with atomic_path(bed_path) as tmp:
        frame[["chrom", "start", "end", "name", "qvalue"]].to_csv(tmp, sep="\t", header=False, index=False)
    if not peaks.was_sorted:
        context.log.warning(f"{source.path}: peaks were not sorted; sorted them by chromosome and start")
    context.log.info(f"{peaks.rows_read:,} peaks read, {len(frame):,} kept covering {filtered.covered_bp:,} bp")
    return dg.MaterializeResult(
        metadata={
            **table_metadata(path, len(frame)),
            "bed_path": dg.MetadataValue.path(str(bed_path)),
            "rows_read": peaks.rows_read,
            "covered_bp": filtered.covered_bp,
            "peak_chromosomes": ", ".join(sorted(frame["chrom"].unique())),
            "genome_build": peaks.build,
            "lifted_from": source.build if source.build != peaks.build else "not lifted",
            "not_lifted": int(peaks.excluded.get(NOT_LIFTED, 0)),
            "input_was_sorted": peaks.was_sorted,
            **exclusion_metadata(filtered.excluded),
        }
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
    reference = sources.reference_location()
    if build == reference.build:
        return None
    try:
        chain = require_chain(sources.chain(build, reference.build), from_build=build, to_build=reference.build,
                              what=path, against=reference.path)
        lifted = lift_variants(parsed.frame, chain, from_build=build, to_build=reference.build)
    except InputError as exc:  # no chain, or one that cannot be read
        raise input_failure(exc) from exc
    parsed.frame = lifted.frame
    parsed.excluded[NOT_LIFTED] += lifted.not_lifted
    context.log.info(f"{path}: lifted {build} -> {reference.build}, {lifted.not_lifted:,} variants not lifted")
    return build
