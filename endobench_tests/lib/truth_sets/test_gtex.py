"""GTEx tables are read by header name: the effect is `slope`, wherever the column sits."""

import gzip
from pathlib import Path

import pandas as pd
import pytest

from endobench.lib.io.errors import InputError
from endobench.lib.truth_sets import gtex
from endobench.lib.truth_sets.gtex import EGENES, SIGNIF_PAIRS, read_gtex_eqtls

EGENES_FILE = "gtex/Whole_Blood.v8.egenes.chr22_32Mb.txt"
PAIRS_FILE = "gtex/Whole_Blood.v8.signif_variant_gene_pairs.chr22_32Mb.txt"


def test_egenes_effect_is_the_slope_column(fixtures):
    """RFPL2's lead eQTL has slope -0.402071 and pval_nominal 8.72394e-06 in the real file."""
    parsed = read_gtex_eqtls(fixtures / EGENES_FILE, truth_set="gtex_wb")
    row = parsed.frame.set_index("gene_id").loc["ENSG00000128253.13"]
    assert parsed.kind == EGENES
    assert row["variant_id"] == "chr22_32261410_C_T_b38"
    assert (row["chrom"], row["pos"], row["ref"], row["alt"]) == ("chr22", 32261410, "C", "T")
    assert row["effect"] == pytest.approx(-0.402071)
    assert row["pval"] == pytest.approx(8.72394e-06)
    assert row["effect_se"] == pytest.approx(0.0896402)
    assert row["maf"] == pytest.approx(0.0813433)
    assert row["tss_distance"] == 57933
    assert row["build"] == "hg38"


def test_the_effect_can_be_the_egenes_log2_allelic_fold_change(fixtures):
    """With effect log2_aFC, RFPL2's lead eQTL carries its log2_aFC (the log-fold-change scale of an RNA-seq LFC
    scorer); GTEx gives log2_aFC a confidence interval, not a standard error, so none is read."""
    table = pd.read_csv(fixtures / EGENES_FILE, sep="\t").set_index("gene_id")
    parsed = read_gtex_eqtls(fixtures / EGENES_FILE, truth_set="gtex_wb", effect="log2_aFC")
    frame = parsed.frame.set_index("gene_id")
    assert frame.loc["ENSG00000128253.13", "effect"] == pytest.approx(table.loc["ENSG00000128253.13", "log2_aFC"])
    assert frame["effect"].to_dict() == pytest.approx(table.loc[frame.index, "log2_aFC"].to_dict())
    assert frame["effect_se"].isna().all()


def test_log2_afc_of_a_table_without_it_is_an_error_saying_where_gtex_gives_it(fixtures):
    with pytest.raises(InputError, match="no 'log2_aFC' column: GTEx gives log2_aFC in its eGenes tables only"):
        read_gtex_eqtls(fixtures / PAIRS_FILE, truth_set="gtex_wb", effect="log2_aFC")


def test_egenes_significance_comes_from_qval(fixtures):
    """Only RFPL2 (qval 0.012) passes qval <= 0.05; the other three genes stay as non-significant rows."""
    frame = read_gtex_eqtls(fixtures / EGENES_FILE, truth_set="gtex_wb").frame
    assert frame.loc[frame["is_significant"], "gene_id"].tolist() == ["ENSG00000128253.13"]
    assert len(frame) == 4


def test_an_egenes_table_without_gene_name_keeps_its_non_significant_genes(fixtures, tmp_path):
    """Found by the property tests: without `gene_name` the file passed for signif_variant_gene_pairs, and every
    gene, q-value 0.19 or not, became significant. `qval` alone makes it an egenes table."""
    table = pd.read_csv(fixtures / EGENES_FILE, sep="\t", dtype=str, keep_default_na=False)
    path = tmp_path / "egenes.txt"
    table.drop(columns="gene_name").to_csv(path, sep="\t", index=False)
    without, original = read_gtex_eqtls(path, truth_set="gtex_wb"), read_gtex_eqtls(fixtures / EGENES_FILE,
                                                                                     truth_set="gtex_wb")
    assert without.kind == EGENES
    assert without.frame["is_significant"].tolist() == original.frame["is_significant"].tolist()
    assert not without.frame["is_significant"].all()


def test_an_egenes_table_with_qval_renamed_is_refused_not_read_as_significant_pairs(fixtures, tmp_path):
    """Without `qval` an egenes file passed for signif_variant_gene_pairs, whose every row is significant."""
    table = pd.read_csv(fixtures / EGENES_FILE, sep="\t", dtype=str, keep_default_na=False)
    path = tmp_path / "egenes.txt"
    table.rename(columns={"qval": "q_value"}).to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match=r"missing required column\(s\) \['qval'\]"):
        read_gtex_eqtls(path, truth_set="gtex_wb")


def test_reordered_columns_give_the_same_table(fixtures, tmp_path):
    """The seed read column 7 as the slope; here moving columns around changes nothing."""
    original = pd.read_csv(fixtures / EGENES_FILE, sep="\t", dtype=str)
    reordered = original[list(reversed(original.columns))]
    path = tmp_path / "reordered.egenes.txt"
    reordered.to_csv(path, sep="\t", index=False)
    a = read_gtex_eqtls(fixtures / EGENES_FILE, truth_set="gtex_wb").frame.drop(columns="source_line")
    b = read_gtex_eqtls(path, truth_set="gtex_wb").frame.drop(columns="source_line")
    pd.testing.assert_frame_equal(a, b)


def test_signif_pairs_layout_parses_to_the_same_effects(fixtures):
    pairs = read_gtex_eqtls(fixtures / PAIRS_FILE, truth_set="gtex_wb")
    egenes = read_gtex_eqtls(fixtures / EGENES_FILE, truth_set="gtex_wb")
    assert pairs.kind == SIGNIF_PAIRS
    assert pairs.frame["is_significant"].all()
    merged = pairs.frame.merge(egenes.frame, on=["variant_id", "gene_id"], suffixes=("_pairs", "_egenes"))
    assert len(merged) == 4
    assert (merged["effect_pairs"] == merged["effect_egenes"]).all()


def test_gzipped_file_is_read_like_plain(fixtures, tmp_path):
    path = tmp_path / "egenes.txt.gz"
    path.write_bytes(gzip.compress((fixtures / EGENES_FILE).read_bytes()))
    assert len(read_gtex_eqtls(path, truth_set="gtex_wb").frame) == 4


def test_a_file_without_slope_is_an_error_naming_the_column(fixtures, tmp_path):
    original = pd.read_csv(fixtures / PAIRS_FILE, sep="\t", dtype=str)
    path = tmp_path / "no_slope.txt"
    original.drop(columns="slope").to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match=r"no_slope\.txt, line 1: missing required column\(s\) \['slope'\]"):
        read_gtex_eqtls(path, truth_set="gtex_wb")


def test_b37_variant_ids_mean_hg19(fixtures, tmp_path):
    text = (fixtures / PAIRS_FILE).read_text().replace("_b38", "_b37")
    path = tmp_path / "v7_style.txt"
    path.write_text(text)
    frame = read_gtex_eqtls(path, truth_set="gtex_wb").frame
    assert set(frame["build"]) == {"hg19"}
    assert frame["variant_id"].str.endswith("_b37").all()


def test_mixed_build_suffixes_are_refused(fixtures, tmp_path):
    lines = (fixtures / PAIRS_FILE).read_text().splitlines()
    lines[2] = lines[2].replace("_b38", "_b37")
    path = tmp_path / "mixed.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="build suffix"):
        read_gtex_eqtls(path, truth_set="gtex_wb")


def test_whole_blood_sample_counts(sample_dir):
    """The bundled v8 Whole Blood eGenes: 20,315 genes, 12,360 with qval <= 0.05, nothing excluded."""
    parsed = read_gtex_eqtls(sample_dir / "gtex_v8_Whole_Blood.v8.egenes.txt.gz", truth_set="gtex_wb")
    assert parsed.rows_read == 20_315
    assert len(parsed.frame) == 20_315
    assert int(parsed.frame["is_significant"].sum()) == 12_360
    assert sum(parsed.excluded.values()) == 0


def tensorqtl_parquet(text_table: Path, path: Path, edit=None) -> Path:
    """A GTEx v8 text table rewritten the way GTEx v10 ships significant pairs: parquet, with tensorQTL's names
    (`phenotype_id`, `start_distance`) and `af`, the ALT allele frequency, which is 1 - maf on every other row."""
    table = pd.read_csv(text_table, sep="\t")
    table = table.rename(columns={"gene_id": "phenotype_id", "tss_distance": "start_distance", "maf": "af"})
    table.loc[table.index % 2 == 1, "af"] = 1 - table["af"]
    (edit or (lambda t: t))(table).to_parquet(path, index=False)
    return path


def test_v10_parquet_pairs_give_the_v8_texts_table(fixtures, tmp_path):
    """gene_id from phenotype_id, tss_distance from start_distance, maf = min(af, 1 - af); rows count from 1."""
    text = read_gtex_eqtls(fixtures / PAIRS_FILE, truth_set="gtex_wb")
    parquet = read_gtex_eqtls(tensorqtl_parquet(fixtures / PAIRS_FILE, tmp_path / "wb.v10.parquet"), truth_set="gtex_wb")
    assert parquet.kind == SIGNIF_PAIRS and parquet.rows_read == text.rows_read == 4
    assert parquet.frame["source_line"].tolist() == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(parquet.frame.drop(columns="source_line"), text.frame.drop(columns="source_line"),
                                  rtol=1e-12)


def test_a_parquet_table_without_slope_is_an_error_naming_the_column(fixtures, tmp_path):
    path = tensorqtl_parquet(fixtures / PAIRS_FILE, tmp_path / "no_slope.parquet", lambda t: t.drop(columns="slope"))
    with pytest.raises(InputError, match=r"no_slope\.parquet: missing required column\(s\) \['slope'\] in the parquet"):
        read_gtex_eqtls(path, truth_set="gtex_wb")


def test_a_malformed_id_in_a_parquet_table_is_an_error_naming_its_row(fixtures, tmp_path):
    def damage(table):
        table.loc[2, "variant_id"] = "rs2267367"
        return table

    path = tensorqtl_parquet(fixtures / PAIRS_FILE, tmp_path / "bad_id.parquet", damage)
    with pytest.raises(InputError, match=r"'rs2267367' is not in GTEx form .* \(first at row 3\)"):
        read_gtex_eqtls(path, truth_set="gtex_wb")


def test_a_missing_gene_id_in_a_parquet_table_is_an_error_naming_its_row(fixtures, tmp_path):
    def damage(table):
        table.loc[1, "phenotype_id"] = None
        return table

    path = tensorqtl_parquet(fixtures / PAIRS_FILE, tmp_path / "no_gene.parquet", damage)
    with pytest.raises(InputError, match=r"the gene id \('phenotype_id'\) is missing \(first at row 2, 1 row"):
        read_gtex_eqtls(path, truth_set="gtex_wb")


def test_a_text_slope_in_a_parquet_table_is_an_error_naming_the_column(fixtures, tmp_path):
    path = tensorqtl_parquet(fixtures / PAIRS_FILE, tmp_path / "text_slope.parquet",
                             lambda t: t.assign(slope=["-0.12", "n/a", "0.3", "0.1"]))
    with pytest.raises(InputError, match=r"column 'slope' is string in the parquet schema, not a number"):
        read_gtex_eqtls(path, truth_set="gtex_wb")


def test_tensorqtl_column_names_in_a_text_table_give_the_same_table_on_both_readers(fixtures, tmp_path):
    """A tab-separated table with tensorQTL's names reads like the v8 one, on the Arrow reader and the text reader."""
    path = tmp_path / "wb.tensorqtl.txt"
    pd.read_parquet(tensorqtl_parquet(fixtures / PAIRS_FILE, tmp_path / "wb.parquet")).to_csv(path, sep="\t", index=False)
    v8 = read_gtex_eqtls(fixtures / PAIRS_FILE, truth_set="gtex_wb").frame
    fast = read_gtex_eqtls(path, truth_set="gtex_wb").frame
    text = gtex._read_gtex_text(path, SIGNIF_PAIRS, "gtex_wb", 0.05).frame
    pd.testing.assert_frame_equal(fast, v8, rtol=1e-12)
    pd.testing.assert_frame_equal(text, v8, rtol=1e-12)


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(InputError, match=r"absent\.txt\.gz: the GTEx eQTL file does not exist"):
        read_gtex_eqtls(tmp_path / "absent.txt.gz", truth_set="gtex_wb")
