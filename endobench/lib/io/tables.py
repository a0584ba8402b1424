"""The one table reader: delimited text (plain or gzip) read by header name, parquet and feather by column name.

`read_table` reads text exactly: every line is accounted for, a line whose number of fields differs from the
header's is an error naming it, blank lines are skipped without shifting line numbers, a byte-order mark and
CRLF line ends are harmless, and the frame's index is each row's line in the file. `read_typed_table` is Arrow's
multithreaded fast path for clean files (GTEx's own): strict, it gives None on anything irregular and the caller
falls back to `read_table`, whose errors name the line. Both give the same values on a clean file.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import zlib
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from isal import isal_zlib

from endobench.lib.io.compression import (
    ARROW,
    PARQUET,
    TEXT_KINDS,
    encoding_error,
    open_fast,
    open_text,
    refuse,
    sniff,
)
from endobench.lib.io.errors import InputError, quote


def use_jemalloc() -> None:
    """Make jemalloc Arrow's memory pool, where the build has it (pyarrow's wheels do).

    Arrow's default, mimalloc, hands each new array of a fresh process pages that fault in one by one: reading
    2.4 M GTEx rows (`bench/ingest.py`) took 2.2-3.4 s on it against 1.9-2.3 s on jemalloc, which reuses what the
    last step freed. Set when this module is imported, so every reader and writer of tables uses one pool.
    """
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # an Arrow build without jemalloc keeps its default
        pass


use_jemalloc()

NA_SPELLINGS = ["", "na", "nan", "null", "none", "."]
LINE = "line"  # the index name of frames read from text: each row's line number in the file


def text_or_missing(values: pd.Series) -> pd.Series:
    """Text stripped of surrounding spaces, None where missing: null, empty, or an NA spelling (`NA`, `NaN`, `.`,
    ...), as every reader and the id join treat them."""
    text = values.astype(object).where(values.notna(), None)
    text = text.map(lambda v: None if v is None else str(v).strip())
    missing = text.isna() | text.str.lower().isin(NA_SPELLINGS)
    return text.where(~missing, None)


def records(path: Path, what: str, *, delimiter: str = "\t", quoted: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank line of a plain or gzip text file, in order.

    `quoted` reads CSV quoting (a field in double quotes may hold the delimiter); otherwise quotes are text.
    Damage (not UTF-8, a NUL byte, broken quoting, a truncated gzip) is an `InputError` naming the line.
    """
    path = Path(path)
    text = open_text(path, what)
    reader = csv.reader(text, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
                        strict=quoted)
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            yield reader.line_num, fields
    except UnicodeDecodeError as exc:
        raise encoding_error(path, what, exc) from exc
    except csv.Error as exc:
        raise InputError(path, f"the line cannot be split into fields ({exc})",
                         "Check that the file is delimited text and that quotes are balanced",
                         line=reader.line_num) from exc
    finally:
        text.close()


def read_header(path: Path, what: str, *, delimiter: str = "\t") -> list[str]:
    """The header's column names (the first non-blank line)."""
    with contextlib.closing(records(path, what, delimiter=delimiter)) as rows:
        for _, fields in rows:
            return fields
    raise InputError(path, f"the {what} file is empty (no header line)", "Point the run at a non-empty file", line=1)


def check_header(path: Path, required: list[str], what: str, *, delimiter: str = "\t",
                 header: list[str] | None = None) -> list[str]:
    """The header's column names; a missing or repeated required column is an error naming it and near misses."""
    path = Path(path)
    header = read_header(path, what, delimiter=delimiter) if header is None else header
    missing = [c for c in required if c not in header]
    if missing:
        hint = ""
        names = {"\t": "tabs", ",": "commas"}
        line = delimiter.join(header)
        others = [sep for sep in ("\t", ",", ";", " ") if sep != delimiter and sep in line.strip()]
        if len(header) == 1 and others:
            found = {"\t": "tabs", ",": "commas", ";": "semicolons", " ": "spaces"}[others[0]]
            hint = f"; the header has one column: the file looks separated by {found}, not {names.get(delimiter)}"
        else:
            near = _near_names(missing, header)
            if near:
                hint = "; did you rename " + ", ".join(f"{want!r} to {found!r}" for want, found in near.items()) + "?"
        shown = [quote(h, 40) for h in header[:12]] + (["..."] if len(header) > 12 else [])
        separated = {"\t": "tab-separated", ",": "comma-separated"}.get(delimiter, "delimited")
        raise InputError(
            path,
            f"missing required column(s) {missing} in the header (found [{', '.join(shown)}]){hint}",
            f"Provide a {separated} {what} file whose header names these columns; columns are matched by name, "
            "never by position",
            line=1,
        )
    repeated = sorted({c for c in required if header.count(c) > 1})
    if repeated:
        raise InputError(path, f"column(s) {repeated} appear more than once in the header",
                         "Give every column a unique name, so that it is clear which one to read", line=1)
    return header


def read_table(
    path: Path, required: list[str] | None, what: str, optional: list[str] | None = None, *,
    delimiter: str = "\t", quoted: bool = False,
) -> pd.DataFrame:
    """The named columns of a delimited text table (plain or gzip) as strings; `required=None` reads every column.

    The index is each row's line number in the file (`LINE`). Columns are matched by header name, never by
    position; a line with more or fewer fields than the header is an error naming it. Arrow splits a regular file;
    anything irregular (a line of another width, blank lines between rows, bad UTF-8) is read line by line, so
    that the error names the line or the rows keep their true line numbers.
    """
    path = Path(path)
    header = read_header(path, what, delimiter=delimiter)
    wanted = header if required is None else list(dict.fromkeys(required + [c for c in optional or [] if c in header]))
    check_header(path, wanted, what, delimiter=delimiter, header=header)
    table = read_typed_table(path, wanted, [], delimiter=delimiter, quoted=quoted, na_spellings=False)
    if table is not None:
        return pd.DataFrame({c: table.column(c).to_numpy(zero_copy_only=False) for c in wanted},
                            index=pd.RangeIndex(2, 2 + table.num_rows, name=LINE), dtype=object)
    with contextlib.closing(records(path, what, delimiter=delimiter, quoted=quoted)) as rows:
        return _read_rows(path, rows, required, what, optional, delimiter)


def _read_rows(path: Path, rows: Iterator[tuple[int, list[str]]], required: list[str] | None, what: str,
               optional: list[str] | None, delimiter: str) -> pd.DataFrame:
    first = next(rows, None)
    if first is None:
        raise InputError(path, f"the {what} file is empty (no header line)", "Point the run at a non-empty file",
                         line=1)
    header_line, header = first
    wanted = header if required is None else list(dict.fromkeys(required + [c for c in optional or [] if c in header]))
    check_header(path, wanted, what, delimiter=delimiter, header=header)
    width = len(header)
    pick = itemgetter(*[header.index(c) for c in wanted])
    lines: list[int] = []
    values: list = []
    for line, fields in rows:
        if len(fields) != width:
            raise InputError(
                path, f"the line has {len(fields)} field(s) but the header has {width}: "
                f"{quote(delimiter.join(fields))}",
                "Every line needs exactly the header's fields; fix or remove the line (a truncated or hand-edited "
                "file, or a value holding the delimiter?)", line=line,
            )
        lines.append(line)
        values.append(pick(fields))
    if not lines:
        raise InputError(path, f"the {what} file has a header but no data rows", "Point the run at a complete file",
                         line=header_line + 1)
    columns = zip(*values) if len(wanted) > 1 else [values]
    return pd.DataFrame(dict(zip(wanted, columns)), index=pd.Index(lines, name=LINE), dtype=object)


def read_typed_table(
    path: Path, strings: list[str], numbers: list[str], *, integers: list[str] = (), names: list[str] | None = None,
    skip_rows: int = 0, na_spellings: bool = True, delimiter: str = "\t", quoted: bool = False,
) -> pa.Table | None:
    """The named columns through Arrow's multithreaded reader: `strings` as text, `numbers` as float64, `integers`
    as int64 (a fraction or text fails).

    Strict on purpose: anything `read_table` would report or place by line (a non-number, a short or long line,
    a blank line, bad UTF-8, a damaged gzip, no data rows) gives None, and the caller reads the file with the exact
    reader. On a clean file both readers give the same values; with `na_spellings`, NA spellings are NaN in both.
    A headed file must have had its header checked (`check_header`); a headerless one gives its column `names` and
    the `skip_rows` lines before its data. Only the size guard's error is raised from here.
    """
    source = open_fast(Path(path))
    if source is None:
        return None
    na = sorted({v for s in NA_SPELLINGS for v in (s, s.upper(), s.capitalize())} | {"NaN"}) if na_spellings else []
    types = {**{c: pa.string() for c in strings}, **{c: pa.float64() for c in numbers},
             **{c: pa.int64() for c in integers}}
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=1 << 24, column_names=names, skip_rows=skip_rows),
            # Blank lines are skipped only where they cannot shift line numbers: after the data (checked below).
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"' if quoted else False,
                                             double_quote=quoted, ignore_empty_lines=skip_rows == 0),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(types), column_types=types,
                null_values=na, strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, EOFError, zlib.error, isal_zlib.error, UnicodeDecodeError):
        return None
    finally:
        source.close()
    if not table.num_rows or source.content_lines != skip_rows + (names is None) + table.num_rows:
        return None  # a blank line between rows: only the exact reader keeps each row's line number
    if any(table.column(c).null_count for c in integers):
        return None
    return table


def read_frame(path: Path, what: str) -> pd.DataFrame:
    """A whole table of any kind endobench accepts: CSV or TSV (plain or gzip), parquet, feather.

    The extension names the format (`.csv`, `.tsv`/`.txt`/`.tab`, optionally `.gz`; `.parquet`/`.pq`;
    `.feather`/`.arrow`) and the content must agree with it; text columns are strings, indexed by line.
    """
    path = Path(path)
    kind = sniff(path, what)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bgz"):
        suffixes = suffixes[:-1]
    extension = suffixes[-1] if suffixes else ""
    formats = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".tab": "\t", ".parquet": PARQUET, ".pq": PARQUET,
               ".feather": ARROW, ".arrow": ARROW}
    expected = formats.get(extension)
    if expected is None:
        raise InputError(path, f"unknown table format {''.join(path.suffixes) or '(no extension)'}",
                         "Use .csv, .tsv (optionally .gz), .parquet or .feather")
    if expected in (PARQUET, ARROW):
        if kind != expected:
            raise InputError(path, f"the file is named {extension} but its content is {kind}",
                             f"Rename it after its real format, or export it again as {expected}")
        return _read_columnar(path, kind)
    if kind in (PARQUET, ARROW):
        raise InputError(path, f"the file is named {extension} but its content is {kind}",
                         f"Rename it to .{'parquet' if kind == PARQUET else 'feather'}")
    if kind not in TEXT_KINDS:
        raise refuse(path, kind, what)
    return read_table(path, None, what, delimiter=expected, quoted=True)


def _read_columnar(path: Path, kind: str) -> pd.DataFrame:
    import pyarrow.feather as feather

    try:
        table = read_parquet_table(path) if kind == PARQUET else feather.read_table(path)
        frame = frame_from_arrow(table)
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        raise InputError(path, f"the {kind} file cannot be read ({exc})",
                         "Check that the file is complete; write it again if it was cut short") from exc
    # A pandas index stored with the table is not a key: `pd.concat(...).to_parquet()` stores one that repeats. A
    # named index is a column the writer set aside (`set_index("variant_id")`): it comes back as that column.
    named = [name for name in frame.index.names if name is not None and name not in frame.columns]
    if named:
        frame = frame.reset_index(level=named)
    return frame.reset_index(drop=True)


def read_parquet_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A parquet file's columns (all, or `columns`) as Arrow; text written dictionary-encoded comes back as codes.

    The file is opened before Arrow looks at it, so a file that cannot be read yet (a stalled disk, a pipe) makes
    the read wait, as any open does, instead of failing on its size."""
    import pyarrow.parquet as pq

    with pa.OSFile(str(path)) as source:
        return pq.read_table(source, columns=columns)


def frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas, dictionary-encoded text decoded to Python strings (None where missing), as pandas'
    own parquet reader gives text written from pandas."""
    if not any(pa.types.is_dictionary(field.type) for field in table.schema):
        return table.to_pandas()
    decoded = [column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
               for column in table.columns]
    return pa.table(decoded, names=table.column_names).to_pandas()


def _near_names(missing: list[str], header: list[str]) -> dict[str, str]:
    """Header names that look like a renamed required column (`Slope`, `beta` for `slope`, ...)."""
    aliases = {"slope": ["beta", "effect", "effect_size"], "slope_se": ["beta_se", "se", "effect_se"],
               "pval_nominal": ["pvalue", "p_value", "pval", "p"]}
    near = {}
    lowered = {h.lower().strip(): h for h in header}
    for want in missing:
        candidates = [want.lower(), *aliases.get(want, [])]
        found = next((lowered[c] for c in candidates if c in lowered), None)
        if found is None:
            close = difflib.get_close_matches(want, header, n=1, cutoff=0.8)
            found = close[0] if close else None
        if found is not None:
            near[want] = found
    return near


_NUMBER = r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)"


def parse_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats, and a mask of the values that are text but not a number; NA spellings are NaN and not marked.

    Text is parsed by Arrow, as the fast path parses it, so both readers give the same, correctly rounded double
    (pandas' own parser can be one unit in the last place off); every step runs in Arrow, not per value in Python.
    """
    if values.dtype.kind in "biuf":
        return values.to_numpy(dtype=np.float64), np.zeros(len(values), dtype=bool)
    try:
        text = pc.utf8_trim_whitespace(pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True))
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # numbers stored as objects (a parquet column of mixed types)
        out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        return out, values.notna().to_numpy() & np.isnan(out)
    missing = pc.or_(pc.is_null(text), pc.fill_null(pc.is_in(pc.utf8_lower(text), value_set=pa.array(NA_SPELLINGS)),
                                                     False))
    shaped = pc.fill_null(pc.match_substring_regex(text, f"^(?:{_NUMBER})$", ignore_case=True), False)
    missing, shaped = missing.to_numpy(zero_copy_only=False), shaped.to_numpy(zero_copy_only=False)
    numbers = ~missing & shaped
    out = np.full(len(values), np.nan)
    if numbers.any():
        out[numbers] = pc.cast(text.filter(pa.array(numbers)), pa.float64()).to_numpy(zero_copy_only=False)
    return out, ~missing & ~shaped


def numeric_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Parse a column as float; text that is not a number (and not an NA spelling) is an error naming the line."""
    numbers, bad = parse_numbers(frame[column])
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            path,
            f"column {column!r} holds {quote(frame[column].iloc[first])}, which is not a number "
            f"({int(bad.sum()):,} such rows)",
            f"Fix or remove those rows, or map {column!r} to the right column.",
            line=_line(frame, first),
        )
    return pd.Series(numbers, index=frame.index, name=column)


def integer_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """`numeric_column` for positions and coordinates: a fractional or infinite value is an error, never truncated."""
    values = numeric_column(frame, column, path)
    bad = values.notna() & ~(np.isfinite(values) & (values == np.floor(values)))
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            path, f"column {column!r} holds {quote(frame[column].iloc[first])}, which is not a whole number "
            f"({int(bad.sum()):,} such rows); positions are never rounded",
            "Write positions and coordinates as whole numbers (1-based for variants, 0-based starts in BED)",
            line=_line(frame, first),
        )
    return values


def _line(frame: pd.DataFrame, row: int) -> int | None:
    """The file line of the `row`-th row of a frame read by `read_table` (None for frames without lines)."""
    return int(frame.index[row]) if frame.index.name == LINE else None
