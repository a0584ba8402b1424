"""Causal against non-causal with matched negatives: auROC and auPRC of |score|.

Significant QTLs differ from non-significant variants in more than causality: they sit closer to the TSS, have
higher minor allele frequencies (more power) and lie in open chromatin more often, and the lead of one gene differs
from the lead of another in expression level, tissue specificity and power. A score that only tracks those would
look predictive against unmatched negatives. So a positive (a unit's headline row: a gene's significant lead) is
matched only to a non-significant test of its own gene, the nearest to it in log10 TSS distance and MAF (and of the
same in-annotation status where there is one), as all-pairs or fine-mapped tables provide (low-PIP variants of the
gene). A table with no such test (an eGenes table holds one lead variant per gene; a dsQTL table only significant
variants) has no matched negatives, and the report says why instead of matching the leads of other genes.
Standardised mean differences of the covariates are given before matching (positives against their genes' whole
pool) and after. An unsigned score a predictor gives beside its signed one (the AlphaGenome Atlas's AVI) tells the
same positives from the same negatives (`unsigned_classification`); having no sign, it enters no sign metric.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from endobench.lib.evaluation.covariates import (
    COVARIATES,
    log10_tss_distance,
    minor_allele_frequency,
    standardised_mean_difference,
)
from endobench.lib.evaluation.metrics import BOOTSTRAP_SEED, MIN_UNITS, N_BOOTSTRAP, auroc_interval, too_few

# Unsigned scores a predictions frame may carry beside `score`, by column, with what they are.
UNSIGNED_SCORES = {"avi_score": "AVI score (AlphaGenome Atlas, unsigned)"}


def match_negatives(
    rows: pd.DataFrame, positives: pd.DataFrame, *, unit: str = "gene_id", seed: int = BOOTSTRAP_SEED,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The positives with one non-significant test of their own unit (gene) each, and how they were matched.

    `rows` are every scored row of a result (variant-gene pairs, with is_significant and any of tss_distance, maf,
    in_annotation); `positives` its headline rows (one per unit). Returns the matched rows (`label` True for
    positives) and a description: method, counts, and standardised mean differences before and after.
    """
    empty = rows.iloc[0:0].assign(label=pd.Series(dtype=bool))
    if "is_significant" not in rows or unit not in rows or rows[unit].isna().all():
        return empty, {"n_positives": int(len(positives)), "n_negative_pool": 0, "n_matched": 0,
                       "method": "no matched negatives: the table has no significance column or no gene per row"}
    significant = pd.array(rows["is_significant"], dtype="boolean")
    not_significant = rows[~np.asarray(significant.fillna(True), dtype=bool)]
    pool = not_significant[not_significant[unit].isin(positives[unit])]
    description: dict[str, object] = {"n_positives": int(len(positives)), "n_negative_pool": int(len(pool))}
    if pool.empty:
        why = ("the table has no non-significant test" if not_significant.empty else
               f"no non-significant test in the table is of a positive's own gene ({len(not_significant):,} are "
               "of other genes)")
        description.update(n_matched=0, method=f"no matched negatives: {why}. A significant-pairs table holds only "
                           "significant tests and an eGenes table holds one lead variant per gene; the leads of other "
                           "genes differ from the positives in more than causality, so they are not used (an all-pairs "
                           "or fine-mapped table gives same-gene tests)")
        return empty, description
    distance = _CovariateDistance(rows)
    rng = np.random.default_rng(seed)
    chosen_pos, chosen_neg = [], []
    for gene, candidates in pool.groupby(unit, sort=True):
        for positive in positives.index[(positives[unit] == gene).to_numpy()]:
            gaps = distance(positive, candidates)
            nearest = candidates.index[np.flatnonzero(gaps == gaps.min())]
            chosen_pos.append(positive)
            chosen_neg.append(nearest[rng.integers(len(nearest))] if len(nearest) > 1 else nearest[0])
    matched = pd.concat([positives.loc[chosen_pos].assign(label=True), rows.loc[chosen_neg].assign(label=False)])
    description.update(
        method=f"within gene: each positive's nearest non-significant test of its own gene in {distance.covariates}",
        n_matched=len(chosen_pos),
        n_positives_unmatched=int(len(positives) - len(chosen_pos)),
        balance_before=_balance(positives, pool),
        balance_after=_balance(positives.loc[chosen_pos], rows.loc[chosen_neg]),
    )
    return matched, description


class _CovariateDistance:
    """Distance between a positive and candidate rows: |log10 TSS distance| and MAF differences in units of the
    whole table's standard deviation, plus 10 for a different in-annotation status (exact where it can be)."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.columns: list[tuple[str, pd.Series, float]] = []
        names = []
        for name, values in (("log10 TSS distance", log10_tss_distance), ("MAF", minor_allele_frequency)):
            every = values(rows)
            if every is not None and every.notna().any():
                spread = float(every.std()) or 1.0
                self.columns.append((name, every, spread))
                names.append(name)
        self.annotation = rows["in_annotation"] if "in_annotation" in rows and rows["in_annotation"].notna().any() \
            else None
        if self.annotation is not None:
            names.append("in-annotation status")
        self.covariates = ", ".join(names) or "nothing (no covariates in the table)"

    def __call__(self, positive: object, candidates: pd.DataFrame) -> np.ndarray:
        gaps = np.zeros(len(candidates))
        for _, every, spread in self.columns:
            gap = np.abs(every.loc[candidates.index].to_numpy(dtype=float) - float(every.loc[positive])) / spread
            gaps += np.nan_to_num(gap, nan=10.0)
        if self.annotation is not None:
            gaps += 10.0 * (self.annotation.loc[candidates.index].to_numpy() != self.annotation.loc[positive])
        return gaps


def _balance(positives: pd.DataFrame, negatives: pd.DataFrame) -> dict[str, float]:
    """Standardised mean difference of each covariate (|d| below 0.1 is the usual mark of good balance)."""
    out = {}
    for name, values in COVARIATES.items():
        a, b = values(positives), values(negatives)
        if a is None or b is None or positives.empty or negatives.empty:
            continue
        a, b = a.dropna(), b.dropna()
        if len(a) < 2 or len(b) < 2:
            continue
        out[name] = standardised_mean_difference(a.mean(), a.var(), b.mean(), b.var())
    return out


def classification(
    matched: pd.DataFrame, score: str = "score", *, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
    min_n: int = MIN_UNITS,
) -> dict[str, object]:
    """auROC (with a bootstrap interval over the matched rows, `n_bootstrap` resamples) and auPRC of |score| for
    positives against negatives.

    The chance level of auROC is 0.5 and of auPRC the share of positives (0.5 with one negative per positive).
    Fewer than `min_n` positives or negatives give a `note` instead of numbers.
    """
    values = np.abs(pd.to_numeric(matched[score], errors="coerce").to_numpy(dtype=float))
    labels = matched["label"].to_numpy(dtype=bool)
    keep = np.isfinite(values)
    values, labels = values[keep], labels[keep]
    out: dict[str, object] = {"n_positive": int(labels.sum()), "n_negative": int((~labels).sum()),
                              "auroc": math.nan, "auroc_ci": [math.nan, math.nan], "auprc": math.nan,
                              "auprc_chance": math.nan}
    if labels.all() or not labels.any():
        return out
    if min(out["n_positive"], out["n_negative"]) < min_n:
        return {**out, "note": too_few(min(out["n_positive"], out["n_negative"]), min_n)}
    out["auroc"] = float(roc_auc_score(labels, values))
    out["auprc"] = float(average_precision_score(labels, values))
    out["auprc_chance"] = float(labels.mean())
    out["auroc_ci"], out["n_bootstrap"] = auroc_interval(labels, values, n_boot=n_boot, seed=seed)
    return out


def unsigned_classification(matched: pd.DataFrame, **options) -> dict[str, dict[str, object]]:
    """`classification` of each unsigned score the matched rows carry (`UNSIGNED_SCORES`), on the rows that have it."""
    return {column: classification(matched.assign(score=matched[column]), **options) for column in UNSIGNED_SCORES
            if column in matched and pd.to_numeric(matched[column], errors="coerce").notna().any()}
