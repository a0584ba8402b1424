"""GTEx all-pairs tables (every cis test of every gene), read in blocks by header name: never whole, never by position.

GTEx publishes the test of every variant within 1 Mb of each gene's TSS: `<Tissue>.allpairs.txt.gz` in v8 (columns
`gene_id variant_id tss_distance ma_samples ma_count maf pval_nominal slope slope_se`; about 10^8 rows for Whole
Blood), `<Tissue>.v10.allpairs.chr<N>.parquet` in v10 (tensorQTL's names: `af` for the ALT allele frequency, and
`phenotype_id`/`start_distance` where GTEx did not rename them). Such a file is read here one block at a time
(Arrow's streaming CSV reader, or parquet batches), so memory holds one block whatever the file's length; what to
keep of each block is the caller's (`evaluation.negative_tests`).

Columns are found by name as in every GTEx reader (`gtex.columns_by_name`): a file whose columns are shuffled reads
the same, and one without a required column is an error naming the file and the column. A value that is not a
number is an error naming its line (found again on that error path only, by counting lines up to the block).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from isal import isal_zlib

from endobench.lib.io.compression import PARQUET, TEXT_KINDS, max_decompressed_bytes, open_fast, refuse, sniff
from endobench.lib.io.errors import InputError, quote, replace_damaged
from endobench.lib.io.tables import NA_SPELLINGS, read_header
from endobench.lib.truth_sets.gtex import SIGNIF_PAIRS, arrow_maf_from_af, columns_by_name

WHAT = "GTEx all-pairs"
TEXT_COLUMNS = ("gene_id", "variant_id")
# Arrow's block: about 175 K rows of GTEx text. Arrow's streaming reader reads blocks ahead on a thread of its own
# while the selection works on one (the bench saw 15 blocks held at once), so the block size bounds memory: at 32 MB
# the selection's peak RSS grew 1.8-fold from 4 M to 16 M rows, at 16 MB 1.14-fold (`bench/allpairs.py`); smaller
# blocks cost per-block overhead (the annotation test runs once per block).
BLOCK_BYTES = 1 << 24
BATCH_ROWS = 700_000
# GTEx's all-pairs text inflates about 4-fold from gzip (`bench/allpairs.py` measures it on a file in the real
# format); a stream that inflates 25-fold is not such a file (a gzip bomb inflates up to 1,000-fold). The reader
# holds one block at a time, so the guard is against wasted hours, not memory: the general size guard
# (ENDOBENCH_MAX_DECOMPRESSED_GB) would stop every real all-pairs file.
MAX_INFLATION = 25
_NA = sorted({v for s in NA_SPELLINGS for v in (s, s.upper(), s.capitalize())} | {"NaN"})


@dataclass(frozen=True)
class Block:
    """Rows of an all-pairs file under GTEx's names (`gene_id`, `variant_id`, `pval_nominal`, `slope`, `slope_se`,
    and `maf`, `tss_distance` where the file has them), numbers as float64; `first` is the line (text) or the row
    (parquet, from 1) of its first row."""

    table: pa.Table
    first: int
    where: str  # "line" or "row"


def allpairs_blocks(path: Path | str) -> Iterator[Block]:
    """The rows of a GTEx all-pairs file (gzip or plain text, or parquet) in blocks, columns found by name."""
    path = Path(path)
    kind = sniff(path, WHAT)
    if kind == PARQUET:
        yield from _parquet_blocks(path)
    elif kind in TEXT_KINDS:
        yield from _text_blocks(path)
    else:
        raise refuse(path, kind, WHAT)


def _named(columns: dict[str, pa.Array | pa.ChunkedArray]) -> pa.Table:
    """GTEx-named columns as one table, text as strings and numbers as float64, `maf` from tensorQTL's `af`."""
    typed = {name: values.cast(pa.string() if name in TEXT_COLUMNS else pa.float64()) for name, values in
             columns.items()}
    arrow_maf_from_af(typed)
    return pa.table(typed)


def _text_blocks(path: Path) -> Iterator[Block]:
    header = read_header(path, WHAT)
    columns, wanted = columns_by_name(path, header, SIGNIF_PAIRS)  # a missing column raises, naming it
    limit = max(max_decompressed_bytes(), MAX_INFLATION * path.stat().st_size)
    source = open_fast(path, limit)
    types = {columns[c]: pa.string() if c in TEXT_COLUMNS else pa.float64() for c in wanted}
    line = 2
    try:
        reader = pacsv.open_csv(
            source, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(include_columns=list(types), column_types=types, null_values=_NA,
                                                 strings_can_be_null=False))
        for batch in reader:
            if batch.num_rows:
                yield Block(_named({c: batch.column(columns[c]) for c in wanted}), line, "line")
                line += batch.num_rows
    except pa.ArrowInvalid as exc:
        raise bad_line(path, header, {c: columns[c] for c in wanted}, line, limit, exc) from None
    except (EOFError, zlib.error, isal_zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise InputError(path, f"the gzip stream is truncated or corrupt in the lines after line {line - 1:,} "
                         f"({type(exc).__name__}: {exc})", replace_damaged(path), damaged=True) from exc
    finally:
        source.close()


def bad_line(path: Path, header: list[str], columns: dict[str, str], first: int, limit: int,
             exc: pa.ArrowInvalid) -> InputError:
    """The error for a block Arrow could not read: the first line from `first` on whose number of fields differs
    from the header's or whose number column holds text, found by counting lines up to `first` (only when a block
    failed); Arrow's own message when no line is found."""
    numbers = {ours: header.index(theirs) for ours, theirs in columns.items() if ours not in TEXT_COLUMNS}
    stream = io.BufferedReader(open_fast(path, limit), buffer_size=1 << 20)
    try:
        for number, raw in enumerate(stream, 1):
            if number < first:
                continue
            fields = raw.rstrip(b"\r\n").split(b"\t")
            if len(fields) != len(header):
                return InputError(path, f"the line has {len(fields)} fields, the header {len(header)}",
                                  "Check that the file is complete and tab-separated", line=number)
            for name, index in numbers.items():
                text = fields[index].decode(errors="replace").strip()
                if text not in _NA and not _is_number(text):
                    return InputError(path, f"{name} ({columns[name]!r}) is {quote(text, 40)}, not a number",
                                      f"Fix the line, or check that {columns[name]!r} holds what GTEx puts there",
                                      line=number)
    finally:
        stream.close()
    return InputError(path, f"the lines after line {first - 1:,} cannot be read ({exc})",
                      "Check that the file is a complete GTEx all-pairs table")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parquet_blocks(path: Path) -> Iterator[Block]:
    try:
        handle = pq.ParquetFile(path)
        header = handle.schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"the parquet file cannot be read ({exc})", replace_damaged(path),
                         damaged=True) from exc
    columns, wanted = columns_by_name(path, header, SIGNIF_PAIRS)
    row = 1
    try:
        for batch in handle.iter_batches(batch_size=BATCH_ROWS, columns=[columns[c] for c in wanted]):
            if batch.num_rows:
                yield Block(_named({c: batch.column(columns[c]) for c in wanted}), row, "row")
                row += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(path, f"the rows from row {row:,} on cannot be read as GTEx all-pairs columns ({exc})",
                         "Check that the file is a complete GTEx all-pairs table") from exc
    except OSError as exc:
        raise InputError(path, f"the parquet file is damaged after row {row - 1:,} ({exc})", replace_damaged(path),
                         damaged=True) from exc

