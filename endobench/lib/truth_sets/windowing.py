"""Each truth-set row with its window: the reference allele checked, alleles harmonised, exclusions counted.

Every distinct variant is checked once (`genome.windows.build_windows`), then every row of every truth set gets
its variant's window and harmonisation: a variant whose ALT is the genome base is swapped, its effect negated in
every row, and its id rebuilt from the harmonised alleles, as every id is built (`chr_pos_ref_alt_b38`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from endobench.lib.codes import as_codes, counted, group, is_first
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.windows import (
    OK,
    SWAPPED,
    WINDOW_COLUMNS,
    build_windows,
    exclusion_counts,
    reference_agreement,
)
from endobench.lib.truth_sets.schema import variant_ids

KEYS = ["chrom", "pos", "ref", "alt"]


def window_truth_sets(variants: pd.DataFrame, reference: ReferenceGenome | None, *, window_length: int,
                      needs_sequence: bool) -> pd.DataFrame:
    """`variants` (truth-set rows) with harmonised ref/alt/effect/variant_id and the window columns.

    Rows are grouped into variants on integer codes of chrom, pos, ref and alt; each variant is checked once and
    its result gathered back to its rows by code, in the rows' order.
    """
    variant = group(counted(variants["chrom"]), as_codes(variants["pos"].to_numpy()),
                     counted(variants["ref"]), counted(variants["alt"]))
    first = np.flatnonzero(is_first(variant))  # variant codes number first appearances: code k is row first[k]
    unique = variants.iloc[first][KEYS + ["variant_id"]].reset_index(drop=True).assign(effect=1.0)
    checked = build_windows(unique, reference, window_length=window_length, needs_sequence=needs_sequence)
    windows = variants.reset_index(drop=True)
    windows["effect"] = windows["effect"].to_numpy() * checked["effect"].to_numpy()[variant]
    for column in ("ref", "alt", *WINDOW_COLUMNS):
        windows[column] = checked[column].to_numpy()[variant]
    swapped = windows["harmonisation"] == SWAPPED
    if swapped.any():  # only a reference swaps alleles
        windows.loc[swapped, "variant_id"] = variant_ids(windows[swapped], reference.build)
    return windows


def distinct_windows(windows: pd.DataFrame) -> pd.DataFrame:
    """The first row of each variant of each truth set (grouped on integer codes, in the rows' order)."""
    variant = group(counted(windows["truth_set"]), counted(windows["variant_id"]))
    return windows.iloc[np.flatnonzero(is_first(variant))]


def window_statistics(windows: pd.DataFrame) -> dict[str, dict[str, object]]:
    """Per truth set, over its distinct variants: windows usable, exclusions by reason, reference agreement."""
    unique = distinct_windows(windows)
    stats = {}
    for truth_set in sorted(unique["truth_set"].unique()):
        rows = unique[(unique["truth_set"] == truth_set).to_numpy()]
        agreement, n_checked = reference_agreement(rows)
        stats[truth_set] = {
            "windows_ok": int((rows["window_status"] == OK).sum()),
            "window_exclusions": dict(exclusion_counts(rows)),
            "reference_agreement": agreement,
            "reference_checked": n_checked,
            "swapped": int((rows["harmonisation"] == SWAPPED).sum()),
        }
    return stats
