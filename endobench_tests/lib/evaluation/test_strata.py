"""Strata: the same metrics within |effect| quartiles, TSS and MAF bins, SNV/indel and the training split."""

import pandas as pd
import pytest
from scipy import stats

from endobench.lib.evaluation.strata import strata_labels, stratified_metrics


@pytest.fixture(scope="module")
def rows(fixtures) -> pd.DataFrame:
    gtex = pd.read_csv(fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv", sep="\t")
    return pd.DataFrame({
        "effect": gtex["slope"], "score": gtex["log2_aFC"], "maf": gtex["maf"], "gene_id": gtex["gene_id"],
        "tss_distance": gtex["tss_distance"], "chrom": gtex["chr"], "ref": gtex["ref"], "alt": gtex["alt"],
    })


def test_small_strata_say_too_few(rows):
    """A stratum below the minimum n carries 'too few (n=...)' and no numbers."""
    result = stratified_metrics(rows, unit="gene_id", min_n=20, n_boot=50)
    small = [r for r in result if r["n_units"] < 20]
    assert small, "the fixture has an indel stratum with fewer than 20 variants"
    for row in small:
        assert row["note"] == f"too few (n={row['n_units']} units; at least 20 needed)"
        assert "spearman" not in row


def test_strata_numbers_match_direct_computation(rows):
    """The SNV stratum's n and Spearman equal scipy on exactly the single-base REF/ALT rows."""
    result = stratified_metrics(rows, unit="gene_id", min_n=20, n_boot=50)
    snv = next(r for r in result if r["stratification"] == "variant type" and r["stratum"] == "SNV")
    is_snv = (rows["ref"].str.len() == 1) & (rows["alt"].str.len() == 1)
    assert snv["n"] == int(is_snv.sum())
    assert snv["spearman"] == pytest.approx(stats.spearmanr(rows.loc[is_snv, "effect"], rows.loc[is_snv, "score"])[0])


def test_strata_cover_every_split_and_no_chromosome_list(rows):
    """Quartiles of |effect|, TSS bins, MAF bins, SNV/indel and the model's training split; the old 'AlphaGenome
    test chromosomes' stratum is gone (AlphaGenome holds out regions, not chromosomes)."""
    labels = strata_labels(rows.assign(held_out=[True, False] * 60))
    assert set(labels) == {"|effect| quartile", "TSS distance", "MAF", "variant type", "model training split"}
    assert labels["|effect| quartile"].nunique() == 4
    assert (labels["model training split"] == "held out of training").sum() == 60
    assert ((labels["TSS distance"] == "<1 kb") == (rows["tss_distance"].abs() < 1000)).all()


def test_held_out_rows_split_by_whether_a_training_input_reached_them(rows):
    """Among held-out rows only: beyond training context or within a training input's reach; training rows and rows
    of a predictor that cannot say get no label."""
    frame = rows.assign(held_out=[True, True, False] * 40, beyond_training_context=[True, False, False] * 40)
    labels = strata_labels(frame)["training context"]
    assert (labels == "held out, beyond training context").sum() == 40
    assert (labels == "held out, within a training input's reach").sum() == 40
    assert labels[~frame["held_out"]].isna().all()
    assert "training context" not in strata_labels(rows.assign(held_out=True, beyond_training_context=pd.NA))


def test_cross_fitted_rows_split_by_the_model_that_scored_them(rows):
    frame = rows.assign(scored_by=["trained on the odd autosomes", "trained on the even autosomes"] * 60)
    result = stratified_metrics(frame, unit="gene_id", min_n=20, n_boot=50)
    by_model = {r["stratum"]: r["n"] for r in result if r["stratification"] == "scored by"}
    assert by_model == {"trained on the odd autosomes": 60, "trained on the even autosomes": 60}


def test_binned_strata_come_in_the_order_of_their_bins(rows):
    """TSS distance from near to far and MAF from rare to common, not sorted as text ('1-10 kb' before '<1 kb')."""
    result = stratified_metrics(rows, unit="gene_id", min_n=5, n_boot=20)
    order = {name: [r["stratum"] for r in result if r["stratification"] == name] for name in ("TSS distance", "MAF")}
    assert order["TSS distance"] == ["<1 kb", "1-10 kb", "10-100 kb", ">=100 kb"]
    assert order["MAF"] == ["MAF <0.05", "MAF 0.05-0.1", "MAF 0.1-0.2", "MAF 0.2-0.5"]
