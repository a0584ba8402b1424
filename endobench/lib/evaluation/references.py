"""Measured references a model is read against: measured accessibility, and the same eQTL in another tissue.

Each reference is a measurement used as if it were a prediction, as prediction-like rows that the report evaluates
exactly like a model, on the truth set's own units (each gene's lead variant), and again on each model's units:
- **measured accessibility (reference)**: LCL DNase sensitivity measured at the same position in other donors (the
  Degner 2012 dsQTL effect of a truth-set variant that is a dsQTL). It mixes LD (a lead eQTL may tag the causal
  variant), cell type (LCLs, not Whole Blood) and mechanism (an eQTL need not act through accessibility), so it is
  a reference for accessibility readouts, not an upper bound: a model may do better or worse.
- **tissue replication (reference)**: for genes whose significant lead variant is the same in two GTEx tissues,
  the other tissue's slope of that variant: how far an expression effect measured in another tissue tracks this
  one (a reference for expression readouts).
What does bound every predictor is the noise ceiling of the measured effects (`endpoints.noise_ceiling`).

Alleles are harmonised to the truth set's: a reference effect is that of its table's ALT (on the + strand of the
build: `read_generic_qtls` turns minus-strand lifts around), kept where the alleles are the same, negated where
they are swapped. A position with several records of different alleles, or whose alleles are neither the truth
set's nor swapped, is excluded and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from endobench.lib.evaluation.units import headline_rows, lead_rows
from endobench.lib.truth_sets.catalog import (
    ACCESSIBILITY,
    EXPRESSION,
    GENE_UNIT,
    GTEX_SOURCES,
    LEAD_BY_PVALUE,
    TruthSetSpec,
    gtex_label,
)

MEASURED = "measured"
TISSUE_REPLICATION = "tissue_replication"
REFERENCE = "reference"
REFERENCE_NAMES = {MEASURED: "measured accessibility (reference)", TISSUE_REPLICATION: "tissue replication (reference)"}
# The reference a model's readout is read against: accessibility against measured accessibility, expression against
# the same eQTL measured in another tissue.
REFERENCE_FOR_READOUT = {ACCESSIBILITY: MEASURED, EXPRESSION: TISSUE_REPLICATION}
WHAT_REFERENCES_ARE = (
    "Measured accessibility (reference) is LCL DNase sensitivity measured at the same position in other donors "
    "(the Degner 2012 dsQTL effect), used as if it were a prediction: it mixes LD, cell type and mechanism, and it "
    "is not an upper bound. Tissue replication (reference) is the slope of the same lead variant of the same gene "
    "in the other GTEx tissue, for genes whose significant lead variant is the same in both. Only the noise "
    "ceiling bounds what a predictor can reach."
)
SAME = "same"
SWAPPED = "swapped"
ALLELE_MISMATCH = "measured_allele_mismatch"
MULTIALLELIC = "measured_multiallelic_site"


def measured_configuration(measured_truth_set: str) -> str:
    """The configuration id of the measured accessibility rows of `measured_truth_set` (e.g. the Degner dsQTLs)."""
    return f"{MEASURED}|{measured_truth_set}"


def harmonise_measured(truth: pd.DataFrame, measured: pd.DataFrame,
                       keys: Sequence[str] = ("chrom", "pos")) -> tuple[pd.DataFrame, Counter]:
    """Truth rows that coincide with a measured record on `keys`, with `measured_effect` and `measured_orientation`.

    `truth` and `measured` have the keys (chrom, pos 1-based, and for example gene_id), ref and alt; `measured`
    also `effect` (of its ALT). Rows without a measured record are not returned and not counted (they are not at a
    measured site); rows at a measured site that cannot be harmonised are counted by reason.
    """
    keys = list(keys)
    sites = measured[keys + ["ref", "alt", "effect"]].copy()
    sites["ref"], sites["alt"] = sites["ref"].str.upper(), sites["alt"].str.upper()
    sites = sites.drop_duplicates(keys + ["ref", "alt"])
    alleles_at_site = sites.groupby(keys)["ref"].transform("size")
    excluded: Counter = Counter()
    single = sites[alleles_at_site == 1]
    at_site = truth.reset_index(drop=True).merge(
        sites[keys].assign(n_records=alleles_at_site.to_numpy()).drop_duplicates(keys), on=keys, how="inner")
    n_multi = int((at_site["n_records"] > 1).sum())
    if n_multi:
        excluded[MULTIALLELIC] = n_multi
    joined = truth.merge(single.rename(columns={"ref": "m_ref", "alt": "m_alt", "effect": "m_effect"}),
                         on=keys, how="inner")
    ref, alt = joined["ref"].str.upper(), joined["alt"].str.upper()
    same = (ref == joined["m_ref"]) & (alt == joined["m_alt"])
    swapped = (ref == joined["m_alt"]) & (alt == joined["m_ref"])
    mismatch = int((~same & ~swapped).sum())
    if mismatch:
        excluded[ALLELE_MISMATCH] = mismatch
    joined = joined[same | swapped].copy()
    joined["measured_orientation"] = np.where(same[same | swapped], SAME, SWAPPED)
    joined["measured_effect"] = np.where(joined["measured_orientation"] == SAME, joined["m_effect"],
                                         -joined["m_effect"])
    return joined.drop(columns=["m_ref", "m_alt", "m_effect"]), excluded


def _as_predictions(joined: pd.DataFrame, *, readout: str, biosample: str, track: str, configuration: str,
                    predictor: str) -> pd.DataFrame:
    """Harmonised reference rows in the predictions' layout: the reference effect is the score."""
    return joined.assign(
        readout=readout, biosample=biosample, score=joined["measured_effect"], quantile_score=np.nan,
        status="scored", reason="", from_cache=False, track=track, held_out=pd.NA, held_out_scheme="",
        configuration=configuration, predictor=predictor,
    )


def measured_reference_rows(
    windows: pd.DataFrame, measured: pd.DataFrame, specs: Sequence[TruthSetSpec], *, measured_truth_set: str,
    biosample: str, track: str,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Prediction-like rows of measured accessibility for each truth set in `specs`, and what each could not use.

    `windows` holds the truth sets' rows (alleles harmonised to the reference, effect of the harmonised ALT);
    `measured` the measured QTL table. Only each unit's lead row is used (the row the truth set's headline takes),
    so that a gene is never represented by another variant than its lead. The rows carry `score` = the harmonised
    measured effect, readout accessibility in `biosample`, and the configuration `measured|<measured_truth_set>`.
    """
    parts, excluded = [], {}
    for spec in specs:
        rows = lead_rows(windows[windows["truth_set"] == spec.name], spec.unit, spec.lead_by)
        joined, counts = harmonise_measured(rows, measured)
        excluded[spec.name] = dict(counts)
        parts.append(_as_predictions(joined, readout=ACCESSIBILITY, biosample=biosample, track=track,
                                     configuration=measured_configuration(measured_truth_set), predictor=MEASURED))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return frame, excluded


def significant_leads(eqtls: pd.DataFrame, source: str) -> pd.DataFrame:
    """The significant lead variant of each gene of one GTEx tissue's table (`truth_set` = the source key)."""
    return headline_rows(eqtls[eqtls["truth_set"] == source], GENE_UNIT, LEAD_BY_PVALUE)


def tissue_replication_rows(
    windows: pd.DataFrame, eqtls: pd.DataFrame, specs: Sequence[TruthSetSpec],
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Prediction-like rows of tissue replication for each GTEx truth set in `specs`, and what each could not use.

    For a truth set of tissue A, each gene's lead row whose variant is also the significant lead of the same gene
    in another tissue B of `eqtls` (the parsed GTEx tables, `truth_set` = the tissue's source key) gets B's slope
    as its score: readout expression in B's biosample (that of B's truth sets in `specs`), configuration
    `tissue_replication|<B>`.
    """
    parts, excluded = [], {}
    biosamples = {s.source: s.measured.biosample for s in specs if s.source in GTEX_SOURCES}
    tissues = [t for t in dict.fromkeys(eqtls["truth_set"]) if t in biosamples]
    for spec in specs:
        if spec.source not in GTEX_SOURCES or spec.measured.kind != EXPRESSION:
            continue
        rows = lead_rows(windows[windows["truth_set"] == spec.name], spec.unit, spec.lead_by)
        counts: Counter = Counter()
        for other in (t for t in tissues if t != spec.source):
            label, biosample = gtex_label(GTEX_SOURCES[other]), biosamples[other]
            joined, not_harmonised = harmonise_measured(rows, significant_leads(eqtls, other),
                                                        keys=("gene_id", "chrom", "pos"))
            counts.update({f"{TISSUE_REPLICATION}_{other}_{k}": v for k, v in not_harmonised.items()})
            parts.append(_as_predictions(joined, readout=EXPRESSION, biosample=biosample.curie,
                                         track=f"{label}: slope of the same lead variant",
                                         configuration=f"{TISSUE_REPLICATION}|{other}", predictor=TISSUE_REPLICATION))
        excluded[spec.name] = dict(counts)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return frame, excluded


def tissue_replication_genome_wide(eqtls: pd.DataFrame) -> pd.DataFrame:
    """Every gene whose significant lead variant is the same in two tissues of `eqtls`, once per ordered pair of
    tissues (truth_set = the tissue measured, other = the tissue whose slope predicts it), genome-wide (no
    annotation): gene_id, variant_id, effect, effect_se and score (the other tissue's harmonised slope)."""
    parts = []
    tissues = [t for t in dict.fromkeys(eqtls["truth_set"]) if t in GTEX_SOURCES]
    for source in tissues:
        leads = significant_leads(eqtls, source)
        for other in (t for t in tissues if t != source):
            joined, _ = harmonise_measured(leads, significant_leads(eqtls, other), keys=("gene_id", "chrom", "pos"))
            parts.append(joined.assign(other=other, score=joined["measured_effect"])[
                ["truth_set", "other", "gene_id", "variant_id", "effect", "effect_se", "score"]])
    columns = ["truth_set", "other", "gene_id", "variant_id", "effect", "effect_se", "score"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
