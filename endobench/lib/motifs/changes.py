"""Motif changes of variants: every motif whose site a variant makes or breaks, the strongest gain and loss, and
the motif baseline's signed score.

A motif is a candidate change of a variant when its best placement overlapping the variant reaches p < SITE_P in
at least one allele (a site exists in REF or in ALT). Its strength is the log2 fold of the two alleles' p-values,
log2(p_REF / p_ALT): positive when ALT scores better (a gain), negative when it scores worse (a loss). A change is
**strong** when |log2 fold| >= STRONG_LOG2_FOLD and the better allele's p < SITE_P: ADASTRA's rule for a
"concordant" motif call on allele-specific binding (best-hit P < 0.0005, |fold change| >= 2 in log2 units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.windows import AS_IS, SWAPPED, flanked_alleles
from endobench.lib.motifs.library import SCALE, MotifLibrary
from endobench.lib.motifs.scan import NO_SITE, AlleleHits, scan_alleles

VARIANT_KEYS = ["chrom", "pos", "ref", "alt"]
SITE_P = 5e-4
STRONG_LOG2_FOLD = 2.0
GAIN = "gain"
LOSS = "loss"
SCANNED = "scanned"
NO_REFERENCE = "no_reference_sequence"
# One row per (variant, candidate motif).
CANDIDATE_COLUMNS = ["row", "motif_id", "tf", "logodds_ref", "logodds_alt", "logodds_diff", "p_ref", "p_alt",
                     "log2_fold", "motif_position", "strand"]
CHANGE_FIELDS = ["motif_id", "tf", "logodds_ref", "logodds_alt", "logodds_diff", "p_ref", "p_alt", "log2_fold",
                 "motif_position", "strand"]


@dataclass(frozen=True)
class MotifScan:
    """`status` per input variant (SCANNED, or why not), and the candidate changes of the scanned ones (`row` is
    the variant's position in the input)."""

    status: np.ndarray
    candidates: pd.DataFrame


def scan_variants(variants: pd.DataFrame, reference: ReferenceGenome, library: MotifLibrary) -> MotifScan:
    """Candidate motif changes of variants (chrom, pos, ref, alt on the + strand, REF the genome's)."""
    flank = library.max_length - 1
    refs, alts, ok = flanked_alleles(variants, reference, flank)
    return MotifScan(np.where(ok, SCANNED, NO_REFERENCE).astype(object),
                     candidates_of_pairs([r for r, k in zip(refs, ok) if k], [a for a, k in zip(alts, ok) if k],
                                         variants["ref"].str.len().to_numpy()[ok],
                                         variants["alt"].str.len().to_numpy()[ok], flank, library,
                                         rows=np.flatnonzero(ok)))


def variant_changes(windows: pd.DataFrame, reference: ReferenceGenome, library: MotifLibrary
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The distinct variants of `windows` whose alleles were checked against the reference (harmonised, REF the
    genome's), each once with its scan status and strongest changes; and their candidate changes (`row` is the
    variant's row in the first frame)."""
    return changes_of_variants(windows[windows["harmonisation"].isin([AS_IS, SWAPPED])], reference, library)


def changes_of_variants(variants: pd.DataFrame, reference: ReferenceGenome, library: MotifLibrary
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`variant_changes` of variants (variant_id, chrom, pos, ref, alt; REF the genome's), each distinct one once."""
    variants = variants.drop_duplicates(VARIANT_KEYS)[["variant_id", *VARIANT_KEYS]].reset_index(drop=True)
    scan = scan_variants(variants, reference, library)
    table = pd.concat([variants.assign(status=scan.status), strongest_changes(scan.candidates, len(variants))],
                      axis=1)
    return table, scan.candidates


def candidates_of_pairs(refs: list[str], alts: list[str], ref_lengths: np.ndarray, alt_lengths: np.ndarray,
                        flank: int, library: MotifLibrary, *, rows: np.ndarray | None = None) -> pd.DataFrame:
    """CANDIDATE_COLUMNS for allele pairs whose alleles (of the given lengths) start at index `flank`."""
    ref_hits = scan_alleles(refs, ref_lengths, flank, library)
    alt_hits = scan_alleles(alts, alt_lengths, flank, library)
    rows = np.arange(len(refs)) if rows is None else np.asarray(rows)
    return _candidates(ref_hits, alt_hits, rows, library)


def _candidates(ref: AlleleHits, alt: AlleleHits, rows: np.ndarray, library: MotifLibrary) -> pd.DataFrame:
    motifs = np.broadcast_to(np.arange(len(library)), ref.score.shape)
    p_ref = np.where(ref.score == NO_SITE, 1.0, library.p_values(motifs, ref.score))
    p_alt = np.where(alt.score == NO_SITE, 1.0, library.p_values(motifs, alt.score))
    variant, motif = np.nonzero(np.minimum(p_ref, p_alt) < SITE_P)
    pr, pa = p_ref[variant, motif], p_alt[variant, motif]
    ref_score = ref.score[variant, motif].astype(float) / SCALE
    alt_score = alt.score[variant, motif].astype(float) / SCALE
    gained = pa < pr
    # The site's position and strand are those of the better allele's placement (the site gained or lost).
    position = np.where(gained, alt.offset[variant, motif], ref.offset[variant, motif]).astype(np.int64) + 1
    reverse = np.where(gained, alt.reverse[variant, motif], ref.reverse[variant, motif])
    return pd.DataFrame({
        "row": rows[variant], "motif_id": library.ids[motif], "tf": library.names[motif],
        "logodds_ref": ref_score, "logodds_alt": alt_score, "logodds_diff": alt_score - ref_score,
        "p_ref": pr, "p_alt": pa, "log2_fold": np.log2(pr) - np.log2(pa), "motif_position": position,
        "strand": np.where(reverse, "-", "+").astype(object),
    })[CANDIDATE_COLUMNS]


def strongest_changes(candidates: pd.DataFrame, n_rows: int) -> pd.DataFrame:
    """Per variant row 0..n_rows-1: its strongest gain (`gain_*`), strongest loss (`loss_*`) and the stronger of
    the two (`strongest`: gain, loss or "" when the variant makes or breaks no site), with `strong` by the rule."""
    out = pd.DataFrame(index=pd.RangeIndex(n_rows))
    order = candidates.assign(magnitude=candidates["log2_fold"].abs()).sort_values(
        ["row", "magnitude", "motif_id"], ascending=[True, False, True], kind="stable")
    for kind, part in ((GAIN, order[order["log2_fold"] > 0]), (LOSS, order[order["log2_fold"] < 0])):
        best = part.drop_duplicates("row").set_index("row")
        for field in CHANGE_FIELDS:
            out[f"{kind}_{field}"] = best[field].reindex(out.index)
    gain = out[f"{GAIN}_log2_fold"].fillna(0.0).to_numpy()
    loss = -out[f"{LOSS}_log2_fold"].fillna(0.0).to_numpy()
    out["strongest"] = np.where((gain == 0) & (loss == 0), "", np.where(gain >= loss, GAIN, LOSS)).astype(object)
    out["strongest_log2_fold"] = np.where(gain >= loss, gain, -loss)
    out["strong"] = np.abs(out["strongest_log2_fold"].to_numpy()) >= STRONG_LOG2_FOLD
    out["n_sites"] = candidates.groupby("row").size().reindex(out.index, fill_value=0).to_numpy()
    return out


def strongest_candidates(candidates: pd.DataFrame, n_rows: int, expressed: np.ndarray | None = None) -> np.ndarray:
    """Per variant row 0..n_rows-1, the index (a position in `candidates`) of its strongest candidate change among
    those where `expressed` (a boolean per candidate row) holds: the largest |log2 fold|, ties to the first listed;
    -1 where there is none."""
    keep = np.arange(len(candidates)) if expressed is None else np.flatnonzero(np.asarray(expressed, dtype=bool))
    best = np.full(n_rows, -1, dtype=np.int64)
    if len(keep):
        fold = candidates["log2_fold"].to_numpy()[keep]
        rows = candidates["row"].to_numpy()[keep]
        order = np.lexsort((-np.abs(fold), rows))
        first = np.r_[True, rows[order][1:] != rows[order][:-1]]
        best[rows[order][first]] = keep[order][first]
    return best


def baseline_score(candidates: pd.DataFrame, n_rows: int, expressed: np.ndarray | None = None) -> np.ndarray:
    """The motif baseline: per variant row, the signed log2 fold of its strongest candidate change (ALT gains a
    site: positive), among the candidates where `expressed` (a boolean per candidate row) holds; 0 where none."""
    best = strongest_candidates(candidates, n_rows, expressed)
    fold = np.r_[candidates["log2_fold"].to_numpy(dtype=float), 0.0]  # index -1: no change, 0
    return fold[best]
