"""Scan both alleles of many variants with every motif, both strands, in one pass of matrix products.

For each allele only the motif placements that overlap the allele's own bases count (a placement entirely in the
flanks is the same in both alleles). Sequences come with `flank` = longest motif - 1 bases on each side of the
allele (`windows.flanked_alleles`), so every overlapping placement of every motif fits. Placements are scored by
grouping motifs of one length: the one-hot windows of a batch of sequences times the stacked forward and
reverse-complement matrices. A placement that covers an N is not scored (as Biopython's PSSM scoring leaves it
NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from endobench.lib.motifs.library import MotifLibrary

FORWARD = "+"
REVERSE = "-"
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _base in enumerate("ACGT"):
    _CODE[ord(_base)] = _i
    _CODE[ord(_base.lower())] = _i
# Floats in a batch of one-hot windows (about 64 MB of float32).
BATCH_FLOATS = 16_000_000
NO_SITE = np.iinfo(np.int32).min


@dataclass(frozen=True)
class AlleleHits:
    """Best placement of every motif over one allele of each sequence: arrays of shape (sequences, motifs).

    `score` in 1/SCALE bits (NO_SITE where no placement could be scored); `offset` is the 0-based position, in
    the motif as read on its strand, of the first allele base the placement covers; `reverse` the strand.
    """

    score: np.ndarray
    offset: np.ndarray
    reverse: np.ndarray


def encode(sequences: list[str]) -> np.ndarray:
    """Sequences of one length as codes 0-3 (A, C, G, T; either case), 4 for anything else (N)."""
    if not sequences:
        return np.zeros((0, 0), dtype=np.uint8)
    raw = np.frombuffer("".join(sequences).encode("latin-1"), dtype=np.uint8)
    return _CODE[raw].reshape(len(sequences), -1)


def scan_alleles(sequences: list[str], allele_lengths: np.ndarray, flank: int, library: MotifLibrary) -> AlleleHits:
    """The best placement of each motif overlapping the allele in each sequence (allele at index `flank`)."""
    if flank < library.max_length - 1:
        raise ValueError(f"flank {flank} is shorter than the longest motif ({library.max_length}) - 1")
    n, k = len(sequences), len(library)
    score = np.full((n, k), NO_SITE, dtype=np.int32)
    offset = np.zeros((n, k), dtype=np.int16)
    reverse = np.zeros((n, k), dtype=bool)
    allele_lengths = np.asarray(allele_lengths, dtype=np.int64)
    for length in np.unique(allele_lengths):
        rows = np.flatnonzero(allele_lengths == length)
        codes = encode([sequences[i] for i in rows])
        hits = _scan_group(codes, int(length), flank, library)
        score[rows], offset[rows], reverse[rows] = hits
    return AlleleHits(score, offset, reverse)


def _scan_group(codes: np.ndarray, allele_length: int, flank: int, library: MotifLibrary):
    n, width = codes.shape
    onehot = np.zeros((n, width, 4), dtype=np.float32)
    known = codes < 4
    onehot[known, codes[known]] = 1.0
    unknown = ~known
    score = np.full((n, len(library)), NO_SITE, dtype=np.int32)
    offset = np.zeros((n, len(library)), dtype=np.int16)
    reverse = np.zeros((n, len(library)), dtype=bool)
    for m, members, weights in library.length_groups:
        first = flank - m + 1  # the first placement that reaches the allele's first base
        starts = m + allele_length - 1  # placements overlapping the allele
        span = slice(first, first + starts + m - 1)
        n_motifs = len(members)
        batch = max(1, BATCH_FLOATS // (starts * 4 * m))
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            windows = sliding_window_view(onehot[lo:hi, span], m, axis=1)  # (b, starts, 4, m)
            scores = (windows.reshape(-1, 4 * m) @ weights).reshape(hi - lo, starts, 2, n_motifs)
            has_n = sliding_window_view(unknown[lo:hi, span], m, axis=1).any(-1)  # (b, starts)
            scores[has_n] = -np.inf
            flat = scores.transpose(0, 3, 1, 2).reshape(hi - lo, n_motifs, starts * 2)
            best = flat.argmax(axis=2)
            value = np.take_along_axis(flat, best[..., None], axis=2)[..., 0]
            start, is_reverse = best // 2, (best % 2).astype(bool)
            # The allele's first base sits at index `m - 1 - start` of a forward placement; on the reverse strand
            # the motif is read backwards, so the last allele base the placement covers comes first.
            first_covered = np.maximum(m - 1 - start, 0)
            last_covered = np.minimum(m - 1 - start + allele_length - 1, m - 1)
            pos = np.where(is_reverse, m - 1 - last_covered, first_covered)
            finite = np.isfinite(value)
            score[lo:hi, members] = np.where(finite, np.rint(np.where(finite, value, 0)), NO_SITE).astype(np.int32)
            offset[lo:hi, members] = pos
            reverse[lo:hi, members] = is_reverse
    return score, offset, reverse

