"""Generic QTL tables (the Degner dsQTLs) read by header name, alleles put on the + strand, exclusions counted."""

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from endobench.lib.io.atomic import write_parquet
from endobench.lib.io.errors import InputError
from endobench.lib.io.tables import frame_from_arrow, read_parquet_table
from endobench.lib.truth_sets.generic import GenericQtlColumns, read_generic_qtls, read_selected_qtls
from endobench.lib.truth_sets.schema import QTL_COLUMNS, QTL_SCHEMA, SOURCE_COLUMNS, as_sources, validated_qtl_table
from endobench.resources.sources import DEGNER_COLUMNS

DEGNER = "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"


@pytest.fixture(scope="module")
def degner(sample_dir):
    return read_generic_qtls(sample_dir / DEGNER, truth_set="dsqtl", build="hg38", columns=DEGNER_COLUMNS)


def test_degner_counts_and_exclusions(degner):
    """5,671 rows: 11 not lifted (no hg38 position), 1 lifted to an unplaced contig, 5,659 kept."""
    assert degner.rows_read == 5_671
    assert dict(degner.excluded) == {"unplaced": 11, "unknown_chromosome": 1}
    assert len(degner.frame) == 5_659
    assert list(degner.frame.columns) == QTL_COLUMNS


def test_effect_is_beta_of_the_alt_allele(degner):
    """chr1.801099 (hg18) is chr1:875,856 A>G on hg38 with Beta 1.398."""
    row = degner.frame.set_index("variant_id").loc["chr1_875856_A_G_b38"]
    assert row["effect"] == pytest.approx(1.398)
    assert row["effect_se"] == pytest.approx(0.356)
    assert row["pval"] == pytest.approx(0.0002043)


def test_minus_strand_rows_are_complemented(degner):
    """chr1.120640037 A>G lifts to the minus strand at chr1:143,972,460, so on hg38 + it is T>C."""
    row = degner.frame.set_index("variant_id").loc["chr1_143972460_T_C_b38"]
    assert row["effect"] == pytest.approx(-1.068)


def _write(tmp_path, rows, header=("chrom", "pos", "ref", "alt", "effect", "se", "p", "build")):
    path = tmp_path / "caqtl.tsv"
    pd.DataFrame(rows, columns=list(header)).to_csv(path, sep="\t", index=False)
    return path


def test_generic_table_with_default_names_and_build_column(tmp_path):
    path = _write(tmp_path, [["1", "875856", "A", "G", "0.5", "0.1", "1e-4", "GRCh38"]])
    parsed = read_generic_qtls(path, truth_set="caqtl", columns=GenericQtlColumns())
    assert parsed.frame.loc[0, "variant_id"] == "chr1_875856_A_G_b38"
    assert parsed.frame.loc[0, "build"] == "hg38"


def test_bad_rows_are_counted_by_reason(tmp_path):
    rows = [
        ["chr1", "875856", "A", "G", "0.5", "0.1", "1e-4", "hg38"],
        ["chr1", "875856", "A", "G", "0.5", "0.1", "1e-4", "hg38"],  # duplicate_row
        ["chr1", "1000", "A", "<DEL>", "0.5", "0.1", "1e-4", "hg38"],  # symbolic_allele
        ["chr1", "1000", "A", "C,T", "0.5", "0.1", "1e-4", "hg38"],  # multiallelic
        ["chrUn", "1000", "A", "C", "0.5", "0.1", "1e-4", "hg38"],  # unknown_chromosome
        ["chr1", "0", "A", "C", "0.5", "0.1", "1e-4", "hg38"],  # invalid_position
        ["chr22", "50818469", "A", "C", "0.5", "0.1", "1e-4", "hg38"],  # off_chromosome_end
        ["chr1", "2000", "A", "C", "inf", "0.1", "1e-4", "hg38"],  # invalid_effect
        ["chr1", "3000", "A", "A", "0.5", "0.1", "1e-4", "hg38"],  # ref_equals_alt
    ]
    parsed = read_generic_qtls(_write(tmp_path, rows), truth_set="caqtl", columns=GenericQtlColumns())
    assert len(parsed.frame) == 1
    assert dict(parsed.excluded) == {
        "duplicate_row": 1, "symbolic_allele": 1, "multiallelic": 1, "unknown_chromosome": 1,
        "invalid_position": 1, "off_chromosome_end": 1, "invalid_effect": 1, "ref_equals_alt": 1,
    }


def test_two_builds_in_one_table_is_an_error(tmp_path):
    rows = [["chr1", "875856", "A", "G", "0.5", "0.1", "1e-4", "hg38"],
            ["chr1", "875857", "A", "G", "0.5", "0.1", "1e-4", "hg19"]]
    with pytest.raises(InputError, match="several genome builds"):
        read_generic_qtls(_write(tmp_path, rows), truth_set="caqtl", columns=GenericQtlColumns())


def test_text_in_the_effect_column_names_the_line(tmp_path):
    rows = [["chr1", "875856", "A", "G", "0.5", "0.1", "1e-4", "hg38"],
            ["chr1", "875857", "A", "G", "big", "0.1", "1e-4", "hg38"]]
    with pytest.raises(InputError, match=r"caqtl\.tsv, line 3: column 'effect' holds 'big'"):
        read_generic_qtls(_write(tmp_path, rows), truth_set="caqtl", columns=GenericQtlColumns())


def test_minus_strand_multi_base_alleles_are_reverse_complemented(tmp_path):
    """A deletion lifted to the minus strand, AGC>A at 1,000, is GCT>T on the + strand: reverse-complemented, not
    only complemented (TCG>T is not the same sequence), and starting at 998, where its REF span begins on +."""
    path = tmp_path / "minus.tsv"
    pd.DataFrame([["chr1", "1000", "AGC", "A", "0.5", "0.1", "1e-4", "-"]],
                 columns=["chrom", "pos", "ref", "alt", "effect", "se", "p", "strand"]).to_csv(path, sep="\t",
                                                                                              index=False)
    parsed = read_generic_qtls(path, truth_set="caqtl", build="hg38", columns=GenericQtlColumns(strand="strand"))
    assert parsed.frame.loc[0, ["pos", "ref", "alt"]].tolist() == [998, "GCT", "T"]


def test_a_declared_strand_column_missing_from_the_header_is_an_error(sample_dir, tmp_path):
    """Found by the property tests: with `strand_hg38` misspelt, the 21 minus-strand dsQTLs were read as plus-strand
    alleles. A column the mapping declares is required."""
    table = pd.read_csv(sample_dir / DEGNER, sep="\t", dtype=str, keep_default_na=False)
    path = tmp_path / "degner.tsv"
    table.rename(columns={"strand_hg38": "trand_hg38"}).to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match=r"missing required column\(s\) \['strand_hg38'\]"):
        read_generic_qtls(path, truth_set="dsqtl", build="hg38", columns=DEGNER_COLUMNS)


def test_a_table_stored_as_text_before_the_codes_is_read_as_one_stored_as_codes(tmp_path, degner):
    """Outputs written by pandas (text as strings, a dsQTL gene_id column with no value at all) still feed
    `annotate_truth_sets`: `as_sources` encodes them, and the values are those of the table stored as codes."""
    write_parquet(degner.frame, tmp_path / "as_text.parquet")
    write_parquet(degner.table, tmp_path / "as_codes.parquet")
    old, new = (as_sources([read_parquet_table(tmp_path / f"{name}.parquet", SOURCE_COLUMNS)])
                for name in ("as_text", "as_codes"))
    assert old.schema == new.schema == pa.schema([QTL_SCHEMA.field(c) for c in SOURCE_COLUMNS])
    assert old.column("gene_id").null_count == len(degner.frame) > 5_000
    pd.testing.assert_frame_equal(frame_from_arrow(old), frame_from_arrow(new))


def test_columns_handed_over_in_arrow_keep_their_rows_across_chunk_boundaries():
    """A column the reader hands over in Arrow may come in chunks; excluded rows on either side of a chunk boundary
    leave the kept rows with their own values (here the standard error numbers the row)."""
    n = 12
    frame = pd.DataFrame({"chrom": "chr22", "pos": np.arange(1_000, 1_000 + n), "ref": "A", "alt": "G",
                          "gene_id": "ENSG00000128253.13", "effect": [np.nan if i in (3, 4, 8) else 0.1 for i in
                                                                       range(n)], "is_significant": True})
    se = pa.chunked_array([[float(i) for i in range(0, 4)], [float(i) for i in range(4, 9)],
                           [float(i) for i in range(9, n)]])
    excluded = Counter()
    table = validated_qtl_table(frame, "t.tsv", "t", "hg38", excluded,
                                columns={"effect_se": se, "source_line": pa.chunked_array([list(range(2, 2 + n))])})
    assert excluded == {"invalid_effect": 3}
    assert table.column("effect_se").to_pylist() == [0.0, 1.0, 2.0, 5.0, 6.0, 7.0, 9.0, 10.0, 11.0]
    assert table.column("source_line").to_pylist() == [2, 3, 4, 7, 8, 9, 11, 12, 13]
    assert table.column("pos").to_pylist() == [1_000, 1_001, 1_002, 1_005, 1_006, 1_007, 1_009, 1_010, 1_011]


def test_the_fields_strong_dsqtls_are_the_deltasvm_papers_574_by_their_degner_ids(sample_dir):
    """The deltaSVM paper's 574 positives, matched to the Degner table by id for alleles and Beta: 573 match, the one
    that does not (chr13:113479759) is counted as not in the source table, and one more Degner row has no hg38
    position; every kept row is the Degner row of that id (its Beta, its lifted position)."""
    parsed = read_selected_qtls(sample_dir / "lee2015_dsqtl_positives.hg18.tsv.gz",
                                sample_dir / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz", id_column="degner_id",
                                truth_set="dsqtl_degner2012_strong", build="hg38", columns=DEGNER_COLUMNS)
    assert parsed.rows_read == 574
    assert dict(parsed.excluded) == {"not_in_source_table": 1, "unplaced": 1}
    kept = parsed.frame
    assert len(kept) == 572
    degner = pd.read_csv(sample_dir / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz", sep="\t")
    positives = pd.read_csv(sample_dir / "lee2015_dsqtl_positives.hg18.tsv.gz", sep="\t")
    chosen = degner[degner["ID"].isin(positives["degner_id"]) & degner["pos_hg38"].notna()]
    assert sorted(kept["effect"].round(6)) == sorted(chosen["Beta"].round(6))
    assert set(zip(kept["chrom"], kept["pos"])) <= set(zip(degner["chr_hg38"], degner["pos_hg38"].astype("Int64")))


def test_a_selection_counts_repeated_ids(tmp_path, sample_dir):
    selection = tmp_path / "ids.tsv"
    selection.write_text("degner_id\nchr1.846446\nchr1.846446\nchr1.901458\n")
    parsed = read_selected_qtls(selection, sample_dir / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz",
                                id_column="degner_id", truth_set="x", build="hg38", columns=DEGNER_COLUMNS)
    assert parsed.rows_read == 3 and parsed.table.num_rows == 2
    assert dict(parsed.excluded) == {"duplicate_in_selection": 1}
