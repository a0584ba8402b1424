"""Allele pairs given as whole sequences (`endobench score-pairs --predictor motif`), scanned as variants are.

A pair has no coordinates, so its variant is where the two sequences differ: the span between their common prefix
and their common suffix (an insertion or deletion is anchored on the base before it, as VCF writes it). That span is
the allele of each sequence, scanned with the longest motif's length less one base of the record on each side
(`changes.candidates_of_pairs`, the scan of the `motif_changes` asset and the motif predictor); where the record
ends sooner, the missing bases are N, which no placement is scored over. A pair has no biosample either, so every
profile counts. Its score is the motif baseline's: the signed log2 p-value fold of the strongest site the pair makes
or breaks, written as -log2 p of that site's best placement in REF and in ALT (0 and 0 where it makes or breaks
none), so that `delta` = score_alt - score_ref is the baseline's score.
"""

from __future__ import annotations

import numpy as np

from endobench.lib.motifs.changes import candidates_of_pairs, strongest_candidates
from endobench.lib.motifs.library import MotifLibrary


def differing_span(ref: str, alt: str) -> tuple[int, int, int]:
    """(start, ref_end, alt_end): `ref[start:ref_end]` and `alt[start:alt_end]` are the alleles of two different
    sequences, what remains once their common prefix and common suffix are set aside, neither empty."""
    if ref == alt:
        raise ValueError("the two sequences are the same: there is no variant")
    shortest = min(len(ref), len(alt))
    start = next((i for i in range(shortest) if ref[i] != alt[i]), shortest)
    suffix = next((i for i in range(shortest - start) if ref[-1 - i] != alt[-1 - i]), shortest - start)
    ref_end, alt_end = len(ref) - suffix, len(alt) - suffix
    if ref_end == start or alt_end == start:  # an insertion or a deletion: anchored on the base before it
        if start > 0:
            start -= 1
        else:
            ref_end, alt_end = ref_end + 1, alt_end + 1
    return start, ref_end, alt_end


class MotifPairScorer:
    """Scores allele pairs as `score_fasta_pairs` asks a model to (`input_length`, `score_pairs`)."""

    input_length = 1  # any sequence holds its variant; the scan pads short records with N

    def __init__(self, library: MotifLibrary) -> None:
        self.library = library

    def score_pairs(self, refs: list[str], alts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """-log2 p of the strongest changed site's best placement in each REF and ALT sequence (0 where none)."""
        flank = self.library.max_length - 1
        ref_seqs, alt_seqs, ref_lengths, alt_lengths = [], [], [], []
        for ref, alt in zip(refs, alts, strict=True):
            start, ref_end, alt_end = differing_span(ref, alt)
            before = "N" * max(0, flank - start) + ref[max(0, start - flank):start]
            after = ref[ref_end:ref_end + flank]
            after += "N" * (flank - len(after))
            ref_seqs.append(before + ref[start:ref_end] + after)
            alt_seqs.append(before + alt[start:alt_end] + after)
            ref_lengths.append(ref_end - start)
            alt_lengths.append(alt_end - start)
        candidates = candidates_of_pairs(ref_seqs, alt_seqs, np.asarray(ref_lengths), np.asarray(alt_lengths), flank,
                                         self.library)
        best = strongest_candidates(candidates, len(refs))
        p_ref = np.r_[candidates["p_ref"].to_numpy(dtype=float), 1.0][best]
        p_alt = np.r_[candidates["p_alt"].to_numpy(dtype=float), 1.0][best]
        return 0.0 - np.log2(p_ref), 0.0 - np.log2(p_alt)  # 0, not -0, where no site changes
