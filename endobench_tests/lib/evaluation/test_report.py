"""The report: a headline first, numbers equal to direct computation, floor, power and references beside each model.

The "scores" are second real measurements of the same variants (GTEx log2_aFC and slope z-scores, Degner
t values), so the expected agreement is known without a model; see fixtures/report/README.md.
"""

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from endobench.cli import headline_lines
from endobench.lib.evaluation.report import build_report, predictor_label, scope_statement
from endobench.lib.truth_sets.catalog import DSQTL_DEGNER, DSQTL_STRONG, K562_DHS_PEAKS, gtex_truth_set

GTEX = gtex_truth_set("Whole_Blood", "UBERON:0013756", K562_DHS_PEAKS)
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
    """One row per gene, significant eGenes only (q <= 0.05): n and Spearman equal scipy on those rows; the 82
    genes rest on 79 lead variants, and genes sharing one are resampled together, so n_units counts 79."""
    gtex = inputs[0]
    significant = gtex[gtex["qval"] <= 0.05]
    result, _ = report
    local = result.headline[f"{GTEX.name}|accessibility|local k-mer, held-out chromosomes"]
    assert local["n"] == len(significant) == 82
    assert local["n_units"] == significant["variant_id"].nunique() == 79
    assert local["units"] == "82 genes on 79 variants"
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
    lines = headline_lines(json.loads(result.metrics_path.read_text()))
    scored = dsqtl[dsqtl["status"] == "scored"]
    start = lines.index("    Pearson, as the published numbers of this setting read it: all units | on chromosomes 3, 6, 9, "
                        "12, 16, 18, 19, 21")
    pearson = f"{stats.pearsonr(scored['effect'], scored['score'])[0]:.3f}"
    assert re.fullmatch(rf"      local k-mer, held-out chromosomes +{pearson} \[[-\d.]+, [-\d.]+\] \(n={len(scored)}\) "
                        r"\| [-\d.]+ \[[-\d.]+, [-\d.]+\] \(n=\d+\)", lines[start + 1])
    published = " ".join(line.strip() for line in lines[start + 2:start + 5])
    assert published == ("published on those chromosomes: AlphaGenome 0.832, Borzoi (ensemble) 0.792, ChromBPNet 0.772 "
                         "(AlphaGenome paper (Avsec et al., Nature, doi:10.1038/s41586-025-10014-0), Supplementary "
                         "Table 4) published on all chromosomes: deltaSVM 0.73 (ChromBPNet paper (Pampari et al., "
                         "bioRxiv, doi:10.1101/2024.12.25.630221), figure 6)")
    other = lines[lines.index(next(line for line in lines if line.startswith("  published for another setting"))):]
    assert " ".join(line.strip() for line in other).endswith(
        "AlphaGenome Spearman 0.50, AlphaGenome sign auROC 0.81 (AlphaGenome paper (Avsec et al., Nature, "
        "doi:10.1038/s41586-025-10014-0), figure 4)")
    assert sum(line.startswith("  published for another setting") for line in lines) == 1


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


def _with_measured(predictions: pd.DataFrame, gtex: pd.DataFrame, measured_effect: np.ndarray) -> pd.DataFrame:
    """The predictions plus measured accessibility rows (a reference) for the first 60 Whole Blood genes."""
    rows = predictions[(predictions["truth_set"] == GTEX.name)].iloc[:60]
    measured = rows.assign(score=measured_effect[:60], predictor="measured", configuration="measured|dsqtl_degner2012",
                           biosample="EFO:0002784", held_out=pd.NA, held_out_scheme="")
    return pd.concat([predictions, measured], ignore_index=True)


def test_the_measured_reference_reads_against_each_model_on_its_units(inputs, tmp_path):
    """Measured effects for 60 genes: each model row gets the reference on its own units, in words too; the
    reference's own row resamples its measured variants (genes sharing one go together) and counts them."""
    gtex = inputs[0]
    predictions = _with_measured(_local_only(inputs[2]), gtex, gtex["slope"].to_numpy() * 2)
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    gtex_row = next(r for r in result.metrics["results"] if r["truth_set"] == GTEX.name and r["split"] == "held_out")
    reference = gtex_row["references"]["measured|dsqtl_degner2012"]
    on = gtex[:60][gtex[:60]["qval"] <= 0.05]
    assert reference["n"] == len(on) and reference["n_units"] == on["variant_id"].nunique()
    assert reference["spearman"] == pytest.approx(1.0)
    model = reference["model_on_same_units"]
    assert model["spearman"] == pytest.approx(stats.spearmanr(on["slope"], on["log2_aFC"])[0])
    assert "the measured accessibility (reference) itself reaches 1.000" in result.markdown
    measured = result.headline[f"{GTEX.name}|accessibility|measured accessibility (reference)"]
    assert measured["kind"] == "reference"
    assert (measured["n"], measured["n_units"]) == (len(on), on["variant_id"].nunique())
    assert measured["units"] == f"{len(on)} genes on {on['variant_id'].nunique()} variants"
    entry = result.headline[f"{GTEX.name}|accessibility|local k-mer, held-out chromosomes"]
    assert entry["reference"]["label"] == "measured accessibility (reference)"
    assert entry["reference"]["spearman"] == pytest.approx(1.0)
    assert not entry["underpowered"]


def test_a_row_whose_mde_is_above_its_reference_is_underpowered(inputs, tmp_path):
    """A reference that barely tracks the effects (Spearman about 0.1 on the same units) is below what 40-odd units
    can detect (MDE about 0.45): the model row is flagged, in metrics.json and on the console."""
    from endobench.cli import headline_lines

    gtex = inputs[0]
    weak = gtex["slope"].to_numpy() * 0.05 + np.random.default_rng(2).normal(size=len(gtex))
    result = build_report(_with_measured(_local_only(inputs[2]), gtex, weak), FUNNELS, EXCLUSIONS, CONTEXT, tmp_path,
                          specs=SPECS, n_boot=20)
    entry = result.headline[f"{GTEX.name}|accessibility|local k-mer, held-out chromosomes"]
    assert abs(entry["reference"]["spearman"]) < entry["mde"] < 0.6
    assert entry["underpowered"]
    lines = headline_lines(result.metrics)
    line = lines[lines.index(next(line for line in lines if "82 genes on 79 variants" in line)) + 1]
    assert "local k-mer" in line and line.endswith("underpowered") and f"  {entry['mde']:.3f}  " in line


def test_every_headline_row_carries_power_and_the_noise_ceiling(report, inputs):
    """mde is the Spearman detectable with 80% power from the row's units; the noise ceiling comes from the
    effects' standard errors on the same rows."""
    from endobench.lib.evaluation.endpoints import noise_ceiling, spearman_mde

    gtex = inputs[0]
    significant = gtex[gtex["qval"] <= 0.05]
    result, _ = report
    entry = result.headline[f"{GTEX.name}|accessibility|local k-mer, held-out chromosomes"]
    assert entry["mde"] == pytest.approx(spearman_mde(79))
    assert entry["noise_ceiling"]["spearman"] is None  # the fixture's predictions carry no standard errors
    with_se = noise_ceiling(significant["slope"], significant["slope_se"])
    assert 0.9 < with_se["spearman"] < 1


def test_primary_endpoint_is_in_metrics_json_with_holm(report):
    """Each headline entry names its primary endpoint {metric, value, ci}; p-values are Holm-adjusted over the
    headline rows with enough units."""
    from endobench.lib.evaluation.endpoints import holm

    result, out = report
    metrics = json.loads((out / "metrics.json").read_text())
    entries = list(metrics["headline"].values())
    for entry in entries:
        assert {"metric", "value", "ci", "p", "p_holm"} <= set(entry["primary"])
        assert entry["primary"]["metric"] == "sign agreement"
    tested = [e for e in entries if e["primary"]["p"] is not None]
    assert [e["primary"]["p_holm"] for e in tested] == pytest.approx(holm([e["primary"]["p"] for e in tested]))
    assert "Holm" in result.markdown


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
    """Nine significant genes: under the one minimum of 10 units, so no correlation anywhere: not in the report's
    tables, not in metrics.json's headline, not on the console (today n=4 printed spearman=0.258)."""
    from endobench.cli import headline_lines

    predictions = _local_only(inputs[2])
    significant = predictions["is_significant"].astype(bool)
    keep = (predictions["truth_set"] != GTEX.name) | (significant & (significant.cumsum() <= 9))
    result = build_report(predictions[keep], FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    entry = result.headline[f"{GTEX.name}|accessibility|local k-mer, held-out chromosomes"]
    n_units = entry["n_units"]  # 9 genes on 7 lead variants
    assert entry["n"] == 9 and entry["note"] == f"too few (n={n_units} units; at least 10 needed)"
    assert entry["spearman"] is None and entry["primary"]["value"] is None and entry["sign_agreement"] is None
    headline = result.markdown.split("## How to read", 1)[0]
    assert f"too few (n={n_units} units; at least 10 needed)" in headline
    lines = headline_lines(result.metrics)
    line = lines[lines.index(next(line for line in lines if ": 9 genes" in line)) + 1]
    assert f"too few ({n_units} units)" in line and not re.search(r"\d\.\d{3}", line)


def test_classification_of_too_few_matched_pairs_shows_no_auroc(inputs, tmp_path):
    """Three genes also have a non-significant test of their own (as an all-pairs table gives): three matched pairs
    are below the one minimum of 10 units, so the report gives a note, not '0.500 [0.000, 1.000]'."""
    predictions = _local_only(inputs[2])
    gtex = predictions[(predictions["truth_set"] == GTEX.name) & predictions["is_significant"].astype(bool)]
    weaker = gtex.iloc[:3].assign(variant_id=lambda f: f["variant_id"] + "_tag", pval=0.5, is_significant=False,
                                  tss_distance=lambda f: f["tss_distance"] + 10)
    result = build_report(pd.concat([predictions, weaker], ignore_index=True), FUNNELS, EXCLUSIONS, CONTEXT, tmp_path,
                          specs=SPECS, n_boot=20)
    row = next(r for r in result.metrics["results"] if r["truth_set"] == GTEX.name)
    assert row["classification"]["n_positive"] == 3
    assert row["classification"]["note"].startswith("too few") and row["classification"]["auroc"] is None
    section = result.markdown.split("## Causal against matched non-causal", 1)[1].split("\n## ", 1)[0]
    assert "too few (n=3 units; at least 10 needed)" in section and "[0.000, 1.000]" not in section


def test_the_report_shows_the_covariate_balance_before_and_after_matching(inputs, tmp_path):
    """The standardised mean differences metrics.json holds are in the causal-against-non-causal table: each
    covariate before matching (the positives against their genes' whole pool) and after."""
    predictions = _local_only(inputs[2])
    gtex = predictions[(predictions["truth_set"] == GTEX.name) & predictions["is_significant"].astype(bool)]
    weaker = gtex.iloc[:12].assign(variant_id=lambda f: f["variant_id"] + "_tag", pval=0.5, is_significant=False,
                                   tss_distance=lambda f: f["tss_distance"] * 3 + 5_000, maf=lambda f: f["maf"] / 2)
    result = build_report(pd.concat([predictions, weaker], ignore_index=True), FUNNELS, EXCLUSIONS, CONTEXT, tmp_path,
                          specs=SPECS, n_boot=20)
    matching = next(r for r in result.metrics["results"] if r["truth_set"] == GTEX.name)["matching"]
    before, after = matching["balance_before"], matching["balance_after"]
    section = result.markdown.split("## Causal against matched non-causal", 1)[1].split("\n## ", 1)[0]
    assert "covariate balance: standardised mean difference, before -> after matching" in section
    assert (f"log10 TSS distance {before['log10_tss_distance']:.2f} -> {after['log10_tss_distance']:.2f}; "
            f"MAF {before['maf']:.2f} -> {after['maf']:.2f}") in section


def test_predictor_labels_read_like_words():
    assert predictor_label("alphagenome", "alphagenome|ALL_FOLDS|1048576") == "AlphaGenome 1 MB (ALL_FOLDS)"
    assert predictor_label("alphagenome", "alphagenome|FOLD_1|131072|tracks=ab12") == "AlphaGenome 128 KB (FOLD_1)"
    assert predictor_label("local_gkm_dnase", LOCAL) == "local k-mer"
    assert predictor_label("measured", "measured|dsqtl_degner2012") == "measured accessibility (reference)"
    assert predictor_label("tissue_replication", "tissue_replication|gtex_lcl") == "tissue replication (reference)"


def test_scope_statement_cites_what_exists_and_nothing_else():
    """No unsourced |rho| range and no GitHub-issue anecdote as a reference: the eQTL lines are set beside the
    peer-reviewed numbers, said to be another setting; AlphaGenome folds are regions."""
    frame = pd.DataFrame({"truth_set": [GTEX.name, DSQTL_DEGNER.name], "predictor": ["alphagenome", "local_gkm_dnase"]})
    text = " ".join(scope_statement(frame))
    assert "0.1-0.17" not in text and "borzoi-pytorch" not in text and "0.17" not in text
    assert "figure 4" in text and "another setting" in text
    assert "regions" in text and "test chromosomes" not in text
    assert "GM12878" in " ".join(scope_statement(frame.iloc[1:]))


def test_report_md_links_its_plot_files_and_report_html_embeds_them(report):
    """report.md names each plot by its file under plots/ (no base64 text: on the demo that was 690 KB of it);
    report.html stays standalone with every plot inline; the UI's markdown inlines them as the UI cannot reach the
    files."""
    result, out = report
    markdown = (out / "report.md").read_text()
    images = [line for line in markdown.splitlines() if line.startswith("![")]
    linked = sorted(line.split("](", 1)[1].rstrip(")") for line in images)
    assert linked == sorted(f"plots/{p.name}" for p in result.plot_paths)
    assert "base64," not in markdown and len(markdown) < 40_000
    for path in result.plot_paths:
        assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size < 150_000
    html = (out / "report.html").read_text()
    assert html.count("<img ") == len(images) == html.count('src="data:image/png;base64,')
    inline = [line for line in result.inline_markdown.splitlines() if line.startswith("![")]
    assert len(inline) == len(images)
    assert all(base64.b64decode(line.split("base64,", 1)[1].rstrip(")")).startswith(b"\x89PNG") for line in inline)


def test_exact_configurations_list_each_configuration_once_with_every_track(report, inputs):
    """One row per configuration (the local model and the slope-z stand-in), the tracks of every truth set it read."""
    result, _ = report
    section = result.markdown.split("**Exact configurations**", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| configuration")]
    ids = [row.split(" | ")[1] for row in rows]
    assert len(rows) == len(set(rows)) and sorted(ids) == sorted(["local_gkm_dnase\\|0123456789abcdef", "slope_z"])


def test_quantile_scores_get_a_sensitivity_row(inputs, tmp_path):
    """Where a predictor gives quantile scores beside raw ones (AlphaGenome), both are reported side by side."""
    predictions = _local_only(inputs[2])
    predictions["quantile_score"] = predictions["score"].rank(pct=True)
    result = build_report(predictions, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    section = result.markdown.split("## Sensitivity", 1)[1].split("\n## ", 1)[0]
    assert "| raw score |" in section and "| quantile score |" in section


def test_the_reference_is_called_a_reference_and_said_what_it_is(inputs, tmp_path):
    """Measured accessibility is a reference, not a ceiling, and the report says in one sentence what it is; the
    noise ceiling is the bound, with its formula."""
    gtex = inputs[0]
    result = build_report(_with_measured(_local_only(inputs[2]), gtex, gtex["slope"].to_numpy()), FUNNELS, EXCLUSIONS,
                          CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    assert "accessibility (ceiling)" not in result.markdown and "| ceiling on the same units |" not in result.markdown
    assert ("Measured accessibility (reference) is LCL DNase sensitivity measured at the same position in other "
            "donors") in result.markdown
    assert "it mixes LD, cell type and mechanism, and it is not an upper bound" in result.markdown
    assert "R = (Var(b) - mean(se^2)) / Var(b)" in result.markdown
    assert "no accessibility model can be expected to do better" not in result.markdown


def test_a_figure_per_truth_set_opens_the_report(report):
    """report.html shows, before any table, one headline figure per truth set with results, drawn at 100 dpi in a
    width the page shows at 100% zoom."""
    from io import BytesIO

    from PIL import Image

    result, out = report
    html = (out / "report.html").read_text()
    assert html.index('<img alt="headline: ') < html.index("<table")
    titles = {e["title"] for e in result.headline.values()}
    assert set(result.headline_figures) == titles and len(titles) == 2
    for title, png in result.headline_figures.items():
        assert f'alt="headline: {title}"' in html
        width, height = Image.open(BytesIO(png)).size
        assert 600 <= width <= 1150 and height >= 200


def test_the_console_prints_every_truth_set_even_without_scorable_units(inputs, tmp_path):
    """A line per truth set, the one no model could score with its reason; per model line the primary endpoint with
    its interval, mde= and the reference beside it."""
    from endobench.cli import headline_lines

    predictions = _local_only(inputs[2])
    predictions.loc[predictions["truth_set"] == GTEX.name, ["status", "reason"]] = ["failed", "no_reference_sequence"]
    funnels = {**FUNNELS, GTEX.name: {**FUNNELS[GTEX.name], "windows_ok": 0, "scored_variants": 0}}
    exclusions = {**EXCLUSIONS, GTEX.name: {"not_in_annotation": 440, "no_reference_sequence": 120}}
    result = build_report(predictions, funnels, exclusions, CONTEXT, tmp_path, specs=SPECS, n_boot=20)
    lines = headline_lines(result.metrics)
    assert (f"  {GTEX.title}: 0 scorable units (in_annotation 120, windows_ok 0, no_reference_sequence 120)"
            in lines)
    dsqtl = result.headline[f"{DSQTL_DEGNER.name}|accessibility|local k-mer, held-out chromosomes"]
    line = next(line for line in lines if "local k-mer" in line)
    low, high = dsqtl["primary"]["ci"]
    p, p_holm = dsqtl["primary"]["p"], dsqtl["primary"]["p_holm"]
    spearman, (s_low, s_high) = dsqtl["spearman"], dsqtl["spearman_ci"]
    assert line.split() == ["local", "k-mer,", "held-out", "chromosomes", f"{dsqtl['primary']['value']:.3f}",
                            f"[{low:.3f},", f"{high:.3f}]", f"{p:.2g}", f"({p_holm:.2g})", f"{spearman:.3f}",
                            f"[{s_low:.3f},", f"{s_high:.3f}]", f"{dsqtl['mde']:.3f}", "–"]
    assert lines[lines.index(line) - 1].startswith(f"    DNase x GM12878 (LCL): {dsqtl['units']}; ceiling ")


def test_the_console_headline_is_a_table_of_at_most_150_columns(report):
    """Its legend and notes wrap, its rows line up under one header; nothing is wider than 150 columns."""
    result, _ = report
    lines = headline_lines(result.metrics)
    assert max(map(len, lines)) <= 150
    header = next(line for line in lines if "primary [95% CI]" in line)
    assert re.split(r"\s{2,}", header.strip()) == ["primary [95% CI]", "p (Holm)", "Spearman [95% CI]", "mde",
                                                   "ref (units)"]
    rows = [line for line in lines if line.startswith("      ") and re.search(r"\d\.\d{3} \[", line)]
    assert rows and {re.search(r"\d\.\d{3} \[", line).start() for line in rows} == {header.index("primary")}


ATLAS_CONFIGURATION = "alphagenome|ALL_FOLDS|1048576|tracks=0123456789"


def _atlas_run(predictions: pd.DataFrame) -> pd.DataFrame:
    """The GTEx rows as an AlphaGenome ALL_FOLDS run would give them: most SNVs from the Atlas (with their AVI score),
    the rest live (none), and twelve significant genes each with a non-significant test of its own (whose AVI is
    lower, as an all-pairs table would give), enough matched pairs for an auROC."""
    gtex = predictions[predictions["truth_set"] == GTEX.name].assign(
        predictor="alphagenome", configuration=ATLAS_CONFIGURATION, held_out=pd.NA,
        held_out_scheme="none: ALL_FOLDS trained on every region, so no variant is held out")
    leads = gtex[gtex["is_significant"].astype(bool)].iloc[:12]
    tags = leads.assign(variant_id=leads["variant_id"] + "_tag", pval=0.5, is_significant=False,
                        tss_distance=leads["tss_distance"] + 10)
    rows = pd.concat([gtex, tags], ignore_index=True)
    paired = rows["variant_id"].isin(leads["variant_id"]) | rows["variant_id"].isin(tags["variant_id"])
    rows["source"] = np.where(paired | (np.arange(len(rows)) % 5 != 0), "atlas", "live")
    rows["avi_score"] = np.where(rows["source"] == "atlas",
                                 np.where(rows["is_significant"].astype(bool), 0.8, 0.2), np.nan)
    return rows


def test_atlas_rows_are_labelled_with_their_configuration_and_the_avi_is_an_unsigned_row(inputs, tmp_path):
    """The configurations table says how many rows the Atlas gave (precomputed with this configuration, and so
    what is held out: with ALL_FOLDS nothing) and how many were live; the AVI score tells the matched positives
    from their negatives in a row of its own, and no sign metric changes with it."""
    rows = _atlas_run(_local_only(inputs[2]))
    with_avi = build_report(rows, FUNNELS, EXCLUSIONS, CONTEXT, tmp_path / "a", specs=SPECS, n_boot=50)
    without = build_report(rows.drop(columns="avi_score"), FUNNELS, EXCLUSIONS, CONTEXT, tmp_path / "b", specs=SPECS,
                           n_boot=50)
    result = next(r for r in with_avi.metrics["results"] if r["truth_set"] == GTEX.name)
    plain = next(r for r in without.metrics["results"] if r["truth_set"] == GTEX.name)
    assert result["sources"] == {"atlas": int((rows["source"] == "atlas").sum()),
                                 "live": int((rows["source"] == "live").sum())}
    avi = result["unsigned"]["avi_score"]
    assert (avi["n_positive"], avi["n_negative"], avi["auroc"]) == (12, 12, 1.0)
    assert plain["unsigned"] == {}
    for metric in ("spearman", "pearson", "sign_agreement", "sign_auroc", "n"):
        assert result[metric] == plain[metric]
    assert result["classification"]["auroc"] == plain["classification"]["auroc"]
    causal = with_avi.markdown.split("## Causal against matched non-causal", 1)[1].split("\n## ", 1)[0]
    assert "AVI score (AlphaGenome Atlas, unsigned)" in causal and "12 positives, 12 negatives with the score" in causal
    assert "AVI" not in with_avi.markdown.split("## Every result", 1)[1].split("\n## ", 1)[0]
    configurations = with_avi.markdown.split("Exact configurations", 1)[1]
    assert (f"AlphaGenome Atlas {result['sources']['atlas']:,} rows (precomputed with this configuration: 1 MB "
            "(ALL_FOLDS), the recommended scorers; held out: none (ALL_FOLDS trained on every region)), live "
            f"{result['sources']['live']:,} rows") in configurations
