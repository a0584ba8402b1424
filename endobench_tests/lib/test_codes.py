"""Integer codes for text columns: what each form gives, missing values included."""

import numpy as np
import pandas as pd
import pyarrow as pa

from endobench.lib.codes import arrow_codes, as_codes, column_codes, group, is_first, recode, text_codes


def test_a_plain_arrow_column_of_several_chunks_is_coded_on_one_dictionary():
    codes, values = arrow_codes(pa.chunked_array([["chr2", "chr1"], ["chr1", "chr3"]]))
    assert values.to_pylist() == ["chr2", "chr1", "chr3"]
    assert codes.tolist() == [0, 1, 1, 2]


def test_chunks_with_dictionaries_of_their_own_are_put_on_one():
    first = pa.array(["A", "C"]).dictionary_encode()
    second = pa.array(["G", "A"]).dictionary_encode()
    codes, values = arrow_codes(pa.chunked_array([first, second]))
    assert [values[c].as_py() for c in codes] == ["A", "C", "G", "A"]


def test_a_missing_arrow_value_gets_a_code_of_its_own():
    codes, values = column_codes(pa.chunked_array([["b38", None, "b38"]]))
    assert codes.tolist() == [0, 1, 0]
    assert values.tolist() == ["b38", None]


def test_a_categorical_keeps_its_codes_and_its_missing_value_becomes_a_value():
    codes, values = text_codes(pd.Series(pd.Categorical(["x", None, "y", "x"], categories=["y", "x"])))
    assert codes.tolist() == [1, 2, 0, 1]
    assert values[:2].tolist() == ["y", "x"] and pd.isna(values[2])


def test_recode_merges_values_that_become_equal():
    codes, values = recode(np.array([0, 1, 2]), np.array(["a", "A ", "c"], dtype=object),
                           np.array(["A", "A", "C"], dtype=object))
    assert codes.tolist() == [0, 0, 1]
    assert values.tolist() == ["A", "C"]


def test_group_numbers_combinations_by_first_appearance_and_nan_equals_nan():
    chrom = (np.array([0, 0, 1, 0]), 2)
    position = np.array([5.0, np.nan, 5.0, np.nan])
    assert group(chrom, position).tolist() == [0, 1, 2, 1]


def test_positions_are_their_own_codes_and_is_first_marks_first_rows():
    codes, k = as_codes(np.array([3.0, 1.0, 3.0]))
    assert codes.tolist() == [3, 1, 3] and k == 4
    assert is_first(np.array([0, 1, 0, 2, 1])).tolist() == [True, True, False, True, False]
