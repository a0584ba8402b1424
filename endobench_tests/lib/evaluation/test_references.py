"""The references: allele harmonisation of measured accessibility on real rows, the counted exclusions of the
coincidence join, and tissue replication of the same lead variant."""

import pandas as pd
import pytest

from endobench.lib.evaluation.references import ALLELE_MISMATCH, MULTIALLELIC, SAME, SWAPPED, harmonise_measured
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


@pytest.fixture(scope="module")
def eqtls() -> pd.DataFrame:
    """The real GTEx v8 Whole Blood and LCL eGenes, parsed as the pipeline parses them."""
    from endobench.lib.truth_sets.gtex import read_gtex_eqtls

    return pd.concat([read_gtex_eqtls(SAMPLE_DIR / f"gtex_v8_{tissue}.v8.egenes.txt.gz", truth_set=key).frame
                      for key, tissue in (("gtex_wb", "Whole_Blood"),
                                          ("gtex_lcl", "Cells_EBV-transformed_lymphocytes"))],
                     ignore_index=True)


def _direct_same_lead() -> pd.DataFrame:
    """Genes significant (q <= 0.05) in both tissues whose lead variant id is the same, straight from the files."""
    wb = pd.read_csv(SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.txt.gz", sep="\t")
    lcl = pd.read_csv(SAMPLE_DIR / "gtex_v8_Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz", sep="\t")
    return wb[wb["qval"] <= 0.05].merge(lcl[lcl["qval"] <= 0.05], on=["gene_id", "variant_id"],
                                        suffixes=("_wb", "_lcl"))


def test_tissue_replication_genome_wide_equals_the_files(eqtls):
    """470 genes share their significant lead variant in Whole Blood and LCL; each tissue's slope is the other's
    prediction, exactly as read from the files."""
    from scipy import stats

    from endobench.lib.evaluation.references import tissue_replication_genome_wide

    pairs = tissue_replication_genome_wide(eqtls)
    direct = _direct_same_lead()
    wb = pairs[pairs["truth_set"] == "gtex_wb"]
    assert len(wb) == len(direct) == 470
    assert set(pairs["other"]) == {"gtex_wb", "gtex_lcl"}
    merged = wb.merge(direct, on=["gene_id", "variant_id"])
    assert merged["effect"].tolist() == pytest.approx(merged["slope_wb"].tolist())
    assert merged["score"].tolist() == pytest.approx(merged["slope_lcl"].tolist())
    assert stats.spearmanr(wb["effect"], wb["score"])[0] == pytest.approx(
        stats.spearmanr(direct["slope_wb"], direct["slope_lcl"])[0])


def test_tissue_replication_rows_take_each_genes_lead_only(eqtls):
    """Two Whole Blood genes whose lead is also their significant LCL lead. The first gets LCL's slope as its score;
    the second is given a stronger (made-up) variant, so its lead is no longer the shared one: no row."""
    from endobench.lib.evaluation.references import TISSUE_REPLICATION, tissue_replication_rows
    from endobench.lib.truth_sets.catalog import LCL_DSQTL_SITES, gtex_truth_set

    spec = gtex_truth_set("Whole_Blood", "UBERON:0013756", LCL_DSQTL_SITES)
    lcl = gtex_truth_set("Cells_EBV-transformed_lymphocytes", "EFO:0000572", LCL_DSQTL_SITES)
    direct = _direct_same_lead().head(2)
    wb = eqtls[eqtls["truth_set"] == "gtex_wb"]
    first, second = (wb[wb["gene_id"] == gene] for gene in direct["gene_id"])
    stronger = second.assign(variant_id="chr22_1_A_C_b38", pos=1, pval=second["pval"] / 10)
    rows, excluded = tissue_replication_rows(pd.concat([first, second, stronger]).assign(truth_set=spec.name), eqtls,
                                             [spec, lcl])
    assert rows["gene_id"].tolist() == [direct["gene_id"].iloc[0]]
    assert rows["score"].tolist() == pytest.approx([direct["slope_lcl"].iloc[0]])
    assert set(rows["predictor"]) == {TISSUE_REPLICATION} and set(rows["readout"]) == {"expression"}
    assert excluded[spec.name] == {}
