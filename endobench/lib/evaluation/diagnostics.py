"""Warnings that catch the seed benchmark's errors before anyone reads a correlation off the report.

Each function returns plain sentences (empty list when the input looks right). A sentence names the truth set
and what to check, so it reads on its own in the report, in metrics.json and in the Dagster UI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from endobench.lib.truth_sets.sanity import effect_column_problems

# GTEx |slope| medians are about 0.3-0.5 (whole blood eGenes 0.24); a median ten times smaller is not a slope.
TYPICAL_EQTL_ABS_SLOPE = (0.3, 0.5)
TINY_EFFECT_MEDIAN = 0.03
# QTLs are enriched in open chromatin, so the fraction in peaks sits above the peaks' genome coverage.
# At or below coverage, the positions behave like random ones: variants and peaks on different builds.
MIN_PEAK_ENRICHMENT = 1.2
MAX_PEAK_ENRICHMENT = 50.0
MAX_REFERENCE_MISMATCH = 0.05
# GTEx whole blood signif pairs average about 2-3 genes per variant; ten is far beyond any real tissue.
MAX_PAIRS_PER_VARIANT = 10.0


def _finite(values: object) -> np.ndarray:
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    return array[np.isfinite(array)]


def effect_sign_warnings(effect: object, label: str) -> list[str]:
    """The effect column is never negative (or never positive), or looks like p-values (in [0, 1], mass near 0)."""
    return [f"{label}: {problem}" for problem in effect_column_problems(_finite(effect))]


def tiny_effect_warnings(effect: object, label: str, *, min_n: int = 10) -> list[str]:
    """Median |effect| far below typical eQTL slopes: the column may be scaled, logged or not a slope at all.

    Apply to eQTL-like truth sets only; accessibility QTL betas have their own scale.
    """
    values = np.abs(_finite(effect))
    if len(values) < min_n:
        return []
    median = float(np.median(values))
    if median >= TINY_EFFECT_MEDIAN:
        return []
    low, high = TYPICAL_EQTL_ABS_SLOPE
    return [
        f"{label}: median |effect| is {median:.3g}, tiny next to typical GTEx eQTL |slope| medians of about "
        f"{low}-{high}: check that the effect column is the slope (normalised expression per ALT allele)"
    ]


def peak_fraction_warnings(
    label: str, observed: float | None, expected: float | None, filtered_by_annotation: bool | None
) -> list[str]:
    """The fraction of variants in peaks is not enriched over (or absurdly above) the peaks' genome coverage.

    Only for truth sets filtered by peaks (`filtered_by_annotation`, with an expected fraction: an annotation made of
    variant sites has none); dsQTLs sit in DNase sites by construction and are not filtered, so their fraction says
    nothing about builds.
    """
    if not filtered_by_annotation or observed is None or expected is None:
        return []
    observed, expected = float(observed), float(expected)
    if not (math.isfinite(observed) and math.isfinite(expected)) or expected <= 0:
        return []
    ratio = observed / expected
    if ratio < MIN_PEAK_ENRICHMENT:
        return [
            f"{label}: {observed:.2%} of variants fall in peaks, about what the peaks' coverage ({expected:.2%}) "
            f"gives random positions (enrichment {ratio:.2f}x): variants and peaks are probably on different "
            "genome builds; lift one over"
        ]
    if ratio > MAX_PEAK_ENRICHMENT:
        return [
            f"{label}: {observed:.2%} of variants fall in peaks against {expected:.2%} coverage "
            f"(enrichment {ratio:.0f}x): the variants look pre-selected by these peaks; check the inputs"
        ]
    return []


def reference_mismatch_warnings(label: str, rate: float | None) -> list[str]:
    """Too many variants whose REF allele disagrees with the reference genome (build or strand problem)."""
    if rate is None or not math.isfinite(float(rate)) or float(rate) <= MAX_REFERENCE_MISMATCH:
        return []
    return [
        f"{label}: {float(rate):.1%} of variants have a REF allele that disagrees with the reference genome "
        f"(more than {MAX_REFERENCE_MISMATCH:.0%}): check the genome build and strand of the table"
    ]


def duplicate_warnings(units: pd.DataFrame, label: str) -> list[str]:
    """The same variant counted many times in one readout of one configuration.

    Accessibility readouts must have one row per variant (a variant tagging five genes is one DNase change,
    not five); expression readouts (or any rows carrying a gene id) keep variant-gene pairs, but more than
    `MAX_PAIRS_PER_VARIANT` per variant on average means rows were multiplied (a bad join).
    """
    if units.empty:
        return []
    warnings = []
    for (readout, configuration), group in units.groupby(["readout", "configuration"], sort=True, dropna=False):
        n_rows, n_variants = len(group), group["variant_id"].nunique()
        per_gene = readout == "expression" or ("gene_id" in group and group["gene_id"].notna().any())
        if per_gene:
            pairs = n_rows / max(1, n_variants)
            if pairs > MAX_PAIRS_PER_VARIANT:
                warnings.append(
                    f"{label} / {configuration}: {pairs:.1f} rows per variant on average ({n_rows:,} rows, "
                    f"{n_variants:,} variants): rows look multiplied; check joins for duplicate keys"
                )
        elif n_rows > n_variants:
            warnings.append(
                f"{label} / {configuration}: {n_rows - n_variants:,} extra rows for {n_variants:,} variants in an "
                f"{readout} readout, which must count each variant once: deduplicate variant-gene pairs"
            )
    return warnings


def is_eqtl_like(units: pd.DataFrame) -> bool:
    """A truth set measured per gene (a gene id or a TSS distance is present), so its effects are eQTL slopes."""
    return any(col in units and units[col].notna().any() for col in ("gene_id", "tss_distance"))


def diagnose(scored: pd.DataFrame, inputs: Mapping[str, Mapping[str, object]]) -> list[str]:
    """Every warning for scored units (one frame, all truth sets) and the per-truth-set context numbers.

    `inputs[truth_set]` may hold fraction_in_annotation_observed, fraction_in_annotation_expected,
    filtered_by_annotation and
    reference_mismatch_rate; missing or None values skip that check.
    """
    warnings: list[str] = []
    truth_sets = sorted(set(scored["truth_set"].dropna()) | set(inputs))
    for truth_set in truth_sets:
        units = scored[scored["truth_set"] == truth_set]
        once = units.drop_duplicates(["variant_id", "gene_id"]) if "gene_id" in units else units
        warnings += effect_sign_warnings(once["effect"], truth_set)
        if is_eqtl_like(units):
            warnings += tiny_effect_warnings(once["effect"], truth_set)
        ctx = inputs.get(truth_set, {})
        warnings += peak_fraction_warnings(
            truth_set, ctx.get("fraction_in_annotation_observed"), ctx.get("fraction_in_annotation_expected"),
            ctx.get("filtered_by_annotation"),
        )
        warnings += reference_mismatch_warnings(truth_set, ctx.get("reference_mismatch_rate"))
        warnings += duplicate_warnings(units, truth_set)
    return warnings
