"""Genome builds and chromosome names have one spelling each."""

import pandas as pd
import pytest

from endobench.lib.genome.builds import CHROM_SIZES, normalize_build, normalize_chrom


@pytest.mark.parametrize("name,expected", [("GRCh38", "hg38"), ("b37", "hg19"), ("NCBI36", "hg18"), (" hg38 ", "hg38")])
def test_build_aliases(name, expected):
    assert normalize_build(name) == expected


def test_unknown_build_says_which_are_known():
    with pytest.raises(ValueError, match="hg38/GRCh38, hg19/GRCh37 or hg18/NCBI36"):
        normalize_build("hg17")


def test_chromosome_names_are_normalised():
    names = pd.Series(["1", "chr1", "X", "chrx", "MT", "chrM", "M", "22"])
    assert normalize_chrom(names).tolist() == ["chr1", "chr1", "chrX", "chrX", "chrM", "chrM", "chrM", "chr22"]


def test_chromosome_sizes_come_from_the_chain_headers():
    """tSize of chr22 in hg19ToHg38 is 50,818,468; qSize is 51,304,566."""
    assert CHROM_SIZES["hg38"]["chr22"] == 50_818_468
    assert CHROM_SIZES["hg19"]["chr22"] == 51_304_566
