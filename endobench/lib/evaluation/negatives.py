"""Causal against non-causal with matched negatives: auROC and auPRC of |score|.

Significant QTLs differ from non-significant variants in more than causality: they sit closer to the TSS, have
higher minor allele frequencies (more power) and lie in open chromatin more often. A score that only tracks
those would look predictive against unmatched negatives. So negatives are drawn from the same table and
matched to the positives by coarsened exact matching: exactly on in-peak status (and on the gene where the
table has non-significant variants of the positive's own gene), and within bins of log10 TSS distance (deciles of
the positives) and MAF (quintiles of the positives); in each cell one negative per positive, drawn at random
with a fixed seed. Positives whose cell holds no negative are left out and counted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from endobench.lib.evaluation.metrics import BOOTSTRAP_SEED, MIN_UNITS, N_BOOTSTRAP, auroc_interval, too_few

TSS_BINS = 10
MAF_BINS = 5


def _bins(values: pd.Series, reference: pd.Series, n_bins: int) -> pd.Series:
    """Bin codes from the quantiles of `reference` (the positives); NA stays NA."""
    edges = np.unique(np.nanquantile(reference.to_numpy(dtype=float), np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:
        return pd.Series(np.where(values.notna(), 0, np.nan), index=values.index)
    inner = edges[1:-1]
    return pd.Series(np.where(values.notna(), np.searchsorted(inner, values.to_numpy(dtype=float), side="right"),
                              np.nan), index=values.index)


def match_negatives(frame: pd.DataFrame, *, seed: int = BOOTSTRAP_SEED) -> tuple[pd.DataFrame, dict[str, object]]:
    """Positives (`is_significant`) with one matched non-significant row each, and how they were matched.

    `frame` has one row per unit (the lead rows) with is_significant and any of tss_distance, maf, in_peak and
    gene_id. Returns the matched rows (a `label` column: True for positives) and a description: the covariates,
    counts and standardised mean differences before and after matching.
    """
    if "is_significant" not in frame:
        description = {"n_positives": 0, "n_negative_pool": 0, "n_matched": 0,
                       "method": "no significance column: no positives or negatives to match"}
        return frame.iloc[0:0].assign(label=pd.Series(dtype=bool)), description
    significant = pd.array(frame["is_significant"], dtype="boolean")
    known = ~np.asarray(pd.isna(significant))
    positives = frame[known & np.asarray(significant.fillna(False), dtype=bool)]
    pool = frame[known & ~np.asarray(significant.fillna(True), dtype=bool)]
    description: dict[str, object] = {"n_positives": int(len(positives)), "n_negative_pool": int(len(pool))}
    if positives.empty or pool.empty:
        description.update(n_matched=0, method="no non-significant rows in this table: no matched negatives")
        return frame.iloc[0:0].assign(label=pd.Series(dtype=bool)), description

    cells = pd.DataFrame(index=frame.index)
    used = []
    if "in_annotation" in frame and frame["in_annotation"].notna().any():
        cells["in_annotation"] = frame["in_annotation"].astype("boolean").astype(object)
        used.append("in-annotation status (exact)")
    if "tss_distance" in frame and pd.to_numeric(frame["tss_distance"], errors="coerce").notna().any():
        log_tss = np.log10(pd.to_numeric(frame["tss_distance"], errors="coerce").abs() + 1)
        cells["tss_bin"] = _bins(log_tss, log_tss[positives.index], TSS_BINS)
        used.append(f"log10 TSS distance ({TSS_BINS} quantile bins of the positives)")
    if "maf" in frame and pd.to_numeric(frame["maf"], errors="coerce").notna().any():
        maf = pd.to_numeric(frame["maf"], errors="coerce")
        cells["maf_bin"] = _bins(maf, maf[positives.index], MAF_BINS)
        used.append(f"MAF ({MAF_BINS} quantile bins of the positives)")
    same_gene = "gene_id" in frame and positives["gene_id"].isin(pool["gene_id"]).any()
    if same_gene:
        cells["gene_id"] = frame["gene_id"]
        used.append("gene (exact, where the table has non-significant variants of the gene)")
    key = cells.astype(str).agg("|".join, axis=1) if len(cells.columns) else pd.Series("", index=frame.index)
    rng = np.random.default_rng(seed)
    chosen_pos, chosen_neg = [], []
    pool_by_cell = {k: list(idx) for k, idx in pool.groupby(key[pool.index]).groups.items()}
    for cell, pos_index in positives.groupby(key[positives.index]).groups.items():
        candidates = pool_by_cell.get(cell, [])
        take = min(len(pos_index), len(candidates))
        if take:
            chosen_pos += list(rng.choice(np.asarray(pos_index), size=take, replace=False))
            chosen_neg += list(rng.choice(np.asarray(candidates), size=take, replace=False))
    matched = pd.concat([frame.loc[chosen_pos].assign(label=True), frame.loc[chosen_neg].assign(label=False)])
    description.update(
        method="coarsened exact matching on " + (", ".join(used) if used else "nothing (no covariates in the table)"),
        n_matched=len(chosen_pos),
        n_positives_unmatched=int(len(positives) - len(chosen_pos)),
        balance_before=_balance(positives, pool),
        balance_after=_balance(frame.loc[chosen_pos], frame.loc[chosen_neg]),
    )
    return matched, description


def _balance(positives: pd.DataFrame, negatives: pd.DataFrame) -> dict[str, float]:
    """Standardised mean difference of each covariate (|d| below 0.1 is the usual mark of good balance)."""
    out = {}
    for name, values in (("log10_tss_distance", lambda f: np.log10(pd.to_numeric(f["tss_distance"],
                                                                                   errors="coerce").abs() + 1)),
                         ("maf", lambda f: pd.to_numeric(f["maf"], errors="coerce"))):
        column = "tss_distance" if name.startswith("log10") else "maf"
        if column not in positives or positives.empty or negatives.empty:
            continue
        a, b = values(positives).dropna(), values(negatives).dropna()
        if len(a) < 2 or len(b) < 2:
            continue
        spread = math.sqrt((a.var() + b.var()) / 2)
        out[name] = float((a.mean() - b.mean()) / spread) if spread > 0 else 0.0
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
