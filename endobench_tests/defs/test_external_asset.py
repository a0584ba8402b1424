"""The `external_benchmark` asset: configuration in, report and headline numbers in the metadata."""

import json

import dagster as dg
import pandas as pd
import pytest
from scipy import stats

from endobench.defs.assets.external import external_benchmark
from endobench.resources.storage import Storage


@pytest.fixture(scope="module")
def gtex(fixtures):
    return pd.read_csv(fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv", sep="\t")


def _run(tmp_path, **config):
    return dg.materialize(
        [external_benchmark], resources={"storage": Storage(root=str(tmp_path / "outputs"))},
        run_config={"ops": {"external_benchmark": {"config": config}}}, raise_on_error=False,
    )


def test_materializes_report_into_its_named_folder(gtex, fixtures, tmp_path):
    """metrics.json, report.html and report.md land in external_benchmark/<name>/; metadata carries the numbers."""
    table = fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv"
    result = _run(tmp_path, table=str(table), effect_col="slope", score_col="log2_aFC", name="gtex_afc")
    assert result.success
    out = tmp_path / "outputs" / "external_benchmark" / "gtex_afc"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 120
    metadata = result.asset_materializations_for_node("external_benchmark")[0].metadata
    assert metadata["n"].value == 120
    # metadata shows four significant digits
    assert metadata["spearman"].value == pytest.approx(stats.spearmanr(gtex["slope"], gtex["log2_aFC"])[0], abs=5e-4)
    assert metadata["pearson"].value == pytest.approx(metrics["pearson"], abs=5e-4)
    assert metadata["report_html"].value == str(out / "report.html")
    assert "data:image/png;base64," in metadata["report"].value
    assert metadata["n_warnings"].value == 0


def test_joined_predictions_and_exclusions_in_metadata(gtex, tmp_path):
    """With a predictions file joined on gene_id, the unmatched truth rows appear as n_excluded_<reason>."""
    truth, predictions = tmp_path / "truth.csv", tmp_path / "pred.feather"
    gtex.drop(columns="log2_aFC").to_csv(truth, index=False)
    gtex[["gene_id", "log2_aFC"]].iloc[:100].reset_index(drop=True).to_feather(predictions)
    result = _run(tmp_path, table=str(truth), effect_col="slope", score_col="log2_aFC", id_col="gene_id",
                  predictions=str(predictions), name="joined")
    assert result.success
    metadata = result.asset_materializations_for_node("external_benchmark")[0].metadata
    assert metadata["n"].value == 100
    assert metadata["n_excluded_no_prediction_for_id"].value == 20


def test_missing_column_fails_with_the_input_error(gtex, tmp_path):
    """A wrong column name fails the run (no retries) with the message naming the file and columns present."""
    table = tmp_path / "t.csv"
    gtex.to_csv(table, index=False)
    result = _run(tmp_path, table=str(table), effect_col="beta", score_col="log2_aFC")
    assert not result.success
    failure = result.failure_data_for_node("external_benchmark")
    assert "no column 'beta'" in failure.error.message and "columns present" in failure.error.message


def test_unsafe_name_is_refused(gtex, tmp_path):
    """A name that is not a plain folder name (../x) fails instead of writing outside the asset folder."""
    table = tmp_path / "t.csv"
    gtex.to_csv(table, index=False)
    result = _run(tmp_path, table=str(table), effect_col="slope", score_col="log2_aFC", name="../escape")
    assert not result.success
    assert not (tmp_path / "outputs" / "escape").exists()


def test_a_name_too_long_for_a_folder_is_a_failure_naming_the_limit(fixtures, tmp_path):
    """300 characters make no folder name (255 bytes at most): the run fails saying so, not with an OS error."""
    table = fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv"
    result = _run(tmp_path, table=str(table), effect_col="slope", score_col="log2_aFC", name="x" * 300)
    assert not result.success
    failure = result.failure_data_for_node("external_benchmark")
    assert "300 characters is longer than the 200 a folder name can take" in failure.error.message


def test_unit_col_resamples_whole_units_as_the_command_does(gtex, tmp_path):
    """Ten copies of every row with unit_col gene_id: 120 units and the p-value of the table itself."""
    ten = tmp_path / "ten.tsv"
    pd.concat([gtex] * 10).to_csv(ten, sep="\t", index=False)
    once = _run(tmp_path / "once", table=str(_write(gtex, tmp_path)), effect_col="slope", score_col="log2_aFC",
                unit_col="gene_id", name="once")
    result = _run(tmp_path, table=str(ten), effect_col="slope", score_col="log2_aFC", unit_col="gene_id", name="ten")
    assert result.success and once.success
    metrics = json.loads((tmp_path / "outputs" / "external_benchmark" / "ten" / "metrics.json").read_text())
    single = json.loads((tmp_path / "once" / "outputs" / "external_benchmark" / "once" / "metrics.json").read_text())
    assert (metrics["n"], metrics["n_units"], metrics["unit"]) == (1200, 120, "gene_id")
    assert metrics["spearman_p"] == pytest.approx(single["spearman_p"])


def _write(frame, folder):
    path = folder / "once.tsv"
    frame.to_csv(path, sep="\t", index=False)
    return path
