"""`evaluate --predictions`: the join never pairs strangers, and a table with nothing to score is refused.

The truth table is 120 real GTEx Whole Blood eGenes; `log2_aFC` (a second real measurement) plays the predictor,
so every expected number is a direct computation on the fixture.
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


def _files(tmp_path, truth: pd.DataFrame, predicted: pd.DataFrame, predictions_name="pred.csv"):
    truth_path, predictions_path = tmp_path / "truth.tsv", tmp_path / predictions_name
    truth.to_csv(truth_path, sep="\t", index=False)
    if predictions_name.endswith(".parquet"):
        predicted.to_parquet(predictions_path, index=False)
    else:
        predicted.to_csv(predictions_path, index=False)
    return truth_path, predictions_path


def test_missing_ids_on_both_sides_never_match(gtex, tmp_path):
    """Three truth rows and three predictions without an id: pandas would join NaN to NaN; here they are counted
    (missing_id) and the blank predictions are reported, and the metrics use only the real matches."""
    truth = gtex[["gene_id", "slope"]].astype(object)
    truth.loc[[0, 1, 2], "gene_id"] = ["", "NA", None]
    predicted = gtex[["gene_id", "log2_aFC"]].astype(object)
    predicted.loc[[0, 1, 2], "gene_id"] = [None, " ", "nan"]
    truth_path, predictions_path = _files(tmp_path, truth, predicted)
    result = evaluate_table(truth_path, "slope", "log2_aFC", tmp_path / "out", id_col="gene_id",
                            predictions=predictions_path, n_boot=20)
    assert result.metrics["n"] == 117
    assert result.metrics["excluded"] == {"missing_id": 3}
    kept = gtex.iloc[3:]
    assert result.metrics["spearman"] == pytest.approx(stats.spearmanr(kept["slope"], kept["log2_aFC"])[0])
    assert any("3 rows of pred.csv have no id" in w for w in result.warnings)


def test_one_blank_id_on_each_side_is_not_a_pair(gtex, tmp_path):
    """Truth row 0 and prediction row 5 both lack an id: joined, row 0's slope would meet row 5's prediction."""
    truth = gtex[["gene_id", "slope"]].astype(object)
    truth.loc[0, "gene_id"] = ""
    predicted = gtex[["gene_id", "log2_aFC"]].astype(object)
    predicted.loc[5, "gene_id"] = ""
    truth_path, predictions_path = _files(tmp_path, truth, predicted)
    result = evaluate_table(truth_path, "slope", "log2_aFC", tmp_path / "out", id_col="gene_id",
                            predictions=predictions_path, n_boot=20)
    assert result.metrics["excluded"] == {"missing_id": 1, "no_prediction_for_id": 1}
    kept = gtex.drop(index=[0, 5])
    assert result.metrics["n"] == 118
    assert result.metrics["spearman"] == pytest.approx(stats.spearmanr(kept["slope"], kept["log2_aFC"])[0])


def test_integer_ids_in_parquet_match_the_same_ids_written_as_text(tmp_path):
    """The same ids as int64 (parquet) and as text (TSV) are compared as text, so they match."""
    rng = np.random.default_rng(3)
    effect = rng.normal(size=40)
    truth = pd.DataFrame({"id": [str(i) for i in range(1000, 1040)], "effect": effect})
    predicted = pd.DataFrame({"id": np.arange(1000, 1040, dtype=np.int64), "score": effect + rng.normal(size=40)})
    truth_path, predictions_path = _files(tmp_path, truth, predicted, "pred.parquet")
    result = evaluate_table(truth_path, "effect", "score", tmp_path / "out", id_col="id",
                            predictions=predictions_path, n_boot=20)
    assert result.metrics["n"] == 40
    assert result.metrics["pearson"] == pytest.approx(stats.pearsonr(predicted["score"], effect)[0])


def test_floating_point_ids_are_refused_naming_the_file_and_column(tmp_path):
    """Ids stored as floats (1000.0) would never equal "1000": a clear error instead of an empty join."""
    truth = pd.DataFrame({"id": [str(i) for i in range(1000, 1010)], "effect": np.linspace(-1, 1, 10)})
    predicted = pd.DataFrame({"id": np.arange(1000, 1010, dtype=float), "score": np.linspace(-1, 1, 10)})
    truth_path, predictions_path = _files(tmp_path, truth, predicted, "pred.parquet")
    with pytest.raises(InputError) as caught:
        evaluate_table(truth_path, "effect", "score", tmp_path / "out", id_col="id", predictions=predictions_path)
    message = str(caught.value)
    assert message.startswith(f"{predictions_path}: the id column 'id' holds float64 values (e.g. '1000.0')")
    assert "Store the ids as text or whole numbers" in message


def test_ids_that_never_match_are_an_error_showing_both_spellings(gtex, tmp_path):
    """Versioned Ensembl ids against unversioned ones: nothing matches, and the error shows one id of each file."""
    predicted = gtex[["gene_id", "log2_aFC"]].assign(gene_id=gtex["gene_id"].str.split(".").str[0])
    truth_path, predictions_path = _files(tmp_path, gtex[["gene_id", "slope"]], predicted)
    with pytest.raises(InputError) as caught:
        evaluate_table(truth_path, "slope", "log2_aFC", tmp_path / "out", id_col="gene_id",
                       predictions=predictions_path)
    assert ("no id of column 'gene_id' matches an id of pred.csv (here e.g. 'ENSG00000100181.22', there e.g. "
            "'ENSG00000100181')") in str(caught.value)
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_repeated_truth_ids_are_counted_and_conflicting_ones_dropped(gtex, tmp_path):
    """Row 0 repeated with its own slope: one kept, duplicate_id = 1. Row 1 repeated with another slope: neither
    kept, conflicting_duplicate = 2, with a warning. The other rows are scored as before."""
    truth = gtex[["gene_id", "slope"]]
    truth = pd.concat([truth, truth.iloc[[0]], truth.iloc[[1]].assign(slope=-9.0)], ignore_index=True)
    truth_path, predictions_path = _files(tmp_path, truth, gtex[["gene_id", "log2_aFC"]])
    result = evaluate_table(truth_path, "slope", "log2_aFC", tmp_path / "out", id_col="gene_id",
                            predictions=predictions_path, n_boot=20)
    assert result.metrics["excluded"] == {"duplicate_id": 1, "conflicting_duplicate": 2}
    assert result.metrics["n"] == 119
    kept = gtex.drop(index=1)
    assert result.metrics["spearman"] == pytest.approx(stats.spearmanr(kept["slope"], kept["log2_aFC"])[0])
    assert any("repeat an id with a different effect" in w for w in result.warnings)


def test_effect_and_score_naming_one_column_are_refused(gtex, tmp_path):
    """`--effect-col slope --score-col slope` would correlate perfectly with itself: refused before any work."""
    path = tmp_path / "t.tsv"
    gtex.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match="--effect-col and --score-col both name 'slope'"):
        evaluate_table(path, "slope", "slope", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_header_only_table_is_an_error(gtex, tmp_path):
    path = tmp_path / "t.tsv"
    gtex.iloc[:0].to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match=r"t.tsv, line 2: the truth table file has a header but no data rows"):
        evaluate_table(path, "slope", "log2_aFC", tmp_path / "out")


def test_a_table_whose_every_row_is_excluded_is_an_error_naming_the_reasons(gtex, tmp_path):
    """No score is a number: nothing to compute, and the error says what was excluded and why."""
    frame = gtex[["gene_id", "slope"]].assign(score="n/a")
    frame.loc[:9, "slope"] = np.nan
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as caught:
        evaluate_table(path, "slope", "score", tmp_path / "out")
    assert ("no row can be scored: all 120 rows were excluded (effect_missing_or_not_numeric=10, "
            "score_missing_or_not_numeric=110)") in str(caught.value)
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.parametrize("make, says", [
    (lambda out: out.write_text("a file"), "the output folder is an existing file"),
    (lambda out: None, "is a file, so nothing can be written below it"),
])
def test_an_output_folder_that_cannot_be_a_folder_is_refused_before_any_work(gtex, tmp_path, make, says):
    path = tmp_path / "t.tsv"
    gtex.to_csv(path, sep="\t", index=False)
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    out = blocker if "existing file" in says else blocker / "report"
    with pytest.raises(InputError, match=says):
        evaluate_table(path, "slope", "log2_aFC", out)


def test_metrics_json_lists_every_exclusion(gtex, tmp_path):
    truth = gtex[["gene_id", "slope"]].astype(object)
    truth.loc[0, "gene_id"] = ""
    truth_path, predictions_path = _files(tmp_path, truth, gtex[["gene_id", "log2_aFC"]].iloc[:100])
    evaluate_table(truth_path, "slope", "log2_aFC", tmp_path / "out", id_col="gene_id",
                   predictions=predictions_path, n_boot=20)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["excluded"] == {"missing_id": 1, "no_prediction_for_id": 20}
    assert metrics["n"] == 99


def test_pairs_sharing_a_variant_are_separate_rows_within_their_units(tmp_path):
    """Variant-gene pairs joined to per-variant predictions: with the gene as unit, one variant on two genes with
    two effects is two measurements, not a conflict; the same pair twice still is one."""
    from endobench.lib.evaluation.join import join_predictions

    truth = pd.DataFrame({"variant_id": ["v1", "v1", "v2", "v2"], "gene_id": ["g1", "g2", "g3", "g3"]},
                         index=pd.RangeIndex(2, 6, name="line"))
    effect = pd.Series([0.5, -0.2, 0.1, 0.1], index=truth.index)
    predicted = pd.DataFrame({"variant_id": ["v1", "v2"], "score": [1.0, 2.0]})
    joined = join_predictions(truth, predicted, id_col="variant_id", effect=effect, score_col="score",
                              truth_path=tmp_path / "t.tsv", predictions_path=tmp_path / "p.tsv", unit_col="gene_id")
    assert joined.excluded == {"duplicate_id": 1}
    assert joined.frame[["gene_id", "effect", "score"]].values.tolist() == [["g1", 0.5, 1.0], ["g2", -0.2, 1.0],
                                                                            ["g3", 0.1, 2.0]]
    without_units = join_predictions(truth, predicted, id_col="variant_id", effect=effect, score_col="score",
                                     truth_path=tmp_path / "t.tsv", predictions_path=tmp_path / "p.tsv")
    assert without_units.excluded == {"conflicting_duplicate": 2, "duplicate_id": 1}
