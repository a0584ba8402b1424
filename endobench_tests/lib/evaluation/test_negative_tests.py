"""Which all-pairs tests become negatives: non-significant tests of a positive's own gene, in its annotation, at most
`per_gene` per gene, the nearest to its positive; everything else counted by reason.

The positives are the real Whole Blood v8 eGenes of the sample whose significant lead is a Degner dsQTL position
(the truth set Whole Blood at LCL DNase-sensitive sites); the all-pairs table is `allpairs_files`' (on chr17, chr19).
"""

import pandas as pd
import pytest

from endobench.lib.evaluation.covariates import log10_tss_distance, standardised_mean_difference
from endobench.lib.evaluation.negative_tests import (
    GENE_WITHOUT_POSITIVE,
    NO_THRESHOLD_P,
    SIGNIFICANT,
    negative_targets,
    select_negative_tests,
)
from endobench.lib.io.errors import InputError
from endobench.lib.truth_sets.annotate import sites_as_peaks
from endobench.lib.truth_sets.generic import read_generic_qtls
from endobench.lib.truth_sets.gtex import gene_thresholds, read_gtex_eqtls
from endobench.lib.truth_sets.schema import SOURCE_COLUMNS, as_sources
from endobench.resources.sources import DEGNER_COLUMNS, SampleDataSources
from endobench_tests.lib.truth_sets.allpairs_files import EGENES, allpairs_rows, positives, write_allpairs
from endobench_tests.lib.truth_sets.test_allpairs import tensorqtl_allpairs
from endobench_tests.paths import SAMPLE_DIR

CHROMOSOMES = ("chr17", "chr19")
TRUTH_SET = "gtex_wb_lcl_dsqtl_sites"


@pytest.fixture(scope="module")
def setting():
    """The stored Whole Blood table, the dsQTL sites as the annotation, the truth set's spec and the thresholds."""
    table = as_sources([read_gtex_eqtls(EGENES, truth_set="gtex_wb").table.select(SOURCE_COLUMNS)])
    dsqtls = read_generic_qtls(SAMPLE_DIR / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz", truth_set="dsqtl",
                               build="hg38", columns=DEGNER_COLUMNS)
    sites = sites_as_peaks(dsqtls.frame, "hg38")
    specs = [s for s in SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_tissues=["Whole_Blood"],
                                          annotations=["lcl_dsqtl_sites"]).truth_sets() if s.source == "gtex_wb"]
    return {"table": table, "annotations": {"lcl_dsqtl_sites": sites, "k562_dhs": sites}, "specs": specs,
            "thresholds": gene_thresholds(EGENES)}


def targets(setting, thresholds=None):
    return negative_targets(setting["table"], setting["specs"], setting["annotations"], "k562_dhs",
                            setting["thresholds"] if thresholds is None else thresholds)


def select(setting, rows, tmp_path, per_gene=2, thresholds=None):
    return select_negative_tests([write_allpairs(rows, tmp_path / "allpairs.txt.gz")], targets(setting, thresholds),
                                 per_gene=per_gene)


def test_the_positives_are_each_genes_significant_lead_in_the_annotation(setting):
    """102 Whole Blood eGenes have their significant lead on a dsQTL position (the README's number)."""
    positives_ = targets(setting).truth_sets[0].positives
    assert len(positives_) == 102 == len(positives()) and positives_["gene_id"].is_unique


def test_a_gene_keeps_at_most_per_gene_tests(setting, tmp_path):
    rows = allpairs_rows(CHROMOSOMES)
    one = select(setting, rows, tmp_path, per_gene=1)
    three = select(setting, rows, tmp_path, per_gene=3)
    genes = one.truth_sets[TRUTH_SET]["genes_with_negatives"]
    assert one.table.num_rows == genes and three.table.num_rows > 2 * genes
    counts = three.table.to_pandas()["gene_id"].value_counts()
    assert counts.max() == 3
    kept_one = set(one.table.column("variant_id").to_pylist())
    assert kept_one <= set(three.table.column("variant_id").to_pylist())  # the nearest is kept under any bound
    assert one.truth_sets[TRUTH_SET]["beyond_per_gene_bound"] == one.truth_sets[TRUTH_SET]["candidates"] - genes


def test_significant_tests_and_genes_without_a_positive_are_counted_not_kept(setting, tmp_path):
    rows = allpairs_rows(CHROMOSOMES)
    chosen = select(setting, rows, tmp_path)
    leads = len(positives(CHROMOSOMES))
    assert chosen.excluded[GENE_WITHOUT_POSITIVE] == 3
    # The leads, and the one generated test per gene at a tenth of its threshold: every p below 0.01 in the file.
    assert chosen.excluded[SIGNIFICANT] == (rows["pval_nominal"] < 0.01).sum() > leads
    assert chosen.truth_sets[TRUTH_SET]["not_in_annotation"] == 2 * leads
    assert chosen.rows_read == len(rows)
    assert chosen.excluded.total() + chosen.truth_sets[TRUTH_SET]["not_in_annotation"] + \
        chosen.truth_sets[TRUTH_SET]["candidates"] == len(rows)


def test_a_variant_that_is_another_genes_significant_lead_is_no_negative(setting, tmp_path):
    """Its accessibility score is one number for the variant: it would stand among the positives and the negatives."""
    rows = allpairs_rows(CHROMOSOMES)
    leads = positives(CHROMOSOMES)
    first, other = leads.iloc[0], leads.iloc[1]
    extra = rows[rows["variant_id"] == other["variant_id"]].assign(gene_id=first["gene_id"], pval_nominal=0.9)
    chosen = select(setting, pd.concat([rows, extra], ignore_index=True), tmp_path)
    assert chosen.truth_sets[TRUTH_SET]["variant_significant_for_a_gene"] == 1
    kept = chosen.table.to_pandas()
    assert not ((kept["gene_id"] == first["gene_id"]) & (kept["variant_id"] == other["variant_id"])).any()


def test_without_thresholds_a_test_must_be_above_the_stated_p(setting, tmp_path):
    """A table that gives no pval_nominal_threshold: only tests above NO_THRESHOLD_P (0.5) are not significant."""
    chosen = select(setting, allpairs_rows(CHROMOSOMES), tmp_path, thresholds=pd.Series(dtype=float))
    assert chosen.genes_without_threshold == 102
    assert (chosen.table.column("pval").to_numpy() > NO_THRESHOLD_P).all() and chosen.table.num_rows > 0


def test_the_balance_before_the_bound_is_that_of_the_positives_against_every_candidate(setting, tmp_path):
    rows = allpairs_rows(CHROMOSOMES)
    chosen = select(setting, rows, tmp_path)
    balance = chosen.truth_sets[TRUTH_SET]["balance_every_candidate"]
    leads = positives()  # all 102 positives, on every chromosome
    sites = set(chosen.table.column("variant_id").to_pylist())
    everything = select(setting, rows, tmp_path, per_gene=10)  # no gene has 10: every candidate kept
    assert sites <= set(everything.table.column("variant_id").to_pylist())
    candidates = everything.table.to_pandas()
    a, b = log10_tss_distance(leads), log10_tss_distance(candidates)
    assert balance["log10_tss_distance"] == pytest.approx(standardised_mean_difference(a.mean(), a.var(), b.mean(),
                                                                                       b.var()))
    assert balance["log10_tss_distance"] < -1  # leads sit near the TSS, the candidates anywhere within 1 Mb


def test_a_malformed_variant_id_is_an_error_naming_its_line(setting, tmp_path):
    rows = allpairs_rows(CHROMOSOMES)
    rows.loc[4, "variant_id"] = "chr17:7676154:G:C"
    with pytest.raises(InputError, match=r"allpairs.txt.gz, line 6: variant_id 'chr17:7676154:G:C' is not in GTEx "
                                         "form"):
        select(setting, rows, tmp_path)


def test_v10_parquet_split_by_chromosome_gives_the_same_negatives(setting, tmp_path):
    rows = allpairs_rows(CHROMOSOMES)
    text = select(setting, rows, tmp_path)
    paths = []
    for chrom in CHROMOSOMES:
        paths.append(tmp_path / f"Whole_Blood.v10.allpairs.{chrom}.parquet")
        tensorqtl_allpairs(rows[rows["variant_id"].str.startswith(f"{chrom}_")].reset_index(drop=True), paths[-1])
    parquet = select_negative_tests(paths, targets(setting), per_gene=2)
    key = ["gene_id", "variant_id"]
    columns = [*key, "effect", "pval", "tss_distance"]
    expected = text.table.to_pandas()[columns].sort_values(key).reset_index(drop=True)
    got = parquet.table.to_pandas()[columns].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-5)
    assert parquet.table.to_pandas()["maf"].to_numpy() == pytest.approx(
        text.table.to_pandas().set_index(key).loc[pd.MultiIndex.from_frame(parquet.table.to_pandas()[key]), "maf"]
        .to_numpy(), rel=1e-5)


def test_no_positive_gene_in_the_file_keeps_nothing_and_says_so(setting, tmp_path):
    rows = allpairs_rows(CHROMOSOMES)
    quiet = rows[~rows["gene_id"].isin(positives()["gene_id"])]
    chosen = select(setting, quiet, tmp_path)
    assert chosen.table.num_rows == 0 and chosen.excluded[GENE_WITHOUT_POSITIVE] == len(quiet)
    described = chosen.truth_sets[TRUTH_SET]
    assert (described["candidates"], described["kept"], described["genes_with_negatives"]) == (0, 0, 0)
