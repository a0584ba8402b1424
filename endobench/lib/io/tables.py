"""Tab-separated tables read by header name, with errors that name the file, the line and what to do."""

from __future__ import annotations

import csv
import difflib
import gzip
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from isal import igzip_threaded, isal_zlib

from endobench.lib.io.errors import InputError


def read_table(path: Path, required: list[str], what: str, optional: list[str] | None = None) -> pd.DataFrame:
    """Read the named columns of a tab-separated (optionally gzipped) table as strings.

    Columns are matched by header name, never by position; errors say which file and what to do.
    """
    path = Path(path)
    header = check_header(path, required, what)
    usecols = list(dict.fromkeys(required + [c for c in optional or [] if c in header]))
    try:
        frame = pd.read_csv(
            path, sep="\t", usecols=usecols, dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE,
            engine="c", compression="infer" if not _is_gzip(path) else "gzip",
        )
    except (EOFError, OSError, zlib.error) as exc:
        raise truncation_error(path, exc) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            path, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start:,})",
            "Check that this is the right file (a tab-separated text table, optionally gzipped)",
        ) from exc
    except pd.errors.ParserError as exc:
        raise InputError(path, f"the table is malformed ({exc})", "Check the delimiter and the number of fields") from exc
    if frame.empty:
        raise InputError(path, f"the {what} file has a header but no data rows", "Point the run at a complete file",
                         line=2)
    return frame


def check_header(path: Path, required: list[str], what: str) -> list[str]:
    """The header's column names; a missing required column is an error that names it and near misses."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, f"the {what} file does not exist", "Check the path in the run configuration.")
    header_line = _first_line(path, what)
    header = header_line.rstrip("\r\n").split("\t")
    missing = [c for c in required if c not in header]
    if missing:
        hint = ""
        if len(header) == 1 and ("," in header_line or " " in header_line.strip()):
            sep = "commas" if "," in header_line else "spaces"
            hint = f"; the header has one column: the file looks separated by {sep}, not tabs"
        else:
            near = _near_names(missing, header)
            if near:
                hint = "; did you rename " + ", ".join(f"{want!r} to {found!r}" for want, found in near.items()) + "?"
        shown = header[:12] + (["..."] if len(header) > 12 else [])
        raise InputError(
            path,
            f"missing required column(s) {missing} in the header (found {shown}){hint}",
            f"Provide a tab-separated {what} file whose header names these columns; columns are matched by name, "
            "never by position",
            line=1,
        )
    return header


NA_SPELLINGS = ["", "na", "nan", "null", "none", "."]
_COMPRESSED_SUFFIXES = (".bz2", ".zip", ".xz", ".zst", ".tar")


def read_typed_table(path: Path, strings: list[str], numbers: list[str]) -> pa.Table | None:
    """The named columns through Arrow's multithreaded reader: `strings` as text, `numbers` as float64.

    Strict on purpose: any line the pandas text reader would treat specially (a non-number, a short or long
    line, bad UTF-8, a truncated gzip, no data rows) gives None, and the caller reads the file with `read_table`,
    whose errors name the line. On a clean file both readers give the same values; NA spellings are NaN in both.
    The header must have been checked (`check_header`) before.
    """
    path = Path(path)
    gzipped = _is_gzip(path)
    if not gzipped and path.name.lower().endswith(_COMPRESSED_SUFFIXES):
        return None
    na = sorted({v for s in NA_SPELLINGS for v in (s, s.upper(), s.capitalize())} | {"NaN"})
    # ISA-L inflates twice as fast as zlib, on a thread of its own while Arrow parses the blocks it hands over.
    source = igzip_threaded.open(path, "rb", threads=1) if gzipped else pa.input_stream(str(path))
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=[*strings, *numbers],
                column_types={**{c: pa.string() for c in strings}, **{c: pa.float64() for c in numbers}},
                null_values=na, strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, EOFError, zlib.error, isal_zlib.error, UnicodeDecodeError):
        return None
    finally:
        source.close()
    return table if table.num_rows else None


def _near_names(missing: list[str], header: list[str]) -> dict[str, str]:
    """Header names that look like a renamed required column (`Slope`, `beta` for `slope`, ...)."""
    aliases = {"slope": ["beta", "effect", "effect_size"], "slope_se": ["beta_se", "se", "effect_se"],
               "pval_nominal": ["pvalue", "p_value", "pval", "p"]}
    near = {}
    lowered = {h.lower(): h for h in header}
    for want in missing:
        candidates = [want.lower(), *aliases.get(want, [])]
        found = next((lowered[c] for c in candidates if c in lowered), None)
        if found is None:
            close = difflib.get_close_matches(want, header, n=1, cutoff=0.8)
            found = close[0] if close else None
        if found is not None:
            near[want] = found
    return near


def truncation_error(path: Path, exc: BaseException) -> InputError:
    """A gzip stream that ends early, with the last complete line, so the user sees how much was read."""
    lines = 0
    try:
        with gzip.open(path, "rb") as handle:
            for _ in handle:
                lines += 1
    except (EOFError, OSError, zlib.error):
        pass
    return InputError(
        path, f"the gzip stream is truncated or corrupt after {lines:,} complete line(s) ({exc})",
        "Download the file again; this copy is incomplete", line=lines + 1,
    )


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _first_line(path: Path, what: str) -> str:
    try:
        opener = gzip.open if _is_gzip(path) else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            line = handle.readline()
    except (EOFError, OSError, zlib.error) as exc:
        raise truncation_error(path, exc) from exc
    if not line.strip():
        raise InputError(path, f"the {what} file is empty (no header line)", "Point the run at a non-empty file",
                         line=1)
    return line


def numeric_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Parse a column as float; text that is not a number (and not an NA spelling) is an error naming the line."""
    text = frame[column].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    na_spelling = text.str.lower().isin(["", "na", "nan", "null", "none", "."])
    bad = values.isna() & ~na_spelling
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            path,
            f"column {column!r} holds {frame[column].iloc[first]!r}, which is not a number "
            f"({int(bad.sum()):,} such rows)",
            f"Fix or remove those rows, or map {column!r} to the right column.",
            line=first + 2,
        )
    return values.astype("float64")
