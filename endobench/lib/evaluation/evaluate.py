"""Evaluate external predictions: any table of measured effects and predicted scores, through the same report.

Behind `endobench evaluate --table FILE --effect-col COL --score-col COL [--id-col COL] [--predictions FILE]
--out DIR` and the `external_benchmark` asset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.evaluation.metrics import N_BOOTSTRAP
from endobench.lib.evaluation.report import ReportResult, build_report
from endobench.lib.io.errors import InputError

# Columns carried over from the truth table when present, so the strata (TSS distance, MAF, SNV/indel,
# chromosome splits) and the auPRC work for external tables too.
OPTIONAL_COLUMNS = ["chrom", "pos", "ref", "alt", "maf", "tss_distance", "is_significant", "gene_id", "held_out"]
FLAG_COLUMNS = {"is_significant", "held_out"}
TOP_LEVEL = ["n", "n_units", "spearman", "spearman_p", "spearman_ci", "pearson", "pearson_p", "pearson_ci",
             "sign_auroc", "sign_auroc_ci", "sign_agreement", "sign_agreement_ci", "sign_auroc_strong",
             "strong_threshold", "n_strong", "n_bootstrap"]
UNIT = "unit"


def read_table(path: Path) -> pd.DataFrame:
    """CSV or TSV (by extension, `.gz` allowed), parquet or feather; anything else is an `InputError`."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "the file does not exist", "Check the path.")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bgz"):
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    try:
        if kind == ".csv":
            return pd.read_csv(path)
        if kind in (".tsv", ".txt", ".tab"):
            return pd.read_csv(path, sep="\t")
        if kind in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if kind in (".feather", ".arrow"):
            return pd.read_feather(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(path, f"could not be read as {kind.lstrip('.')}: {exc}",
                         "Check that the file is complete and in the format its extension says.") from exc
    raise InputError(path, f"unknown table format {''.join(path.suffixes) or '(no extension)'}",
                     "Use .csv, .tsv (optionally .gz), .parquet or .feather.")


def _require(frame: pd.DataFrame, columns: list[str], path: Path, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            path, f"no column {', '.join(repr(c) for c in missing)} ({what}); columns present: "
            f"{', '.join(map(str, frame.columns))}",
            "Name an existing column with the matching option.",
        )


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


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

    Without `predictions`, both columns come from `table`. With `predictions`, `score_col` comes from that
    file and its rows are joined to the truth table on `id_col` (required then); an id present twice in the
    predictions file is an error (the join would count a variant twice), a truth row without a prediction is
    excluded and counted. Rows whose effect or score is missing or not a number are excluded and counted.
    `unit_col` names the independent unit (a gene id for variant-gene pairs): its rows are resampled together
    and p-values are computed over unit-level means; without it every row is its own unit.
    Writes `out_dir/metrics.json` (top level: n, spearman, spearman_p, pearson, pearson_p, their intervals,
    sign auROC, warnings), `report.md`, `report.html` and `plots/`.
    """
    table, out_dir = Path(table), Path(out_dir)
    truth = read_table(table)
    label = name or table.name.split(".")[0]
    excluded: dict[str, int] = {}
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
        predicted = read_table(predictions)
        _require(predicted, [score_col, id_col], predictions, "score and id")
        duplicated = predicted[id_col][predicted[id_col].duplicated()]
        if len(duplicated):
            n_ids = duplicated.nunique()
            raise InputError(predictions, f"{n_ids:,} id{'s occur' if n_ids > 1 else ' occurs'} more than once, "
                             f"e.g. {duplicated.iloc[0]!r}", "Keep one prediction per id (or join on a unique key).",
                             variant=str(duplicated.iloc[0]))
        keep = list(dict.fromkeys([id_col, effect_col] + ([unit_col] if unit_col else [])
                                  + [c for c in OPTIONAL_COLUMNS if c in truth.columns and c != id_col]))
        frame = truth[keep].rename(columns={effect_col: "effect"}).merge(
            predicted[[id_col, score_col]].rename(columns={score_col: "score"}), on=id_col, how="left",
            indicator=True,
        )
        unmatched = int((frame["_merge"] == "left_only").sum())
        if unmatched:
            excluded["no_prediction_for_id"] = unmatched
        frame = frame[frame["_merge"] == "both"].drop(columns="_merge")
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
        "error": np.where(bad_effect, "effect_missing_or_not_numeric",
                          np.where(bad_score, "score_missing_or_not_numeric", "")),
        "readout": "external", "configuration": f"external|{score_col}", "predictor": "external",
    })
    for col in OPTIONAL_COLUMNS:
        if col in frame.columns and (col not in FLAG_COLUMNS or pd.api.types.is_bool_dtype(frame[col])):
            units[col] = frame[col].to_numpy()
    if "gene_id" not in units:
        units["gene_id"] = pd.NA
    units[UNIT] = frame[unit_col].to_numpy() if unit_col else np.arange(n)
    scored = units[units["status"] == "scored"]
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
        extra_metrics={"source": source, "excluded": excluded, "unit": unit_col or "row"},
        unit=UNIT,
        n_boot=n_boot,
        top_level_keys=TOP_LEVEL,
    )
    return result
