"""Jobs over asset selections that share one partitioning, so the UI and the CLI can launch each stage."""

from __future__ import annotations

import dagster as dg

shared_inputs_job = dg.define_asset_job(
    "shared_inputs_job",
    selection=dg.AssetSelection.assets("raw_qtl_tables", "dsqtl_sites", "dhs_peaks", "local_model"),
    description="Release-independent inputs: generic QTL tables, dsQTL sites, filtered peaks, the local model.",
)
release_inputs_job = dg.define_asset_job(
    "release_inputs_job",
    selection=dg.AssetSelection.assets("raw_gtex_eqtls", "gtex_negative_tests", "dhs_filtered_variants",
                                       "sequence_windows", "motif_changes"),
    description="One GTEx release: parse, the non-significant tests of all-pairs tables (when read), peak filter, "
                "reference check, windows (with their blocking checks) and the motifs each variant makes or breaks.",
)
predictions_job = dg.define_asset_job(
    "predictions_job",
    selection=dg.AssetSelection.assets("variant_effect_predictions"),
    description="Predictions for one (release, chromosome) partition; backfills run one run per partition.",
)
report_job = dg.define_asset_job(
    "report_job",
    selection=dg.AssetSelection.assets("benchmark_report"),
    description="The benchmark report of one release.",
)

JOBS = [shared_inputs_job, release_inputs_job, predictions_job, report_job]
