"""Metrics against values computed independently (scipy, sklearn, by hand) on small fixtures."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from endobench.lib.evaluation import metrics


@pytest.fixture(scope="module")
def gtex(fixtures):
    """120 real GTEx Whole Blood eGenes: slope as the effect, log2_aFC as a second measurement of it."""
    return pd.read_csv(fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv", sep="\t")


def test_identical_columns_correlate_exactly():
    """y = x gives Spearman and Pearson of exactly 1 and a sign auROC of 1."""
    x = np.linspace(-2, 3, 50)
    out = metrics.correlations(x, x)
    assert out["n"] == 50
    assert out["spearman"] == pytest.approx(1.0)
    assert out["pearson"] == pytest.approx(1.0)
    assert metrics.sign_auroc(x, x) == pytest.approx(1.0)


def test_reversed_scores_give_minus_one_and_auroc_zero():
    """y = -x gives correlations of -1 and a sign auROC of 0 (every sign predicted wrong)."""
    x = np.linspace(-2, 3, 50)
    out = metrics.correlations(x, -x)
    assert out["spearman"] == pytest.approx(-1.0)
    assert out["pearson"] == pytest.approx(-1.0)
    assert metrics.sign_auroc(x, -x) == pytest.approx(0.0)


def test_correlations_match_scipy_on_real_gtex(gtex):
    """Spearman and Pearson with p-values equal scipy's on the real slope / log2_aFC pairs."""
    out = metrics.correlations(gtex["slope"], gtex["log2_aFC"])
    rho, rho_p = stats.spearmanr(gtex["slope"], gtex["log2_aFC"])
    r, r_p = stats.pearsonr(gtex["slope"], gtex["log2_aFC"])
    assert out["n"] == 120
    assert out["spearman"] == pytest.approx(rho)
    assert out["spearman_p"] == pytest.approx(rho_p)
    assert out["pearson"] == pytest.approx(r)
    assert out["pearson_p"] == pytest.approx(r_p)
    assert out["spearman"] > 0.9


def test_non_finite_pairs_are_left_out():
    """NaN or inf in either column removes that pair only; n counts the pairs used."""
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    y = np.array([2.0, 1.0, 3.0, np.inf, 5.0, 7.0])
    out = metrics.correlations(x, y)
    assert out["n"] == 4
    assert out["pearson"] == pytest.approx(stats.pearsonr([1, 2, 5, 6], [2, 1, 5, 7])[0])


def test_constant_scores_give_nan_not_an_error():
    """A constant prediction has no correlation: NaN, not a crash and not 0."""
    out = metrics.correlations(np.arange(10.0), np.ones(10))
    assert math.isnan(out["spearman"]) and math.isnan(out["pearson"])


def test_sign_auroc_by_hand():
    """Two positives, two negatives: the one mis-ordered pair of four gives auROC 3/4."""
    effect = np.array([1.0, 2.0, -1.0, -2.0])
    score = np.array([0.5, -0.1, 0.0, -0.5])
    # positive scores 0.5, -0.1 vs negative 0.0, -0.5: pairs won = (0.5>0), (0.5>-0.5), (-0.1>-0.5) = 3 of 4
    assert metrics.sign_auroc(effect, score) == pytest.approx(0.75)


def test_sign_auroc_leaves_out_zero_effects():
    """An effect of exactly 0 has no sign, so it is not a negative: the result equals sklearn without it."""
    effect = np.array([1.0, 0.0, -1.0, 2.0, -3.0])
    score = np.array([0.2, 0.9, -0.2, -0.4, 0.1])
    keep = effect != 0
    assert metrics.sign_auroc(effect, score) == pytest.approx(roc_auc_score(effect[keep] > 0, score[keep]))


def test_sign_auroc_is_nan_with_one_sign_only():
    """All effects positive (e.g. p-values as effects): sign auROC is undefined, reported as NaN."""
    assert math.isnan(metrics.sign_auroc(np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0])))


def test_weighted_statistics_equal_statistics_on_resampled_copies():
    """Count-weighted Spearman, Pearson and auROC equal scipy/sklearn on explicitly resampled data, ties included."""
    rng = np.random.default_rng(7)
    n = 40
    x = np.round(rng.normal(size=n), 1)
    y = np.round(x + rng.normal(size=n), 1)
    indices = rng.integers(0, n, size=(6, n))
    counts = metrics.counts_from_indices(indices, n)
    np.testing.assert_allclose(metrics.weighted_spearman(x, y, counts),
                               [stats.spearmanr(x[i], y[i])[0] for i in indices], atol=1e-12)
    np.testing.assert_allclose(metrics.weighted_pearson(x, y, counts),
                               [stats.pearsonr(x[i], y[i])[0] for i in indices], atol=1e-12)
    np.testing.assert_allclose(metrics.weighted_auroc(x > 0, y, counts),
                               [roc_auc_score(x[i] > 0, y[i]) for i in indices], atol=1e-12)


@pytest.mark.parametrize("decimals", [1, 6], ids=["many ties", "few ties"])
def test_weighted_ranks_equal_rankdata_on_many_points(decimals):
    """300 points in 20 resamples, with ties in groups of every size or hardly any: scipy's ranks exactly."""
    rng = np.random.default_rng(11)
    values = np.round(rng.normal(size=300), decimals)
    indices = rng.integers(0, 300, size=(20, 300))
    ranks = metrics.weighted_ranks(values, metrics.counts_from_indices(indices, 300))
    for row, idx in zip(ranks, indices, strict=True):
        np.testing.assert_array_equal(row[idx], stats.rankdata(values[idx]))


def test_weighted_ranks_equal_rankdata():
    """Ranks of each resample's points equal scipy's average ranks of the resampled copies."""
    values = np.array([3.0, 1.0, 3.0, 2.0, 5.0])
    indices = np.array([[0, 0, 1, 3, 4], [2, 2, 2, 1, 1]])
    ranks = metrics.weighted_ranks(values, metrics.counts_from_indices(indices, 5))
    for row, idx in zip(ranks, indices, strict=True):
        np.testing.assert_allclose(row[idx], stats.rankdata(values[idx]))


def test_bootstrap_interval_covers_known_rho():
    """A bivariate normal with rho 0.5 and n = 4,000: both 95% intervals contain 0.5 (Spearman's is 6/pi asin(0.25))."""
    rng = np.random.default_rng(11)
    xy = rng.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=4000)
    out = metrics.bootstrap_intervals(xy[:, 0], xy[:, 1], n_boot=300)
    lo, hi = out["pearson_ci"]
    assert lo < 0.5 < hi
    spearman_truth = 6 / np.pi * np.arcsin(0.25)
    lo, hi = out["spearman_ci"]
    assert lo < spearman_truth < hi
    assert out["n_bootstrap"] == 300


def test_bootstrap_intervals_contain_point_estimates(gtex):
    """On real data each interval contains its point estimate; the correlations' intervals have width.

    log2_aFC never disagrees in sign with slope here, so sign auROC and its whole interval are exactly 1.
    """
    out = metrics.summarize(gtex["slope"], gtex["log2_aFC"], n_boot=300)
    for key in ("spearman", "pearson", "sign_auroc"):
        lo, hi = out[f"{key}_ci"]
        assert lo <= out[key] <= hi
    assert out["spearman_ci"][1] - out["spearman_ci"][0] > 0.01
    assert out["pearson_ci"][1] - out["pearson_ci"][0] > 0.01
    assert out["sign_auroc"] == out["sign_auroc_ci"][0] == out["sign_auroc_ci"][1] == 1.0


def test_bootstrap_is_reproducible():
    """The fixed seed gives the same interval twice."""
    x = np.arange(30.0)
    y = x + np.sin(x) * 5
    assert metrics.bootstrap_intervals(x, y, n_boot=100) == metrics.bootstrap_intervals(x, y, n_boot=100)


def test_intervals_do_not_depend_on_the_order_of_the_rows(gtex):
    """Units are drawn by name, not by where their rows sit: the report (rows by chromosome partition) and the local
    model's metadata (rows in the dsQTL table's order) give the same interval on the same variants."""
    shuffled = gtex.sample(frac=1.0, random_state=7)
    a = metrics.summarize(gtex["slope"], gtex["log2_aFC"], units=gtex["variant_id"], n_boot=200, with_null=False)
    b = metrics.summarize(shuffled["slope"], shuffled["log2_aFC"], units=shuffled["variant_id"], n_boot=200,
                          with_null=False)
    for key in ("spearman_ci", "pearson_ci", "sign_agreement_ci", "sign_auroc_ci"):
        assert a[key] == pytest.approx(b[key], abs=1e-12), key


def test_large_inputs_draw_fewer_resamples():
    """Above 20 K units the resample count shrinks to bound the work, never below 200."""
    assert metrics.effective_resamples(5_000) == 1000
    assert metrics.effective_resamples(100_000) == 200
    assert metrics.effective_resamples(1_000_000) == 200
    assert metrics.effective_resamples(10_000, max_cells=5_000_000) == 500


def test_summarize_strong_half(gtex):
    """sign_auroc_strong is the sign auROC over units with |effect| at or above the median |effect|."""
    out = metrics.summarize(gtex["slope"], gtex["log2_aFC"], n_boot=50)
    strong = gtex["slope"].abs() >= gtex["slope"].abs().median()
    assert out["n_strong"] == int(strong.sum())
    assert out["sign_auroc_strong"] == pytest.approx(
        roc_auc_score(gtex.loc[strong, "slope"] > 0, gtex.loc[strong, "log2_aFC"]))


def test_sign_agreement_by_hand():
    """Three of four signs agree; a zero effect has no sign and a zero score counts half."""
    effect = np.array([1.0, -2.0, 0.5, -1.0, 0.0])
    score = np.array([0.3, -0.1, -0.2, 0.0, 5.0])
    # agree, agree, disagree, half (score 0); the zero effect is left out: (1 + 1 + 0 + 0.5) / 4
    assert metrics.sign_agreement(effect, score) == pytest.approx(0.625)


def test_repeating_every_row_ten_times_changes_neither_units_nor_interval_nor_p(gtex):
    """The unit, not the row, is resampled: ten copies of every row in its own gene give the same n_units, the
    same interval and the same p-value; only n (rows) grows."""
    rng = np.random.default_rng(3)
    effect = gtex["slope"].to_numpy()
    score = effect + rng.normal(scale=0.5, size=len(effect))
    genes = gtex["gene_id"].to_numpy()
    once = metrics.summarize(effect, score, units=genes, n_boot=400)
    copies = np.repeat(np.arange(len(effect)), 10)
    ten = metrics.summarize(effect[copies], score[copies], units=genes[copies], n_boot=400)
    assert (once["n"], ten["n"]) == (120, 1200)
    assert once["n_units"] == ten["n_units"] == 120
    width = once["spearman_ci"][1] - once["spearman_ci"][0]
    assert ten["spearman_ci"][1] - ten["spearman_ci"][0] == pytest.approx(width, rel=0.05)
    assert math.floor(math.log10(ten["spearman_p"])) == math.floor(math.log10(once["spearman_p"]))


def test_resampling_rows_of_repeated_units_would_overstate_certainty(gtex):
    """Without the unit, the same ten copies look like 1,200 independent rows: an interval three times narrower
    and a p-value a hundred orders of magnitude smaller. This is what the row bootstrap reported before."""
    rng = np.random.default_rng(3)
    effect = gtex["slope"].to_numpy()
    score = effect + rng.normal(scale=0.5, size=len(effect))
    copies = np.repeat(np.arange(len(effect)), 10)
    by_gene = metrics.summarize(effect[copies], score[copies], units=gtex["gene_id"].to_numpy()[copies], n_boot=400)
    by_row = metrics.summarize(effect[copies], score[copies], n_boot=400)
    assert by_row["n_units"] == 1200
    by_gene_width = by_gene["spearman_ci"][1] - by_gene["spearman_ci"][0]
    assert by_row["spearman_ci"][1] - by_row["spearman_ci"][0] < by_gene_width / 2.5
    assert by_row["spearman_p"] < by_gene["spearman_p"] * 1e-100


def test_unit_level_pvalues_are_scipy_on_unit_means():
    """With several rows per unit the p-value is scipy's over each unit's mean effect and mean score."""
    effect = np.array([1.0, 1.2, -0.5, -0.7, 2.0, 0.1, 0.3, -1.0, 0.8])
    score = np.array([0.5, 0.9, -0.1, 0.2, 1.1, 0.0, 0.4, -0.6, 0.2])
    units = np.array(["a", "a", "b", "b", "c", "d", "d", "e", "f"])
    frame = pd.DataFrame({"u": units, "x": effect, "y": score}).groupby("u", sort=False).mean()
    out = metrics.unit_level_pvalues(effect, score, units)
    assert out["spearman_p"] == pytest.approx(stats.spearmanr(frame["x"], frame["y"])[1])
    assert out["pearson_p"] == pytest.approx(stats.pearsonr(frame["x"], frame["y"])[1])


def test_permutation_null_is_centred_on_chance_and_rejects_a_real_signal(gtex):
    """Shuffled scores give Spearman around 0 and sign agreement around 0.5; a real signal lies above the null."""
    out = metrics.permutation_null(gtex["slope"], gtex["log2_aFC"], units=gtex["gene_id"], n_perm=500)
    assert abs(out["spearman"]["null_mean"]) < 0.03
    assert abs(out["sign_agreement"]["null_mean"] - 0.5) < 0.03
    assert out["spearman"]["null_high"] < out["spearman"]["observed"]
    assert out["spearman"]["p"] == pytest.approx(1 / 501)


def test_permutation_null_does_not_reject_noise():
    """Scores unrelated to the effect sit inside the null: the permutation p-value is not small."""
    rng = np.random.default_rng(5)
    out = metrics.permutation_null(rng.normal(size=300), rng.normal(size=300), n_perm=500)
    assert out["spearman"]["null_low"] < out["spearman"]["observed"] < out["spearman"]["null_high"]
    assert out["spearman"]["p"] > 0.05


@pytest.mark.parametrize("zeros", [0, 7], ids=["every effect signed", "some effects zero"])
def test_the_sign_auroc_null_is_sklearns_auroc_of_each_shuffle(zeros):
    """The null of sign auROC, from ranks (permuted ranks when no effect is zero, ranked anew when some are), equals
    sklearn's auROC of each shuffle of the scores, drawn with the same seed."""
    rng = np.random.default_rng(9)
    x, y = np.round(rng.normal(size=60), 1), np.round(rng.normal(size=60), 1)  # ties in both
    x[x == 0] = 0.1
    x[:zeros] = 0.0
    assert (x == 0).sum() == zeros
    out = metrics.permutation_null(x, y, n_perm=400, seed=17)["sign_auroc"]
    order = np.argsort(np.random.default_rng(17).random((400, 60)), axis=1)
    naive = np.array([metrics.sign_auroc(x, y[o]) for o in order])
    assert out["n_permutations"] == 400
    assert out["null_mean"] == pytest.approx(naive.mean(), abs=1e-12)
    assert [out["null_low"], out["null_high"]] == pytest.approx(list(np.percentile(naive, [2.5, 97.5])), abs=1e-12)


def test_tags_of_one_gene_coded_on_opposite_alleles_do_not_cancel(gtex):
    """Each of 120 real genes gets two LD tags: the lead, and a second tag of a somewhat smaller or larger effect
    read from the other allele, (-effect, -score). Plain unit means cancelled them (the interval stayed high while
    p was 0.85); oriented within the gene, the unit-level p and the permutation p are those of one tag per gene."""
    rng = np.random.default_rng(8)
    effect, score, genes = gtex["slope"].to_numpy(), gtex["log2_aFC"].to_numpy(), gtex["gene_id"].to_numpy()
    tag_effect = effect * rng.uniform(0.5, 1.5, len(effect))
    tag_score = score * rng.uniform(0.5, 1.5, len(score))
    two = metrics.summarize(np.r_[effect, -tag_effect], np.r_[score, -tag_score], units=np.r_[genes, genes],
                            n_boot=200)
    one = metrics.summarize(effect, score, units=genes, n_boot=200)
    assert two["spearman_ci"][0] > 0.8
    assert two["spearman_p"] < 1e-30 and one["spearman_p"] < 1e-30
    assert two["null"]["spearman"]["p"] == pytest.approx(1 / 201)


def test_unit_summaries_orient_rows_like_the_units_strongest_row():
    """Gene a: rows (2, 1) and (-1, -3), the second read from the other allele: summary (1.5, 2). Gene b: one row
    (-1, 0.5) stays as it is."""
    codes = np.array([0, 0, 1])
    x, y = metrics.unit_summaries(np.array([2.0, -1.0, -1.0]), np.array([1.0, -3.0, 0.5]), codes, 2)
    assert x.tolist() == [1.5, -1.0] and y.tolist() == [2.0, 0.5]


def test_the_permutation_p_is_two_sided():
    """Scores that reverse the effects lie far below the null: a two-sided p as small as the shuffles allow (a
    one-sided p, that the value is above the null, was 1)."""
    x = np.linspace(-2, 3, 80)
    out = metrics.permutation_null(x, -x + np.sin(x), n_perm=300)
    assert out["spearman"]["alternative"] == "two-sided"
    assert out["spearman"]["p"] == pytest.approx(1 / 301)
    assert out["sign_agreement"]["p"] == pytest.approx(1 / 301)


def test_the_calibration_slope_is_one_where_the_score_is_on_the_effects_scale():
    """Effect = score + noise: the least-squares slope of the effect on the score is 1 (0.5 for half the scale)."""
    rng = np.random.default_rng(7)
    score = rng.normal(size=2_000)
    effect = score + rng.normal(scale=0.1, size=2_000)
    assert metrics.summarize(effect, score, n_boot=10, with_null=False)["calibration_slope"] == pytest.approx(1, abs=0.02)
    assert metrics.calibration_slope(effect, 2 * score) == pytest.approx(0.5, abs=0.01)
    assert math.isnan(metrics.calibration_slope(effect[:5], np.zeros(5)))
