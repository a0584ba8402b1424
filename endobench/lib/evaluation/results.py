"""One result per (truth set, readout, configuration, training split), with its units, floor and ceiling.

For each result:
- the headline rows are one row per unit (a gene's lead variant by p-value, or its highest-PIP variant; a variant
  once), and only significant rows enter the signed metrics (a non-significant eGene's slope is noise); when
  there are several rows per unit, all of them make a secondary line, resampled by unit;
- the floor: a permutation null for each metric, and for expression truth sets the distance to the TSS as a
  baseline predictor of |effect| (it has no sign), on the same rows;
- the ceiling: where the measured accessibility of the same variants is known, its metrics on the same units;
- classification: |score| of the significant units against non-significant tests of their own genes (`negatives`;
  none, said why, where the table has no such tests);
- strata, with the chromosomes of the published evaluation where the truth set's published numbers name them.
A model that knows which chromosomes or regions it trained on is split into `held_out`, `training` and `all`;
only `held_out` is free of training leakage; a model whose every row is held out (cross-fitted) has `held_out` only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from endobench.lib.evaluation.ceiling import MEASURED
from endobench.lib.evaluation.metrics import BOOTSTRAP_SEED, N_BOOTSTRAP, summarize
from endobench.lib.evaluation.negatives import classification, match_negatives
from endobench.lib.evaluation.strata import MIN_STRATUM_N, stratified_metrics
from endobench.lib.truth_sets.catalog import (
    EXPRESSION,
    GENE_UNIT,
    LEAD_BY_PIP,
    VARIANT_UNIT,
    TruthSetSpec,
)

GROUP_KEYS = ["truth_set", "readout", "configuration", "split"]
ALL = "all"
HELD_OUT = "held_out"
TRAINING = "training"
MODEL = "model"
DISTANCE_TO_TSS = "distance_to_tss"
KEEP_ALL = "keep_all"
HEADLINE_KEYS = ("n", "n_units", "spearman", "spearman_ci", "pearson", "pearson_ci", "sign_auroc", "sign_auroc_ci",
                 "sign_agreement", "sign_agreement_ci", "spearman_p")


def scored_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """Rows that enter metrics: status "scored" with a finite measured effect and a finite predicted score."""
    scored = predictions[predictions["status"] == "scored"].copy()
    scored["effect"] = pd.to_numeric(scored["effect"], errors="coerce")
    scored["score"] = pd.to_numeric(scored["score"], errors="coerce")
    return scored[np.isfinite(scored["effect"]) & np.isfinite(scored["score"])]


def with_training_split(predictions: pd.DataFrame) -> pd.DataFrame:
    """Each row once under `split` = all, and again under held_out or training where the predictor knows which.

    A predictor that knows nothing of its training (held_out all NA) keeps `all` only; a configuration whose every
    row is held out (a cross-fitted model) keeps `held_out` only, since its `all` would be the same rows under a
    leaking name.
    """
    frame = predictions.assign(split=ALL)
    if "held_out" not in frame:
        return frame
    held = pd.array(frame["held_out"], dtype="boolean")
    known = ~np.asarray(pd.isna(held))
    if not known.any():
        return frame
    held_out = np.asarray(held.fillna(False), dtype=bool)
    configuration = frame["configuration"].to_numpy() if "configuration" in frame else np.zeros(len(frame))
    every_row_held = ~pd.Series(~held_out).groupby(configuration).transform("any").to_numpy(dtype=bool)
    # Rows taken by position, not concatenated: pandas checks every value of a column that is all NA in one part
    # (gene ids of accessibility rows) in Python, which took a second at GTEx scale.
    once, split = np.flatnonzero(~every_row_held), np.flatnonzero(known)
    doubled = frame.iloc[np.r_[once, split]].reset_index(drop=True)
    doubled["split"] = np.r_[np.full(len(once), ALL, dtype=object),
                             np.where(held_out[split], HELD_OUT, TRAINING).astype(object)]
    return doubled


def lead_rows(rows: pd.DataFrame, unit: str, lead_by: str) -> pd.DataFrame:
    """One row per unit: the smallest p-value (or the highest PIP) of each gene; each variant once.

    `lead_by` KEEP_ALL keeps every row (a table whose rows are all wanted, resampled by unit).
    """
    if lead_by == KEEP_ALL or unit not in rows or rows[unit].isna().all():
        return rows
    if lead_by == LEAD_BY_PIP and "pip" in rows:
        order = rows.sort_values("pip", ascending=False, kind="stable", na_position="last")
    elif "pval" in rows:
        order = rows.sort_values("pval", kind="stable", na_position="last")
    else:
        order = rows
    units = order[unit]
    return order[(units.isna() | ~units.duplicated()).to_numpy()].sort_index()


def headline_rows(rows: pd.DataFrame, unit: str, lead_by: str) -> pd.DataFrame:
    """The rows a result's headline metrics are computed on: significant rows, one per unit."""
    return lead_rows(_significant(rows), unit, lead_by)


def _significant(rows: pd.DataFrame) -> pd.DataFrame:
    if "is_significant" not in rows:
        return rows
    flag = pd.array(rows["is_significant"], dtype="boolean")
    return rows[np.asarray(flag.fillna(True), dtype=bool)]


def published_chromosomes(spec: TruthSetSpec | None) -> tuple[str, ...]:
    """The chromosomes the truth set's published numbers were computed on (one set), or () when on all."""
    sets = sorted({p.chromosomes for p in spec.published if p.chromosomes}) if spec is not None else []
    return sets[0] if sets else ()


def tss_baseline_score(rows: pd.DataFrame) -> pd.Series:
    """The distance-to-TSS predictor: closer variants score higher (-log10 of |distance| + 1 bp); unsigned."""
    return -np.log10(pd.to_numeric(rows["tss_distance"], errors="coerce").abs() + 1)


def evaluate_results(
    predictions: pd.DataFrame, specs: Mapping[str, TruthSetSpec], *, measured: pd.DataFrame | None = None,
    unit: str | None = None, min_n: int = MIN_STRATUM_N, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
) -> list[dict[str, object]]:
    """Every result of a predictions frame (see the module docstring).

    `measured` (truth_set, variant_id, gene_id, measured_effect) gives the ceiling on each result's own units;
    `unit` overrides the truth sets' unit column (the `evaluate` command's `--unit-col`).
    """
    units_frame = scored_rows(with_training_split(predictions))
    results = []
    for key, group in units_frame.groupby(GROUP_KEYS, sort=True, dropna=False):
        spec = specs.get(key[0])
        unit_col = unit or (spec.unit if spec is not None else VARIANT_UNIT)
        lead_by = spec.lead_by if spec is not None else KEEP_ALL
        significant = _significant(group)
        headline = lead_rows(significant, unit_col, lead_by)  # headline_rows, on the rows filtered once
        units = headline[unit_col] if unit_col in headline else None
        result: dict[str, object] = dict(zip(GROUP_KEYS, key, strict=True))
        result.update(_describe(group, unit_col, spec, headline, significant))
        result.update(summarize(headline["effect"], headline["score"], units=units, n_boot=n_boot, seed=seed))
        if len(significant) > len(headline):
            result["all_rows"] = {k: v for k, v in summarize(
                significant["effect"], significant["score"], units=significant[unit_col], n_boot=n_boot, seed=seed,
                with_null=False).items() if k in HEADLINE_KEYS}
        result["strata"] = stratified_metrics(headline, unit=unit_col, min_n=min_n, n_boot=n_boot, seed=seed,
                                              published_chromosomes=published_chromosomes(spec))
        matched, matching = match_negatives(group, headline, unit=unit_col, seed=seed)
        result["matching"] = matching
        result["classification"] = classification(matched, n_boot=n_boot, seed=seed)
        result["baselines"] = _baselines(headline, matched, spec, units, n_boot=n_boot, seed=seed)
        if measured is not None and result["kind"] == MODEL:
            result["ceiling"] = _ceiling_on(headline, measured, unit_col, n_boot=n_boot, seed=seed)
        results.append(result)
    return results


def _describe(group: pd.DataFrame, unit_col: str, spec: TruthSetSpec | None, headline: pd.DataFrame,
              significant: pd.DataFrame) -> dict[str, object]:
    predictor = str(group["predictor"].iloc[0]) if "predictor" in group else ""
    tracks = sorted(map(str, group["track"].dropna().unique())) if "track" in group else []
    what = {GENE_UNIT: "gene", VARIANT_UNIT: "variant"}.get(unit_col, unit_col)
    if spec is None:
        per_unit = f"every row, resampled by {what}"
    else:
        per_unit = f"one row per {what}" + (" (its lead variant)" if unit_col == GENE_UNIT else "")
    return {
        "predictor": predictor,
        "kind": MEASURED if predictor == MEASURED else MODEL,
        "unit": unit_col,
        "lead_by": spec.lead_by if spec is not None else KEEP_ALL,
        "scope": per_unit + (", significant only" if len(significant) < len(group) else ""),
        "tracks": tracks,
        "biosample": str(group["biosample"].dropna().iloc[0]) if "biosample" in group and
        group["biosample"].notna().any() else "",
        "held_out_scheme": str(group["held_out_scheme"].dropna().iloc[0]) if "held_out_scheme" in group and
        group["held_out_scheme"].notna().any() else "",
        "n_rows_scored": int(len(group)),
    }


def _baselines(headline: pd.DataFrame, matched: pd.DataFrame, spec: TruthSetSpec | None, units,
               *, n_boot: int, seed: int) -> dict[str, dict]:
    """Distance to the TSS as a predictor, on the same rows, for expression truth sets with TSS distances.

    The distance has no sign, so it is set against |effect| (closer variants, larger effects) and used to tell
    positives from matched negatives; against signed effects it could only measure noise.
    """
    if spec is None or spec.measured.kind != EXPRESSION or "tss_distance" not in headline:
        return {}
    score = tss_baseline_score(headline)
    if score.notna().sum() < 3:
        return {}
    magnitude = summarize(headline["effect"].abs(), score, units=units, n_boot=n_boot, seed=seed, with_null=False)
    baseline = {k: magnitude[k] for k in ("n", "n_units", "spearman", "spearman_ci", "pearson", "pearson_ci")}
    baseline["against"] = "|effect|"
    if len(matched):
        baseline["classification"] = classification(matched.assign(score=tss_baseline_score(matched)), n_boot=n_boot,
                                                    seed=seed)
    return {DISTANCE_TO_TSS: baseline}


def _ceiling_on(headline: pd.DataFrame, measured: pd.DataFrame, unit_col: str, *, n_boot: int, seed: int) -> dict:
    """The measured accessibility's metrics on those of the result's units where it was measured."""
    keys = [k for k in ("truth_set", "variant_id", "gene_id") if k in headline and k in measured]
    on = headline.drop(columns="measured_effect", errors="ignore").merge(
        measured[keys + ["measured_effect"]].drop_duplicates(keys), on=keys, how="inner")
    if len(on) < 3:
        return {"n": int(len(on))}
    both = summarize(on["effect"], on["measured_effect"], units=on[unit_col], n_boot=n_boot, seed=seed,
                     with_null=False)
    model = summarize(on["effect"], on["score"], units=on[unit_col], n_boot=n_boot, seed=seed, with_null=False)
    out = {k: v for k, v in both.items() if k in HEADLINE_KEYS}
    out["model_on_same_units"] = {k: v for k, v in model.items() if k in HEADLINE_KEYS}
    return out
