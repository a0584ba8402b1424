"""Matched negatives: significant eGenes against non-significant ones alike in TSS distance, MAF and annotation."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from endobench.lib.evaluation.metrics import auroc_interval, bootstrap_counts, effective_resamples
from endobench.lib.evaluation.negatives import classification, match_negatives
from endobench_tests.paths import SAMPLE_DIR


@pytest.fixture(scope="module")
def egenes() -> pd.DataFrame:
    """Real chr22 Whole Blood eGenes: 398 significant (q <= 0.05) and 176 not; |log2_aFC| stands in for a score."""
    frame = pd.read_csv(SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.chr22.txt.gz", sep="\t")
    return pd.DataFrame({"gene_id": frame["gene_id"], "tss_distance": frame["tss_distance"], "maf": frame["maf"],
                         "in_annotation": frame["variant_pos"] % 3 == 0, "is_significant": frame["qval"] <= 0.05,
                         "score": frame["log2_aFC"]})


def test_each_positive_gets_one_negative_from_its_own_cell(egenes):
    matched, how = match_negatives(egenes)
    assert how["n_positives"] == 398 and how["n_negative_pool"] == 176
    assert 0 < how["n_matched"] <= 176 and how["n_positives_unmatched"] == 398 - how["n_matched"]
    assert matched["label"].sum() == (~matched["label"]).sum() == how["n_matched"]
    # matching is exact on the annotation flag: the two sides have the same number of in-annotation rows
    assert matched.loc[matched["label"], "in_annotation"].sum() == matched.loc[~matched["label"], "in_annotation"].sum()


def test_matching_balances_tss_distance_better_than_no_matching(egenes):
    """Significant eGenes lie much closer to the TSS; after matching the standardised difference shrinks."""
    _, how = match_negatives(egenes)
    before, after = how["balance_before"]["log10_tss_distance"], how["balance_after"]["log10_tss_distance"]
    assert abs(after) < abs(before)
    assert abs(after) < abs(before) / 5  # from -1.6 standard deviations to -0.14 on these rows


def test_classification_equals_sklearn_on_the_matched_rows(egenes):
    matched, _ = match_negatives(egenes)
    out = classification(matched, n_boot=100)
    labels, values = matched["label"].to_numpy(), np.abs(matched["score"].to_numpy())
    assert out["auroc"] == pytest.approx(roc_auc_score(labels, values))
    assert out["auprc"] == pytest.approx(average_precision_score(labels, values))
    assert out["auprc_chance"] == pytest.approx(0.5)
    assert out["auroc_ci"][0] <= out["auroc"] <= out["auroc_ci"][1]


def test_a_table_without_non_significant_rows_has_no_negatives(egenes):
    matched, how = match_negatives(egenes[egenes["is_significant"]])
    assert matched.empty and how["n_matched"] == 0
    assert "no non-significant rows" in how["method"]


def test_the_auroc_interval_draws_no_more_resamples_than_every_other_interval():
    """The work cap of the correlation intervals (`effective_resamples`) holds for auROC too: 100 rows under a cap of
    20,000 cells get 200 resamples, and each resample's auROC is sklearn's on the rows it drew."""
    rng = np.random.default_rng(3)
    labels, score = rng.random(100) < 0.5, rng.normal(size=100)
    interval, n_drawn = auroc_interval(labels, score, n_boot=1_000, max_cells=20_000)
    assert n_drawn == effective_resamples(100, 1_000, 20_000) == 200
    counts = next(bootstrap_counts(100, n_drawn))
    naive = [roc_auc_score(np.repeat(labels, c.astype(int)), np.repeat(score, c.astype(int))) for c in counts]
    assert interval == pytest.approx(list(np.percentile(naive, [2.5, 97.5])))


def test_classification_says_how_many_resamples_its_interval_drew(egenes):
    matched, _ = match_negatives(egenes)
    assert classification(matched, n_boot=300)["n_bootstrap"] == 300
