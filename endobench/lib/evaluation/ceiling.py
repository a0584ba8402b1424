"""The ceiling that measured accessibility sets: a measured accessibility QTL effect used as if it were a prediction.

Where a truth-set variant (a GTEx eQTL, say) sits on a variant whose accessibility effect was measured (a Degner
dsQTL), that measured effect is what a perfect accessibility model would predict. Evaluated against the eQTL
effect with the same metrics, units and intervals as a model, it tells how far any accessibility prediction can
track expression here: a model row is read against it.

Alleles are harmonised to the truth set's: the measured effect is that of the measured table's ALT (its alleles
on the + strand of the build: `read_generic_qtls` turns minus-strand lifts around), kept where the alleles are the
same, negated where they are swapped. A position with several measured records of different alleles, or whose
alleles are neither the truth set's nor swapped, is excluded and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

MEASURED = "measured"
SAME = "same"
SWAPPED = "swapped"
ALLELE_MISMATCH = "measured_allele_mismatch"
MULTIALLELIC = "measured_multiallelic_site"


def measured_configuration(measured_truth_set: str) -> str:
    """The configuration id of the ceiling rows measured by `measured_truth_set` (e.g. the Degner dsQTLs)."""
    return f"{MEASURED}|{measured_truth_set}"


def harmonise_measured(truth: pd.DataFrame, measured: pd.DataFrame) -> tuple[pd.DataFrame, Counter]:
    """Truth rows that coincide with a measured QTL, with `measured_effect` and `measured_orientation`.

    `truth` and `measured` have chrom, pos (1-based), ref and alt; `measured` also `effect` (of its ALT). Rows at
    positions without a measured QTL are not returned and not counted (they are not at a measured site); rows at
    a measured site that cannot be harmonised are counted by reason.
    """
    keys = ["chrom", "pos"]
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


def ceiling_rows(
    windows: pd.DataFrame, measured: pd.DataFrame, truth_sets: Sequence[str], *, measured_truth_set: str,
    biosample: str, track: str,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Prediction-like rows of the ceiling for each truth set in `truth_sets`, and what each could not use.

    `windows` holds the truth sets' rows (alleles harmonised to the reference, effect of the harmonised ALT);
    `measured` the measured QTL table. The rows carry `score` = the harmonised measured effect, status "scored",
    readout accessibility in `biosample`, and the configuration `measured|<measured_truth_set>`, so the report
    evaluates them exactly like a model.
    """
    parts, excluded = [], {}
    for truth_set in truth_sets:
        rows = windows[windows["truth_set"] == truth_set]
        joined, counts = harmonise_measured(rows, measured)
        excluded[truth_set] = dict(counts)
        parts.append(joined.assign(
            readout="accessibility", biosample=biosample, score=joined["measured_effect"], quantile_score=np.nan,
            status="scored", reason="", from_cache=False, track=track, held_out=pd.NA, held_out_scheme="",
            configuration=measured_configuration(measured_truth_set), predictor=MEASURED,
        ))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return frame, excluded
