"""Evaluate external predictions: any table of measured effects and predicted scores, through the same report.

Behind `endobench evaluate --table FILE --effect-col COL --score-col COL [--id-col COL] [--predictions FILE]
--out DIR` and the `external_benchmark` asset.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.evaluation.join import join_predictions
from endobench.lib.evaluation.metrics import N_BOOTSTRAP
from endobench.lib.evaluation.report import REPORT_FILES, ReportResult, build_report
from endobench.lib.io.atomic import check_output_dir
from endobench.lib.io.errors import InputError, quote
from endobench.lib.io.tables import LINE, parse_numbers, read_frame, text_or_missing

# Columns carried over from the truth table when present, so the strata (TSS distance, MAF, SNV/indel,
# chromosome splits) and the auPRC work for external tables too.
OPTIONAL_COLUMNS = ["chrom", "pos", "ref", "alt", "maf", "tss_distance", "is_significant", "gene_id", "held_out"]
FLAG_COLUMNS = {"is_significant", "held_out"}
TOP_LEVEL = ["n", "n_units", "spearman", "spearman_p", "spearman_ci", "pearson", "pearson_p", "pearson_ci",
             "sign_auroc", "sign_auroc_ci", "sign_agreement", "sign_agreement_ci", "sign_auroc_strong",
             "strong_threshold", "n_strong", "n_bootstrap", "primary", "mde", "noise_ceiling"]
UNIT = "unit"


def _require(frame: pd.DataFrame, columns: list[str], path: Path, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            path, f"no column {', '.join(repr(c) for c in missing)} ({what}); columns present: "
            f"{', '.join(map(str, frame.columns))}",
            "Name an existing column with the matching option.",
        )


def _numeric(values: pd.Series) -> pd.Series:
    """Numbers as floats; text that is not a number (or an NA spelling) becomes NaN, to be counted as excluded."""
    return pd.Series(parse_numbers(values)[0], index=values.index)


def evaluate_table(
    table: Path,
    effect_col: str,
    score_col: str,
    out_dir: Path,
    id_col: str | None = None,
    predictions: Path | None = None,
    *,
    unit_col: str | None = None,
    name: str | None = None,
    n_boot: int = N_BOOTSTRAP,
) -> ReportResult:
    """Metrics, diagnostics and the report for measured `effect_col` against predicted `score_col`.

    Without `predictions`, both columns come from `table`, and they must be two columns. With `predictions`,
    `score_col` comes from that file and its rows are joined to the truth table on `id_col` (required then; the
    rules are in `join.join_predictions`). Rows whose effect or score is missing or not a number are excluded and
    counted; a table with no row left to score is an error saying what was excluded. `unit_col` names the
    independent unit (a gene id for variant-gene pairs): its rows are resampled together and p-values are computed
    over unit-level means; without it every row is its own unit.
    Writes `out_dir/metrics.json` (top level: n, spearman, spearman_p, pearson, pearson_p, their intervals,
    sign auROC, the primary endpoint (sign agreement on oriented units, exact interval), mde, warnings),
    `report.md`, `report.html` and `plots/`.
    """
    table, out_dir = Path(table), Path(out_dir)
    check_output_dir(out_dir, inputs=[table, predictions], replaced_with=REPORT_FILES)
    _refuse_one_column_twice(table, effect_col, score_col, predictions)
    truth = read_frame(table, "truth table")
    if truth.empty:
        raise InputError(table, "the table has no data rows", "Point --table at a table with rows to evaluate", line=2)
    label = name or table.name.split(".")[0]
    excluded: dict[str, int] = {}
    input_warnings: list[str] = []
    if predictions is None:
        _require(truth, [effect_col, score_col] + ([id_col] if id_col else []) + ([unit_col] if unit_col else []),
                 table, "effect, score, id and unit")
        frame = truth.assign(effect=truth[effect_col], score=truth[score_col])
    else:
        predictions = Path(predictions)
        if not id_col:
            raise InputError(predictions, "a predictions file was given without an id column to join on",
                             "Pass --id-col naming the variant id column present in both files.")
        _require(truth, [effect_col, id_col] + ([unit_col] if unit_col else []), table, "effect, id and unit")
        predicted = read_frame(predictions, "predictions")
        _require(predicted, [score_col, id_col], predictions, "score and id")
        keep = list(dict.fromkeys([id_col] + ([unit_col] if unit_col else [])
                                  + [c for c in OPTIONAL_COLUMNS if c in truth.columns and c not in (id_col, "effect")]))
        joined = join_predictions(truth[keep], predicted, id_col=id_col, effect=_numeric(truth[effect_col]),
                                  score_col=score_col, truth_path=table, predictions_path=predictions,
                                  unit_col=unit_col)
        frame = joined.frame
        excluded.update(joined.excluded)
        input_warnings.extend(joined.warnings)
    rows_read = len(truth)
    effect, score = _numeric(frame["effect"]), _numeric(frame["score"])
    bad_effect = ~np.isfinite(effect)
    bad_score = ~np.isfinite(score) & ~bad_effect
    if bad_effect.any():
        excluded["effect_missing_or_not_numeric"] = int(bad_effect.sum())
    if bad_score.any():
        excluded["score_missing_or_not_numeric"] = int(bad_score.sum())

    n = len(frame)
    units = pd.DataFrame({
        "truth_set": label,
        "variant_id": frame[id_col].astype(str).to_numpy() if id_col else [f"row{i + 1}" for i in range(n)],
        "effect": effect.to_numpy(), "score": score.to_numpy(),
        "status": np.where(bad_effect | bad_score, "failed", "scored"),
        "reason": np.where(bad_effect, "effect_missing_or_not_numeric",
                          np.where(bad_score, "score_missing_or_not_numeric", "")),
        "readout": "external", "configuration": f"external|{score_col}", "predictor": "external",
    })
    for col in OPTIONAL_COLUMNS:
        if col in frame.columns:
            units[col] = flags(frame[col], table, col) if col in FLAG_COLUMNS else frame[col].to_numpy()
    if "gene_id" not in units:
        units["gene_id"] = pd.NA
    # The unit: --unit-col; else, in a table that names its ids (and has no predictions file to join, where each id
    # is one row), the id, so a row repeated under one id is one unit, not several; else each row.
    unit_source = unit_col or (id_col if predictions is None else None)
    if unit_source:
        unit_values = text_or_missing(frame[unit_source])
        units[UNIT] = unit_values.to_numpy()
        if n_missing := int(unit_values.isna().sum()):
            input_warnings.append(f"{n_missing:,} rows have no unit (an empty or NA {unit_source!r}): each counts "
                                  "as a unit of its own")
    else:
        units[UNIT] = np.arange(n)
    scored = units[units["status"] == "scored"]
    if scored.empty:
        reasons = ", ".join(f"{reason}={count:,}" for reason, count in excluded.items())
        raise InputError(table, f"no row can be scored: all {rows_read:,} rows were excluded ({reasons})",
                         "Check --effect-col, --score-col and --id-col, and the values in those columns")
    funnel = {"rows_read": rows_read, "rows_with_prediction": n, "scored": len(scored)}
    source = {"table": str(table), "effect_col": effect_col, "score_col": score_col, "id_col": id_col,
              "unit_col": unit_col,
              "predictions": str(predictions) if predictions is not None else None}
    result = build_report(
        units, {label: funnel}, {label: excluded}, {}, out_dir,
        title=f"endobench evaluation: {label}",
        scope=[
            f"Measured '{effect_col}' from {table.name} against predicted '{score_col}'"
            + (f" from {Path(predictions).name}, joined on '{id_col}'" if predictions is not None else "") + ".",
            "These numbers show how well the scores rank and sign the measured effects, with bootstrap 95% "
            "intervals; they cannot show whether readout, cell type and variant set match (LD tags are not "
            "causal variants): judge that from how the table was made.",
        ],
        extra_metrics={"source": source, "excluded": excluded, "input_warnings": input_warnings,
                       "unit": unit_source or "row"},
        unit=UNIT,
        n_boot=n_boot,
        top_level_keys=TOP_LEVEL,
    )
    result.warnings.extend(input_warnings)
    return result


def _refuse_one_column_twice(table: Path, effect_col: str, score_col: str, predictions: Path | None) -> None:
    """Measured and predicted effect read from one column correlate perfectly and mean nothing; the files are
    compared, not their names, so a hard or symbolic link to the table is the table."""
    same_file = predictions is None or _same_file(Path(predictions), table)
    if same_file and effect_col == score_col:
        raise InputError(table, f"--effect-col and --score-col both name {effect_col!r}: the effects would be "
                         "compared with themselves", "Name the measured effect and the predicted score as two columns")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist: the reader says so
        return False


TRUE_SPELLINGS = {"true", "t", "yes", "y", "1", "1.0"}
FALSE_SPELLINGS = {"false", "f", "no", "n", "0", "0.0"}


def flags(values: pd.Series, path: Path, column: str) -> pd.arrays.BooleanArray:
    """A true/false column (`is_significant`, `held_out`) as parquet stores it or as text spells it (`True`,
    `false`, `1`, `yes`, ...); missing where empty or an NA spelling. Anything else is an error naming the value."""
    if pd.api.types.is_bool_dtype(values):
        return pd.array(values, dtype="boolean")
    text = text_or_missing(values)
    lowered = text.str.lower()
    bad = text.notna() & ~lowered.isin(TRUE_SPELLINGS | FALSE_SPELLINGS)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"column {column!r} holds {quote(text.iloc[first], 40)}, which is neither true nor "
                         f"false ({int(bad.sum()):,} such rows)", f"Write {column!r} as true/false (or 1/0)",
                         line=int(values.index[first]) if values.index.name == LINE else None)
    return pd.array(lowered.map(lambda v: None if v is None else v in TRUE_SPELLINGS), dtype="boolean")
