"""Liftover with the real UCSC hg19->hg38 chain: known coordinate pairs, counted failures, and the seed's build mistake.

Expected coordinates were read off the chain file itself (block starts and sizes), not taken from memory:
- chain id 23 (`chain 3231095979 chr22 ... + 16847850 51244566 chr22 ... + 16367188 50806138`) has the block
  hg19 19,208,291 / hg38 19,220,768, 994,375 bp, so 0-based hg19 chr22:19,999,999 is hg38 20,012,476 (+12,477);
- chain id 203 (LCR22) has the block hg19 20,333,380 / hg38 18,483,513, 176,051 bp: hg19 20,500,000 -> 18,650,133;
- chain id 2 has the block hg19 chr1:521,368 / hg38 585,988, 1,044,699 bp: hg19 1,000,000 -> 1,064,620;
- chain id 135 maps hg19 chr22:16,050,036+ to the minus strand of hg38 (qStart 34,890,488 on the reverse strand,
  i.e. + strand 50,818,468 - 1 - 34,890,488 = 15,927,979);
- hg19 chr22:16,000,000 lies in no chain block.
"""

import functools
import gzip
from collections import Counter

import pandas as pd
import pytest

from endobench.lib.genome.intervals import variants_in_peaks
from endobench.lib.genome.liftover import NOT_LIFTED, lift_intervals, lift_variants, require_chain
from endobench.lib.genome.peaks import PeakSet, read_peaks
from endobench.lib.io.errors import BuildMismatchError
from endobench_tests.paths import FIXTURES, SAMPLE_DIR

CHAIN = SAMPLE_DIR / "ucsc_hg19ToHg38.over.chain.gz"
HG38_PEAKS = FIXTURES / "peaks" / "K562_DNase_chr22_32.15-32.29Mb.hg38.narrowPeak"


def _variants(rows: list[tuple[str, int, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    frame["variant_id"] = frame["chrom"] + "_" + frame["pos"].astype(str) + "_" + frame["ref"] + "_" + frame["alt"] + "_b37"
    frame["build"] = "hg19"
    frame["effect"] = 0.5
    return frame


def test_known_hg19_positions_land_where_the_chain_says():
    """1-based positions are lifted as 0-based points and come back 1-based, across three chains."""
    frame = _variants([("chr22", 20_000_000, "A", "G"), ("chr22", 20_500_001, "C", "T"), ("chr1", 1_000_001, "G", "A")])
    lifted = lift_variants(frame, CHAIN, from_build="hg19", to_build="hg38")
    assert lifted.frame["pos"].tolist() == [20_012_477, 18_650_134, 1_064_621]
    assert lifted.frame["build"].unique().tolist() == ["hg38"]
    assert lifted.frame["variant_id"].tolist()[0] == "chr22_20012477_A_G_b38"
    assert lifted.not_lifted == 0


def test_chromosome_names_are_normalised_before_and_after():
    """Ensembl-style `22` is looked up as `chr22` and written back as `chr22`."""
    lifted = lift_variants(_variants([("22", 20_000_000, "A", "G")]), CHAIN, from_build="GRCh37", to_build="GRCh38")
    assert lifted.frame["chrom"].tolist() == ["chr22"]
    assert lifted.frame["pos"].tolist() == [20_012_477]


def test_minus_strand_lift_reverse_complements_the_alleles():
    """hg19 chr22:16,050,037 (1-based) lands on the minus strand at hg38 15,927,980: A/G becomes T/C."""
    lifted = lift_variants(_variants([("chr22", 16_050_037, "A", "G")]), CHAIN, from_build="hg19", to_build="hg38")
    row = lifted.frame.iloc[0]
    assert (row["pos"], row["ref"], row["alt"]) == (15_927_980, "T", "C")


def test_unmapped_positions_are_counted_not_dropped_silently():
    """A position in no chain block and an unknown contig are both `not_lifted`; the mappable one is kept."""
    frame = _variants([("chr22", 16_000_001, "A", "G"), ("chrUn_gl000220", 100, "A", "G"), ("chr22", 20_000_000, "A", "G")])
    lifted = lift_variants(frame, CHAIN, from_build="hg19", to_build="hg38")
    assert lifted.excluded == Counter({NOT_LIFTED: 2})
    assert lifted.rows_in == 3 and len(lifted.frame) == 1


def test_intervals_are_lifted_by_both_ends_and_keep_their_other_columns():
    """A 1 kb hg19 interval inside chain 23 moves by +12,477 bp with its name and q-value."""
    frame = pd.DataFrame({"chrom": ["chr22"], "start": [19_999_000], "end": [20_000_000], "name": ["p1"], "qvalue": [7.5]})
    lifted = lift_intervals(frame, CHAIN, from_build="hg19", to_build="hg38")
    assert lifted.frame[["chrom", "start", "end", "name", "qvalue"]].values.tolist() == [
        ["chr22", 20_011_477, 20_012_477, "p1", 7.5]
    ]


def test_interval_whose_ends_land_on_different_chains_is_not_lifted():
    """hg19 chr22:20,000,000-20,500,001 spans the LCR22 rearrangement: its ends map 1.36 Mb apart, out of order."""
    frame = pd.DataFrame({"chrom": ["chr22"], "start": [19_999_999], "end": [20_500_001], "name": ["x"], "qvalue": [1.0]})
    lifted = lift_intervals(frame, CHAIN, from_build="hg19", to_build="hg38")
    assert lifted.frame.empty and lifted.not_lifted == 1


def test_missing_chain_is_a_build_mismatch_naming_both_files(tmp_path):
    """No chain for hg19->hg38: the error names the peak file, the reference, both builds and the fix."""
    with pytest.raises(BuildMismatchError) as caught:
        require_chain(None, from_build="hg19", to_build="hg38", what=tmp_path / "k562.hg19.narrowPeak",
                      against=tmp_path / "hg38.fa")
    message = str(caught.value)
    assert str(tmp_path / "k562.hg19.narrowPeak") in message and str(tmp_path / "hg38.fa") in message
    assert "hg19" in message and "hg38" in message and "chain" in message


@functools.lru_cache(maxsize=2)
def _plus_strand_blocks(chain_path, chrom: str) -> list[tuple[int, int, int]]:
    """(hg19 start, hg38 start, size) of every gap-free block of same-chromosome + strand chains on `chrom`."""
    blocks = []
    with gzip.open(chain_path, "rt") as handle:
        keep = False
        for line in handle:
            fields = line.split()
            if not fields:
                continue
            if fields[0] == "chain":
                keep = fields[2] == chrom and fields[7] == chrom and fields[9] == "+"
                t, q = int(fields[5]), int(fields[10])
                continue
            size = int(fields[0])
            if keep:
                blocks.append((t, q, size))
            if len(fields) == 3:
                t += size + int(fields[1])
                q += size + int(fields[2])
    return blocks


def hg38_to_hg19_by_chain(chrom: str, start: int, end: int, chain_path=CHAIN) -> tuple[int, int] | None:
    """Invert hg19ToHg38 for one interval by reading the chain blocks directly (independent of pyliftover).

    Returns hg19 [start, end) when exactly one block holds the whole hg38 interval.
    """
    hits = [(start - q + t, end - q + t) for t, q, size in _plus_strand_blocks(chain_path, chrom)
            if q <= start and end <= q + size]
    return hits[0] if len(hits) == 1 else None


def write_hg19_k562_peaks(dest) -> pd.DataFrame:
    """Real hg38 K562 DNase peaks (chr22:32.15-32.29 Mb) moved to their hg19 coordinates; returns the hg38 originals.

    No real hg19 K562 peak file is bundled, so the seed's input is rebuilt from real hg38 peaks and the chain.
    """
    hg38 = pd.read_csv(HG38_PEAKS, sep="\t", header=None)
    rows = []
    for record in hg38.itertuples(index=False):
        hg19 = hg38_to_hg19_by_chain(record[0], record[1], record[2])
        assert hg19 is not None, record
        rows.append((record[0], hg19[0], hg19[1], *record[3:]))
    pd.DataFrame(rows).to_csv(dest, sep="\t", header=False, index=False)
    return hg38


@pytest.fixture
def hg19_peak_file(tmp_path):
    path = tmp_path / "K562_DNase.hg19.narrowPeak"
    write_hg19_k562_peaks(path)
    return path


def _summit_variants(peaks: pd.DataFrame) -> pd.DataFrame:
    """One hg38 SNV at the summit of each real peak: every one of them is inside a peak on hg38."""
    pos = peaks["start"] + 1 + peaks["summit"] if "summit" in peaks else peaks["start"] + 1
    return pd.DataFrame({"chrom": peaks["chrom"], "pos": pos, "ref": "A", "alt": "G",
                         "variant_id": [f"v{i}" for i in range(len(peaks))]})


def test_seed_mistake_hg19_peaks_against_hg38_variants_finds_nothing(hg19_peak_file):
    """The seed's intersection: hg38 variants at real K562 summits, hg19 peak coordinates. Every hit is lost.

    hg19 is about 400 kb ahead of hg38 here, so none of the 131 summit variants falls in a peak when the
    builds are mixed: this is why a build difference must be lifted or refused, never intersected as is.
    """
    hg38 = read_peaks(HG38_PEAKS, "hg38")
    variants = _summit_variants(pd.read_csv(HG38_PEAKS, sep="\t", header=None,
                                            names=["chrom", "start", "end", "n", "s", "st", "sig", "p", "q", "summit"]))
    wrong = PeakSet(read_peaks(hg19_peak_file, "hg19").frame, "hg38", 131)  # the seed's mislabelling
    assert variants_in_peaks(variants, hg38).sum() == 131
    assert variants_in_peaks(variants, wrong).sum() == 0


def test_hg19_peaks_lifted_with_the_chain_are_the_real_hg38_peaks(hg19_peak_file):
    """Lifting the hg19 file back gives the original hg38 coordinates, and the summit variants are all found."""
    hg19 = read_peaks(hg19_peak_file, "hg19")
    lifted = lift_intervals(hg19.frame, CHAIN, from_build="hg19", to_build="hg38")
    original = read_peaks(HG38_PEAKS, "hg38").frame
    assert lifted.not_lifted == 0
    assert lifted.frame[["chrom", "start", "end", "name"]].values.tolist() == \
        original[["chrom", "start", "end", "name"]].values.tolist()
    variants = _summit_variants(pd.read_csv(HG38_PEAKS, sep="\t", header=None,
                                            names=["chrom", "start", "end", "n", "s", "st", "sig", "p", "q", "summit"]))
    assert variants_in_peaks(variants, PeakSet(lifted.frame, "hg38", 131)).sum() == 131
