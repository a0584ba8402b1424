"""How well predicted effects track measured ones: correlations, sign agreement and sign auROC, with intervals
and p-values that respect the independent unit.

Rows are not always independent. In an eQTL truth set a row is a variant-gene pair: one gene carries many LD-tag
variants, one variant serves several genes. So every metric takes a unit (the gene for eQTL truth sets, the
variant for accessibility truth sets): the bootstrap resamples units with all their rows (a cluster bootstrap),
and p-values and the permutation null are computed over unit-level summaries (the mean effect and the mean
score of each unit, every row first oriented like its unit's strongest row, so that tags of one gene coded on
opposite alleles add up instead of cancelling). A table whose rows are each repeated ten times therefore gets the
same intervals and p-values as the table itself.

The bootstrap draws resamples as multinomial counts of units and computes each statistic as a count-weighted
statistic over the original rows, which equals the statistic on the resampled rows (ties from repeated rows
included) without building and sorting one copy of the data per resample: the data are sorted once, each
resample costs a few linear passes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

N_BOOTSTRAP = 1000
N_PERMUTATIONS = 1000
BOOTSTRAP_SEED = 20_250_101
CI_LEVEL = 0.95
# Resamples per chunk are chosen so that one chunk holds about this many counts (memory stays ~100 MB).
_CHUNK_CELLS = 2_000_000
# Above 20 K rows the resample count shrinks (never below 200) to bound the work at about 20 M cells:
# intervals that narrow are stable with a few hundred resamples, and 1,000 x 100 K took half a minute
# on a loaded 2-core machine.
_MAX_BOOTSTRAP_CELLS = 20_000_000
MIN_BOOTSTRAP = 200
SIGNED_METRICS = ("spearman", "pearson", "sign_auroc", "sign_agreement")
# What each signed metric is worth by chance: the centre of a two-sided test.
CHANCE = {"spearman": 0.0, "pearson": 0.0, "sign_auroc": 0.5, "sign_agreement": 0.5}
TWO_SIDED = "two-sided"


def _finite_pairs(effect: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(effect, dtype=float)
    y = np.asarray(score, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def correlations(effect: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """n, Spearman and Pearson correlation of measured `effect` and predicted `score`, with two-sided p-values.

    The p-values treat every row as independent; `summarize` replaces them by unit-level ones. Pairs where either
    value is not finite are left out. Fewer than 3 pairs, or a constant column, give NaN (a correlation is
    undefined there) rather than an error.
    """
    x, y = _finite_pairs(effect, score)
    out = {"n": int(len(x)), "spearman": math.nan, "spearman_p": math.nan, "pearson": math.nan, "pearson_p": math.nan}
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho, rho_p = stats.spearmanr(x, y)
        r, r_p = stats.pearsonr(x, y)
    out.update(spearman=float(rho), spearman_p=float(rho_p), pearson=float(r), pearson_p=float(r_p))
    return out


def sign_auroc(effect: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of `score` for telling ALT-increasing (effect > 0) from ALT-decreasing variants.

    0.5 is chance, 1.0 means every positive-effect variant scores above every negative-effect one. Rows with
    effect exactly 0 have no sign and are left out. NaN when either sign is absent.
    """
    x, y = _finite_pairs(effect, score)
    signed = x != 0
    x, y = x[signed], y[signed]
    labels = x > 0
    if labels.all() or not labels.any():
        return math.nan
    return float(roc_auc_score(labels, y))


def sign_agreement(effect: np.ndarray, score: np.ndarray) -> float:
    """Share of rows whose predicted score has the sign of the measured effect (0.5 is chance).

    Rows with effect exactly 0 have no sign and are left out; a score of exactly 0 calls no sign and counts half.
    NaN without a signed row.
    """
    x, y = _finite_pairs(effect, score)
    signed = x != 0
    if not signed.any():
        return math.nan
    return float(_agreement(x[signed], y[signed]).mean())


def _agreement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 where the signs agree, 0 where they differ, 0.5 where the score is 0 (x must be non-zero)."""
    return np.where(y == 0, 0.5, (np.sign(x) == np.sign(y)).astype(float))


@dataclass(frozen=True)
class UnitCodes:
    """Rows' units as `unit_codes` numbered them: given as `units`, they are passed on, not hashed again."""

    codes: np.ndarray
    n_units: int


def unit_codes(units: object, n: int) -> tuple[np.ndarray, int]:
    """Integer code of each row's unit and the number of units; no units means every row is its own unit.

    A row whose unit is missing is a unit of its own (it cannot be tied to any other row). Units are numbered in
    sorted order where they sort, so a bootstrap draws the same units whatever the order of the rows: the report and
    the local model's metadata give the same interval on the same variants.
    """
    if units is None:
        return np.arange(n, dtype=np.int64), n
    if isinstance(units, UnitCodes):
        return units.codes, units.n_units
    labels = pd.Series(np.asarray(units, dtype=object))
    try:
        codes, uniques = pd.factorize(labels, use_na_sentinel=True, sort=True)
    except TypeError:  # units of mixed types do not sort: numbered as they come
        codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    missing = codes < 0
    if missing.any():
        codes = codes.copy()
        codes[missing] = len(uniques) + np.arange(int(missing.sum()))
    return codes.astype(np.int64), int(codes.max()) + 1 if n else 0


def _kept_units(units: object, keep: np.ndarray) -> object:
    """The units of the rows `keep` selects; coded units stay coded when every row is kept."""
    if units is None:
        return None
    if isinstance(units, UnitCodes):
        return units if keep.all() else units.codes[keep]
    return np.asarray(units, dtype=object)[keep]


def unit_means(values: np.ndarray, codes: np.ndarray, n_units: int) -> np.ndarray:
    """The mean of `values` within each unit (the unit-level summary p-values are computed on)."""
    sums = np.bincount(codes, weights=values, minlength=n_units)
    sizes = np.bincount(codes, minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / sizes


def unit_summaries(effect: np.ndarray, score: np.ndarray, codes: np.ndarray,
                   n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's mean effect and mean score, every row first oriented like the unit's strongest row.

    Which allele a row calls ALT is arbitrary: two LD tags of one gene may be coded on opposite alleles, so their
    (effect, score) pairs point in opposite directions and plain means cancel. A row whose effect has the other
    sign than the unit's largest |effect| is taken as (-effect, -score), the same pair read from the other allele;
    the unit summary then changes under recoding only when the strongest row itself is recoded, and then the whole
    unit flips, exactly as a unit of one row does. Rows with effect 0 have no direction and are kept as they are.
    """
    effect = np.asarray(effect, dtype=float)
    score = np.asarray(score, dtype=float)
    if not len(effect):
        return unit_means(effect, codes, n_units), unit_means(score, codes, n_units)
    strongest = np.lexsort((-np.abs(effect), codes))
    first = np.r_[True, codes[strongest][1:] != codes[strongest][:-1]]
    unit_sign = np.ones(n_units)
    unit_sign[codes[strongest][first]] = np.sign(effect[strongest][first])
    unit_sign[unit_sign == 0] = 1.0
    flip = np.where((effect != 0) & (np.sign(effect) != unit_sign[codes]), -1.0, 1.0)
    return unit_means(effect * flip, codes, n_units), unit_means(score * flip, codes, n_units)


def bootstrap_counts(n: int, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
                     rows_per_draw: int | None = None) -> Iterator[np.ndarray]:
    """Resamples with replacement of n units, as chunks of count matrices (resamples x n, each row sums to n).

    `rows_per_draw` (the number of rows the units stand for) sizes the chunks. The same seed always gives the
    same resamples, so intervals are reproducible run to run.
    """
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // max(1, rows_per_draw or n))
    done = 0
    while done < n_boot:
        b = min(per_chunk, n_boot - done)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(float)
        done += b


def counts_from_indices(indices: np.ndarray, n: int) -> np.ndarray:
    """The count matrix of explicit resample indices (resamples x draws); lets tests compare with a naive bootstrap."""
    b = indices.shape[0]
    flat = (np.asarray(indices) + (np.arange(b) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


class _Ranker:
    """The sort order and tie groups of one column, computed once and reused for every resample chunk."""

    def __init__(self, values: np.ndarray) -> None:
        self.order = np.argsort(values, kind="stable")
        sorted_values = values[self.order]
        new_group = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
        self.has_ties = not new_group.all()
        self.starts = np.flatnonzero(new_group)
        self.ends = np.r_[self.starts[1:], len(values)] - 1
        self.identity = not self.has_ties and bool((self.order == np.arange(len(values))).all())
        self.position = np.empty(len(values), dtype=np.intp)
        if self.has_ties:
            self.position[self.order] = np.cumsum(new_group) - 1
        else:
            self.position[self.order] = np.arange(len(values))

    def ranks(self, counts: np.ndarray) -> np.ndarray:
        if self.identity:
            # already sorted and tie-free: no gathers needed
            upto = np.cumsum(counts, axis=1)
            upto -= (counts - 1) / 2
            return upto
        ordered = counts[:, self.order]
        upto = np.cumsum(ordered, axis=1)
        if not self.has_ties:
            upto -= (ordered - 1) / 2
            return upto[:, self.position]
        # The mean of the ranks a tie group occupies: (ranks before it + ranks up to its end + 1) / 2. Read from the
        # running count at each group's end, it needs no sum per group (`np.add.reduceat` took twice as long).
        end = upto[:, self.ends]
        mean = np.empty_like(end)
        mean[:, 0] = 0
        mean[:, 1:] = end[:, :-1]
        mean += end
        mean += 1
        mean /= 2
        return mean[:, self.position]


def weighted_ranks(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) each point would get in each resample, given per-resample counts of each point.

    A point drawn k times occupies k consecutive ranks and gets their mean, exactly as `scipy.stats.rankdata`
    would give each copy; tied values share the mean rank of their whole group.
    """
    return _Ranker(np.asarray(values, dtype=float)).ranks(counts)


def weighted_pearson(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson correlation of x and y (both (n,)) per row of `weights`; NaN where constant.

    Computed from weighted moments with matrix products (no per-resample copies of centred data).
    """
    # Shifting by a global mean and scaling to unit size change no correlation, keep the moment sums well
    # conditioned and make the result the same at any scale (x 1e-7 no longer looks constant, x 1e100 no longer
    # overflows).
    x = _standardized(x)
    y = _standardized(y)
    total = weights.sum(axis=1)
    mx = weights @ x / total
    my = weights @ y / total
    cov = weights @ (x * y) / total - mx * my
    var_x = weights @ (x * x) / total - mx * mx
    var_y = weights @ (y * y) / total - my * my
    denominator = var_x * var_y
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denominator > 1e-24, cov / np.sqrt(np.abs(denominator)), np.nan)
    return np.clip(r, -1.0, 1.0)


def _standardized(values: np.ndarray) -> np.ndarray:
    """`values` centred on their mean and divided by their largest absolute deviation (a constant stays 0)."""
    values = np.asarray(values, dtype=float)
    scale = np.max(np.abs(values)) if len(values) else 0.0
    if scale > 0 and np.isfinite(scale):
        values = values / scale  # first, so the mean of values near the float limit does not overflow
    centred = values - values.mean() if len(values) else values
    spread = np.max(np.abs(centred)) if len(centred) else 0.0
    return centred / spread if spread > 0 else centred


def _rank_pearson(rank_x: np.ndarray, rank_y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pearson of within-resample ranks; their weighted mean is (n + 1) / 2 by construction, which saves passes."""
    total = counts.sum(axis=1)
    mean = (total + 1) / 2
    weighted_x = counts * rank_x
    cov = np.einsum("ij,ij->i", weighted_x, rank_y) / total - mean * mean
    var_x = np.einsum("ij,ij->i", weighted_x, rank_x) / total - mean * mean
    var_y = np.einsum("ij,ij->i", counts * rank_y, rank_y) / total - mean * mean
    denominator = var_x * var_y
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denominator > 0, cov / np.sqrt(np.abs(denominator)), np.nan)
    return np.clip(r, -1.0, 1.0)


def weighted_spearman(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Spearman correlation of each resample given by a row of `counts`: Pearson of the within-resample ranks."""
    return _rank_pearson(weighted_ranks(x, counts), weighted_ranks(y, counts), counts)


def _auroc_from_ranks(labels: np.ndarray, ranks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    weighted_labels = counts * labels
    pos = weighted_labels.sum(axis=1)
    neg = counts.sum(axis=1) - pos
    rank_sum = (weighted_labels * ranks).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((pos > 0) & (neg > 0), (rank_sum - pos * (pos + 1) / 2) / (pos * neg), np.nan)


def weighted_auroc(labels: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC AUC of `score` for boolean `labels` in each resample (Mann-Whitney form, ties counted half)."""
    return _auroc_from_ranks(np.asarray(labels, dtype=bool), weighted_ranks(score, counts), counts)


def auroc_interval(
    labels: np.ndarray, score: np.ndarray, *, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
    level: float = CI_LEVEL, max_cells: int = _MAX_BOOTSTRAP_CELLS,
) -> tuple[list[float], int]:
    """Percentile bootstrap interval of the ROC AUC of `score` for boolean `labels`, rows drawn with replacement,
    and how many resamples were drawn: as many as for every other interval (`effective_resamples`). The score is
    sorted once for all resamples."""
    labels = np.asarray(labels, dtype=bool)
    ranker = _Ranker(np.asarray(score, dtype=float))
    n_drawn = effective_resamples(len(labels), n_boot, max_cells)
    boots = [_auroc_from_ranks(labels, ranker.ranks(counts), counts)
             for counts in bootstrap_counts(len(labels), n_drawn, seed)]
    return _interval(np.concatenate(boots), level), n_drawn


def _interval(values: np.ndarray, level: float) -> list[float]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return [math.nan, math.nan]
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return [float(lo), float(hi)]


def effective_resamples(n: int, n_boot: int = N_BOOTSTRAP, max_cells: int = _MAX_BOOTSTRAP_CELLS) -> int:
    """Resamples actually drawn for n rows: `n_boot`, reduced when n x n_boot exceeds `max_cells` (never below 200)."""
    return int(min(n_boot, max(MIN_BOOTSTRAP, max_cells // max(1, n))))


def bootstrap_intervals(
    effect: np.ndarray, score: np.ndarray, *, units: object = None, n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED, level: float = CI_LEVEL, max_cells: int = _MAX_BOOTSTRAP_CELLS,
) -> dict[str, object]:
    """Percentile cluster-bootstrap intervals for Spearman, Pearson, sign auROC and sign agreement.

    Units (one label per row; None makes every row its own unit) are drawn with replacement and carry all their
    rows. Rows with a non-finite effect or score are left out first. Resamples where a statistic is undefined
    (constant column, one sign only) are left out of that statistic's interval. `n_bootstrap` says how many
    resamples were drawn (see `effective_resamples`).
    """
    x = np.asarray(effect, dtype=float)
    y = np.asarray(score, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    codes, n_units = unit_codes(_kept_units(units, keep), int(keep.sum()))
    x, y = x[keep], y[keep]
    empty = {f"{k}_ci": [math.nan] * 2 for k in SIGNED_METRICS}
    if len(x) < 3 or n_units < 3:
        return {**empty, "n_bootstrap": 0}
    n_boot = effective_resamples(len(x), n_boot, max_cells)
    # Sorting the rows by effect first lets the effect's ranks skip two gathers per resample chunk.
    by_effect = np.argsort(x, kind="stable")
    x, y, codes = x[by_effect], y[by_effect], codes[by_effect]
    signed = x != 0
    positive = (x > 0)[signed]
    agree = _agreement(x[signed], y[signed])
    rank_x, rank_y = _Ranker(x), _Ranker(y)
    rank_signed = rank_y if signed.all() else _Ranker(y[signed])
    out: dict[str, list] = {k: [] for k in SIGNED_METRICS}
    for unit_counts in bootstrap_counts(n_units, n_boot, seed, rows_per_draw=len(x)):
        counts = unit_counts[:, codes]
        ry = rank_y.ranks(counts)
        out["spearman"].append(_rank_pearson(rank_x.ranks(counts), ry, counts))
        out["pearson"].append(weighted_pearson(x, y, counts))
        signed_counts = counts if signed.all() else counts[:, signed]
        signed_ranks = ry if signed.all() else rank_signed.ranks(signed_counts)
        out["sign_auroc"].append(_auroc_from_ranks(positive, signed_ranks, signed_counts))
        with np.errstate(invalid="ignore", divide="ignore"):
            out["sign_agreement"].append(signed_counts @ agree / signed_counts.sum(axis=1))
    return {**{f"{k}_ci": _interval(np.concatenate(v), level) for k, v in out.items()}, "n_bootstrap": n_boot}


def unit_level_pvalues(effect: np.ndarray, score: np.ndarray, units: object = None) -> dict[str, float]:
    """Two-sided p-values of Spearman and Pearson over unit-level summaries (`unit_summaries`).

    With one row per unit these are scipy's p-values; rows that repeat within a unit add no evidence.
    """
    x, y = np.asarray(effect, dtype=float), np.asarray(score, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    codes, n_units = unit_codes(_kept_units(units, keep), int(keep.sum()))
    summary = correlations(*unit_summaries(x[keep], y[keep], codes, n_units))
    return {"spearman_p": p_value(summary["spearman_p"]), "pearson_p": p_value(summary["pearson_p"])}


P_FLOOR = 1e-300
P_BOUND = "< 1e-300"


def p_value(p: float) -> float | str:
    """A p-value as reported: the number, or the bound `< 1e-300` when it is smaller (a p-value that underflowed
    to 0 is not 0)."""
    return P_BOUND if math.isfinite(p) and p < P_FLOOR else p


def permutation_null(
    effect: np.ndarray, score: np.ndarray, *, units: object = None, n_perm: int = N_PERMUTATIONS,
    seed: int = BOOTSTRAP_SEED, max_cells: int = _MAX_BOOTSTRAP_CELLS,
) -> dict[str, dict[str, float]]:
    """Each signed metric's distribution when the scores are shuffled between units: the floor a model must beat.

    Computed over unit-level summaries (`unit_summaries`), so it respects the unit as the p-values do. Per metric:
    the observed unit-level value, the null's mean and central 95% range, and the two-sided permutation p-value:
    the share of shuffles at least as far from chance (0 for correlations, 0.5 for sign auROC and agreement) as
    the observed value, counting the observed arrangement once ((1 + k) / (1 + N)).
    """
    x, y = np.asarray(effect, dtype=float), np.asarray(score, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    codes, n_units = unit_codes(_kept_units(units, keep), int(keep.sum()))
    ux, uy = unit_summaries(x[keep], y[keep], codes, n_units)
    nan = {"observed": math.nan, "null_mean": math.nan, "null_low": math.nan, "null_high": math.nan,
           "p": math.nan, "alternative": TWO_SIDED, "n_permutations": 0}
    if n_units < 3 or np.ptp(ux) == 0 or np.ptp(uy) == 0:
        return {k: dict(nan) for k in SIGNED_METRICS}
    n_perm = effective_resamples(n_units, n_perm, max_cells)
    rng = np.random.default_rng(seed)
    unit_level = correlations(ux, uy)
    observed = {"spearman": unit_level["spearman"], "pearson": unit_level["pearson"],
                "sign_auroc": sign_auroc(ux, uy), "sign_agreement": sign_agreement(ux, uy)}
    rank_x, rank_y = stats.rankdata(ux), stats.rankdata(uy)
    signed = ux != 0
    positive = ux[signed] > 0
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    null: dict[str, list] = {k: [] for k in SIGNED_METRICS}
    per_chunk = max(1, _CHUNK_CELLS // n_units)
    for begin in range(0, n_perm, per_chunk):
        b = min(per_chunk, n_perm - begin)
        order = np.argsort(rng.random((b, n_units)), axis=1)
        permuted = uy[order]
        null["spearman"].append(_row_pearson(rank_x, rank_y[order]))
        null["pearson"].append(_row_pearson(ux, permuted))
        shuffled = permuted[:, signed]
        if n_pos and n_neg:
            # Ranks do not depend on the order: with every unit signed (no zero effect) they are the permuted ranks.
            ranks = rank_y[order] if signed.all() else stats.rankdata(shuffled, axis=1)
            null["sign_auroc"].append((ranks[:, positive].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
        null["sign_agreement"].append(_agreement(ux[signed][None, :], shuffled).mean(axis=1) if signed.any()
                                      else np.full(b, np.nan))
    out = {}
    for key in SIGNED_METRICS:
        values = np.concatenate(null[key]) if null[key] else np.array([])
        values = values[np.isfinite(values)]
        if not len(values) or not math.isfinite(observed[key]):
            out[key] = dict(nan, observed=observed[key])
            continue
        low, high = np.percentile(values, [2.5, 97.5])
        chance = CHANCE[key]
        # a shuffle as extreme as the observed value, up to rounding of sums taken in another order
        extreme = np.abs(values - chance) >= abs(observed[key] - chance) - 1e-12
        out[key] = {"observed": float(observed[key]), "null_mean": float(values.mean()), "null_low": float(low),
                    "null_high": float(high), "p": float((1 + extreme.sum()) / (1 + len(values))),
                    "alternative": TWO_SIDED, "n_permutations": int(len(values))}
    return out


def _row_pearson(x: np.ndarray, y_rows: np.ndarray) -> np.ndarray:
    """Pearson correlation of the vector x with each row of y_rows (the same at any scale of x and y)."""
    xc = _standardized(x)
    scale = np.max(np.abs(y_rows)) if y_rows.size else 0.0
    y_rows = y_rows / scale if scale > 0 and np.isfinite(scale) else y_rows
    yc = y_rows - y_rows.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (yc @ xc) / np.sqrt((xc @ xc) * np.einsum("ij,ij->i", yc, yc))


def summarize(
    effect: np.ndarray, score: np.ndarray, *, units: object = None, strong_quantile: float = 0.5,
    n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED, max_cells: int = _MAX_BOOTSTRAP_CELLS,
    with_null: bool = True,
) -> dict[str, object]:
    """Every signed metric of one set of rows, with its unit of resampling.

    Keys: n (rows) and n_units; spearman, pearson, sign_auroc and sign_agreement over the rows, each with a
    cluster-bootstrap interval (`<metric>_ci`); spearman_p and pearson_p over unit-level summaries; with
    `with_null`, `null` (the permutation null of each metric, see `permutation_null`); sign_auroc_strong over
    rows whose |effect| is at least `strong_threshold` (the `strong_quantile` quantile of |effect|, so the
    threshold adapts to the truth set's scale: eQTL slopes and dsQTL betas differ) with n_strong; and the
    calibration slope of the effect on the score (`calibration_slope`).
    """
    x = np.asarray(effect, dtype=float)
    y = np.asarray(score, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    # The units are numbered once here, not again in each of the three functions below.
    unit_labels = None if units is None else UnitCodes(*unit_codes(_kept_units(units, keep), len(x)))
    out: dict[str, object] = dict(correlations(x, y))
    out["n_units"] = unit_codes(unit_labels, len(x))[1]
    out.update(unit_level_pvalues(x, y, unit_labels))
    out.update(bootstrap_intervals(x, y, units=unit_labels, n_boot=n_boot, seed=seed, max_cells=max_cells))
    out["sign_auroc"] = sign_auroc(x, y)
    out["sign_agreement"] = sign_agreement(x, y)
    out["calibration_slope"] = calibration_slope(x, y)
    if with_null:
        out["null"] = permutation_null(x, y, units=unit_labels, n_perm=n_boot, seed=seed, max_cells=max_cells)
    threshold = float(np.quantile(np.abs(x), strong_quantile)) if len(x) else math.nan
    strong = np.abs(x) >= threshold
    out["strong_threshold"] = threshold
    out["n_strong"] = int(strong.sum())
    out["sign_auroc_strong"] = sign_auroc(x[strong], y[strong])
    return out


def calibration_slope(effect: np.ndarray, score: np.ndarray) -> float:
    """The least-squares slope of the measured effect on the score: 1 where the score is on the effect's own scale
    (log2 allelic fold change against a log-fold-change scorer); meaningless where the scales differ."""
    x, y = np.asarray(effect, dtype=float), np.asarray(score, dtype=float)
    if len(x) < 3 or not np.var(y) > 0:
        return math.nan
    return float(np.mean((x - x.mean()) * (y - y.mean())) / np.var(y))


# The fewest independent units a correlation, an agreement or an auROC is printed for, everywhere (console, README,
# metrics.json headline, report tables, strata, classification). Below 10 units only a near-perfect effect could be
# detected (the Spearman detectable with 80% power at two-sided 0.05 is above 0.79; the exact sign test needs 9 of
# 10 agreements), and a percentile bootstrap over fewer than 10 clusters has too few distinct resamples to mean
# anything.
MIN_UNITS = 10


def too_few(n: int, min_n: int = MIN_UNITS) -> str:
    """How a result or stratum below the minimum number of units is reported instead of numbers."""
    return f"too few (n={n:,} units; at least {min_n:,} needed)"
