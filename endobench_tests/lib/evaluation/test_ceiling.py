"""The ceiling's allele harmonisation on real rows, and the coincidence join's counted exclusions."""

import pandas as pd
import pytest

from endobench.lib.evaluation.ceiling import ALLELE_MISMATCH, MULTIALLELIC, SAME, SWAPPED, harmonise_measured
from endobench.lib.truth_sets.generic import read_generic_qtls
from endobench.resources.sources import DEGNER_COLUMNS
from endobench_tests.paths import SAMPLE_DIR


@pytest.fixture(scope="module")
def dsqtls() -> pd.DataFrame:
    """The Degner dsQTLs as the pipeline reads them (hg38 + strand; minus-strand lifts reverse-complemented)."""
    return read_generic_qtls(SAMPLE_DIR / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz", truth_set="dsqtl_degner2012",
                             build="hg38", columns=DEGNER_COLUMNS).frame


def truth(*rows: tuple[str, int, str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "effect"]).assign(gene_id="ENSG1")


def test_same_orientation_keeps_the_measured_effect(dsqtls):
    """GTEx chr1_6236734_C_G_b38; Degner chr1.6219381 lists Ref C, Alt G, Beta 0.7734: kept as is."""
    joined, excluded = harmonise_measured(truth(("chr1", 6_236_734, "C", "G", 0.5)), dsqtls)
    assert joined["measured_orientation"].tolist() == [SAME]
    assert joined["measured_effect"].tolist() == pytest.approx([0.7734])
    assert not excluded


def test_swapped_alleles_negate_the_measured_effect(dsqtls):
    """GTEx chr1_98661649_A_G_b38; Degner chr1.98899793 lists Ref G, Alt A, Beta 0.6373: the effect of GTEx's ALT
    G is -0.6373."""
    joined, _ = harmonise_measured(truth(("chr1", 98_661_649, "A", "G", 0.5)), dsqtls)
    assert joined["measured_orientation"].tolist() == [SWAPPED]
    assert joined["measured_effect"].tolist() == pytest.approx([-0.6373])


def test_a_minus_strand_lift_is_compared_on_the_plus_strand(dsqtls):
    """Degner chr1.120640037 (Ref A, Alt G on hg18) lifts to the minus strand of hg38 chr1:143,972,460, where the
    genome base is T: a T>C variant there is the same allele pair, so its measured effect is Beta, -1.068."""
    joined, excluded = harmonise_measured(truth(("chr1", 143_972_460, "T", "C", 0.5)), dsqtls)
    assert joined["measured_orientation"].tolist() == [SAME]
    assert joined["measured_effect"].tolist() == pytest.approx([-1.068])
    assert not excluded


def test_the_join_counts_what_it_excludes(dsqtls):
    """Same position, other alleles: counted; two measured records of different alleles at one site: counted, and
    neither is used; positions without a measured QTL are simply not at a measured site."""
    other = dsqtls[(dsqtls["chrom"] == "chr1") & (dsqtls["pos"] == 98_661_649)].assign(alt="T")
    measured = pd.concat([dsqtls, other], ignore_index=True)
    joined, excluded = harmonise_measured(truth(
        ("chr1", 6_236_734, "C", "T", 0.1),  # Degner has C/G here: allele mismatch
        ("chr1", 98_661_649, "A", "G", 0.2),  # two measured records (G/A and G/T): multi-allelic site
        ("chr1", 6_236_734, "C", "G", 0.3),  # matches
        ("chr2", 5, "A", "C", 0.4),  # no measured QTL at this position
    ), measured)
    assert dict(excluded) == {ALLELE_MISMATCH: 1, MULTIALLELIC: 1}
    assert joined["effect"].tolist() == [0.3]
