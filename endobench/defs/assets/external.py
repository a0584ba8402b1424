"""External predictions (another tool's output, a published predictions file) evaluated beside our own."""

import math
import re

import dagster as dg

from endobench.defs.metadata import exclusion_metadata, rounded
from endobench.lib.io.errors import InputError
from endobench.resources.storage import Storage

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# A file name holds at most 255 bytes; the report is written beside its folder under a longer hidden name first.
MAX_NAME_LENGTH = 200


class ExternalBenchmarkConfig(dg.Config):
    """Which table to evaluate: measured `effect_col` against predicted `score_col`.

    With `predictions`, the scores come from that file, joined to `table` on `id_col`. `unit_col` names the
    independent unit (a gene id for variant-gene pairs), as `endobench evaluate --unit-col` does.
    """

    table: str
    effect_col: str
    score_col: str
    id_col: str | None = None
    predictions: str | None = None
    unit_col: str | None = None
    name: str = "external"


@dg.asset(group_name="report", kinds={"matplotlib", "html"})
def external_benchmark(
    context: dg.AssetExecutionContext, config: ExternalBenchmarkConfig, storage: Storage
) -> dg.MaterializeResult:
    """Metrics, diagnostics and the report for an external table of measured effects and predicted scores.

    Runs the same metrics as `benchmark_report` (Spearman, Pearson, sign auROC with bootstrap intervals,
    strata, warnings) and writes report.md, report.html and metrics.json under
    `external_benchmark/<name>/`, so external results show in the UI beside our own.
    """
    # Imported here, not at the top: scipy.stats, scikit-learn and matplotlib cost every run process about 2 s of
    # start-up, and only this asset's runs use them (each prediction partition is a run of its own).
    from endobench.lib.evaluation.evaluate import evaluate_table
    if len(config.name) > MAX_NAME_LENGTH:
        raise dg.Failure(f"external_benchmark name of {len(config.name):,} characters is longer than the "
                         f"{MAX_NAME_LENGTH} a folder name can take here: choose a shorter name", allow_retries=False)
    if not _SAFE_NAME.match(config.name):
        raise dg.Failure(f"external_benchmark name {config.name!r} is not a plain folder name: use letters, digits, "
                         "'_', '-' or '.'", allow_retries=False)
    out_dir = storage.asset_dir("external_benchmark") / config.name
    try:
        result = evaluate_table(
            config.table, config.effect_col, config.score_col, out_dir,
            id_col=config.id_col, predictions=config.predictions, unit_col=config.unit_col, name=config.name,
        )
    except InputError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    metrics = result.metrics
    context.log.info(f"{config.name}: {metrics['n']:,} scored rows, {len(result.warnings)} warnings")
    for warning in result.warnings:
        context.log.warning(warning)
    numbers = {
        key: dg.MetadataValue.text(metrics[key]) if isinstance(metrics[key], str)  # a bound: "< 1e-300"
        else dg.MetadataValue.float(float(metrics[key]))
        for key in ("spearman", "spearman_p", "pearson", "pearson_p", "sign_auroc")
        if metrics.get(key) is not None and (isinstance(metrics[key], str) or math.isfinite(float(metrics[key])))
    }
    return dg.MaterializeResult(
        metadata=rounded({
            "report": dg.MetadataValue.md(result.inline_markdown),
            "report_html": dg.MetadataValue.path(str(result.html_path)),
            "metrics_json": dg.MetadataValue.path(str(result.metrics_path)),
            "n": dg.MetadataValue.int(int(metrics["n"])),
            "n_warnings": dg.MetadataValue.int(len(result.warnings)),
            **numbers,
            **exclusion_metadata(metrics.get("excluded", {})),
        })
    )
