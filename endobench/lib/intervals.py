"""Variants inside peaks, through bedtools (pybedtools), one interval per distinct variant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pybedtools

from endobench.lib.peaks import PeakSet, to_bedtool


def variants_in_peaks(variants: pd.DataFrame, peaks: PeakSet) -> np.ndarray:
    """Boolean mask over `variants` rows: does the variant's REF span overlap a peak?

    Each distinct variant is intersected once, however many genes it has, and the answer is mapped back.
    """
    if variants.empty or peaks.frame.empty:
        return np.zeros(len(variants), dtype=bool)
    unique = variants.drop_duplicates("variant_id")
    bed = pd.DataFrame({
        "chrom": unique["chrom"].to_numpy(),
        "start": unique["pos"].to_numpy() - 1,
        "end": unique["pos"].to_numpy() - 1 + unique["ref"].str.len().to_numpy(),
        "name": unique["variant_id"].to_numpy(),
    })
    hits = pybedtools.BedTool.from_dataframe(bed).intersect(to_bedtool(peaks.frame[["chrom", "start", "end"]]), u=True)
    inside = {fields.name for fields in hits}
    pybedtools.cleanup(remove_all=False)
    return variants["variant_id"].isin(inside).to_numpy()
