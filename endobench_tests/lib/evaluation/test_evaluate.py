"""`evaluate_table`: external tables in every format, a join to a predictions file, and clear input errors.

The table is 120 real GTEx Whole Blood eGenes; `log2_aFC` (a second real measurement) plays the predictor.
"""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from endobench.lib.evaluation.evaluate import evaluate_table
from endobench.lib.io.errors import InputError


@pytest.fixture(scope="module")
def gtex(fixtures):
    return pd.read_csv(fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv", sep="\t")


@pytest.fixture(scope="module")
def expected(gtex):
    return {"spearman": stats.spearmanr(gtex["slope"], gtex["log2_aFC"])[0],
            "pearson": stats.pearsonr(gtex["slope"], gtex["log2_aFC"])[0]}


WRITERS = {
    "table.csv": lambda f, p: f.to_csv(p, index=False),
    "table.tsv.gz": lambda f, p: f.to_csv(p, sep="\t", index=False, compression="gzip"),
    "table.parquet": lambda f, p: f.to_parquet(p, index=False),
    "table.feather": lambda f, p: f.to_feather(p),
}


@pytest.mark.parametrize("filename", list(WRITERS))
def test_every_format_gives_the_same_metrics(gtex, expected, tmp_path, filename):
    """CSV, gzipped TSV, parquet and feather of one table give n, Spearman and Pearson equal to scipy's."""
    path = tmp_path / filename
    WRITERS[filename](gtex, path)
    result = evaluate_table(path, "slope", "log2_aFC", tmp_path / "out", n_boot=50)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["n"] == 120
    assert metrics["spearman"] == pytest.approx(expected["spearman"])
    assert metrics["pearson"] == pytest.approx(expected["pearson"])
    assert metrics["spearman_p"] == pytest.approx(stats.spearmanr(gtex["slope"], gtex["log2_aFC"])[1])
    assert metrics["warnings"] == []
    assert metrics["spearman_ci"][0] <= metrics["spearman"] <= metrics["spearman_ci"][1]
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "report.md").exists()
    assert result.metrics["n"] == 120


def test_join_to_a_predictions_file(gtex, tmp_path):
    """Truth table and predictions joined on the id column; truth rows without a prediction are counted."""
    truth = tmp_path / "truth.tsv"
    gtex.drop(columns="log2_aFC").to_csv(truth, sep="\t", index=False)
    predicted = gtex[["gene_id", "log2_aFC"]].iloc[10:].rename(columns={"log2_aFC": "pred"})
    predictions = tmp_path / "predictions.parquet"
    predicted.to_parquet(predictions, index=False)
    result = evaluate_table(truth, "slope", "pred", tmp_path / "out", id_col="gene_id", predictions=predictions,
                            n_boot=50)
    kept = gtex.iloc[10:]
    assert result.metrics["n"] == 110
    assert result.metrics["spearman"] == pytest.approx(stats.spearmanr(kept["slope"], kept["log2_aFC"])[0])
    assert result.metrics["excluded"] == {"no_prediction_for_id": 10}
    assert "| no_prediction_for_id | 10 |" in result.markdown


def test_missing_column_names_the_file_and_the_columns_present(gtex, tmp_path):
    """A misspelt effect column: InputError naming the file, the missing column and the columns present."""
    path = tmp_path / "table.csv"
    gtex.to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        evaluate_table(path, "beta", "log2_aFC", tmp_path / "out")
    message = str(error.value)
    assert message.startswith(str(path))
    assert "'beta'" in message and "slope" in message and "variant_id" in message
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_missing_score_column_in_predictions_file(gtex, tmp_path):
    """The score column is looked for in the predictions file, and its absence names that file."""
    truth, predictions = tmp_path / "truth.csv", tmp_path / "pred.csv"
    gtex.to_csv(truth, index=False)
    gtex[["gene_id", "slope_se"]].to_csv(predictions, index=False)
    with pytest.raises(InputError, match="pred.csv: no column 'score'"):
        evaluate_table(truth, "slope", "score", tmp_path / "out", id_col="gene_id", predictions=predictions)


def test_join_needs_an_id_column(gtex, tmp_path):
    """A predictions file without --id-col is an error saying what to pass."""
    path = tmp_path / "t.csv"
    gtex.to_csv(path, index=False)
    with pytest.raises(InputError, match="--id-col"):
        evaluate_table(path, "slope", "log2_aFC", tmp_path / "out", predictions=path)


def test_duplicate_prediction_ids_are_an_error(gtex, tmp_path):
    """An id twice in the predictions file would count a variant twice: InputError naming it."""
    truth, predictions = tmp_path / "truth.csv", tmp_path / "pred.csv"
    gtex.to_csv(truth, index=False)
    pd.concat([gtex, gtex.iloc[:1]])[["gene_id", "log2_aFC"]].to_csv(predictions, index=False)
    with pytest.raises(InputError, match="line 122, variant ENSG00000100181.22: 1 id\\(s\\) occur more than once"):
        evaluate_table(truth, "slope", "log2_aFC", tmp_path / "out", id_col="gene_id", predictions=predictions)


def test_non_numeric_and_missing_rows_are_counted(gtex, tmp_path):
    """'NA' text, empty cells and words in either column are excluded by reason; the rest are scored."""
    frame = gtex[["variant_id", "slope", "log2_aFC"]].astype(object)
    frame.loc[0, "slope"] = "not available"
    frame.loc[1, "slope"] = np.nan
    frame.loc[2, "log2_aFC"] = "n/a"
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    result = evaluate_table(path, "slope", "log2_aFC", tmp_path / "out", id_col="variant_id", n_boot=50)
    assert result.metrics["n"] == 117
    assert result.metrics["excluded"] == {"effect_missing_or_not_numeric": 2, "score_missing_or_not_numeric": 1}
    kept = gtex.iloc[3:]
    assert result.metrics["spearman"] == pytest.approx(stats.spearmanr(kept["slope"], kept["log2_aFC"])[0])


def test_pvalues_as_effect_warn(gtex, tmp_path):
    """The seed's mistake through the evaluate path: pval_nominal as the effect warns in metrics.json."""
    path = tmp_path / "t.csv"
    gtex.to_csv(path, index=False)
    evaluate_table(path, "pval_nominal", "log2_aFC", tmp_path / "out", n_boot=50)
    warnings = json.loads((tmp_path / "out" / "metrics.json").read_text())["warnings"]
    assert any("looks like p-values" in w for w in warnings)


def test_unknown_format_is_an_input_error(tmp_path):
    """An .xlsx (or any unsupported extension) is refused with the formats that work."""
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(InputError, match="Use .csv, .tsv"):
        evaluate_table(path, "a", "b", tmp_path / "out")


def test_unit_col_resamples_whole_genes(gtex, tmp_path):
    """`--unit-col gene_id`: ten copies of every row give the same n_units, interval and p-value as the table
    itself; without it, the copies count as independent rows."""
    once = tmp_path / "once.tsv"
    gtex.to_csv(once, sep="\t", index=False)
    ten = tmp_path / "ten.tsv"
    pd.concat([gtex] * 10, ignore_index=True).to_csv(ten, sep="\t", index=False)
    a = evaluate_table(once, "slope", "log2_aFC", tmp_path / "a", unit_col="gene_id", n_boot=200)
    b = evaluate_table(ten, "slope", "log2_aFC", tmp_path / "b", unit_col="gene_id", n_boot=200)
    rows = evaluate_table(ten, "slope", "log2_aFC", tmp_path / "c", n_boot=200)
    assert (a.metrics["n"], b.metrics["n"], a.metrics["n_units"], b.metrics["n_units"]) == (120, 1200, 120, 120)
    assert b.metrics["spearman_ci"] == pytest.approx(a.metrics["spearman_ci"])
    assert b.metrics["spearman_p"] == pytest.approx(a.metrics["spearman_p"])
    assert rows.metrics["n_units"] == 1200
    assert rows.metrics["spearman_p"] == "< 1e-300"  # underflows: reported as the bound, not 0
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["n_units"] == 120


def test_metrics_json_names_the_primary_endpoint_and_its_power(gtex, tmp_path):
    """`primary` = {metric, value, ci} at the top level: sign agreement on units oriented by their measured effect,
    with its exact binomial interval; beside it the MDE of the row's units."""
    path = tmp_path / "table.tsv"
    gtex.to_csv(path, sep="\t", index=False)
    evaluate_table(path, "slope", "log2_aFC", tmp_path / "out", n_boot=50)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    agree = int((np.sign(gtex["slope"]) == np.sign(gtex["log2_aFC"])).sum())
    interval = stats.binomtest(agree, 120).proportion_ci(method="exact")
    assert metrics["primary"]["metric"] == "sign agreement"
    assert metrics["primary"]["value"] == pytest.approx(agree / 120)
    assert metrics["primary"]["ci"] == pytest.approx([interval.low, interval.high])
    assert 0.2 < metrics["mde"] < 0.3
