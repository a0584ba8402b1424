"""Variants inside peaks with bedtools (through pybedtools): each distinct variant intersected once.

The variants go to bedtools as one BED file of distinct REF spans, `bedtools intersect -u` keeps those sharing a
base with a peak, and its output is read back by pandas in one pass (no Python loop over intervals), so 1 M
distinct variants against 100 K peaks take a few seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from endobench.lib.peaks import PeakSet


def variants_in_peaks(variants: pd.DataFrame, peaks: PeakSet) -> np.ndarray:
    """Boolean mask over `variants` rows: does the variant's REF span overlap a peak?

    The REF span of a 1-based `pos` is [pos - 1, pos - 1 + len(ref)) in BED terms, so an indel overlapping a peak's
    first base is inside. Rows of one variant (one per gene) get the same answer.
    """
    from endobench.lib.peaks import intersect

    if variants.empty or peaks.frame.empty:
        return np.zeros(len(variants), dtype=bool)
    codes, _ = pd.factorize(variants["variant_id"])
    first = np.unique(codes, return_index=True)[1]
    rows = variants.iloc[first]
    spans = pd.DataFrame({
        "chrom": rows["chrom"].to_numpy(),
        "start": rows["pos"].to_numpy(dtype=np.int64) - 1,
        "end": rows["pos"].to_numpy(dtype=np.int64) - 1 + rows["ref"].str.len().to_numpy(dtype=np.int64),
    })
    inside_unique = intersect(spans, peaks.frame[["chrom", "start", "end"]], keep="overlapping")
    return inside_unique[codes]
