"""One result per (truth set, readout, configuration, training split), with its units, power, floor and references.

For each result:
- the headline rows are one row per unit (a gene's lead variant by p-value, or its highest-PIP variant; a variant
  once), and only significant rows enter the signed metrics (a non-significant eGene's slope is noise); when
  there are several rows per unit, all of them make a secondary line, resampled by unit;
- the unit of resampling is the linked unit (`units.resampling_units`: genes sharing a lead variant together);
- the primary endpoint of the truth set (`endpoints.primary_endpoint`), and the minimum detectable Spearman
  (`mde`) of its number of units;
- the floor: a permutation null for each metric, and for expression truth sets the distance to the TSS as a
  baseline predictor of |effect| (it has no sign), on the same rows;
- the noise ceiling of the measured effects on the same rows (`endpoints.noise_ceiling`);
- the references (`references`): measured accessibility and tissue replication evaluated as if they were
  predictions, as results of their own and on each model's units; a model whose MDE is above its reference on the
  same units (or above the noise ceiling where it has none) is `underpowered`;
- classification: |score| of the significant units against non-significant tests of their own genes (`negatives`;
  none, said why, where the table has no such tests), and so the unsigned scores the rows carry (AVI: `unsigned`);
- strata, with the chromosomes of the published evaluation where the truth set's published numbers name them.
A model that knows which chromosomes or regions it trained on is split into `held_out`, `training` and `all`;
only `held_out` is free of training leakage; a model whose every row is held out (cross-fitted) has `held_out` only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from endobench.lib.evaluation.endpoints import noise_ceiling, primary_endpoint, spearman_mde
from endobench.lib.evaluation.metrics import BOOTSTRAP_SEED, MIN_UNITS, N_BOOTSTRAP, summarize
from endobench.lib.evaluation.negatives import classification, match_negatives, unsigned_classification
from endobench.lib.evaluation.references import REFERENCE, REFERENCE_FOR_READOUT, REFERENCE_NAMES
from endobench.lib.evaluation.strata import stratified_metrics
from endobench.lib.evaluation.units import KEEP_ALL, lead_rows, resampling_units, significant
from endobench.lib.truth_sets.catalog import (
    DIRECTION,
    EXPRESSION,
    GENE_UNIT,
    GTEX_SOURCES,
    VARIANT_UNIT,
    TruthSetSpec,
    gtex_label,
)

GROUP_KEYS = ["truth_set", "readout", "configuration", "split"]
ALL = "all"
HELD_OUT = "held_out"
TRAINING = "training"
MODEL = "model"
DISTANCE_TO_TSS = "distance_to_tss"
RESAMPLING_UNIT = "resampling_unit"
NOISE_CEILING = "noise ceiling"
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


def published_chromosomes(spec: TruthSetSpec | None) -> tuple[str, ...]:
    """The chromosomes the truth set's published numbers were computed on (one set), or () when on all."""
    sets = sorted({p.chromosomes for p in spec.published if p.chromosomes}) if spec is not None else []
    return sets[0] if sets else ()


def tss_baseline_score(rows: pd.DataFrame) -> pd.Series:
    """The distance-to-TSS predictor: closer variants score higher (-log10 of |distance| + 1 bp); unsigned."""
    return -np.log10(pd.to_numeric(rows["tss_distance"], errors="coerce").abs() + 1)


def evaluate_results(
    predictions: pd.DataFrame, specs: Mapping[str, TruthSetSpec], *, references: pd.DataFrame | None = None,
    unit: str | None = None, min_n: int = MIN_UNITS, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
) -> list[dict[str, object]]:
    """Every result of a predictions frame (see the module docstring).

    `references` (the reference rows of `predictions`: truth_set, variant_id, gene_id, predictor, configuration,
    score) gives each model result its references on its own units; `unit` overrides the truth sets' unit column
    (the `evaluate` command's `--unit-col`).
    """
    units_frame = scored_rows(with_training_split(predictions))
    results = []
    for key, group in units_frame.groupby(GROUP_KEYS, sort=True, dropna=False):
        spec = specs.get(key[0])
        unit_col = unit or (spec.unit if spec is not None else VARIANT_UNIT)
        lead_by = spec.lead_by if spec is not None else KEEP_ALL
        endpoint = spec.primary if spec is not None else DIRECTION
        kept = significant(group)
        headline = lead_rows(kept, unit_col, lead_by)  # units.headline_rows, on the rows filtered once
        headline = headline.assign(**{RESAMPLING_UNIT: resampling_units(headline, unit_col)})
        units = headline[RESAMPLING_UNIT]
        result: dict[str, object] = dict(zip(GROUP_KEYS, key, strict=True))
        result.update(_describe(group, unit_col, spec, headline, kept))
        result.update(summarize(headline["effect"], headline["score"], units=units, n_boot=n_boot, seed=seed))
        result["primary"] = primary_endpoint(headline["effect"], headline["score"], units=units, endpoint=endpoint,
                                             n_boot=n_boot, seed=seed)
        result["mde"] = spearman_mde(int(result["n_units"]))
        result["noise_ceiling"] = _noise_ceiling(headline)
        if len(kept) > len(headline):
            result["all_rows"] = {k: v for k, v in summarize(
                kept["effect"], kept["score"], units=resampling_units(kept, unit_col), n_boot=n_boot, seed=seed,
                with_null=False).items() if k in HEADLINE_KEYS}
        result["strata"] = stratified_metrics(headline, unit=RESAMPLING_UNIT, min_n=min_n, n_boot=n_boot, seed=seed,
                                              published_chromosomes=published_chromosomes(spec))
        matched, matching = match_negatives(group, headline, unit=unit_col, seed=seed)
        result["matching"] = matching
        result["classification"] = classification(matched, n_boot=n_boot, seed=seed, min_n=min_n)
        result["unsigned"] = unsigned_classification(matched, n_boot=n_boot, seed=seed, min_n=min_n)
        result["baselines"] = _baselines(headline, matched, spec, units, n_boot=n_boot, seed=seed, min_n=min_n)
        if references is not None and result["kind"] == MODEL:
            result["references"] = _references_on(headline, references, unit_col, endpoint, n_boot=n_boot, seed=seed)
        result["power"] = power(result, min_n)
        results.append(result)
    return results


def _noise_ceiling(headline: pd.DataFrame) -> dict[str, float]:
    se = headline["effect_se"] if "effect_se" in headline else pd.Series(np.nan, index=headline.index)
    return noise_ceiling(headline["effect"], pd.to_numeric(se, errors="coerce"))


def reference_for(result: Mapping[str, object]) -> dict | None:
    """The reference a model result is read against on its own units: measured accessibility for an accessibility
    readout, tissue replication for an expression readout; None when there is none with a number."""
    wanted = REFERENCE_FOR_READOUT.get(str(result.get("readout")))
    for reference in (result.get("references") or {}).values():
        if reference.get("predictor") == wanted and math.isfinite(float(reference.get("spearman", math.nan))):
            return reference
    return None


def power(result: Mapping[str, object], min_n: int = MIN_UNITS) -> dict[str, object]:
    """The row's minimum detectable Spearman against what it should be able to see: its reference on the same units
    (a model), or the noise ceiling (a reference, or a model without a reference). `underpowered` when the MDE is
    above it, or the row has fewer than `min_n` units."""
    reference = reference_for(result)
    if reference is not None and reference.get("n_units", 0) >= min_n:
        against, value = f"{reference['label']} on the same {reference['n_units']:,} units", reference["spearman"]
    else:
        against, value = NOISE_CEILING, result.get("noise_ceiling", {}).get("spearman", math.nan)
    mde = float(result.get("mde", math.nan))
    too_few_units = int(result.get("n_units") or 0) < min_n
    comparable = math.isfinite(mde) and math.isfinite(float(value))
    return {"mde": mde, "against": against, "against_spearman": value,
            "underpowered": bool(too_few_units or not math.isfinite(mde) or (comparable and mde > abs(value)))}


def _describe(group: pd.DataFrame, unit_col: str, spec: TruthSetSpec | None, headline: pd.DataFrame,
              kept: pd.DataFrame) -> dict[str, object]:
    predictor = str(group["predictor"].iloc[0]) if "predictor" in group else ""
    tracks = sorted(map(str, group["track"].dropna().unique())) if "track" in group else []
    what = {GENE_UNIT: "gene", VARIANT_UNIT: "variant"}.get(unit_col, unit_col)
    if spec is None:
        per_unit = f"every row, resampled by {what}"
    else:
        per_unit = f"one row per {what}" + (" (its lead variant; genes sharing a variant are resampled together)"
                                            if unit_col == GENE_UNIT else "")
    return {
        "predictor": predictor,
        "kind": REFERENCE if predictor in REFERENCE_NAMES else MODEL,
        "unit": unit_col,
        "lead_by": spec.lead_by if spec is not None else KEEP_ALL,
        "scope": per_unit + (", significant only" if len(kept) < len(group) else ""),
        "tracks": tracks,
        "biosample": str(group["biosample"].dropna().iloc[0]) if "biosample" in group and
        group["biosample"].notna().any() else "",
        "held_out_scheme": str(group["held_out_scheme"].dropna().iloc[0]) if "held_out_scheme" in group and
        group["held_out_scheme"].notna().any() else "",
        "n_rows_scored": int(len(group)),
        "sources": {str(k): int(v) for k, v in group["source"].value_counts().sort_index().items()}
        if "source" in group else {},
        "n_variants": int(headline[VARIANT_UNIT].nunique()) if VARIANT_UNIT in headline else int(len(headline)),
    }


def _baselines(headline: pd.DataFrame, matched: pd.DataFrame, spec: TruthSetSpec | None, units,
               *, n_boot: int, seed: int, min_n: int) -> dict[str, dict]:
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
                                                    seed=seed, min_n=min_n)
    return {DISTANCE_TO_TSS: baseline}


def _references_on(headline: pd.DataFrame, references: pd.DataFrame, unit_col: str, endpoint: str, *, n_boot: int,
                   seed: int) -> dict[str, dict]:
    """Each reference's metrics on those of the result's units where it exists, beside the model's on the same
    units, resampled by the linked units of those rows."""
    out = {}
    mine = references[references["truth_set"] == headline["truth_set"].iloc[0]] if len(headline) else references[:0]
    keys = [k for k in ("truth_set", "variant_id", "gene_id") if k in headline and k in mine]
    for configuration, rows in mine.groupby("configuration", sort=True):
        on = headline.merge(rows[keys + ["score"]].rename(columns={"score": "reference_score"}).drop_duplicates(keys),
                            on=keys, how="inner")
        predictor = str(rows["predictor"].iloc[0])
        units = resampling_units(on, unit_col)
        entry: dict[str, object] = {"configuration": configuration, "predictor": predictor,
                                    "label": REFERENCE_NAMES.get(predictor, predictor), "n": int(len(on)),
                                    "n_units": int(pd.Series(units).nunique())}
        if len(on) >= 3:
            both = summarize(on["effect"], on["reference_score"], units=units, n_boot=n_boot, seed=seed,
                             with_null=False)
            model = summarize(on["effect"], on["score"], units=units, n_boot=n_boot, seed=seed, with_null=False)
            entry.update({k: v for k, v in both.items() if k in HEADLINE_KEYS})
            entry["primary"] = primary_endpoint(on["effect"], on["reference_score"], units=units, endpoint=endpoint,
                                                n_boot=n_boot, seed=seed)
            entry["model_on_same_units"] = {k: v for k, v in model.items() if k in HEADLINE_KEYS}
            entry["model_on_same_units"]["primary"] = primary_endpoint(on["effect"], on["score"], units=units,
                                                                       endpoint=endpoint, n_boot=n_boot, seed=seed)
        out[configuration] = entry
    return out


def evaluate_tissue_replication(pairs: pd.DataFrame | None, *, n_boot: int = N_BOOTSTRAP) -> list[dict]:
    """The genome-wide tissue replication of each ordered pair of tissues, as results are computed."""
    if pairs is None or pairs.empty:
        return []
    out = []
    for (source, other), rows in pairs.groupby(["truth_set", "other"], sort=True):
        units = resampling_units(rows, GENE_UNIT)
        summary = summarize(rows["effect"], rows["score"], units=units, n_boot=n_boot, with_null=False)
        primary = primary_endpoint(rows["effect"], rows["score"], units=units, n_boot=n_boot)
        out.append({
            "tissue": gtex_label(GTEX_SOURCES[source]) if source in GTEX_SOURCES else source,
            "predicted_by": gtex_label(GTEX_SOURCES[other]) if other in GTEX_SOURCES else other,
            "unit": GENE_UNIT, "n": summary["n"], "n_units": summary["n_units"],
            "n_variants": int(rows["variant_id"].nunique()),
            **{k: summary[k] for k in HEADLINE_KEYS if k in summary}, "primary": primary,
            "mde": spearman_mde(int(summary["n_units"])), "noise_ceiling": _noise_ceiling(rows),
        })
    return out
