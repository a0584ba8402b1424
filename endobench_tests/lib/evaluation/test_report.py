"""The report: files written, both truth sets and every configuration shown, numbers equal to direct computation.

The "scores" are second real measurements of the same variants (GTEx log2_aFC and slope z-scores, Degner
t values), so the expected agreement is known without a model; see fixtures/report/README.md.
"""

import base64
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from endobench.lib.evaluation.report import build_report, scope_statement, short_name

LOCAL = "local_gkm_dnase|0123456789abcdef|accessibility"


def _predictions(gtex: pd.DataFrame, dsqtl: pd.DataFrame) -> pd.DataFrame:
    gtex = gtex.drop_duplicates("variant_id")
    common = dict(effect_se=np.nan, quantile_score=np.nan, error="", from_cache=False, predictor="fixture",
                  release="v8", in_peak=True)
    g = pd.DataFrame({
        "truth_set": "gtex_wb", "variant_id": gtex["variant_id"], "gene_id": pd.NA, "chrom": gtex["chr"],
        "pos": gtex["variant_pos"], "ref": gtex["ref"], "alt": gtex["alt"], "effect": gtex["slope"],
        "pval": gtex["pval_nominal"], "maf": gtex["maf"], "tss_distance": gtex["tss_distance"],
        "is_significant": gtex["qval"] <= 0.05, "readout": "accessibility", "score": gtex["log2_aFC"],
        "status": "scored", "held_out": pd.NA, "configuration": LOCAL, **common,
    })
    g_z = g.assign(score=(gtex["slope"] / gtex["slope_se"]).to_numpy(), configuration="slope_z|accessibility")
    d = pd.DataFrame({
        "truth_set": "dsqtl_degner2012", "variant_id": dsqtl["ID"], "gene_id": pd.NA, "chrom": dsqtl["chr_hg38"],
        "pos": dsqtl["pos_hg38"], "ref": dsqtl["Ref"], "alt": dsqtl["Alt"], "effect": dsqtl["Beta"],
        "pval": dsqtl["Pr(>|t|)"], "maf": np.nan, "tss_distance": np.nan, "is_significant": True,
        "readout": "accessibility", "score": dsqtl["t value"], "status": "scored", "held_out": pd.NA,
        "configuration": LOCAL, **common,
    })
    d.loc[d.index[:5], ["status", "error", "score"]] = ["failed", "no_reference_sequence", np.nan]
    return pd.concat([g, g_z, d], ignore_index=True)


@pytest.fixture(scope="module")
def inputs(fixtures):
    gtex = pd.read_csv(fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv", sep="\t")
    dsqtl = pd.read_csv(fixtures / "report" / "dsqtl_degner2012_chr22.tsv", sep="\t")
    return gtex, dsqtl, _predictions(gtex, dsqtl)


FUNNELS = {
    "gtex_wb": {"rows_read": 574, "rows_kept": 574, "unique_variants": 560, "in_peaks": 120,
                "after_peak_filter": 120, "windows_ok": 116, "scored_variants": 116},
    "dsqtl_degner2012": {"rows_read": 233, "rows_kept": 233, "unique_variants": 233, "in_peaks": 90,
                         "after_peak_filter": 233, "windows_ok": 233, "scored_variants": 228},
}
EXCLUSIONS = {"gtex_wb": {"not_in_peak": 440}, "dsqtl_degner2012": {"prediction_no_reference_sequence": 5}}
CONTEXT = {
    "gtex_wb": {"fraction_in_peaks_observed": 0.21, "fraction_in_peaks_expected": 0.03, "require_peak": True,
                "reference_mismatch_rate": 0.0},
    "dsqtl_degner2012": {"fraction_in_peaks_observed": 0.39, "fraction_in_peaks_expected": 0.03,
                         "require_peak": False, "reference_mismatch_rate": None},
}


def _local_only(predictions: pd.DataFrame) -> pd.DataFrame:
    """One configuration only: fewer plots for tests about a single behaviour."""
    return predictions[predictions["configuration"] == LOCAL].copy()


@pytest.fixture(scope="module")
def report(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return build_report(inputs[2], FUNNELS, EXCLUSIONS, CONTEXT, out, n_boot=100), out


def test_report_writes_html_markdown_metrics_and_plots(report):
    """report.html, report.md, metrics.json and PNG plots exist; no temporary files are left behind."""
    result, out = report
    assert result.html_path == out / "report.html" and result.html_path.read_text().startswith("<!DOCTYPE html>")
    assert result.metrics_path == out / "metrics.json"
    assert (out / "report.md").read_text() == result.markdown
    assert len(result.plot_paths) == 3 + 2 * 3
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in result.plot_paths)
    assert not list(out.rglob("*.partial"))


def test_report_shows_both_truth_sets_and_every_configuration(report):
    """Each (truth set, readout, configuration) is a row of the metrics table and of metrics.json."""
    result, _ = report
    metrics = json.loads(result.metrics_path.read_text())
    keys = {(r["truth_set"], r["readout"], r["short_name"]) for r in metrics["results"]}
    assert keys == {("gtex_wb", "accessibility", "local_gkm_dnase:01234567"),
                    ("gtex_wb", "accessibility", "slope_z"),
                    ("dsqtl_degner2012", "accessibility", "local_gkm_dnase:01234567")}
    assert set(metrics["truth_sets"]) == {"gtex_wb", "dsqtl_degner2012"}
    for truth_set in ("gtex_wb", "dsqtl_degner2012"):
        assert f"| {truth_set} | accessibility |" in result.markdown
        assert truth_set in result.html_path.read_text()


def test_headline_numbers_equal_direct_computation(report, inputs):
    """The headline Spearman/Pearson/n equal scipy on the scored rows; failed rows stay out."""
    result, _ = report
    gtex, dsqtl, _ = inputs
    once = gtex.drop_duplicates("variant_id")
    g = result.headline["gtex_wb|accessibility|local_gkm_dnase:01234567"]
    assert g["n"] == 116
    assert g["spearman"] == pytest.approx(stats.spearmanr(once["slope"], once["log2_aFC"])[0])
    assert g["pearson"] == pytest.approx(stats.pearsonr(once["slope"], once["log2_aFC"])[0])
    d = result.headline["dsqtl_degner2012|accessibility|local_gkm_dnase:01234567"]
    assert d["n"] == 228
    assert d["spearman"] == pytest.approx(stats.spearmanr(dsqtl["Beta"][5:], dsqtl["t value"][5:])[0])
    assert d["sign_auroc"] == pytest.approx(1.0)
    assert set(g) == {"n", "spearman", "pearson", "sign_auroc"}


def test_report_has_funnel_exclusions_strata_and_scope(report):
    """The funnel steps, exclusion reasons, strata tables and the plain statement of what it can show."""
    markdown = report[0].markdown
    assert "| after_peak_filter | 120 |" in markdown
    assert "| not_in_peak | 440 |" in markdown
    assert "| prediction_no_reference_sequence | 5 |" in markdown
    assert "too few (n=" in markdown
    assert "| TSS distance |" in markdown
    assert "K562" in markdown and "LD tags" in markdown and "lymphoblastoid" in markdown


def test_plots_are_embedded_as_small_pngs(report):
    """Every plot is a base64 PNG data URI in the markdown, each under 100 kB."""
    markdown = report[0].markdown
    chunks = markdown.split("](data:image/png;base64,")[1:]
    assert len(chunks) == 9
    for chunk in chunks:
        png = base64.b64decode(chunk.split(")", 1)[0])
        assert png.startswith(b"\x89PNG") and len(png) < 100_000


def test_auprc_reported_when_non_significant_units_exist(report, inputs):
    """GTEx eGenes with qval > 0.05 are negatives: auPRC of |score| is a number; dsQTLs (all significant) say so."""
    result, _ = report
    by_key = {(r["truth_set"], r["short_name"]): r for r in result.metrics["results"]}
    gtex_row = by_key[("gtex_wb", "local_gkm_dnase:01234567")]
    assert gtex_row["n_not_significant"] > 0 and 0 < gtex_row["auprc_significant"] <= 1
    assert by_key[("dsqtl_degner2012", "local_gkm_dnase:01234567")]["auprc_significant"] is None
    assert "no non-significant units" in result.markdown


def test_clean_inputs_give_no_warnings(report):
    """Real signed effects, one row per variant, enriched peaks: the warnings list is empty."""
    assert report[0].warnings == []


def test_pvalues_as_effects_warn_in_report(inputs, tmp_path):
    """The seed's mistake reaches the report: p-values as effects produce a warning in md, html and json."""
    predictions = _local_only(inputs[2])
    gtex_rows = predictions["truth_set"] == "gtex_wb"
    predictions.loc[gtex_rows, "effect"] = predictions.loc[gtex_rows, "pval"]
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, n_boot=20)
    assert any("looks like p-values" in w for w in result.warnings)
    assert "looks like p-values" in result.markdown
    assert json.loads(result.metrics_path.read_text())["warnings"] == result.warnings


def test_scored_rows_without_a_number_are_counted(inputs, tmp_path):
    """A row marked scored but with a NaN score is excluded from metrics and counted, not dropped silently."""
    predictions = _local_only(inputs[2])
    first_gtex = predictions.index[predictions["truth_set"] == "gtex_wb"][0]
    predictions.loc[first_gtex, "score"] = np.nan
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, n_boot=20)
    assert result.metrics["truth_sets"]["gtex_wb"]["exclusions"]["metrics_effect_or_score_not_finite"] == 1
    assert result.headline["gtex_wb|accessibility|local_gkm_dnase:01234567"]["n"] == 115


def test_truth_set_without_scored_units_still_appears(inputs, tmp_path):
    """A truth set whose every prediction failed is listed with its funnel and 'no scored units'."""
    predictions = _local_only(inputs[2])
    predictions.loc[predictions["truth_set"] == "dsqtl_degner2012", "status"] = "failed"
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, n_boot=20)
    assert "| dsqtl_degner2012 | – | – | 0 | no scored units |" in result.markdown
    assert "dsqtl_degner2012" in result.metrics["truth_sets"]


def test_short_name_drops_readout_and_cuts_hashes():
    """Configuration ids become readable headline keys."""
    assert short_name(LOCAL, "accessibility") == "local_gkm_dnase:01234567"
    assert short_name("alphagenome|ALL_FOLDS|DNASE|EFO:0002067|1048576|accessibility", "accessibility") == \
        "alphagenome:ALL_FOLDS:DNASE:EFO:0002067:1048576"


def test_scope_statement_follows_truth_sets_and_predictors():
    """GTEx brings the cell-type and LD caveats, AlphaGenome its test chromosomes, the local model its size."""
    frame = pd.DataFrame({"truth_set": ["gtex_wb", "dsqtl_degner2012"], "predictor": ["alphagenome", "local_gkm"]})
    text = " ".join(scope_statement(frame))
    assert "whole-blood expression" in text and "LD tags" in text
    assert "3, 6, 9, 12, 16, 18, 19 and 21" in text
    assert "small gapped k-mer model" in text
    only_dsqtl = " ".join(scope_statement(frame.iloc[1:]))
    assert "whole-blood" not in only_dsqtl and "AlphaGenome trained" not in only_dsqtl


def test_result_below_minimum_n_says_too_few(inputs, tmp_path):
    """A result with 5 scored units (5 failed in the fixture, the rest here) says 'too few (n=5)', no scatter."""
    predictions = _local_only(inputs[2])
    dsqtl_rows = predictions.index[predictions["truth_set"] == "dsqtl_degner2012"]
    predictions.loc[dsqtl_rows[10:], "status"] = "failed"
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, n_boot=20)
    assert "| dsqtl_degner2012 | accessibility | local_gkm_dnase:01234567 | 5 | too few (n=5) |" in result.markdown
    assert not [p for p in result.plot_paths if "scatter_dsqtl" in p.name]
    assert [p for p in result.plot_paths if "scatter_gtex_wb" in p.name]
