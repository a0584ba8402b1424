"""Each truth-set row with its window: the reference allele checked, alleles harmonised, exclusions counted.

Every distinct variant is checked once (`genome.windows.build_windows`), then every row of every truth set gets
its variant's window and harmonisation: a variant whose ALT is the genome base is swapped, its effect negated in
every row, and its id rebuilt from the harmonised alleles, as every id is built (`chr_pos_ref_alt_b38`).
"""

from __future__ import annotations

import pandas as pd

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.windows import OK, SWAPPED, build_windows, exclusion_counts, reference_agreement
from endobench.lib.truth_sets.schema import variant_ids

KEYS = ["chrom", "pos", "ref", "alt"]


def window_truth_sets(variants: pd.DataFrame, reference: ReferenceGenome, *, window_length: int,
                      needs_sequence: bool) -> pd.DataFrame:
    """`variants` (truth-set rows) with harmonised ref/alt/effect/variant_id and the window columns."""
    unique = variants.drop_duplicates(KEYS)[KEYS + ["variant_id"]].assign(effect=1.0)
    checked = build_windows(unique, reference, window_length=window_length, needs_sequence=needs_sequence)
    # build_windows keeps row order: key the harmonised rows by the alleles as the truth set gave them.
    checked = checked.drop(columns="variant_id").rename(
        columns={"effect": "effect_sign", "ref": "ref_h", "alt": "alt_h"})
    checked[["ref", "alt"]] = unique[["ref", "alt"]].to_numpy()
    windows = variants.merge(checked, on=KEYS, how="left", validate="many_to_one")
    windows["effect"] = windows["effect"] * windows.pop("effect_sign")
    windows["ref"], windows["alt"] = windows.pop("ref_h"), windows.pop("alt_h")
    swapped = windows["harmonisation"] == SWAPPED
    windows.loc[swapped, "variant_id"] = variant_ids(windows[swapped], reference.build)
    return windows


def window_statistics(windows: pd.DataFrame) -> dict[str, dict[str, object]]:
    """Per truth set, over its distinct variants: windows usable, exclusions by reason, reference agreement."""
    stats = {}
    for truth_set, group in windows.groupby("truth_set", sort=True):
        unique = group.drop_duplicates("variant_id")
        agreement, n_checked = reference_agreement(unique)
        stats[truth_set] = {
            "windows_ok": int((unique["window_status"] == OK).sum()),
            "window_exclusions": dict(exclusion_counts(unique)),
            "reference_agreement": agreement,
            "reference_checked": n_checked,
            "swapped": int((unique["harmonisation"] == SWAPPED).sum()),
        }
    return stats
