"""Integer codes for columns of text: the one way rows are grouped without hashing a string per row.

A column becomes codes into its distinct values; checks run once per distinct value and reach the rows through
the codes, and rows are grouped by combining the codes of several columns arithmetically. Arrow columns
(`arrow_codes`, `column_codes`) are hashed by Arrow and keep their distinct values in Arrow; pandas and numpy
columns (`text_codes`) by pandas. Every form gives a missing value a code of its own, never a -1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def text_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (numbered by first appearance) and the distinct values as an object array; a categorical's own codes
    are used as they are. NA is a value of its own."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        uniques = np.asarray(values.cat.categories, dtype=object)
        if (codes < 0).any():
            codes = np.where(codes < 0, len(uniques), codes)
            uniques = np.append(uniques, np.nan).astype(object)
        return codes, uniques
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)


def recode(codes: np.ndarray, uniques: np.ndarray, mapped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """After a per-value transformation `mapped` (aligned with `uniques`), merge the values that became equal."""
    inner, merged = pd.factorize(np.asarray(mapped, dtype=object), use_na_sentinel=False)
    return inner[codes], np.asarray(merged, dtype=object)


def arrow_codes(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Codes of an Arrow text column (dictionary-encoded or not) and its distinct values, left in Arrow (a million
    variant ids are not made Python strings). A missing value gets the code `len(values)`.

    A plain column is hashed once by Arrow, whose chunks then share one dictionary; only a column that arrives
    encoded with a dictionary per chunk (tables of several sources) is put on one dictionary first, which at
    2.4 M rows costs as much again as the hashing.
    """
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if column.num_chunks == 0:
        return np.zeros(0, dtype=np.int64), pa.array([], type=pa.string())
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    elif column.num_chunks > 1:
        column = pa.table({"c": column}).unify_dictionaries().column(0)
    dictionary = column.chunk(column.num_chunks - 1).dictionary
    indices = pa.chunked_array([chunk.indices for chunk in column.chunks], type=column.type.index_type)
    return indices.fill_null(len(dictionary)).to_numpy().astype(np.int64, copy=False), dictionary


def column_codes(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """`arrow_codes` with the distinct values as an object array, None appended when a value is missing."""
    codes, dictionary = arrow_codes(column)
    values = dictionary.to_numpy(zero_copy_only=False).astype(object)
    return codes, np.append(values, None) if (codes == len(values)).any() else values


def group(*columns: np.ndarray | tuple[np.ndarray, int]) -> np.ndarray:
    """One integer code per distinct combination of the columns (NaN equal to NaN), numbered by first appearance.

    A column is values, or `(codes, cardinality)` when it is already dense codes (no hashing needed). Codes are
    combined arithmetically and hashed again only when the combined range would overflow int64.
    """
    combined = np.zeros(len(columns[0][0] if isinstance(columns[0], tuple) else columns[0]), dtype=np.int64)
    size = 1
    for column in columns:
        if isinstance(column, tuple):
            codes, k = column
        else:
            codes, uniques = pd.factorize(column, use_na_sentinel=False)
            k = len(uniques)
        k = max(int(k), 1)
        if size * k >= 2**62:
            combined, uniques = pd.factorize(combined)
            size = len(uniques)
        combined = combined * k + codes
        size *= k
    return pd.factorize(combined)[0].astype(np.int64, copy=False)


def counted(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """`text_codes` in the form `group` takes: the codes and how many distinct values there are."""
    codes, uniques = text_codes(values)
    return codes, len(uniques)


def is_first(codes: np.ndarray) -> np.ndarray:
    """For codes numbered by first appearance (as `group` gives them): is this row its code's first?"""
    first = np.ones(len(codes), dtype=bool)
    if len(codes) > 1:
        first[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return first


def as_codes(values: np.ndarray) -> np.ndarray | tuple[np.ndarray, int]:
    """Non-negative whole numbers (positions) are their own codes; anything else is hashed by `group`."""
    if len(values) and not np.isnan(values).any() and values.min() >= 0 and values.max() < 2**40:
        whole = values.astype(np.int64)
        if (whole == values).all():
            return whole, int(whole.max()) + 1
    return values
