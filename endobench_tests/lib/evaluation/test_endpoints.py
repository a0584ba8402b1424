"""The primary endpoint, the minimum detectable effect, the noise ceiling and Holm's adjustment, each against an
independent computation (scipy's exact tests, a simulation with a known truth, a hand calculation)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from endobench.lib.evaluation import endpoints
from endobench.lib.truth_sets.catalog import DIRECTION, MAGNITUDE


def test_direction_is_an_exact_binomial_on_oriented_units():
    """Ten units, one row each: 8 scores agree in sign with the effect, 1 disagrees, 1 is exactly 0 (no call).
    The value, the Clopper-Pearson interval and the p are scipy's exact binomial ones for 8 of 9."""
    effect = np.array([1.0, -2.0, 0.5, -0.3, 2.0, 1.5, -1.0, 0.7, -0.8, 0.4])
    score = np.array([0.2, -1.0, 0.1, -0.2, 0.3, 0.4, -0.5, -0.1, -0.2, 0.0])
    out = endpoints.primary_endpoint(effect, score, endpoint=DIRECTION)
    assert (out["n_units"], out["n_agree"], out["n_no_call"]) == (9, 8, 1)
    assert out["value"] == pytest.approx(8 / 9)
    assert out["ci"] == pytest.approx([stats.beta.ppf(0.025, 8, 2), stats.beta.ppf(0.975, 9, 1)])
    assert out["p"] == pytest.approx(stats.binomtest(8, 9).pvalue)
    assert out["alternative"] == "two-sided" and out["metric"] == "sign agreement"


def test_magnitude_is_the_spearman_of_abs_effect_with_the_oriented_score():
    rng = np.random.default_rng(4)
    effect = rng.normal(size=200)
    score = effect * 0.5 + rng.normal(size=200)
    out = endpoints.primary_endpoint(effect, score, endpoint=MAGNITUDE, n_boot=200)
    assert out["value"] == pytest.approx(stats.spearmanr(np.abs(effect), score * np.sign(effect))[0])
    assert out["ci"][0] < out["value"] < out["ci"][1]
    assert out["n_units"] == 200 and out["p"] < 0.01


@settings(max_examples=60, deadline=None)
@given(data=st.data(), endpoint=st.sampled_from([DIRECTION, MAGNITUDE]))
def test_recoding_units_on_the_other_allele_changes_nothing(data, endpoint):
    """Any rows recoded on the other allele, (effect, score) -> (-effect, -score): the same primary endpoint, its
    interval and its p, to the last bit."""
    n = data.draw(st.integers(4, 40), label="rows")
    finite = st.floats(-5, 5, allow_nan=False).filter(lambda v: abs(v) > 1e-3)
    effect = np.array(data.draw(st.lists(finite, min_size=n, max_size=n), label="effect"))
    score = np.array(data.draw(st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n), label="score"))
    units = np.array(data.draw(st.lists(st.integers(0, n // 2), min_size=n, max_size=n), label="units"))
    flip = np.where(data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="recoded"), -1.0, 1.0)
    as_given = endpoints.primary_endpoint(effect, score, units=units, endpoint=endpoint, n_boot=50)
    recoded = endpoints.primary_endpoint(effect * flip, score * flip, units=units, endpoint=endpoint, n_boot=50)
    for key in ("value", "ci", "p", "n_units"):
        assert np.array_equal(np.asarray(as_given[key], float), np.asarray(recoded[key], float), equal_nan=True)


def test_a_unit_of_tags_coded_on_opposite_alleles_keeps_its_direction():
    """Two rows of one gene, the second coded on the other allele: the gene is one unit that agrees."""
    out = endpoints.primary_endpoint([0.5, -0.4], [0.2, -0.3], units=["g", "g"])
    assert (out["n_units"], out["n_agree"]) == (1, 1)


@pytest.mark.parametrize("n", [10, 28, 41, 103, 2667])
def test_spearman_mde_is_fishers_z_with_spearmans_variance(n):
    """tanh((z_0.975 + z_0.8) sqrt(1.06 / (n - 3))): 0.797 at 10 units, 0.056 at 2,667."""
    expected = math.tanh((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * math.sqrt(1.06 / (n - 3)))
    assert endpoints.spearman_mde(n) == pytest.approx(expected)
    assert endpoints.spearman_mde(10) == pytest.approx(0.797, abs=1e-3)


@pytest.mark.parametrize("n", [6, 10, 36, 93])
def test_sign_agreement_mde_has_80_percent_power_under_the_exact_test(n):
    """At the MDE the exact two-sided binomial test (scipy's p <= 0.05) rejects with probability 0.8."""
    mde = endpoints.sign_agreement_mde(n)
    rejects = np.array([stats.binomtest(k, n).pvalue <= 0.05 for k in range(n + 1)])
    assert stats.binom.pmf(np.arange(n + 1), n, mde)[rejects].sum() == pytest.approx(0.8, abs=1e-6)


def test_no_sign_test_of_five_units_can_reject():
    assert math.isnan(endpoints.sign_agreement_mde(5)) and math.isnan(endpoints.spearman_mde(3))


def test_the_noise_ceiling_is_what_a_perfect_predictor_reaches():
    """Effects measured with known standard errors: the truth itself, as a predictor, correlates with the noisy
    measurement exactly as far as the ceiling says (Pearson sqrt(R), Spearman 6/pi asin(sqrt(R)/2), sign
    agreement mean Phi(|b|/se), up to the plug-in's optimism), and no noisy predictor gets further."""
    rng = np.random.default_rng(12)
    n = 40_000
    beta = rng.normal(0, 1.0, n)
    se = rng.uniform(0.3, 0.9, n)
    measured = beta + rng.normal(0, se)
    ceiling = endpoints.noise_ceiling(measured, se)
    assert ceiling["reliability"] == pytest.approx(1 / (1 + np.mean(se ** 2)), abs=0.01)
    assert ceiling["pearson"] == pytest.approx(stats.pearsonr(beta, measured)[0], abs=0.01)
    assert ceiling["spearman"] == pytest.approx(stats.spearmanr(beta, measured)[0], abs=0.015)
    assert ceiling["sign_agreement"] >= np.mean(np.sign(beta) == np.sign(measured)) - 0.005
    noisy_predictor = beta + rng.normal(0, 0.5, n)
    assert stats.pearsonr(noisy_predictor, measured)[0] < ceiling["pearson"]


def test_noise_larger_than_the_spread_gives_a_ceiling_of_zero():
    ceiling = endpoints.noise_ceiling([0.1, -0.1, 0.2, 0.0], [1.0, 1.0, 1.0, 1.0])
    assert ceiling["reliability"] == 0.0 and ceiling["pearson"] == 0.0
    assert math.isnan(endpoints.noise_ceiling([0.1, 0.2, 0.3], [np.nan] * 3)["pearson"])


def test_holm_by_hand():
    """p = 0.01, 0.04, 0.03 (m = 3): 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04, raised to 0.06."""
    assert endpoints.holm([0.01, 0.04, math.nan, 0.03]) == pytest.approx([0.03, 0.06, math.nan, 0.06], nan_ok=True)
    assert endpoints.holm([0.5, 0.9]) == [1.0, 1.0]
