"""GTEx all-pairs tables read in blocks by header name: shuffled columns read the same, a missing column or a value
that is not a number is an error naming the file (and the line), v10's parquet with tensorQTL's names reads too."""

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from endobench.lib.io.errors import InputError
from endobench.lib.truth_sets import allpairs
from endobench.lib.truth_sets.allpairs import allpairs_blocks
from endobench_tests.lib.truth_sets.allpairs_files import ALLPAIRS_HEADER, allpairs_rows, write_allpairs

CHROMOSOMES = ("chr17", "chr19")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return allpairs_rows(CHROMOSOMES)


def read_all(path) -> pd.DataFrame:
    return pd.concat([block.table.to_pandas() for block in allpairs_blocks(path)], ignore_index=True)


def test_columns_are_found_by_name_whatever_their_order(rows, tmp_path):
    """The header reversed (slope before pval_nominal, gene_id last) gives the same values under the same names."""
    ordered = read_all(write_allpairs(rows, tmp_path / "ordered.txt.gz"))
    shuffled = read_all(write_allpairs(rows, tmp_path / "shuffled.txt.gz", columns=ALLPAIRS_HEADER[::-1]))
    pd.testing.assert_frame_equal(shuffled[ordered.columns], ordered)
    assert ordered["slope"].tolist() == pytest.approx(rows["slope"].tolist(), rel=1e-5)
    assert ordered["pval_nominal"].tolist() == pytest.approx(rows["pval_nominal"].tolist(), rel=1e-5)


def test_a_missing_column_is_an_error_naming_the_file_and_the_column(rows, tmp_path):
    path = write_allpairs(rows, tmp_path / "no_slope.txt.gz", columns=[c for c in ALLPAIRS_HEADER if c != "slope"])
    with pytest.raises(InputError, match=r"no_slope.txt.gz, line 1: missing required column\(s\) \['slope'\]"):
        read_all(path)


def test_a_value_that_is_not_a_number_is_an_error_naming_its_line(rows, tmp_path, monkeypatch):
    """Found again after Arrow refused the block: the file's line 7 (the sixth row), in a later block than the first."""
    monkeypatch.setattr(allpairs, "BLOCK_BYTES", 256)
    broken = rows.astype({"pval_nominal": object})
    broken.loc[5, "pval_nominal"] = "0.3x"
    path = write_allpairs(broken, tmp_path / "bad.txt.gz")
    with pytest.raises(InputError, match=r"bad.txt.gz, line 7: pval_nominal \('pval_nominal'\) is '0.3x', not a number"):
        read_all(path)


def test_blocks_carry_the_line_of_their_first_row(rows, tmp_path, monkeypatch):
    monkeypatch.setattr(allpairs, "BLOCK_BYTES", 512)
    blocks = list(allpairs_blocks(write_allpairs(rows, tmp_path / "blocks.txt.gz")))
    assert len(blocks) > 3 and blocks[0].first == 2
    assert [b.first for b in blocks[1:]] == list(2 + np.cumsum([b.table.num_rows for b in blocks[:-1]]))
    assert sum(b.table.num_rows for b in blocks) == len(rows)


def test_a_truncated_gzip_is_damaged_and_says_so(rows, tmp_path):
    path = write_allpairs(rows, tmp_path / "cut.txt.gz")
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(InputError, match="cut.txt.gz: the gzip stream is truncated or corrupt") as caught:
        read_all(path)
    assert caught.value.damaged


def tensorqtl_allpairs(rows: pd.DataFrame, path) -> None:
    """`rows` as GTEx v10 writes an all-pairs parquet: tensorQTL's `start_distance` and `af` (the ALT frequency)."""
    pq.write_table(pa.table({
        "gene_id": rows["gene_id"], "variant_id": rows["variant_id"], "start_distance": rows["tss_distance"],
        "af": 1.0 - rows["maf"], "ma_samples": rows["ma_samples"], "ma_count": rows["ma_count"],
        "pval_nominal": rows["pval_nominal"], "slope": rows["slope"], "slope_se": rows["slope_se"],
    }), path)


def test_v10_parquet_reads_by_tensorqtl_names(rows, tmp_path):
    tensorqtl_allpairs(rows, tmp_path / "Whole_Blood.v10.allpairs.chr17.parquet")
    table = read_all(tmp_path / "Whole_Blood.v10.allpairs.chr17.parquet")
    assert table["maf"].tolist() == pytest.approx(rows["maf"].tolist())
    assert table["tss_distance"].tolist() == rows["tss_distance"].tolist()
    assert set(table.columns) == {"gene_id", "variant_id", "tss_distance", "maf", "pval_nominal", "slope", "slope_se"}


def test_a_file_that_is_neither_text_nor_parquet_is_refused_naming_it(tmp_path):
    path = tmp_path / "pairs.txt.xz"
    path.write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 40)
    with pytest.raises(InputError, match="pairs.txt.xz: the GTEx all-pairs file is xz"):
        read_all(path)


def test_plain_text_reads_as_gzip_does(rows, tmp_path):
    gz = write_allpairs(rows, tmp_path / "a.txt.gz")
    plain = tmp_path / "a.txt"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    pd.testing.assert_frame_equal(read_all(plain), read_all(gz))
