"""Matched negatives: a positive (a gene's significant lead) against a non-significant test of its own gene, nearest in
TSS distance and MAF; none from other genes' leads."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from endobench.lib.evaluation.metrics import auroc_interval, bootstrap_counts, effective_resamples
from endobench.lib.evaluation.negatives import classification, match_negatives
from endobench_tests.paths import SAMPLE_DIR


@pytest.fixture(scope="module")
def egenes() -> pd.DataFrame:
    """Real chr22 Whole Blood eGenes: 398 significant (q <= 0.05) and 176 not, one lead variant per gene."""
    frame = pd.read_csv(SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.chr22.txt.gz", sep="\t")
    return pd.DataFrame({"gene_id": frame["gene_id"], "tss_distance": frame["tss_distance"], "maf": frame["maf"],
                         "in_annotation": frame["variant_pos"] % 3 == 0, "is_significant": frame["qval"] <= 0.05,
                         "score": frame["log2_aFC"]})


# An all-pairs-like table (as GTEx's all-pairs or a fine-mapped table gives): each gene's tests, one significant.
# Gene A has two non-significant tests, one near its lead in TSS distance and MAF; gene B has none; gene C has no
# significant test at all.
PAIRS = pd.DataFrame({
    "gene_id": ["A", "A", "A", "B", "C", "C", "D", "D"],
    "tss_distance": [100, 150, 80_000, 5_000, 300, 40, 1_000, 900],
    "maf": [0.30, 0.28, 0.05, 0.20, 0.40, 0.10, 0.15, 0.12],
    "is_significant": [True, False, False, True, False, False, True, False],
    "score": [2.0, 0.1, -0.3, 1.5, 0.2, 0.4, -1.0, 0.5],
})


def test_each_positive_is_matched_to_the_nearest_non_significant_test_of_its_own_gene():
    positives = PAIRS[PAIRS["is_significant"]]
    matched, how = match_negatives(PAIRS, positives)
    negatives = matched[~matched["label"]]
    assert list(negatives.index) == [1, 7]  # A's test at 150 bp / MAF 0.28, D's only test; never C's, never B's
    assert list(matched.loc[matched["label"], "gene_id"]) == ["A", "D"]
    assert how["n_positives"] == 3 and how["n_negative_pool"] == 3 and how["n_matched"] == 2
    assert how["n_positives_unmatched"] == 1  # B: no non-significant test of its own
    assert how["method"].startswith("within gene")
    assert abs(how["balance_after"]["log10_tss_distance"]) < abs(how["balance_before"]["log10_tss_distance"])


def test_leads_of_other_genes_are_never_negatives_and_the_report_says_why(egenes):
    """An eGenes table holds one lead per gene: the 176 non-significant eGenes are other genes, so there is nothing
    to match, and the description says so instead of matching them."""
    matched, how = match_negatives(egenes, egenes[egenes["is_significant"]])
    assert matched.empty and how["n_matched"] == 0 and how["n_negative_pool"] == 0
    assert "no non-significant test in the table is of a positive's own gene (176 are of other genes)" in how["method"]
    assert "eGenes table holds one lead variant per gene" in how["method"]


def test_a_table_without_non_significant_rows_has_no_negatives(egenes):
    significant = egenes[egenes["is_significant"]]
    matched, how = match_negatives(significant, significant)
    assert matched.empty and how["n_matched"] == 0
    assert "the table has no non-significant test" in how["method"]


def test_classification_equals_sklearn_on_the_matched_rows():
    """The arithmetic on two matched pairs: the report's minimum of 10 is lowered here, where no number is shown."""
    matched, _ = match_negatives(PAIRS, PAIRS[PAIRS["is_significant"]])
    out = classification(matched, n_boot=100, min_n=2)
    labels, values = matched["label"].to_numpy(), np.abs(matched["score"].to_numpy())
    assert out["auroc"] == pytest.approx(roc_auc_score(labels, values))
    assert out["auprc"] == pytest.approx(average_precision_score(labels, values))
    assert out["auprc_chance"] == pytest.approx(0.5)
    assert out["auroc_ci"][0] <= out["auroc"] <= out["auroc_ci"][1]


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


def test_classification_says_how_many_resamples_its_interval_drew():
    matched, _ = match_negatives(PAIRS, PAIRS[PAIRS["is_significant"]])
    assert classification(matched, n_boot=300, min_n=2)["n_bootstrap"] == 300


def test_fewer_matched_pairs_than_the_minimum_give_a_note_not_an_auroc():
    """Two matched pairs are below the one minimum of 10 units: a note, never '0.500 [0.000, 1.000]'."""
    matched, _ = match_negatives(PAIRS, PAIRS[PAIRS["is_significant"]])
    out = classification(matched, n_boot=100)
    assert out["note"] == "too few (n=2 units; at least 10 needed)" and np.isnan(out["auroc"])
