"""Non-significant tests of the eQTL truth sets' own genes, from GTEx's all-pairs tables: the report's negatives."""

from collections import Counter

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from endobench.defs.assets.variants import load_annotations
from endobench.defs.automation import UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.failures import bad_input_fails_the_run
from endobench.defs.metadata import exclusion_metadata, markdown_table, rounded, table_metadata
from endobench.defs.partitions import gtex_release_partitions
from endobench.lib.genome.builds import build_mismatches
from endobench.lib.io.errors import BuildMismatchError
from endobench.lib.truth_sets.catalog import K562_DHS_PEAKS
from endobench.lib.truth_sets.gtex import gene_thresholds
from endobench.lib.truth_sets.schema import QTL_SCHEMA, SOURCE_COLUMNS, distinct_variants
from endobench.resources.sources import ALLPAIRS, DataSources
from endobench.resources.storage import Storage

ASSET = "gtex_negative_tests"
PROGRESS_ROWS = 20_000_000
NOT_READ = ("none: the all-pairs tables are not read (set ENDOBENCH_GTEX_NEGATIVES=allpairs with the full profile), "
            "so the eQTL truth sets have no non-significant tests of their positives' genes")


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="inputs", kinds={"pyarrow", "parquet"},
    deps=["raw_gtex_eqtls", "dhs_peaks", "dsqtl_sites"], automation_condition=UP_TO_DATE,
    code_version=source_code_version("1", __name__),
)
def gtex_negative_tests(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage
                        ) -> dg.MaterializeResult:
    """Non-significant tests of each eQTL truth set's positive genes, in its annotation, from GTEx's all-pairs
    tables: rows with `is_significant` False that join their tissue's rows, so the report matches each positive to
    a test of its own gene. Opt-in (`gtex_negatives=allpairs`, several GB per tissue); otherwise empty.

    The rule (`lib/evaluation/negative_tests.py`): pval_nominal above the gene's pval_nominal_threshold, the variant
    a significant test of no gene, in the truth set's annotation; per gene and truth set at most
    `negatives_per_gene`, the nearest to the gene's positive in log10 TSS distance and MAF. Each file is streamed.
    """
    release = context.partition_key
    if not sources.reads_allpairs():
        path = storage.write_table(QTL_SCHEMA.empty_table(), ASSET, release)
        storage.write_stats({}, ASSET, release)
        return dg.MaterializeResult(metadata={**table_metadata(path, 0), "release": release, "negatives": NOT_READ})
    raw = storage.read_arrow("raw_gtex_eqtls", release, SOURCE_COLUMNS)
    tables, stats, summary, excluded = [], {}, [], Counter()
    for source_key, tissue in sources.gtex_sources():
        selection, files = select_for_tissue(context, sources, storage, raw, release, source_key, tissue)
        tables.append(selection.table)
        excluded.update({f"{source_key}_{k}": v for k, v in selection.excluded.items()})
        stats[source_key] = {"rows_read": selection.rows_read, "rows_kept": selection.table.num_rows,
                             "files": files, "per_gene": sources.negatives_per_gene,
                             "genes_without_threshold": selection.genes_without_threshold,
                             "excluded": dict(selection.excluded), "truth_sets": selection.truth_sets}
        summary += [{"truth set": name, **{k: v for k, v in d.items() if k != "balance_every_candidate"},
                     **{f"SMD {k} (every candidate)": v for k, v in d["balance_every_candidate"].items()}}
                    for name, d in selection.truth_sets.items()]
    table = pa.concat_tables(tables) if tables else QTL_SCHEMA.empty_table()
    path = storage.write_table(table, ASSET, release)
    storage.write_stats(stats, ASSET, release)
    return dg.MaterializeResult(metadata=rounded({
        **table_metadata(path, table.num_rows), "release": release, "negatives": ALLPAIRS,
        "rule": rule_text(sources), "per_gene": sources.negatives_per_gene,
        "rows_read": sum(s["rows_read"] for s in stats.values()), "n_variants": distinct_variants(table),
        "truth_sets": dg.MetadataValue.md(markdown_table(summary)), **exclusion_metadata(excluded),
    }))


def rule_text(sources: DataSources) -> str:
    from endobench.lib.evaluation.negative_tests import RULE

    return f"{RULE}; at most {sources.negatives_per_gene} per gene and truth set, nearest to its positive"


def select_for_tissue(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage, raw: pa.Table,
                      release: str, source_key: str, tissue: str):
    """One tissue's negatives: its positives from the stored raw table and annotations, its thresholds from its
    GTEx table, then its all-pairs files streamed (downloaded first when missing). Returns the selection and how
    each file was verified."""
    # The statistics stack is imported here, not at the top: every run process loads this module.
    from endobench.lib.evaluation.negative_tests import negative_targets, select_negative_tests

    specs = [spec for spec in sources.truth_sets() if spec.source == source_key]
    files = sources.gtex_allpairs(release, tissue)
    reference = sources.reference_file()
    mine = raw.filter(pc.equal(raw.column("truth_set").cast(pa.string()), source_key))
    logged = [0]

    def progress(rows: int, kept: int) -> None:
        if rows - logged[0] >= PROGRESS_ROWS:
            logged[0] = rows
            context.log.info(f"{tissue}: {rows:,} all-pairs tests read, {kept:,} candidate negatives kept")

    with bad_input_fails_the_run(sources):
        # The annotations are on the reference's build: variants of another are never compared with them.
        wrong = build_mismatches({**{f"all-pairs:{f.path.name}": f.build for f in files}, "reference": reference.build})
        if wrong:
            raise BuildMismatchError(files[0].path, f"{', '.join(wrong)} on another build than this reference "
                                     f"({reference.build})", "Use a reference on the all-pairs tables' build")
        targets = negative_targets(mine, specs, load_annotations(storage), K562_DHS_PEAKS.key,
                                   gene_thresholds(sources.gtex_eqtls(release, tissue).path))
        selection = select_negative_tests([f.path for f in files], targets, per_gene=sources.negatives_per_gene,
                                          progress=progress)
    context.log.info(f"{tissue}: {selection.rows_read:,} tests read, {selection.table.num_rows:,} kept as negatives")
    return selection, {f.path.name: f.verified or "in place (not downloaded by this run)" for f in files}
