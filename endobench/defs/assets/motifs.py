"""Motif changes of a release's variants: which JASPAR transcription-factor sites each variant makes or breaks."""

import time

import dagster as dg

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.failures import bad_input_fails_the_run
from endobench.defs.metadata import exclusion_metadata, rounded, table_metadata
from endobench.defs.partitions import gtex_release_partitions
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage

MOTIF_CHANGES = "motif_changes"


def motif_tables(storage: Storage, release: str):
    """(per-variant table, candidate changes) the `motif_changes` asset wrote for `release`."""
    return (storage.read_table(MOTIF_CHANGES, f"{release}|variants"),
            storage.read_table(MOTIF_CHANGES, f"{release}|candidates"))


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="variants", kinds={"numpy", "parquet"},
    deps=["sequence_windows"], automation_condition=UP_TO_DATE, code_version=source_code_version("1", __name__),
)
def motif_changes(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """Every checked variant of the release scanned with the 879 JASPAR 2024 CORE vertebrate profiles, both alleles,
    both strands: its strongest gain and loss (TF, motif id, log-odds and p-values of REF and ALT, their log2 fold,
    position in the motif) and every site it makes or breaks (p < 5e-4 in either allele).

    A change is strong when |log2 p-value fold| >= 2 and the better allele's p < 5e-4 (ADASTRA's rule). The report
    explains measured effects and model errors with these, and scores the motif baseline from them.
    """
    from endobench.lib.motifs.changes import SCANNED, variant_changes
    from endobench.lib.motifs.library import load_jaspar

    release = context.partition_key
    windows = storage.read_table("sequence_windows", release)
    with bad_input_fails_the_run(sources):
        reference = sources.reference_genome()
    started = time.monotonic()
    library = load_jaspar()
    table, candidates = variant_changes(windows, reference, library)
    path = storage.write_table(table, MOTIF_CHANGES, f"{release}|variants")
    storage.write_table(candidates, MOTIF_CHANGES, f"{release}|candidates")
    scanned = table["status"] == SCANNED
    context.log.info(f"{release}: {int(scanned.sum()):,} variants scanned with {library.describe()} in "
                     f"{time.monotonic() - started:.1f} s; {len(candidates):,} sites made or broken")
    return dg.MaterializeResult(metadata=rounded({
        **table_metadata(path, len(table)),
        "release": release,
        "motif_library": library.describe(),
        "n_variants": len(table),
        "n_scanned": int(scanned.sum()),
        "n_with_site_change": int((scanned & (table["strongest"] != "")).sum()),
        "n_strong_change": int((scanned & table["strong"]).sum()),
        "n_sites_changed": len(candidates),
        **exclusion_metadata(table.loc[~scanned, "status"].value_counts().to_dict()),
    }))
