"""Peaks keep their build, lose artifacts (too wide, too weak, blacklisted), and count every loss by reason."""

import pandas as pd
import pytest

from endobench.lib.genome.peaks import PeakSet, filter_peaks, read_peaks

FIXTURE = "peaks/K562_DNase_chr22_32.15-32.29Mb.hg38.narrowPeak"


@pytest.fixture
def peaks(fixtures):
    return read_peaks(fixtures / FIXTURE, "hg38")


def test_narrowpeak_is_read_with_its_qvalue_and_build(peaks):
    first = peaks.frame.iloc[0]
    assert peaks.rows_read == 131
    assert peaks.build == "hg38"
    assert first["chrom"] == "chr22"
    assert first["start"] < first["end"]
    assert peaks.frame["qvalue"].notna().all()


def test_width_and_qvalue_filters_count_what_they_drop(peaks):
    """The 7.2 kb peak at chr22:32,278,108 (q 0.72) is too wide; 4 of the other 130 reach q >= 2."""
    filtered = filter_peaks(peaks, max_width=5_000, min_qvalue=2.0, blacklist=None)
    assert filtered.excluded["too_wide"] == 1
    assert filtered.excluded["below_qvalue"] == 126
    assert filtered.frame["start"].tolist() == [32158625, 32202522, 32206842, 32266197]
    assert (filtered.frame["qvalue"] >= 2).all()


def test_blacklisted_peaks_are_removed(peaks):
    blacklist = PeakSet(pd.DataFrame({"chrom": ["chr22"], "start": [32266000], "end": [32266300],
                                      "name": ["."], "qvalue": [float("nan")]}), "hg38", 1)
    filtered = filter_peaks(peaks, max_width=5_000, min_qvalue=2.0, blacklist=blacklist)
    assert filtered.excluded["in_blacklist"] == 1
    assert 32266197 not in filtered.frame["start"].tolist()


def test_invalid_intervals_and_unknown_chromosomes_are_counted(tmp_path):
    path = tmp_path / "bad.bed"
    path.write_text("chr22\t100\t200\nchr22\t300\t300\nchr22\t500\t400\nchrUn_x\t1\t10\n22\t600\t700\n")
    peaks = read_peaks(path, "hg38")
    assert peaks.excluded == {"invalid_interval": 2, "unknown_chromosome": 1}
    assert peaks.frame[["chrom", "start"]].values.tolist() == [["chr22", 100], ["chr22", 600]]


def test_unsorted_input_is_sorted_and_flagged(tmp_path):
    path = tmp_path / "unsorted.bed"
    path.write_text("chr22\t600\t700\nchr1\t100\t200\nchr22\t100\t200\n")
    peaks = read_peaks(path, "hg38")
    assert not peaks.was_sorted
    assert peaks.frame[["chrom", "start"]].values.tolist() == [["chr1", 100], ["chr22", 100], ["chr22", 600]]


def test_a_blacklist_of_another_build_is_refused(peaks):
    blacklist = PeakSet(peaks.frame.head(1), "hg19", 1)
    with pytest.raises(ValueError, match="blacklist is hg19 but the peaks are hg38"):
        filter_peaks(peaks, max_width=5_000, min_qvalue=None, blacklist=blacklist)


def test_sample_k562_peaks_funnel(sample_dir):
    """The bundled chr22 K562 DNase peaks: 26,612 read, 3,270 kept covering 1,448,577 bp."""
    peaks = read_peaks(sample_dir / "abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz", "hg38")
    blacklist = read_peaks(sample_dir / "abc_GRCh38_unified_blacklist.bed.gz", "hg38")
    filtered = filter_peaks(peaks, max_width=5_000, min_qvalue=2.0, blacklist=blacklist)
    assert peaks.rows_read == 26_612
    assert len(filtered.frame) == 3_270
    assert filtered.covered_bp == 1_448_577
    assert dict(filtered.excluded) == {"too_wide": 55, "below_qvalue": 23_286, "in_blacklist": 1}
