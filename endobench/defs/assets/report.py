"""The benchmark report of a release: metrics, diagnostics and plots over every chromosome's predictions."""

import dagster as dg
import pandas as pd

from endobench.defs.automation import REPORT_UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.metadata import png_markdown, rounded
from endobench.defs.partitions import (
    gtex_release_partitions,
    release_chromosome_partitions,
)
from endobench.lib.truth_sets.catalog import DSQTL_DEGNER, EXPRESSION
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage

MEASURED_TRACK = "measured DNase-sensitivity QTL effect (Degner 2012, LCL)"
EQTL_COLUMNS = ["truth_set", "gene_id", "variant_id", "chrom", "pos", "ref", "alt", "effect", "effect_se", "pval",
                "is_significant"]


def motif_baseline(storage: Storage, sources: DataSources, release: str, windows: pd.DataFrame
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The motif baseline's prediction rows for every truth-set request, from the release's stored motif changes
    (scored as `MotifPredictor` scores them, without scanning again), and the per-variant motif table."""
    from endobench.defs.assets.motifs import motif_tables
    from endobench.defs.assets.predictions import TRUTH_COLUMNS, scoring_requests
    from endobench.defs.resources import MOTIF, build_predictor
    from endobench.lib.motifs.baseline import baseline_rows

    table, candidates = motif_tables(storage, release)
    predictor = build_predictor(MOTIF, storage, sources)
    requests = scoring_requests(windows, sources.truth_sets(), predictor.supported_readouts())
    rows = baseline_rows(requests[TRUTH_COLUMNS + ["readout", "biosample"]], table, candidates, predictor.library(),
                         predictor.expressed(), configuration=predictor.configuration_id(),
                         predictor=predictor.predictor_name(), held_out_scheme=predictor.training_split(requests)[1])
    return rows, table


def reference_rows(storage: Storage, windows: pd.DataFrame, eqtls: pd.DataFrame, specs: dict
                   ) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """The measured references of the expression truth sets as prediction rows (measured accessibility at the Degner
    dsQTLs, tissue replication of the same lead variant), and per truth set what could not be harmonised."""
    from endobench.lib.evaluation.references import measured_reference_rows, tissue_replication_rows

    measured_table = storage.read_table("raw_qtl_tables")
    expression = [spec for spec in specs.values() if spec.measured.kind == EXPRESSION]
    measured, not_harmonised = measured_reference_rows(
        windows, measured_table[measured_table["truth_set"] == DSQTL_DEGNER.source], expression,
        measured_truth_set=DSQTL_DEGNER.source, biosample=DSQTL_DEGNER.measured.biosample.curie, track=MEASURED_TRACK)
    replicated, not_replicated = tissue_replication_rows(windows, eqtls, expression)
    excluded: dict[str, dict[str, int]] = {}
    for counts in (not_harmonised, not_replicated):
        for truth_set, reasons in counts.items():
            excluded.setdefault(truth_set, {}).update({f"reference_{k}": v for k, v in reasons.items()})
    return pd.concat([measured, replicated], ignore_index=True), excluded


def load_predictions(storage: Storage, release: str) -> tuple[pd.DataFrame, list[str]]:
    """Every configuration's predictions for every chromosome of a release, and the chromosomes with none yet.

    Each predictor configuration (model, version, track, interval length) scored into the same partitions is
    its own file, so the report compares them side by side.
    """
    frames, missing = [], []
    for chrom in release_chromosome_partitions.get_partitions_def_for_dimension("chrom").get_partition_keys():
        paths = storage.configuration_tables("variant_effect_predictions", f"{release}|{chrom}")
        if paths:
            frames.extend(pd.read_parquet(path) for path in paths)
        else:
            missing.append(chrom)
    if not frames:
        raise dg.Failure(
            f"no predictions exist for release {release}: materialize variant_effect_predictions first",
            allow_retries=False,
        )
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True), missing


HEADLINE_COLUMNS = {
    "truth set": "the truth set (a source table under an accessibility annotation)",
    "readout x biosample": "the readout scored, on which biosample's track",
    "configuration": "model, version, interval length, training split; or a measured reference",
    "n units": "rows and the independent units of resampling they form",
    "primary metric [95% CI]": "the truth set's primary endpoint on units oriented by their measured effect",
    "p (Holm)": "two-sided p of the primary endpoint, and Holm-adjusted over the headline rows",
    "mde": "the Spearman detectable with 80% power at two-sided 0.05 from the row's units",
    "reference on the same units": "the readout's measured reference there, and the model there (primary / Spearman)",
    "noise ceiling": "the attenuation bound of the measured effects' standard errors (primary / Spearman)",
    "power": "underpowered when the MDE is above the reference on the same units (or the noise ceiling)",
}


def headline_metadata(metrics: dict, figures: dict[str, bytes]) -> dict[str, dg.MetadataValue]:
    """The headline as one table (a row per truth set, readout, configuration) and its figures beside it."""
    from endobench.lib.evaluation.headline import table_rows

    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string", description=what)
                                     for name, what in HEADLINE_COLUMNS.items()])
    records = [dg.TableRecord({k: row[k] for k in HEADLINE_COLUMNS}) for row in table_rows(metrics)]
    return {
        "headline": dg.MetadataValue.table(records=records, schema=schema),
        "headline_figure": dg.MetadataValue.md("\n\n".join(png_markdown(f"headline: {title}", png)
                                                            for title, png in figures.items()) or "_(no results)_"),
    }


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="report", kinds={"matplotlib", "html"},
    deps=["variant_effect_predictions", "sequence_windows", "raw_qtl_tables", "raw_gtex_eqtls", "motif_changes"],
    automation_condition=REPORT_UP_TO_DATE, code_version=source_code_version("1", __name__),
)
def benchmark_report(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """How well predicted effects track measured ones, per truth set and configuration, with floor, power and
    references.

    The references: where an eQTL truth set's variant coincides with a measured dsQTL, the measured accessibility
    effect (LCL DNase sensitivity in other donors: a reference, not an upper bound); where a gene's significant lead
    variant is the same in another GTEx tissue, that tissue's slope. Each is evaluated as if it were a prediction.
    Written as report.md (its plots linked as files under plots/), a standalone report.html (plots embedded) and
    metrics.json; the UI shows the whole report with its plots, and the headline as one table with its figures.
    """
    # Imported here, not at the top: scipy.stats, scikit-learn and matplotlib cost every run process about 2 s of
    # start-up, and only this asset's runs use them (each prediction partition is a run of its own).
    from endobench.lib.evaluation.funnel import funnels_and_exclusions
    from endobench.lib.evaluation.motif_report import motif_section
    from endobench.lib.evaluation.references import tissue_replication_genome_wide
    from endobench.lib.evaluation.report import build_report, predictor_label
    release = context.partition_key
    specs = {spec.name: spec for spec in sources.truth_sets()}
    predictions, missing = load_predictions(storage, release)
    windows = storage.read_table("sequence_windows", release)
    baseline, motif_table = motif_baseline(storage, sources, release, windows)
    predictions = pd.concat([predictions, baseline[~baseline["configuration"].isin(predictions["configuration"])]],
                            ignore_index=True)
    eqtls = storage.read_table("raw_gtex_eqtls", release, columns=EQTL_COLUMNS)
    references, not_harmonised = reference_rows(storage, windows, eqtls, specs)
    funnels, exclusions, diagnostics = funnels_and_exclusions(storage.read_stats("sequence_windows", release),
                                                              predictions)
    for truth_set, reasons in not_harmonised.items():
        exclusions.setdefault(truth_set, {}).update(reasons)
    if missing:
        context.log.warning(f"{release}: no predictions yet for {', '.join(missing)}")
    labels = {c: predictor_label(p, c) for c, p in predictions[["configuration", "predictor"]].drop_duplicates()
              .itertuples(index=False)}
    motif_blocks, motif_numbers = motif_section(predictions, motif_table, specs, labels)
    result = build_report(pd.concat([predictions, references], ignore_index=True), funnels, exclusions,
                          diagnostics, storage.asset_dir("benchmark_report") / release, specs=specs,
                          tissue_replication=tissue_replication_genome_wide(eqtls), extra_sections=motif_blocks,
                          extra_metrics={"motifs": motif_numbers})
    return dg.MaterializeResult(
        metadata=rounded({
            "report": dg.MetadataValue.md(result.inline_markdown),
            "report_html": dg.MetadataValue.path(str(result.html_path)),
            "metrics_json": dg.MetadataValue.path(str(result.metrics_path)),
            "release": release,
            "chromosomes_missing_predictions": ", ".join(missing) or "none",
            "n_warnings": len(result.warnings),
            **headline_metadata(result.metrics, result.headline_figures),
        })
    )
