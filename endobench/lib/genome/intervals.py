"""Variants inside peaks with bedtools (through pybedtools): each distinct REF span intersected once.

The variants go to bedtools as one BED file of distinct REF spans, `bedtools intersect -u` keeps those sharing a
base with a peak (`peaks.intersect`, which leaves out the spans that share no 1-kb bin with any peak), and its
output is read back by pandas in one pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from endobench.lib.genome.peaks import PeakSet


def variants_in_peaks(variants: pd.DataFrame, peaks: PeakSet) -> np.ndarray:
    """Boolean mask over `variants` rows: does the variant's REF span overlap a peak?

    The REF span of a 1-based `pos` is [pos - 1, pos - 1 + len(ref)) in BED terms, so an indel overlapping a peak's
    first base is inside. Rows with one span (the rows of one variant, one per gene) are intersected once: spans
    are grouped on chromosome codes, starts and REF lengths (`schema._group`), never by hashing id strings.
    """
    from endobench.lib.truth_sets.schema import _group

    if variants.empty or peaks.frame.empty:
        return np.zeros(len(variants), dtype=bool)
    chrom_codes, chroms = pd.factorize(np.asarray(variants["chrom"], dtype=object))
    ref_codes, refs = pd.factorize(np.asarray(variants["ref"], dtype=object))
    start = variants["pos"].to_numpy(dtype=np.int64) - 1
    length = np.array([len(ref) for ref in refs], dtype=np.int64)[ref_codes]
    span = _group((chrom_codes, len(chroms)), (start, int(start.max()) + 1), (length, int(length.max()) + 1))
    return spans_in_peaks(span, chrom_codes, np.asarray(chroms, dtype=object), start, start + length, peaks)


def spans_in_peaks(group: np.ndarray, chrom_codes: np.ndarray, chrom_names: np.ndarray, start: np.ndarray,
                   end: np.ndarray, peaks: PeakSet) -> np.ndarray:
    """Boolean per row: does the 0-based span [start, end) on chromosome `chrom_names[chrom_codes]` share a base
    with a peak? `group` codes (small non-negative integers) the rows that share one span: one row of each group
    goes to bedtools."""
    from endobench.lib.genome.peaks import intersect

    if not len(group) or peaks.frame.empty:
        return np.zeros(len(group), dtype=bool)
    row_of = np.full(int(group.max()) + 1, -1, dtype=np.int64)
    row_of[group] = np.arange(len(group))  # a row of each group: they share the span
    codes = np.flatnonzero(row_of >= 0)
    one = row_of[codes]
    spans = pd.DataFrame({"chrom": pd.Categorical.from_codes(chrom_codes[one], categories=chrom_names),
                          "start": start[one], "end": end[one]})
    inside = np.zeros(len(row_of), dtype=bool)
    inside[codes] = intersect(spans, peaks.frame[["chrom", "start", "end"]], keep="overlapping")
    return inside[group]
