"""The same metrics within strata: |effect| quartiles, TSS distance, MAF, SNV vs indel, and the model's training split.

A stratum below the minimum number of units (`metrics.MIN_UNITS`, the one threshold of the whole report) reports
"too few (n=...)" instead of numbers, so a correlation over seven points is never shown as a number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from endobench.lib.evaluation.metrics import (
    _MAX_BOOTSTRAP_CELLS,
    BOOTSTRAP_SEED,
    MIN_UNITS,
    N_BOOTSTRAP,
    summarize,
    too_few,
    unit_codes,
)

TSS_BINS = [0, 1_000, 10_000, 100_000, math.inf]
TSS_LABELS = ["<1 kb", "1-10 kb", "10-100 kb", ">=100 kb"]
MAF_BINS = [0.0, 0.05, 0.1, 0.2, 0.5000001]
MAF_LABELS = ["MAF <0.05", "MAF 0.05-0.1", "MAF 0.1-0.2", "MAF 0.2-0.5"]
PUBLISHED_EVALUATION = "chromosomes of the published evaluation"
OTHER_CHROMOSOMES = "other chromosomes"
# Held-out rows that no training input reached (AlphaGenome: 1 MB around each training region), and the others.
BEYOND_CONTEXT = "held out, beyond training context"
WITHIN_REACH = "held out, within a training input's reach"
STRATUM_KEYS = ("n", "n_units", "spearman", "spearman_ci", "pearson", "pearson_ci", "sign_auroc", "sign_auroc_ci",
                "sign_agreement", "sign_agreement_ci", "n_bootstrap")


def is_snv(frame: pd.DataFrame) -> pd.Series:
    return (frame["ref"].astype(str).str.len() == 1) & (frame["alt"].astype(str).str.len() == 1)


def chromosome_list(chroms: Sequence[str]) -> str:
    """`3, 6, 9`: chromosome names as a reader scans them."""
    return ", ".join(str(c).removeprefix("chr") for c in chroms)


def strata_labels(frame: pd.DataFrame, published_chromosomes: Sequence[str] = ()) -> dict[str, pd.Series]:
    """For each stratification, a label per row (NA where the row has no value); absent columns are skipped.

    |effect| quartiles, TSS-distance bins, MAF bins, SNV vs indel, and held out of training or not (chromosomes
    for the local model, AlphaGenome's fold regions for a FOLD_k model) where the predictor knows it; among
    held-out rows, whether any training input reached them (`beyond_training_context`); and which of several
    cross-fitted models scored each row (`scored_by`). Binned labels (TSS distance, MAF) are ordered categoricals,
    so their strata come in the order of the bins.
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
        out["TSS distance"] = pd.cut(tss, TSS_BINS, labels=TSS_LABELS, right=False)
    if "maf" in frame and pd.to_numeric(frame["maf"], errors="coerce").notna().any():
        maf = pd.to_numeric(frame["maf"], errors="coerce")
        out["MAF"] = pd.cut(maf, MAF_BINS, labels=MAF_LABELS, right=False)
    if {"ref", "alt"} <= set(frame.columns) and frame["ref"].notna().any():
        has = frame["ref"].notna() & frame["alt"].notna()
        out["variant type"] = pd.Series(np.where(is_snv(frame), "SNV", "indel"), index=frame.index).where(has)
    if "held_out" in frame:
        held = pd.array(frame["held_out"], dtype="boolean")
        if not pd.isna(held).all():
            labels = pd.Series(np.where(np.asarray(held.fillna(False)), "held out of training", "seen in training"),
                               index=frame.index)
            out["model training split"] = labels.where(~np.asarray(pd.isna(held)))
            beyond = pd.array(frame.get("beyond_training_context", pd.Series(pd.NA, index=frame.index)),
                              dtype="boolean")
            known = np.asarray(held.fillna(False)) & ~np.asarray(pd.isna(beyond))
            if known.any():
                out["training context"] = pd.Series(np.where(np.asarray(beyond.fillna(False)), BEYOND_CONTEXT,
                                                             WITHIN_REACH), index=frame.index).where(known)
    if published_chromosomes and "chrom" in frame:
        # Not a held-out set of anyone's: the chromosomes a published number was computed on, so ours can be read on
        # the same variants.
        inside = frame["chrom"].isin(list(published_chromosomes)).to_numpy()
        out[PUBLISHED_EVALUATION] = pd.Series(np.where(
            inside, f"{PUBLISHED_EVALUATION}: {chromosome_list(published_chromosomes)}", OTHER_CHROMOSOMES),
            index=frame.index).where(frame["chrom"].notna())
    if "scored_by" in frame and frame["scored_by"].notna().any():
        out["scored by"] = frame["scored_by"].astype(object).where(frame["scored_by"].notna())
    return out


def stratum_order(labels: pd.Series) -> list[object]:
    """The strata present, in the order of their bins (`<1 kb` before `1-10 kb` before `10-100 kb`), or as text."""
    present = labels.dropna().unique()
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return [c for c in labels.cat.categories if c in set(present)]
    return sorted(present, key=str)


def stratified_metrics(
    frame: pd.DataFrame, *, unit: str | None = None, min_n: int = MIN_UNITS, n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED, published_chromosomes: Sequence[str] = (),
) -> list[dict[str, object]]:
    """One row per (stratification, stratum) of scored rows with `effect` and `score` columns (and `unit`).

    Each stratum's bootstrap resamples the same units as the whole result and gets a quarter of its work budget; a
    stratum with fewer than `min_n` units gets a note instead of numbers. `published_chromosomes` adds the stratum
    of the chromosomes a published number was computed on.
    """
    rows = []
    units = frame[unit] if unit and unit in frame else None
    for stratification, labels in strata_labels(frame, published_chromosomes).items():
        for stratum in stratum_order(labels):
            inside = (labels == stratum).to_numpy()
            part = frame[inside]
            n_units = unit_codes(None if units is None else units[inside].to_numpy(), len(part))[1]
            row: dict[str, object] = {"stratification": stratification, "stratum": str(stratum), "n": int(len(part)),
                                      "n_units": n_units}
            if n_units < min_n:
                row["note"] = too_few(n_units, min_n)
            else:
                metrics = summarize(part["effect"], part["score"], units=None if units is None else units[inside],
                                    n_boot=n_boot, seed=seed, max_cells=_MAX_BOOTSTRAP_CELLS // 4, with_null=False)
                row.update({k: metrics[k] for k in STRATUM_KEYS})
                row["note"] = ""
            rows.append(row)
    return rows
