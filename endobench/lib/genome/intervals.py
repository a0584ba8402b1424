"""Variants inside peaks with bedtools (through pybedtools): each distinct REF span intersected once.

The variants go to bedtools as one BED file of distinct REF spans, `bedtools intersect -u` keeps those sharing a
base with a peak (`peaks.intersect`, which leaves out the spans that share no 1-kb bin with any peak), and its
output is read back by pandas in one pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from endobench.lib.codes import group, text_codes

if TYPE_CHECKING:
    from endobench.lib.genome.peaks import PeakSet


def variants_in_peaks(variants: pd.DataFrame, peaks: PeakSet) -> np.ndarray:
    """Boolean mask over `variants` rows: does the variant's REF span overlap a peak?

    The REF span of a 1-based `pos` is [pos - 1, pos - 1 + len(ref)) in BED terms, so an indel overlapping a peak's
    first base is inside. Rows with one span (the rows of one variant, one per gene) are intersected once: spans
    are grouped on chromosome codes, starts and REF lengths (`codes.group`), never by hashing id strings.
    """

    if variants.empty or peaks.frame.empty:
        return np.zeros(len(variants), dtype=bool)
    chrom_codes, chroms = text_codes(variants["chrom"])
    ref_codes, refs = text_codes(variants["ref"])
    start = variants["pos"].to_numpy(dtype=np.int64) - 1
    length = np.array([len(ref) for ref in refs], dtype=np.int64)[ref_codes]
    span = group((chrom_codes, len(chroms)), (start, int(start.max()) + 1), (length, int(length.max()) + 1))
    return spans_in_peaks(span, chrom_codes, chroms, start, start + length, peaks)


def spans_in_peaks(span: np.ndarray, chrom_codes: np.ndarray, chrom_names: np.ndarray, start: np.ndarray,
                   end: np.ndarray, peaks: PeakSet) -> np.ndarray:
    """Boolean per row: does the 0-based span [start, end) on chromosome `chrom_names[chrom_codes]` share a base
    with a peak? `span` codes (small non-negative integers) the rows that share one span: one row of each span
    goes to bedtools."""
    from endobench.lib.genome.peaks import intersect

    if not len(span) or peaks.frame.empty:
        return np.zeros(len(span), dtype=bool)
    row_of = np.full(int(span.max()) + 1, -1, dtype=np.int64)
    row_of[span] = np.arange(len(span))  # a row of each span: they share it
    codes = np.flatnonzero(row_of >= 0)
    one = row_of[codes]
    spans = pd.DataFrame({"chrom": pd.Categorical.from_codes(chrom_codes[one], categories=chrom_names),
                          "start": start[one], "end": end[one]})
    inside = np.zeros(len(row_of), dtype=bool)
    inside[codes] = intersect(spans, peaks.frame[["chrom", "start", "end"]], keep="overlapping")
    return inside[span]
