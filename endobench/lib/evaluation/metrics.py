"""How well predicted effects track measured ones: correlations, sign auROC, auPRC, with bootstrap intervals.

Everything here is pure numpy/scipy/sklearn on arrays or a predictions frame. The bootstrap draws resamples
as multinomial counts and computes each statistic as a count-weighted statistic over the original points,
which equals the statistic on the resampled values (ties from repeated points included) without building
and sorting one copy of the data per resample: the data are sorted once, each resample costs a few linear
passes. The bootstrap of 100 K units takes seconds instead of minutes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

# The chromosomes AlphaGenome held out of training; numbers on them are comparable with the paper.
AG_TEST_CHROMOSOMES = frozenset({"chr3", "chr6", "chr9", "chr12", "chr16", "chr18", "chr19", "chr21"})
MIN_STRATUM_N = 20
N_BOOTSTRAP = 1000
BOOTSTRAP_SEED = 20_250_101
CI_LEVEL = 0.95
# Resamples per chunk are chosen so that one chunk holds about this many counts (memory stays ~100 MB).
_CHUNK_CELLS = 2_000_000
# Above 20 K units the resample count shrinks (never below 200) to bound the work at about 20 M cells:
# intervals that narrow are stable with a few hundred resamples, and 1,000 x 100 K took half a minute
# on a loaded 2-core machine.
_MAX_BOOTSTRAP_CELLS = 20_000_000
MIN_BOOTSTRAP = 200

TSS_BINS = [0, 1_000, 10_000, 100_000, math.inf]
TSS_LABELS = ["<1 kb", "1-10 kb", "10-100 kb", ">=100 kb"]
MAF_BINS = [0.0, 0.05, 0.1, 0.2, 0.5000001]
MAF_LABELS = ["MAF <0.05", "MAF 0.05-0.1", "MAF 0.1-0.2", "MAF 0.2-0.5"]


def _finite_pairs(effect: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(effect, dtype=float)
    y = np.asarray(score, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def correlations(effect: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """n, Spearman and Pearson correlation of measured `effect` and predicted `score`, with two-sided p-values.

    Pairs where either value is not finite are left out. Fewer than 3 pairs, or a constant column, give NaN
    (a correlation is undefined there) rather than an error.
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


def significance_auprc(score: np.ndarray, is_significant: np.ndarray) -> float:
    """Average precision of |score| for ranking significant QTLs above non-significant variants.

    Only meaningful when negatives exist (e.g. GTEx eGenes with q > 0.05); NaN when either class is absent.
    The chance level is the fraction of significant rows.
    """
    s = np.abs(np.asarray(score, dtype=float))
    labels = pd.array(is_significant, dtype="boolean")
    keep = np.isfinite(s) & ~np.asarray(pd.isna(labels))
    s, labels = s[keep], np.asarray(labels[keep], dtype=bool)
    if labels.all() or not labels.any():
        return math.nan
    return float(average_precision_score(labels, s))


def bootstrap_counts(n: int, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> Iterator[np.ndarray]:
    """Resamples with replacement of n points, as chunks of count matrices (resamples x n, each row sums to n).

    The same seed always gives the same resamples, so intervals are reproducible run to run.
    """
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // max(1, n))
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
        grouped = counts[:, self.order]
        if self.has_ties:
            grouped = np.add.reduceat(grouped, self.starts, axis=1)
        # mean of the ranks a group occupies: (ranks before it) + (its size + 1) / 2
        upto = np.cumsum(grouped, axis=1)
        upto -= (grouped - 1) / 2
        return upto[:, self.position]


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
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    # Shifting by a global mean changes no correlation and keeps the moment sums well conditioned.
    x = x - x.mean()
    y = y - y.mean()
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


def _interval(values: np.ndarray, level: float) -> list[float]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return [math.nan, math.nan]
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return [float(lo), float(hi)]


def effective_resamples(n: int, n_boot: int = N_BOOTSTRAP, max_cells: int = _MAX_BOOTSTRAP_CELLS) -> int:
    """Resamples actually drawn for n units: `n_boot`, reduced when n x n_boot exceeds `max_cells` (never below 200)."""
    return int(min(n_boot, max(MIN_BOOTSTRAP, max_cells // max(1, n))))


def bootstrap_intervals(
    effect: np.ndarray, score: np.ndarray, *, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
    level: float = CI_LEVEL, max_cells: int = _MAX_BOOTSTRAP_CELLS,
) -> dict[str, list[float]]:
    """Percentile bootstrap intervals for Spearman, Pearson and sign auROC over the same resamples.

    Resamples are of (effect, score) pairs with both values finite. Resamples where a statistic is undefined
    (constant column, one sign only) are left out of that statistic's interval. `n_bootstrap` says how many
    resamples were drawn (see `effective_resamples`).
    """
    x, y = _finite_pairs(effect, score)
    if len(x) < 3:
        return {"spearman_ci": [math.nan] * 2, "pearson_ci": [math.nan] * 2, "sign_auroc_ci": [math.nan] * 2,
                "n_bootstrap": 0}
    n_boot = effective_resamples(len(x), n_boot, max_cells)
    # Sorting the pairs by effect first lets the effect's ranks skip two gathers per resample chunk.
    by_effect = np.argsort(x, kind="stable")
    x, y = x[by_effect], y[by_effect]
    signed = x != 0
    positive = (x > 0)[signed]
    rank_x, rank_y = _Ranker(x), _Ranker(y)
    rank_signed = rank_y if signed.all() else _Ranker(y[signed])
    spearman, pearson, auroc = [], [], []
    for counts in bootstrap_counts(len(x), n_boot, seed):
        ry = rank_y.ranks(counts)
        spearman.append(_rank_pearson(rank_x.ranks(counts), ry, counts))
        pearson.append(weighted_pearson(x, y, counts))
        signed_counts = counts if signed.all() else counts[:, signed]
        signed_ranks = ry if signed.all() else rank_signed.ranks(signed_counts)
        auroc.append(_auroc_from_ranks(positive, signed_ranks, signed_counts))
    return {
        "spearman_ci": _interval(np.concatenate(spearman), level),
        "pearson_ci": _interval(np.concatenate(pearson), level),
        "sign_auroc_ci": _interval(np.concatenate(auroc), level),
        "n_bootstrap": n_boot,
    }


def summarize(
    effect: np.ndarray, score: np.ndarray, *, is_significant: np.ndarray | None = None,
    strong_quantile: float = 0.5, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
    max_cells: int = _MAX_BOOTSTRAP_CELLS,
) -> dict[str, object]:
    """Every headline metric of one set of scored units.

    Keys: n, spearman(_p, _ci), pearson(_p, _ci), sign_auroc(_ci); sign_auroc_strong over units whose |effect|
    is at least `strong_threshold` (the `strong_quantile` quantile of |effect|, so the threshold adapts to the
    truth set's scale: eQTL slopes and dsQTL betas differ) with n_strong; auprc_significant (NaN without
    non-significant units) with n_significant and n_not_significant.
    """
    x = np.asarray(effect, dtype=float)
    y = np.asarray(score, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    out: dict[str, object] = dict(correlations(x, y))
    out.update(bootstrap_intervals(x, y, n_boot=n_boot, seed=seed, max_cells=max_cells))
    out["sign_auroc"] = sign_auroc(x, y)
    threshold = float(np.quantile(np.abs(x), strong_quantile)) if len(x) else math.nan
    strong = np.abs(x) >= threshold
    out["strong_threshold"] = threshold
    out["n_strong"] = int(strong.sum())
    out["sign_auroc_strong"] = sign_auroc(x[strong], y[strong])
    if is_significant is not None:
        sig = pd.array(np.asarray(is_significant, dtype=object)[keep], dtype="boolean")
        known = ~np.asarray(pd.isna(sig))
        out["n_significant"] = int(np.asarray(sig[known], dtype=bool).sum())
        out["n_not_significant"] = int(known.sum() - out["n_significant"])
        out["auprc_significant"] = significance_auprc(y, sig)
    else:
        out["n_significant"] = out["n_not_significant"] = 0
        out["auprc_significant"] = math.nan
    return out


def _is_snv(frame: pd.DataFrame) -> pd.Series:
    return (frame["ref"].astype(str).str.len() == 1) & (frame["alt"].astype(str).str.len() == 1)


def strata_labels(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """For each stratification, a label per row (NA where the row has no value); absent columns are skipped.

    |effect| quartiles, TSS-distance bins, MAF bins, SNV vs indel, the model's held-out chromosomes, and the
    AlphaGenome test chromosomes (3, 6, 9, 12, 16, 18, 19, 21) against the rest.
    """
    out: dict[str, pd.Series] = {}
    effect = pd.to_numeric(frame["effect"], errors="coerce").abs()
    if effect.notna().sum() >= 4 and effect.nunique() >= 4:
        quartile = pd.qcut(effect, 4, labels=False, duplicates="drop")
        edges = effect.groupby(quartile).agg(["min", "max"])
        names = {q: f"|effect| Q{int(q) + 1} ({row['min']:.3g}-{row['max']:.3g})" for q, row in edges.iterrows()}
        out["|effect| quartile"] = quartile.map(names)
    if "tss_distance" in frame and pd.to_numeric(frame["tss_distance"], errors="coerce").notna().any():
        tss = pd.to_numeric(frame["tss_distance"], errors="coerce").abs()
        out["TSS distance"] = pd.cut(tss, TSS_BINS, labels=TSS_LABELS, right=False).astype(object)
    if "maf" in frame and pd.to_numeric(frame["maf"], errors="coerce").notna().any():
        maf = pd.to_numeric(frame["maf"], errors="coerce")
        out["MAF"] = pd.cut(maf, MAF_BINS, labels=MAF_LABELS, right=False).astype(object)
    if {"ref", "alt"} <= set(frame.columns) and frame["ref"].notna().any():
        has = frame["ref"].notna() & frame["alt"].notna()
        out["variant type"] = pd.Series(np.where(_is_snv(frame), "SNV", "indel"), index=frame.index).where(has)
    if "held_out" in frame:
        held = pd.array(frame["held_out"], dtype="boolean")
        if not pd.isna(held).all():
            labels = pd.Series(np.where(np.asarray(held.fillna(False)), "held out of training", "seen in training"),
                               index=frame.index)
            out["model training split"] = labels.where(~np.asarray(pd.isna(held)))
    if "chrom" in frame and frame["chrom"].notna().any():
        chrom = frame["chrom"].astype(str)
        chrom = chrom.where(chrom.str.startswith("chr"), "chr" + chrom)
        labels = pd.Series(np.where(chrom.isin(AG_TEST_CHROMOSOMES), "AlphaGenome test chromosomes",
                                    "other chromosomes"), index=frame.index)
        out["AlphaGenome split"] = labels.where(frame["chrom"].notna())
    return out


def too_few(n: int) -> str:
    """How a stratum below the minimum size is reported instead of numbers."""
    return f"too few (n={n:,})"


def stratified_metrics(
    frame: pd.DataFrame, *, min_n: int = MIN_STRATUM_N, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
) -> list[dict[str, object]]:
    """One row per (stratification, stratum) of a set of scored units with `effect` and `score` columns.

    Strata with fewer than `min_n` units carry `note = "too few (n=...)"` and no metric values, so a
    correlation over seven points is never shown as a number. Each stratum's bootstrap gets a quarter of the
    overall work budget (only strata above 5 K units draw fewer than `n_boot` resamples).
    """
    rows = []
    for stratification, labels in strata_labels(frame).items():
        for stratum in sorted(labels.dropna().unique(), key=str):
            part = frame[labels == stratum]
            row: dict[str, object] = {"stratification": stratification, "stratum": str(stratum), "n": int(len(part))}
            if len(part) < min_n:
                row["note"] = too_few(len(part))
            else:
                metrics = summarize(part["effect"], part["score"], n_boot=n_boot, seed=seed,
                                    max_cells=_MAX_BOOTSTRAP_CELLS // 4)
                row.update({k: metrics[k] for k in (
                    "n", "spearman", "spearman_ci", "pearson", "pearson_ci", "sign_auroc", "sign_auroc_ci",
                    "n_bootstrap")})
                row["note"] = ""
            rows.append(row)
    return rows


GROUP_KEYS = ["truth_set", "readout", "configuration"]


def scored_units(predictions: pd.DataFrame) -> pd.DataFrame:
    """Rows that enter metrics: status "scored" with a finite measured effect and a finite predicted score."""
    scored = predictions[predictions["status"] == "scored"].copy()
    scored["effect"] = pd.to_numeric(scored["effect"], errors="coerce")
    scored["score"] = pd.to_numeric(scored["score"], errors="coerce")
    return scored[np.isfinite(scored["effect"]) & np.isfinite(scored["score"])]


def side_by_side(
    predictions: pd.DataFrame, *, min_n: int = MIN_STRATUM_N, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
) -> list[dict[str, object]]:
    """One result per (truth set, readout, configuration): `summarize` metrics plus `strata` rows."""
    units = scored_units(predictions)
    results = []
    for key, group in units.groupby(GROUP_KEYS, sort=True, dropna=False):
        sig = group["is_significant"] if "is_significant" in group else None
        metrics = summarize(group["effect"], group["score"], is_significant=sig, n_boot=n_boot, seed=seed)
        results.append({
            **dict(zip(GROUP_KEYS, key, strict=True)), **metrics,
            "strata": stratified_metrics(group, min_n=min_n, n_boot=n_boot, seed=seed),
        })
    return results
