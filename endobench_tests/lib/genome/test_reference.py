"""The reference serves real sequence from whole chromosomes or from named segments, and says what it cannot serve."""

import gzip

import pytest

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.io.errors import InputError


def test_segment_serves_the_genome_base_at_a_gtex_variant(sample_reference):
    """RFPL2's lead eQTL chr22_32261410_C_T_b38: hg38 has C at 32,261,410."""
    assert sample_reference.fetch("chr22", 32261409, 32261410) == "C"


def test_dsqtl_context_is_served_at_its_hg38_position(sample_reference):
    """chr1_875856_A_G_b38 (Degner chr1.801099) sits at index 49 of its 100-bp context record."""
    assert sample_reference.fetch("chr1", 875855, 875856) == "A"
    assert len(sample_reference.fetch("chr1", 875855 - 49, 875856 + 50)) == 100


def test_a_window_leaving_every_segment_is_not_served(sample_reference):
    assert sample_reference.fetch("chr22", 32299990, 32300010) is None
    assert sample_reference.fetch("chr22", 40_000_000, 40_000_100) is None
    assert sample_reference.fetch("chr7", 1, 2) is None


def test_sample_reference_coverage(sample_reference):
    assert sample_reference.covered_bp() == 3_198_875
    assert len(sample_reference.chromosomes) == 22


def test_bare_chromosome_names_are_normalised(tmp_path):
    """A record named `22` (Ensembl style) serves `chr22`."""
    path = tmp_path / "ensembl.fa"
    path.write_text(">22:11-20\nACGTACGTAC\n")
    reference = ReferenceGenome(path, "hg38")
    assert reference.fetch("chr22", 10, 14) == "ACGT"


def test_a_segment_name_that_lies_about_its_length_is_refused(tmp_path):
    path = tmp_path / "lying.fa"
    path.write_text(">chr22:1-20\nACGTACGTAC\n")
    with pytest.raises(InputError, match="names 20 bp but holds 10"):
        ReferenceGenome(path, "hg38")


def test_a_missing_fasta_names_the_file(tmp_path):
    with pytest.raises(InputError, match="missing.fa: the reference FASTA file does not exist"):
        ReferenceGenome(tmp_path / "missing.fa", "hg38")


def test_plain_gzip_fasta_is_refused_with_a_fix(tmp_path):
    path = tmp_path / "plain.fa.gz"
    path.write_bytes(gzip.compress(b">chr22\nACGT\n"))
    with pytest.raises(InputError, match="bgzip"):
        ReferenceGenome(path, "hg38")
