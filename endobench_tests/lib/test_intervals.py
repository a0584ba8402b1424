"""Variants in peaks: 1-based positions against 0-based half-open peaks, each distinct variant once."""

import pandas as pd

from endobench.lib.intervals import variants_in_peaks
from endobench.lib.peaks import PeakSet

PEAK = PeakSet(pd.DataFrame({"chrom": ["chr22"], "start": [32266197], "end": [32266468], "name": ["p"],
                             "qvalue": [14.9]}), "hg38", 1)


def frame(*positions, ref="A"):
    return pd.DataFrame({
        "variant_id": [f"chr22_{p}_{ref}_G_b38" for p in positions], "chrom": "chr22",
        "pos": list(positions), "ref": ref,
    })


def test_first_and_last_base_of_a_peak_are_inside():
    """BED start 32,266,197 is 1-based 32,266,198; BED end 32,266,468 is the last base, 1-based."""
    assert variants_in_peaks(frame(32266198, 32266468), PEAK).tolist() == [True, True]


def test_the_bases_just_outside_are_outside():
    assert variants_in_peaks(frame(32266197, 32266469), PEAK).tolist() == [False, False]


def test_a_deletion_overlapping_the_peak_start_is_inside():
    assert variants_in_peaks(frame(32266195, ref="AAAA"), PEAK).tolist() == [True]


def test_a_variant_with_several_genes_gets_one_answer_per_row():
    rows = pd.concat([frame(32266300)] * 3, ignore_index=True)
    assert variants_in_peaks(rows, PEAK).tolist() == [True, True, True]
