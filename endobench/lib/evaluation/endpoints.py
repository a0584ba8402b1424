"""What a headline number is worth: the primary endpoint, its power, the noise ceiling and the multiple-testing
adjustment.

- The primary endpoint does not depend on which allele a table calls ALT. Every row is oriented by its measured
  effect (the pair (effect, score) read from the allele that raises the measurement: (|effect|,
  score x sign(effect))), and each unit's oriented rows are averaged. *Direction* is the share of units whose
  oriented score is positive (sign agreement), with an exact binomial (Clopper-Pearson) interval and an exact
  two-sided binomial test against 0.5; units whose oriented score is exactly 0 call no direction and are counted.
  *Magnitude* is the Spearman correlation of the units' |effect| with their oriented score, with the cluster
  bootstrap interval and the two-sided permutation test of `metrics`.
- The minimum detectable effect (MDE) is the smallest true Spearman correlation a test of n independent units
  detects with 80% power at a two-sided 0.05 level: tanh((z_0.975 + z_0.8) x sqrt(1.06 / (n - 3))), Fisher's z
  with the variance of Spearman's z, 1.06 / (n - 3) (Fieller, Hartley and Pearson 1957). For sign agreement it is
  the smallest true agreement the exact binomial test detects with that power.
- The noise ceiling bounds what any predictor can reach against effects measured with error. With measured
  effects b = beta + e, noise e independent of beta and of the predictor, Var(e_i) = se_i^2: the reliability is
  R = (Var(b) - mean(se^2)) / Var(b), and no predictor's Pearson correlation with b exceeds sqrt(R) (the
  attenuation bound: corr(s, b) = corr(s, beta) sqrt(R)). Spearman's bound is 6/pi asin(sqrt(R) / 2) when beta
  and b are jointly normal; sign agreement's is the mean over units of Phi(|beta_i| / se_i), estimated with |b_i|
  for |beta_i| (optimistic for effects selected as significant); the magnitude endpoint's is Spearman's bound with
  the reliability of |b| (Var(|b|) - mean(se^2)) / Var(|b|), which holds when effects lie well away from 0.
- Holm's step-down adjustment of the headline rows' p-values, which controls the family-wise error rate.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from endobench.lib.evaluation.metrics import (
    BOOTSTRAP_SEED,
    CI_LEVEL,
    N_BOOTSTRAP,
    TWO_SIDED,
    bootstrap_intervals,
    permutation_null,
    unit_codes,
    unit_means,
)
from endobench.lib.truth_sets.catalog import DIRECTION, MAGNITUDE

ENDPOINTS = {
    DIRECTION: "sign agreement",
    MAGNITUDE: "Spearman of |effect| with the oriented score",
}
ALPHA = 0.05
POWER = 0.8
# The variance of Fisher's z of Spearman's correlation is about 1.06 / (n - 3) (Fieller, Hartley and Pearson 1957).
SPEARMAN_Z_VARIANCE = 1.06


def oriented_units(effect: np.ndarray, score: np.ndarray, units: object = None) -> dict[str, object]:
    """Each unit's mean |effect| and mean oriented score (score x sign(effect)), over its finite rows.

    Rows with effect exactly 0 have no direction: they are left out and counted (`n_no_direction`). Recoding any
    row on the other allele, (effect, score) -> (-effect, -score), changes neither value.
    """
    x, y = np.asarray(effect, dtype=float), np.asarray(score, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    keep = finite & (x != 0)
    kept_units = None if units is None else np.asarray(units, dtype=object)[keep]
    codes, n_units = unit_codes(kept_units, int(keep.sum()))
    return {"magnitude": unit_means(np.abs(x[keep]), codes, n_units),
            "oriented_score": unit_means(y[keep] * np.sign(x[keep]), codes, n_units),
            "n_no_direction": int((finite & (x == 0)).sum())}


def primary_endpoint(
    effect: np.ndarray, score: np.ndarray, *, units: object = None, endpoint: str = DIRECTION,
    n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
) -> dict[str, object]:
    """The primary endpoint (`DIRECTION` or `MAGNITUDE`, see the module docstring) of one set of rows.

    Keys: endpoint, metric (in words), value, ci, p (two-sided), test, n_units, mde (on the endpoint's scale),
    chance, null (the central 95% range of the value under no association), n_no_direction, and for direction
    n_agree and n_no_call.
    """
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown primary endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
    oriented = oriented_units(effect, score, units)
    magnitude, score_u = oriented["magnitude"], oriented["oriented_score"]
    out: dict[str, object] = {"endpoint": endpoint, "metric": ENDPOINTS[endpoint], "value": math.nan,
                              "ci": [math.nan, math.nan], "p": math.nan, "alternative": TWO_SIDED,
                              "n_no_direction": oriented["n_no_direction"]}
    if endpoint == DIRECTION:
        n_agree, n_disagree = int((score_u > 0).sum()), int((score_u < 0).sum())
        n = n_agree + n_disagree
        out.update(test="exact binomial against 0.5", chance=0.5, n_units=n, n_agree=n_agree,
                   n_no_call=int(len(score_u) - n), mde=sign_agreement_mde(n), null=[math.nan, math.nan])
        if n:
            test = stats.binomtest(n_agree, n, 0.5)
            interval = test.proportion_ci(confidence_level=CI_LEVEL, method="exact")
            tail = (1 - CI_LEVEL) / 2
            out.update(value=n_agree / n, ci=[float(interval.low), float(interval.high)], p=float(test.pvalue),
                       null=[float(stats.binom.ppf(tail, n, 0.5) / n), float(stats.binom.isf(tail, n, 0.5) / n)])
        return out
    n = len(magnitude)
    out.update(test="permutation of scores between units", chance=0.0, n_units=n, mde=spearman_mde(n),
               null=[math.nan, math.nan])
    if n >= 3 and np.ptp(magnitude) > 0 and np.ptp(score_u) > 0:
        out["value"] = float(stats.spearmanr(magnitude, score_u)[0])
        out["ci"] = bootstrap_intervals(magnitude, score_u, n_boot=n_boot, seed=seed)["spearman_ci"]
        null = permutation_null(magnitude, score_u, n_perm=n_boot, seed=seed)["spearman"]
        out.update(p=null["p"], null=[null["null_low"], null["null_high"]])
    return out


def spearman_mde(n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The Spearman correlation detectable with `power` at two-sided `alpha` from n independent units (NaN when
    n <= 3)."""
    if n <= 3:
        return math.nan
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(math.tanh(z * math.sqrt(SPEARMAN_Z_VARIANCE / (n - 3))))


def sign_agreement_mde(n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The true sign agreement the exact two-sided binomial test against 0.5 detects with `power` at `alpha` from n
    units; NaN when no outcome of n units can reach `alpha` (n <= 5 at 0.05)."""
    if n < 1:
        return math.nan
    # Against 0.5 the two-sided exact p of k >= n/2 agreements is 2 P(K >= k), so the test rejects from k_min on.
    k = np.arange(math.ceil(n / 2), n + 1)
    rejects = k[np.minimum(1.0, 2 * stats.binom.sf(k - 1, n, 0.5)) <= alpha]
    if not len(rejects):
        return math.nan
    k_min = int(rejects[0])

    def shortfall(p: float) -> float:
        return stats.binom.sf(k_min - 1, n, p) + stats.binom.cdf(n - k_min, n, p) - power

    if shortfall(1.0) < 0:
        return math.nan
    return float(optimize.brentq(shortfall, 0.5, 1.0, xtol=1e-9))


def noise_ceiling(effect: np.ndarray, se: np.ndarray) -> dict[str, float]:
    """The attenuation bound of effects measured with standard errors `se` (formulas in the module docstring).

    Keys: n, reliability, pearson, spearman, sign_agreement, magnitude (the bounds), var_observed, mean_se2.
    NaN without at least 3 rows with a finite effect and a positive finite standard error; a reliability below 0
    (noise larger than the spread) is reported as 0.
    """
    x, s = np.asarray(effect, dtype=float), np.asarray(se, dtype=float)
    keep = np.isfinite(x) & np.isfinite(s) & (s > 0)
    x, s = x[keep], s[keep]
    out = {"n": int(len(x)), "reliability": math.nan, "pearson": math.nan, "spearman": math.nan,
           "sign_agreement": math.nan, "magnitude": math.nan, "var_observed": math.nan, "mean_se2": math.nan}
    if len(x) < 3 or np.ptp(x) == 0:
        return out
    noise = float(np.mean(s ** 2))
    var_observed = float(np.var(x, ddof=1))
    reliability = max(0.0, (var_observed - noise) / var_observed)
    var_abs = float(np.var(np.abs(x), ddof=1))
    reliability_abs = max(0.0, (var_abs - noise) / var_abs) if var_abs > 0 else math.nan
    out.update(reliability=reliability, var_observed=var_observed, mean_se2=noise,
               pearson=math.sqrt(reliability), spearman=_spearman_of_normal(math.sqrt(reliability)),
               sign_agreement=float(np.mean(stats.norm.cdf(np.abs(x) / s))),
               magnitude=_spearman_of_normal(math.sqrt(reliability_abs)) if math.isfinite(reliability_abs)
               else math.nan)
    return out


def _spearman_of_normal(pearson: float) -> float:
    """Spearman's correlation of a bivariate normal with Pearson correlation `pearson`: 6/pi asin(r / 2)."""
    return float(6 / math.pi * math.asin(pearson / 2))


def ceiling_of(endpoint: str, ceiling: dict[str, float]) -> float:
    """The noise ceiling on the scale of a primary endpoint."""
    return ceiling.get("sign_agreement" if endpoint == DIRECTION else "magnitude", math.nan)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given; NaN stays NaN and does not count as a test."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(len(p), math.nan)
    tested = np.flatnonzero(np.isfinite(p))
    m = len(tested)
    running = 0.0
    for rank, index in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()
