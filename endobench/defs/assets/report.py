"""The benchmark report of a release: metrics, diagnostics and plots over every chromosome's predictions."""

import math

import dagster as dg
import numpy as np
import pandas as pd

from endobench.defs.automation import REPORT_UP_TO_DATE
from endobench.defs.partitions import (
    gtex_release_partitions,
    release_chromosome_partitions,
)
from endobench.lib.evaluation.report import HELD_OUT_SPLIT, TRAINING_SPLIT, build_report
from endobench.resources.storage import Storage


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


def split_by_training(predictions: pd.DataFrame) -> pd.DataFrame:
    """Report a model's held-out and training chromosomes as separate results: only the first are leak-free.

    The configuration gains a `held_out_chromosomes` / `training_chromosomes` part (before the readout) when
    the predictor knows its training split; predictors that do not (AlphaGenome) are left as they are.
    """
    held = predictions["held_out"]
    known = held.notna()
    if not known.any():
        return predictions
    split = np.where(held.eq(True).to_numpy(dtype=bool), f"|{HELD_OUT_SPLIT}", f"|{TRAINING_SPLIT}")
    # The predictions asset writes configurations as `<predictor configuration>|<readout>`.
    parts = predictions["configuration"].astype(str).str.rpartition("|")
    configuration = parts[0] + np.where(known, split, "") + "|" + parts[2]
    return predictions.assign(configuration=configuration)


def funnels_and_exclusions(stats: dict, predictions: pd.DataFrame) -> tuple[dict, dict, dict]:
    """Per truth set: the funnel of counts, the exclusions by reason, and the context numbers diagnostics need."""
    funnels, exclusions, context = {}, {}, {}
    for truth_set, s in sorted(stats.items()):
        scored = predictions[(predictions["truth_set"] == truth_set) & (predictions["status"] == "scored")]
        funnels[truth_set] = {
            "rows_read": s.get("rows_read", 0),
            "rows_kept": s.get("variants", 0),
            "unique_variants": s.get("unique_variants", 0),
            "in_peaks": s.get("in_peaks", 0),
            "after_peak_filter": s.get("kept_after_peak_filter", 0),
            "windows_ok": s.get("windows_ok", 0),
            "scored_variants": int(scored["variant_id"].nunique()),
        }
        failed = predictions[(predictions["truth_set"] == truth_set) & (predictions["status"] != "scored")]
        failed_reasons = failed.drop_duplicates("variant_id")["error"].fillna("").replace("", "failed")
        exclusions[truth_set] = {
            **{f"input_{k}": v for k, v in s.get("excluded", {}).items()},
            **({"not_in_peak": s.get("unique_variants", 0) - s.get("kept_after_peak_filter", 0)}
               if s.get("require_peak") else {}),
            **s.get("window_exclusions", {}),
            **{f"prediction_{k}": int(v) for k, v in failed_reasons.value_counts().items()},
        }
        agreement = s.get("reference_agreement")
        context[truth_set] = {
            "fraction_in_peaks_observed": s.get("fraction_in_peaks_observed"),
            "fraction_in_peaks_expected": s.get("fraction_in_peaks_expected"),
            "require_peak": s.get("require_peak"),
            "reference_mismatch_rate": None if agreement is None else 1.0 - agreement,
        }
    return funnels, exclusions, context


def headline_metadata(headline: dict[str, dict]) -> dict[str, dg.MetadataValue]:
    """Short metadata keys the UI can show: `truth_set:metric`, or `truth_set:readout:metric` when a truth set
    has several readouts; the full configuration is in the report itself."""
    per_truth_set: dict[str, int] = {}
    for key in headline:
        per_truth_set[key.split("|")[0]] = per_truth_set.get(key.split("|")[0], 0) + 1
    out: dict[str, dg.MetadataValue] = {}
    for i, (key, numbers) in enumerate(sorted(headline.items())):
        parts = key.split("|")
        prefix = parts[0] if per_truth_set[parts[0]] == 1 else ":".join(parts[:2])
        if prefix in {k.rsplit(":", 1)[0] for k in out}:
            prefix = f"{prefix}:{i}"
        for metric, value in numbers.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, int):
                out[f"{prefix}:{metric}"] = dg.MetadataValue.int(value)
            elif isinstance(value, float) and math.isfinite(value):
                out[f"{prefix}:{metric}"] = dg.MetadataValue.float(value)
            else:
                out[f"{prefix}:{metric}"] = dg.MetadataValue.text("too few")
    return out


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="report", kinds={"matplotlib", "html"},
    deps=["variant_effect_predictions", "sequence_windows"], automation_condition=REPORT_UP_TO_DATE,
    code_version="1",
)
def benchmark_report(context: dg.AssetExecutionContext, storage: Storage) -> dg.MaterializeResult:
    """How well predicted effects track measured ones, per truth set and configuration, with the funnel.

    Written as markdown and standalone HTML with embedded plots (also shown here), plus metrics.json.
    """
    release = context.partition_key
    predictions, missing = load_predictions(storage, release)
    stats = storage.read_stats("sequence_windows", release)
    funnels, exclusions, diag_context = funnels_and_exclusions(stats, predictions)
    if missing:
        context.log.warning(f"{release}: no predictions yet for {', '.join(missing)}")
    result = build_report(split_by_training(predictions), funnels, exclusions, diag_context,
                          storage.asset_dir("benchmark_report") / release)
    headline = headline_metadata(result.headline)
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(result.markdown),
            "report_html": dg.MetadataValue.path(str(result.html_path)),
            "metrics_json": dg.MetadataValue.path(str(result.metrics_path)),
            "release": release,
            "chromosomes_missing_predictions": ", ".join(missing) or "none",
            "n_warnings": len(result.warnings),
            **headline,
        }
    )
