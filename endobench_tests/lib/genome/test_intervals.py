"""Variants in peaks: 1-based positions against 0-based half-open peaks."""

import pandas as pd

from endobench.lib.genome.intervals import variants_in_peaks
from endobench.lib.genome.peaks import PeakSet

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


def test_a_peak_nested_in_a_wider_one_does_not_hide_the_wider_one():
    """Peaks [0, 100), [10, 20) and [30, 40) are one run [0, 100): base 51 (1-based) is inside, past the inner ends."""
    peaks = PeakSet(pd.DataFrame({"chrom": "chr22", "start": [0, 10, 30], "end": [100, 20, 40], "name": "p",
                                  "qvalue": 3.0}), "hg38", 3)
    assert variants_in_peaks(frame(51, 100, 101), peaks).tolist() == [True, True, False]


def test_a_variant_on_a_chromosome_without_peaks_is_outside():
    rows = frame(32266300).assign(chrom="chr21")
    assert variants_in_peaks(rows, PEAK).tolist() == [False]


def test_spans_too_many_to_pack_into_one_integer_still_get_answers():
    """16,384 chromosomes x starts up to 2**31 x a 2**17-base REF overflow one packed integer key: the span grouping
    hashes part way (`qtl._group`), with the same answers."""
    chroms = [f"contig{i}" for i in range(2**14)]
    rows = pd.DataFrame({"variant_id": [f"v{i}" for i in range(2**14)], "chrom": chroms, "pos": 2**31, "ref": "A"})
    rows = pd.concat([rows, frame(32266300), frame(32266100, ref="A" * 2**17)], ignore_index=True)
    inside = variants_in_peaks(rows, PEAK)
    assert inside[-2:].tolist() == [True, True] and not inside[:-2].any()
