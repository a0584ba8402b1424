"""The report: a headline first, numbers equal to direct computation, floor and ceiling beside each model.

The "scores" are second real measurements of the same variants (GTEx log2_aFC and slope z-scores, Degner
t values), so the expected agreement is known without a model; see fixtures/report/README.md.
"""

import base64
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from endobench.cli import published_lines
from endobench.lib.evaluation.report import build_report, predictor_label, scope_statement
from endobench.lib.truth_sets.catalog import DSQTL_DEGNER, DSQTL_STRONG, K562_DHS_PEAKS, gtex_truth_set

GTEX = gtex_truth_set("gtex_wb", K562_DHS_PEAKS)
SPECS = {GTEX.name: GTEX, DSQTL_DEGNER.name: DSQTL_DEGNER}
LOCAL = "local_gkm_dnase|0123456789abcdef"


def _predictions(gtex: pd.DataFrame, dsqtl: pd.DataFrame) -> pd.DataFrame:
    common = dict(effect_se=np.nan, quantile_score=np.nan, reason="", from_cache=False, release="v8", in_annotation=True)
    g = pd.DataFrame({
        "truth_set": GTEX.name, "variant_id": gtex["variant_id"], "gene_id": gtex["gene_id"], "chrom": gtex["chr"],
        "pos": gtex["variant_pos"], "ref": gtex["ref"], "alt": gtex["alt"], "effect": gtex["slope"],
        "pval": gtex["pval_nominal"], "maf": gtex["maf"], "tss_distance": gtex["tss_distance"],
        "is_significant": gtex["qval"] <= 0.05, "readout": "accessibility", "biosample": "EFO:0002067",
        "score": gtex["log2_aFC"], "status": "scored", "held_out": True, "held_out_scheme": "chromosomes (even)",
        "configuration": LOCAL, "predictor": "local_gkm_dnase", **common,
    })
    g_z = g.assign(score=(gtex["slope"] / gtex["slope_se"]).to_numpy(), configuration="slope_z", predictor="slope_z",
                   held_out=pd.NA, held_out_scheme="")
    d = pd.DataFrame({
        "truth_set": DSQTL_DEGNER.name, "variant_id": dsqtl["ID"], "gene_id": pd.NA, "chrom": dsqtl["chr_hg38"],
        "pos": dsqtl["pos_hg38"], "ref": dsqtl["Ref"], "alt": dsqtl["Alt"], "effect": dsqtl["Beta"],
        "pval": dsqtl["Pr(>|t|)"], "maf": np.nan, "tss_distance": np.nan, "is_significant": True,
        "readout": "accessibility", "biosample": "EFO:0002784", "score": dsqtl["t value"], "status": "scored",
        "held_out": True, "held_out_scheme": "chromosomes (even)", "configuration": LOCAL,
        "predictor": "local_gkm_dnase", **common,
    })
    d.loc[d.index[:5], ["status", "reason", "score"]] = ["failed", "no_reference_sequence", np.nan]
    return pd.concat([g, g_z, d], ignore_index=True)


@pytest.fixture(scope="module")
def inputs(fixtures):
    gtex = pd.read_csv(fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv", sep="\t")
    dsqtl = pd.read_csv(fixtures / "report" / "dsqtl_degner2012_chr22.tsv", sep="\t")
    return gtex, dsqtl, _predictions(gtex, dsqtl)


FUNNELS = {
    GTEX.name: {"rows_read": 574, "rows_kept": 574, "unique_variants": 560, "in_annotation": 120, "windows_ok": 116,
                "scored_variants": 116},
    DSQTL_DEGNER.name: {"rows_read": 233, "rows_kept": 233, "unique_variants": 233, "windows_ok": 233,
                        "scored_variants": 228},
}
EXCLUSIONS = {GTEX.name: {"not_in_annotation": 440}, DSQTL_DEGNER.name: {"prediction_no_reference_sequence": 5}}
CONTEXT = {
    GTEX.name: {"fraction_in_annotation_observed": 0.21, "fraction_in_annotation_expected": 0.03, "filtered_by_annotation": True,
                "reference_mismatch_rate": 0.0},
    DSQTL_DEGNER.name: {"fraction_in_annotation_observed": 0.39, "fraction_in_annotation_expected": 0.03,
                        "filtered_by_annotation": False, "reference_mismatch_rate": None},
}


def _local_only(predictions: pd.DataFrame) -> pd.DataFrame:
    """One configuration only: fewer plots for tests about a single behaviour."""
    return predictions[predictions["configuration"] == LOCAL].copy()


@pytest.fixture(scope="module")
def report(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return build_report(inputs[2], FUNNELS, EXCLUSIONS, CONTEXT, out, specs=SPECS, n_boot=100), out


def test_report_writes_html_markdown_metrics_and_plots(report):
    result, out = report
    assert (out / "report.md").read_text() == result.markdown
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["headline"] == json.loads(json.dumps(result.headline))
    assert len(result.plot_paths) >= 4 and all(p.read_bytes().startswith(b"\x89PNG") for p in result.plot_paths)


def test_headline_comes_first_and_names_readout_and_biosample(report):
    """The first section after the title is the headline; every row says readout x biosample."""
    result, _ = report
    sections = [line for line in result.markdown.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Headline"
    assert "DNase x K562" in result.markdown and "DNase x GM12878 (LCL)" in result.markdown
    assert {v["readout_label"] for v in result.headline.values()} == {"DNase x K562", "DNase x GM12878 (LCL)"}


def test_headline_numbers_equal_direct_computation(report, inputs):
    """One row per gene, significant eGenes only (q <= 0.05): n and Spearman equal scipy on those rows."""
    gtex = inputs[0]
    significant = gtex[gtex["qval"] <= 0.05]
    result, _ = report
    local = result.headline[f"{GTEX.name}|accessibility|local k-mer, held-out chromosomes"]
    assert local["n"] == len(significant) == 82
    assert local["n_units"] == significant["gene_id"].nunique()
    assert local["spearman"] == pytest.approx(stats.spearmanr(significant["slope"], significant["log2_aFC"])[0])


def test_training_rows_are_kept_out_of_the_headline(inputs, tmp_path):
    """Rows on the model's training chromosomes are reported, labelled as leaking, but never in the headline."""
    predictions = _local_only(inputs[2])
    predictions.loc[predictions["chrom"] == "chr22", "held_out"] = np.arange((predictions["chrom"] == "chr22").sum()) % 2 == 0
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    labels = {r["label"] for r in result.metrics["results"]}
    assert {"local k-mer, held-out chromosomes", "local k-mer, training chromosomes (leaks)",
            "local k-mer, all chromosomes (includes training: leaks)"} <= labels
    assert all(key.endswith("held-out chromosomes") for key in result.headline)


def test_a_cross_fitted_model_is_reported_once_with_every_row_held_out(inputs, tmp_path):
    """A model whose every row is held out (cross-fitted by chromosome parity) gets one result per truth set and
    readout, over all its rows, labelled as cross-fitted: no 'all chromosomes (leaks)' twin, no training rows; the
    rows carry the biosample whose readout the scores stand for, and the strata split them by the model that
    scored them."""
    predictions = inputs[2].copy()  # the local model's rows beside another configuration that says nothing
    local = predictions["configuration"] == LOCAL
    predictions.loc[local, "held_out_scheme"] = "chromosomes, cross-fitted: ...; every variant is held out"
    predictions.loc[local, "biosample"] = "EFO:0002784"
    predictions["scored_by"] = np.where(~local, None, np.where(predictions.index % 2 == 0,
                                        "model trained on the odd autosomes", "model trained on the even autosomes"))
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    assert {r["split"] for r in result.metrics["results"] if r["configuration"] == "slope_z"} == {"all"}
    results = [r for r in result.metrics["results"] if r["configuration"] == LOCAL]
    assert {r["split"] for r in results} == {"held_out"}
    assert {r["label"] for r in results} == {"local k-mer, cross-fitted, every chromosome held out"}
    assert sum(r["truth_set"] == GTEX.name for r in results) == 1
    assert {v["readout_label"] for k, v in result.headline.items() if "local k-mer" in k} == {"DNase x GM12878 (LCL)"}
    gtex = next(r for r in results if r["truth_set"] == GTEX.name)
    assert {s["stratum"] for s in gtex["strata"] if s["stratification"] == "scored by"} == {
        "model trained on the odd autosomes", "model trained on the even autosomes"}
    assert r"local_gkm_dnase\|0123456789abcdef" in result.markdown.split("**Exact configurations**", 1)[1]


def test_the_console_prints_the_strong_dsqtls_pearson_beside_the_published_numbers(inputs, tmp_path):
    """`make demo`'s lines for a truth set with published numbers: ours over all and on the published evaluation's
    chromosomes, then the published numbers of the same metric with where they were computed and their source; the
    eQTL numbers of another setting are said once, as such."""
    dsqtl = inputs[2][inputs[2]["truth_set"] == DSQTL_DEGNER.name].assign(truth_set=DSQTL_STRONG.name)
    dsqtl.loc[dsqtl.index[::2], "chrom"] = "chr21"
    both = pd.concat([dsqtl, _local_only(inputs[2])[lambda f: f["truth_set"] == GTEX.name]], ignore_index=True)
    result = build_report(both, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path,
                          specs={**SPECS, DSQTL_STRONG.name: DSQTL_STRONG}, n_boot=20)
    lines = published_lines(json.loads(result.metrics_path.read_text()))
    scored = dsqtl[dsqtl["status"] == "scored"]
    assert lines[0].startswith(f"  {DSQTL_STRONG.title} | local k-mer, held-out chromosomes: pearson="
                               f"{stats.pearsonr(scored['effect'], scored['score'])[0]:.3f} [")
    assert "; on chromosomes 3, 6, 9, 12, 16, 18, 19, 21: pearson=" in lines[0]
    assert lines[1] == ("    published Pearson: AlphaGenome 0.832, Borzoi (ensemble) 0.792, ChromBPNet 0.772 on those "
                        "chromosomes (AlphaGenome paper (Avsec et al., Nature, doi:10.1038/s41586-025-10014-0), "
                        "Supplementary Table 4); deltaSVM 0.73 on all chromosomes (ChromBPNet paper (Pampari et al., "
                        "bioRxiv, doi:10.1101/2024.12.25.630221), figure 6)")
    assert len(lines) == 3 and lines[2].startswith("  published for another setting: fine-mapped GTEx eQTLs")
    assert lines[2].endswith("AlphaGenome Spearman 0.50, AlphaGenome sign auROC 0.81 (AlphaGenome paper (Avsec et al., "
                             "Nature, doi:10.1038/s41586-025-10014-0), figure 4)")


def test_every_model_row_carries_its_null_and_the_tss_baseline(report):
    """Expression truth sets get the distance-to-TSS baseline on the same rows, every result a permutation null."""
    result, _ = report
    rows = {(r["truth_set"], r["configuration"], r["split"]): r for r in result.metrics["results"]}
    gtex = rows[(GTEX.name, LOCAL, "held_out")]
    assert gtex["baselines"]["distance_to_tss"]["n"] == gtex["n"]
    null = gtex["null"]["spearman"]
    assert null["null_low"] < 0 < null["null_high"] < gtex["spearman"]
    assert "distance_to_tss" not in rows[(DSQTL_DEGNER.name, LOCAL, "held_out")]["baselines"]


def test_the_report_says_why_an_egenes_table_has_no_matched_negatives(report):
    """The 38 non-significant eGenes are other genes' leads: no negatives are matched from them, and the causal
    against non-causal section says why (for the dsQTLs: no non-significant test at all)."""
    result, _ = report
    gtex = next(r for r in result.metrics["results"] if r["truth_set"] == GTEX.name and r["split"] == "held_out")
    assert gtex["matching"]["n_positives"] == 82 and gtex["matching"]["n_matched"] == 0
    assert "(38 are of other genes)" in gtex["matching"]["method"]
    assert gtex["classification"]["n_positive"] == 0
    dsqtl = next(r for r in result.metrics["results"] if r["truth_set"] == DSQTL_DEGNER.name)
    assert dsqtl["matching"]["n_matched"] == 0 and "the table has no non-significant test" in dsqtl["matching"]["method"]
    section = result.markdown.split("## Causal against matched non-causal", 1)[1].split("\n## ", 1)[0]
    assert "an eGenes table holds one lead variant per gene" in section


def test_distance_to_tss_is_set_against_the_size_of_the_effect_not_its_sign(report, inputs):
    """The TSS baseline has no sign: its Spearman is with |effect| (closer variants, larger effects)."""
    result, _ = report
    gtex = next(r for r in result.metrics["results"] if r["truth_set"] == GTEX.name and r["split"] == "held_out")
    significant = inputs[0][inputs[0]["qval"] <= 0.05]
    closeness = -np.log10(significant["tss_distance"].abs() + 1)
    baseline = gtex["baselines"]["distance_to_tss"]
    assert baseline["against"] == "|effect|"
    assert baseline["spearman"] == pytest.approx(stats.spearmanr(significant["slope"].abs(), closeness)[0])
    assert "sign_auroc" not in baseline


def test_ceiling_row_reads_against_each_model(inputs, tmp_path):
    """Measured effects given for some units: each model row gets the ceiling on its own units, in words too."""
    gtex = inputs[0]
    predictions = _local_only(inputs[2])
    measured = pd.DataFrame({"truth_set": GTEX.name, "variant_id": gtex["variant_id"], "gene_id": gtex["gene_id"],
                             "measured_effect": gtex["slope"] * 2})[:60]
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, measured=measured,
                          n_boot=20)
    gtex_row = next(r for r in result.metrics["results"] if r["truth_set"] == GTEX.name and r["split"] == "held_out")
    ceiling = gtex_row["ceiling"]
    on = gtex[:60][gtex[:60]["qval"] <= 0.05]
    assert ceiling["n"] == len(on)
    assert ceiling["spearman"] == pytest.approx(1.0)
    assert ceiling["model_on_same_units"]["spearman"] == pytest.approx(stats.spearmanr(on["slope"], on["log2_aFC"])[0])
    assert "the measured accessibility itself (the ceiling) reaches 1.000" in result.markdown


def _table_row(markdown: str, first_cell: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_published_numbers_sit_in_the_column_of_their_own_metric(report):
    """AlphaGenome's eQTL coefficient Spearman in the Spearman column, its sign auROC in the sign auROC column,
    each marked as published and as another setting; no other cell of those rows holds a number."""
    result, _ = report
    header = _table_row(result.markdown, "configuration")
    rows = [line for line in result.markdown.split("### GTEx v8 Whole Blood eQTLs", 1)[1].splitlines()
            if line.startswith("| published: AlphaGenome |")]
    cells = [dict(zip(header, [c.strip() for c in line.strip("|").split(" | ")])) for line in rows]
    assert cells[0]["Spearman [95% CI]"].startswith("0.50 (published; another setting: fine-mapped GTEx eQTLs")
    assert cells[1]["sign auROC [95% CI]"].startswith("0.81 (published; another setting")
    assert cells[0]["Pearson [95% CI]"] == cells[0]["sign auROC [95% CI]"] == cells[1]["Spearman [95% CI]"] == ""


def test_the_strong_dsqtls_read_beside_the_published_numbers_on_their_chromosomes(inputs, tmp_path):
    """The field's dsQTL truth set: our signed Pearson over all its variants and on the chromosomes of the
    published evaluation, beside AlphaGenome, Borzoi and ChromBPNet (computed on those chromosomes) and deltaSVM
    (all chromosomes), each with its source; the stratum of those chromosomes is computed on exactly them."""
    dsqtl = inputs[2][inputs[2]["truth_set"] == DSQTL_DEGNER.name].copy()
    dsqtl["truth_set"] = DSQTL_STRONG.name
    dsqtl.loc[dsqtl.index[::2], "chrom"] = "chr21"  # half on a chromosome of the published evaluation
    result = build_report(dsqtl, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs={DSQTL_STRONG.name: DSQTL_STRONG},
                          n_boot=20)
    scored = dsqtl[dsqtl["status"] == "scored"]
    on = scored[scored["chrom"] == "chr21"]
    beside = result.markdown.split("Beside the published numbers", 1)[1]
    header = _table_row(beside, "model")
    assert header[4] == "Pearson, chromosomes of the published evaluation (3, 6, 9, 12, 16, 18, 19, 21)"
    ours = dict(zip(header, _table_row(beside, "ours: local k-mer, held-out chromosomes")))
    assert ours["Pearson, all chromosomes"].startswith(f"{stats.pearsonr(scored['effect'], scored['score'])[0]:.3f}")
    assert ours[header[4]].startswith(f"{stats.pearsonr(on['effect'], on['score'])[0]:.3f}")
    published = {row[0]: row for row in (_table_row(beside, f"published: {m}") for m in
                                          ("AlphaGenome", "Borzoi (ensemble)", "ChromBPNet", "deltaSVM"))}
    assert [published[f"published: {m}"][4] for m in ("AlphaGenome", "Borzoi (ensemble)", "ChromBPNet")] == [
        "0.832", "0.792", "0.772"]
    assert published["published: deltaSVM"][2] == "0.73" and published["published: deltaSVM"][4] == ""
    assert "Supplementary Table 4" in published["published: AlphaGenome"][6]
    assert "figure 6" in published["published: deltaSVM"][6]
    assert "no auPRC" not in result.markdown and "cannot be computed here without them" in result.markdown
    strong = next(r for r in result.metrics["results"] if r["truth_set"] == DSQTL_STRONG.name)
    stratum = next(s for s in strong["strata"] if s["stratum"].startswith("chromosomes of the published evaluation"))
    assert stratum["n"] == len(on) and stratum["pearson"] == pytest.approx(stats.pearsonr(on["effect"], on["score"])[0])


def test_effect_bars_stay_bars_in_markdown(report):
    """`|effect|` used to render as `/effect/`: pipes inside cells are escaped instead."""
    result, _ = report
    assert "/effect/" not in result.markdown and "\\|effect\\|" in result.markdown


def test_pvalues_as_effects_warn_in_report(inputs, tmp_path):
    """The seed's mistake (p-values in the effect column) produces a warning in the report."""
    predictions = _local_only(inputs[2])
    gtex = predictions["truth_set"] == GTEX.name
    predictions.loc[gtex, "effect"] = predictions.loc[gtex, "pval"]
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    assert any("p-values" in w and GTEX.name in w for w in result.warnings)
    assert "p-values" in result.markdown


def test_scored_rows_without_a_number_are_counted(inputs, tmp_path):
    """A row marked scored whose score is NaN is an exclusion with a reason, never a silent drop."""
    predictions = _local_only(inputs[2])
    predictions.loc[predictions.index[0], "score"] = np.nan
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    assert result.metrics["truth_sets"][GTEX.name]["exclusions"]["metrics_effect_or_score_not_finite"] == 1


def test_truth_set_without_scored_units_still_appears(inputs, tmp_path):
    predictions = _local_only(inputs[2])
    predictions.loc[predictions["truth_set"] == GTEX.name, "status"] = "failed"
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    assert GTEX.name in result.metrics["truth_sets"]
    assert "no scored units" in result.markdown


def test_result_below_minimum_n_says_too_few(inputs, tmp_path):
    """A result under the minimum gets 'too few (n=...)', not numbers, in the tables."""
    predictions = _local_only(inputs[2])
    keep = (predictions["truth_set"] != GTEX.name) | (predictions.index < 10)
    result = build_report(predictions[keep], FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    assert "too few (n=" in result.markdown


def test_predictor_labels_read_like_words():
    assert predictor_label("alphagenome", "alphagenome|ALL_FOLDS|1048576") == "AlphaGenome 1 MB (ALL_FOLDS)"
    assert predictor_label("alphagenome", "alphagenome|FOLD_1|131072|tracks=ab12") == "AlphaGenome 128 KB (FOLD_1)"
    assert predictor_label("local_gkm_dnase", LOCAL) == "local k-mer"
    assert predictor_label("measured", "measured|dsqtl_degner2012") == "measured accessibility (ceiling)"


def test_scope_statement_cites_what_exists_and_nothing_else():
    """No unsourced |rho| range and no GitHub-issue anecdote as a reference: the eQTL lines are set beside the
    peer-reviewed numbers, said to be another setting; AlphaGenome folds are regions."""
    frame = pd.DataFrame({"truth_set": [GTEX.name, DSQTL_DEGNER.name], "predictor": ["alphagenome", "local_gkm_dnase"]})
    text = " ".join(scope_statement(frame))
    assert "0.1-0.17" not in text and "borzoi-pytorch" not in text and "0.17" not in text
    assert "figure 4" in text and "another setting" in text
    assert "regions" in text and "test chromosomes" not in text
    assert "GM12878" in " ".join(scope_statement(frame.iloc[1:]))


def test_plots_are_embedded_as_small_pngs(report):
    result, _ = report
    images = [line for line in result.markdown.splitlines() if line.startswith("![")]
    assert images
    for line in images:
        data = base64.b64decode(line.split("base64,", 1)[1].rstrip(")"))
        assert data.startswith(b"\x89PNG") and len(data) < 150_000


def test_quantile_scores_get_a_sensitivity_row(inputs, tmp_path):
    """Where a predictor gives quantile scores beside raw ones (AlphaGenome), both are reported side by side."""
    predictions = _local_only(inputs[2])
    predictions["quantile_score"] = predictions["score"].rank(pct=True)
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    section = result.markdown.split("## Sensitivity", 1)[1].split("\n## ", 1)[0]
    assert "| raw score |" in section and "| quantile score |" in section
