"""The benchmark report of a release: metrics, diagnostics and plots over every chromosome's predictions."""

import math

import dagster as dg
import pandas as pd

from endobench.defs.automation import REPORT_UP_TO_DATE
from endobench.defs.code_versions import source_code_version
from endobench.defs.metadata import markdown_table, rounded
from endobench.defs.partitions import (
    gtex_release_partitions,
    release_chromosome_partitions,
)
from endobench.lib.truth_sets.catalog import DSQTL_DEGNER, EXPRESSION
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage

MEASURED_TRACK = "measured DNase-sensitivity QTL effect (Degner 2012, LCL)"


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


def headline_metadata(headline: dict[str, dict]) -> dict[str, dg.MetadataValue]:
    """Metadata keys the UI can show (`<truth set> / <readout> / <configuration> / <metric>`), values rounded to
    3 digits, for example `dsqtl_degner2012 / accessibility / local k-mer, held-out chromosomes / spearman`.

    The configuration is its label in words, and the parts are separated by spaces, so that the UI's metadata table
    wraps a long key instead of writing it over its value. `headline_labels` maps each prefix to its truth set and
    readout x biosample in words.
    """
    out: dict[str, dg.MetadataValue] = {}
    labels = []
    for key, numbers in sorted(headline.items()):
        truth_set, readout, label = key.split("|", 2)
        prefix = f"{truth_set} / {readout} / {label}"
        labels.append({"key": prefix, "truth set": numbers.get("title", truth_set),
                       "readout x biosample": numbers.get("readout_label", ""), "configuration": label})
        for metric in ("n", "n_units", "spearman", "sign_agreement", "sign_auroc", "pearson"):
            value = numbers.get(metric)
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int):
                out[f"{prefix} / {metric}"] = dg.MetadataValue.int(value)
            elif isinstance(value, float) and math.isfinite(value):
                out[f"{prefix} / {metric}"] = dg.MetadataValue.float(round(value, 3))
            else:
                out[f"{prefix} / {metric}"] = dg.MetadataValue.text("too few")
    out["headline_labels"] = dg.MetadataValue.md(markdown_table(labels))
    return out


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="report", kinds={"matplotlib", "html"},
    deps=["variant_effect_predictions", "sequence_windows", "raw_qtl_tables", "motif_changes"],
    automation_condition=REPORT_UP_TO_DATE, code_version=source_code_version("1", __name__),
)
def benchmark_report(context: dg.AssetExecutionContext, sources: DataSources, storage: Storage) -> dg.MaterializeResult:
    """How well predicted effects track measured ones, per truth set and configuration, with floor and ceiling.

    The ceiling: where an eQTL truth set's variant coincides with a measured dsQTL, the measured accessibility
    effect is evaluated as if it were a prediction. Written as markdown and standalone HTML with embedded plots
    (also shown here), plus metrics.json.
    """
    # Imported here, not at the top: scipy.stats, scikit-learn and matplotlib cost every run process about 2 s of
    # start-up, and only this asset's runs use them (each prediction partition is a run of its own).
    from endobench.lib.evaluation.ceiling import ceiling_rows
    from endobench.lib.evaluation.funnel import funnels_and_exclusions
    from endobench.lib.evaluation.motif_report import motif_section
    from endobench.lib.evaluation.report import build_report, predictor_label
    release = context.partition_key
    specs = {spec.name: spec for spec in sources.truth_sets()}
    predictions, missing = load_predictions(storage, release)
    windows = storage.read_table("sequence_windows", release)
    baseline, motif_table = motif_baseline(storage, sources, release, windows)
    predictions = pd.concat([predictions, baseline[~baseline["configuration"].isin(predictions["configuration"])]],
                            ignore_index=True)
    measured_table = storage.read_table("raw_qtl_tables")
    ceiling, not_harmonised = ceiling_rows(
        windows, measured_table[measured_table["truth_set"] == DSQTL_DEGNER.source],
        [name for name, spec in specs.items() if spec.measured.kind == EXPRESSION],
        measured_truth_set=DSQTL_DEGNER.source, biosample=DSQTL_DEGNER.measured.biosample.curie, track=MEASURED_TRACK)
    funnels, exclusions, diagnostics = funnels_and_exclusions(storage.read_stats("sequence_windows", release),
                                                              predictions)
    for truth_set, counts in not_harmonised.items():
        exclusions.setdefault(truth_set, {}).update({f"ceiling_{k}": v for k, v in counts.items()})
    if missing:
        context.log.warning(f"{release}: no predictions yet for {', '.join(missing)}")
    labels = {c: predictor_label(p, c) for c, p in predictions[["configuration", "predictor"]].drop_duplicates()
              .itertuples(index=False)}
    motif_blocks, motif_numbers = motif_section(predictions, motif_table, specs, labels)
    result = build_report(pd.concat([predictions, ceiling], ignore_index=True), funnels, exclusions, diagnostics,
                          storage.asset_dir("benchmark_report") / release, specs=specs, measured=ceiling,
                          extra_sections=motif_blocks, extra_metrics={"motifs": motif_numbers})
    return dg.MaterializeResult(
        metadata=rounded({
            "report": dg.MetadataValue.md(result.markdown),
            "report_html": dg.MetadataValue.path(str(result.html_path)),
            "metrics_json": dg.MetadataValue.path(str(result.metrics_path)),
            "release": release,
            "chromosomes_missing_predictions": ", ".join(missing) or "none",
            "n_warnings": len(result.warnings),
            **headline_metadata(result.headline),
        })
    )
