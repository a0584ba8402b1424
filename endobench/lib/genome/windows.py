"""Sequence windows: the reference allele checked against the genome, alleles harmonised, exclusions counted.

Only coordinates and checks are stored, never the sequence of each window. Indels stay indels: the window is
the reference span of the variant with flanks, and the ALT sequence is the REF span replaced by the ALT allele.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from endobench.lib.genome.builds import CHROM_SIZES
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.sequence import allele_problems

OK = "ok"
AS_IS = "as_is"
SWAPPED = "swapped"
UNCHECKED = "unchecked"  # no reference to check the REF against: the alleles are taken as given
REF_EQUALS_ALT = "ref_equals_alt"
IN_N_GAP = "in_n_gap"
INDEL_LONGER_THAN_WINDOW = "indel_longer_than_window"
WINDOW_COLUMNS = [
    "window_start", "window_end", "harmonisation", "window_status", "n_fraction",
]


def variant_window(pos: np.ndarray | int, ref_len: np.ndarray | int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The window of `length` bases a predictor reads for a variant: 0-based, half-open [start, end).

    Centred on the variant's REF span exactly as the AlphaGenome SDK centres the interval it requests,
    `genome.Variant(chrom, pos, ref, alt).reference_interval.resize(length)`: the centre of the 0-based span
    [pos - 1, pos - 1 + len(ref)) is its midpoint rounded up, and an even-length window has one base more on the
    left of it. This is the one window definition: the windows asset, its checks and both predictors use it.
    """
    start0 = np.asarray(pos, dtype=np.int64) - 1
    span = np.asarray(ref_len, dtype=np.int64)
    centre = (2 * start0 + span) // 2 + span % 2
    return centre - (length + 1) // 2, centre + length // 2


def build_windows(
    variants: pd.DataFrame,
    reference: ReferenceGenome | None,
    *,
    window_length: int,
    needs_sequence: bool,
    max_n_fraction: float = 0.1,
) -> pd.DataFrame:
    """Return `variants` with harmonised ref/alt/effect and the WINDOW_COLUMNS; `window_status` is `ok` or a reason.

    In order, a variant is excluded for an allele that is not A/C/G/T (`ambiguous_allele`, `invalid_allele`), REF
    equal to ALT (`ref_equals_alt`), an allele as long as the window (`indel_longer_than_window`), a REF span the
    reference does not hold (`no_reference_sequence`) or holds as N (`in_n_gap`: an assembly gap), a REF matching
    neither allele (`ref_mismatch`), and, for predictors that read the window, a window past a chromosome end
    (`off_chromosome_end`) or not served (`no_reference_sequence`) or more than `max_n_fraction` N (`n_rich`).
    A variant whose genome base matches ALT rather than REF is swapped (ref<->alt) and its effect negated, so
    every effect is the effect of the non-reference allele. `needs_sequence` predictors (the local model) need
    the whole window served by the reference; remote ones (AlphaGenome) only need the allele checked, and without
    a `reference` the alleles are taken as given (`harmonisation` is `unchecked`).
    """
    if reference is None and needs_sequence:
        raise ValueError("a predictor that reads the window's sequence needs a reference")
    out = variants.copy().reset_index(drop=True)
    pos0 = out["pos"].to_numpy(dtype="int64") - 1
    ref_len = out["ref"].str.len().to_numpy()
    alt_len = out["alt"].str.len().to_numpy()
    start, end = variant_window(pos0 + 1, ref_len, window_length)
    status = np.full(len(out), OK, dtype=object)
    harmonisation = np.full(len(out), "", dtype=object)
    n_fraction = np.full(len(out), np.nan)
    new_ref = out["ref"].to_numpy(dtype=object).copy()
    new_alt = out["alt"].to_numpy(dtype=object).copy()
    sign = np.ones(len(out))

    for column in ("ref", "alt"):
        problem = allele_problems(out[column])
        status[(status == OK) & (problem != "")] = problem[(status == OK) & (problem != "")]
    status[(status == OK) & (new_ref == new_alt)] = REF_EQUALS_ALT
    status[(status == OK) & (np.maximum(ref_len, alt_len) >= window_length)] = INDEL_LONGER_THAN_WINDOW
    if reference is None:  # nothing to check the alleles against: taken as given
        harmonisation[status == OK] = UNCHECKED
        return _windowed(out, new_ref, new_alt, sign, start, end, harmonisation, status, n_fraction)
    chrom_sizes = out["chrom"].map(CHROM_SIZES[reference.build]).fillna(0).astype("int64").to_numpy()
    in_bounds = (start >= 0) & (end <= chrom_sizes)
    chroms = out["chrom"].to_numpy(dtype=object)
    # One read per variant: with `needs_sequence` the window is read first and the REF (and usually the ALT)
    # span is cut from it, since the window always contains the REF span; otherwise only the allele spans are read.
    todo = np.flatnonzero(status == OK)
    read = todo[in_bounds[todo]] if needs_sequence else todo[:0]
    windows = np.full(len(out), None, dtype=object)
    windows[read] = reference.fetch_many(chroms[read], start[read], end[read])
    with reference.reader() as fetch:
        for i in todo.tolist():
            chrom, p0, ref, alt = chroms[i], int(pos0[i]), new_ref[i], new_alt[i]
            w0, w1 = int(start[i]), int(end[i])
            window = windows[i]
            genome_ref = (window[p0 - w0:p0 - w0 + len(ref)] if window is not None
                          else fetch(chrom, p0, p0 + len(ref)))
            if genome_ref is None:
                status[i] = "no_reference_sequence"
                continue
            if "N" in genome_ref:
                status[i] = IN_N_GAP
                continue
            if genome_ref == ref:
                harmonisation[i] = AS_IS
            else:
                if window is not None and p0 + len(alt) <= w1:
                    genome_alt = window[p0 - w0:p0 - w0 + len(alt)]
                else:
                    genome_alt = fetch(chrom, p0, p0 + len(alt))
                if genome_alt != alt:
                    status[i] = "ref_mismatch"
                    continue
                harmonisation[i] = SWAPPED
                new_ref[i], new_alt[i] = alt, ref
                sign[i] = -1.0
            if needs_sequence:
                if not in_bounds[i]:
                    status[i] = "off_chromosome_end"
                    continue
                if window is None:
                    status[i] = "no_reference_sequence"
                    continue
                n_fraction[i] = window.count("N") / len(window)
                if n_fraction[i] > max_n_fraction:
                    status[i] = "n_rich"
    return _windowed(out, new_ref, new_alt, sign, start, end, harmonisation, status, n_fraction)


def _windowed(out: pd.DataFrame, ref: np.ndarray, alt: np.ndarray, sign: np.ndarray, start: np.ndarray,
              end: np.ndarray, harmonisation: np.ndarray, status: np.ndarray, n_fraction: np.ndarray) -> pd.DataFrame:
    """`out` with its harmonised alleles and effect and the WINDOW_COLUMNS."""
    out["ref"], out["alt"] = ref, alt
    out["effect"] = out["effect"].to_numpy() * sign
    out["window_start"], out["window_end"] = start, end
    out["harmonisation"] = harmonisation
    out["window_status"] = status
    out["n_fraction"] = n_fraction
    return out


def exclusion_counts(windows: pd.DataFrame) -> Counter:
    reasons = windows.loc[windows["window_status"] != OK, "window_status"]
    return Counter(reasons.value_counts().to_dict())


def reference_agreement(windows: pd.DataFrame) -> tuple[float, int]:
    """Share of checked variants whose REF or ALT is the genome base, and how many were checked.

    On the right build this is ~1; a file on another build matches by chance (about half of SNVs).
    """
    checked = windows["harmonisation"].isin([AS_IS, SWAPPED]) | (windows["window_status"] == "ref_mismatch")
    n = int(checked.sum())
    if n == 0:
        return float("nan"), 0
    agree = int(windows["harmonisation"].isin([AS_IS, SWAPPED]).sum())
    return agree / n, n


def flanked_alleles(variants: pd.DataFrame, reference: ReferenceGenome, flank: int) -> tuple[list, list, np.ndarray]:
    """Per variant (chrom, pos, ref, alt on the + strand): the REF span with `flank` bases on each side, and the same
    with ALT spliced in for REF (indels change the length), so both alleles sit at index `flank`.

    The span is `variant_window(pos, len(ref), len(ref) + 2 * flank)`, the one window definition. Where the
    reference serves no such window, or the window does not hold REF at the variant, both sequences are "" and
    `ok` is False.
    """
    ref = variants["ref"].to_numpy(dtype=object)
    alt = variants["alt"].to_numpy(dtype=object)
    ref_len = np.fromiter((len(r) for r in ref), dtype=np.int64, count=len(ref))
    start, end = variant_window(variants["pos"].to_numpy(), ref_len, ref_len + 2 * flank)
    fetched = reference.fetch_many(variants["chrom"].to_numpy(dtype=object), start, end)
    refs, alts, ok = [], [], np.zeros(len(ref), dtype=bool)
    for i, seq in enumerate(fetched):
        if seq is None or seq[flank:flank + ref_len[i]] != ref[i]:
            refs.append("")
            alts.append("")
            continue
        ok[i] = True
        refs.append(seq)
        alts.append(seq[:flank] + alt[i] + seq[flank + ref_len[i]:])
    return refs, alts, ok
