"""Accessibility peaks (narrowPeak or BED) with their build: validated, filtered by width and q, minus the blacklist."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from endobench.lib.codes import text_codes
from endobench.lib.genome.builds import CHROM_SIZES, normalize_chrom
from endobench.lib.io.errors import InputError, quote
from endobench.lib.io.tables import LINE, parse_numbers, read_typed_table, records

PEAK_COLUMNS = ["chrom", "start", "end", "name", "qvalue"]


@dataclass
class PeakSet:
    frame: pd.DataFrame  # PEAK_COLUMNS, sorted, 0-based half-open
    build: str
    rows_read: int
    excluded: Counter = field(default_factory=Counter)
    was_sorted: bool = True
    path: Path | None = None  # the file read, so errors about the set can name it

    @property
    def covered_bp(self) -> int:
        return int((self.frame["end"] - self.frame["start"]).sum())


def read_peaks(path: Path, build: str) -> PeakSet:
    """Read a narrowPeak (10 fields, field 9 = -log10 q) or a BED file; invalid intervals are counted, not kept.

    UCSC `track` and `browser` lines and `#` comments are skipped wherever they stand. The number of fields
    decides the format and never changes within a file: 3-8 are BED (no q-value), 10 narrowPeak, 12 BED12; 9
    (BED9 or broadPeak?), 11 and more than 12 are refused rather than guessed. Coordinates must be whole numbers.
    A clean file is read by Arrow; anything irregular by the exact reader, whose errors name the line.
    """
    path = Path(path)
    first_line, width = _layout(path)
    raw = _read_fast(path, first_line, width)
    if raw is None:
        raw = _read_exact(path, width)
    qvalues = raw["qvalue"] if "qvalue" in raw else None
    if qvalues is not None:
        # narrowPeak q-value -1 means "not computed" (MACS2 without a control, some ENCODE files): unknown, not weak.
        qvalues = qvalues.mask(qvalues == -1)
    chrom_codes, chrom_names = text_codes(raw["chrom"])
    frame = pd.DataFrame({
        "chrom": normalize_chrom(pd.Series(chrom_names, dtype=object)).to_numpy()[chrom_codes],
        "start": raw["start"].to_numpy(dtype=np.int64),
        "end": raw["end"].to_numpy(dtype=np.int64),
        "name": raw["name"].to_numpy(dtype=object) if "name" in raw else ".",
        "qvalue": qvalues.to_numpy() if qvalues is not None else np.nan,
    })
    excluded: Counter = Counter()
    invalid = (frame["start"] < 0) | (frame["end"] <= frame["start"])
    excluded["invalid_interval"] += int(invalid.sum())
    sizes = frame["chrom"].map(CHROM_SIZES[build])
    unknown = sizes.isna() & ~invalid
    excluded["unknown_chromosome"] += int(unknown.sum())
    past_end = ~invalid & ~unknown & (frame["end"] > sizes.fillna(np.inf))
    excluded["off_chromosome_end"] += int(past_end.sum())
    frame = frame[~(invalid | unknown | past_end)]
    key = frame["chrom"].map({c: i for i, c in enumerate(CHROM_SIZES[build])})
    was_sorted = bool((key.diff().fillna(0) >= 0).all() and _starts_sorted(frame, key))
    frame = frame.assign(_k=key).sort_values(["_k", "start", "end"], kind="stable").drop(columns="_k")
    return PeakSet(frame.reset_index(drop=True), build, len(raw), +excluded, was_sorted, path)


NARROWPEAK_WIDTH = 10
_BED_WIDTHS = {3, 4, 5, 6, 7, 8, NARROWPEAK_WIDTH, 12}
_WIDTH_FIX = ("endobench reads BED with 3-8 fields, narrowPeak (10 fields, -log10 q in field 9) and BED12; "
              "9 fields could be BED9 or broadPeak and other counts are not BED: cut the file to BED3 "
              "(cut -f1-3) or convert it to narrowPeak")
_SKIPPED_LINE = r"^(#|track(\s|$)|browser(\s|$))"
_FIELDS = ["chrom", "start", "end", "name"]


def _layout(path: Path) -> tuple[int, int]:
    """The line of the first peak and the number of fields every line must have."""
    with contextlib.closing(records(path, "peak")) as lines:
        for line, fields in lines:
            if re.match(_SKIPPED_LINE, fields[0]):
                continue
            if len(fields) not in _BED_WIDTHS:
                raise InputError(path, f"the first peak line has {len(fields)} tab-separated field(s): "
                                 f"{quote(chr(9).join(fields))}", _WIDTH_FIX, line=line)
            return line, len(fields)
    raise InputError(path, "the peak file holds no peak line",
                     "Point the data sources at a BED or narrowPeak file with at least one peak", line=1)


def _read_fast(path: Path, first_line: int, width: int) -> pd.DataFrame | None:
    """Arrow's reader for a clean file (no comment or track line after the first peak, whole-number coordinates)."""
    names = [f"field{i + 1}" for i in range(width)]
    names[:min(width, 4)] = _FIELDS[:min(width, 4)]
    if width == NARROWPEAK_WIDTH:
        names[8] = "qvalue"
    table = read_typed_table(path, ["chrom"] + (["name"] if width >= 4 else []),
                             ["qvalue"] if width == NARROWPEAK_WIDTH else [], integers=["start", "end"],
                             names=names, skip_rows=first_line - 1, na_spellings=False)
    if table is None or pc.any(pc.match_substring_regex(table.column("chrom"), _SKIPPED_LINE)).as_py():
        return None
    raw = table.to_pandas()
    if "qvalue" in raw and raw["qvalue"].isna().any():
        return None
    raw.index = pd.RangeIndex(first_line, first_line + len(raw), name=LINE)
    return raw


def _read_exact(path: Path, width: int) -> pd.DataFrame:
    """Every line in Python: comment and track lines skipped, any other irregularity an error naming its line."""
    lines, rows = [], []
    with contextlib.closing(records(path, "peak")) as fields_by_line:
        for line, fields in fields_by_line:
            if re.match(_SKIPPED_LINE, fields[0]):
                continue
            if len(fields) != width:
                raise InputError(path, f"the line has {len(fields)} field(s), the lines before it {width}: "
                                 f"{quote(chr(9).join(fields))}",
                                 "Every line of a BED file needs the same fields; fix or remove the line", line=line)
            lines.append(line)
            rows.append(fields)
    columns = {name: [r[i] for r in rows] for i, name in enumerate(_FIELDS[:min(width, 4)])}
    raw = pd.DataFrame(columns, index=pd.Index(lines, name=LINE))
    raw["start"], raw["end"] = _coordinate(raw, "start", path), _coordinate(raw, "end", path)
    if width == NARROWPEAK_WIDTH:
        text = pd.Series([r[8] for r in rows], index=raw.index)
        raw["qvalue"] = parse_numbers(text)[0]  # Arrow's parser: pandas' stops at a NUL byte ("1.\x00301" -> 1.0)
        if raw["qvalue"].isna().any():
            row = int(np.flatnonzero(raw["qvalue"].isna().to_numpy())[0])
            raise InputError(path, f"field 9 (-log10 q) holds {quote(text.iloc[row])}, not a number",
                             "Provide a narrowPeak file (field 9 = -log10 q-value) or a plain BED3 file",
                             line=int(raw.index[row]))
    return raw


def _starts_sorted(frame: pd.DataFrame, key: pd.Series) -> bool:
    same = key.diff().fillna(1) == 0
    return bool((frame["start"].diff().fillna(0)[same] >= 0).all())


def filter_peaks(peaks: PeakSet, *, max_width: int, min_qvalue: float | None, blacklist: PeakSet | None) -> PeakSet:
    """Drop artifact peaks (wider than `max_width`), weak peaks (-log10 q below `min_qvalue`), and blacklist overlaps.

    A file whose q-values are all unknown (BED3, or narrowPeak with -1) skips the q filter and counts nothing as
    `below_qvalue`; a peak with an unknown q among known ones is kept (unknown is not below).
    """
    frame = peaks.frame
    excluded = Counter(peaks.excluded)
    too_wide = (frame["end"] - frame["start"]) > max_width
    excluded["too_wide"] += int(too_wide.sum())
    frame = frame[~too_wide]
    if min_qvalue is not None and frame["qvalue"].notna().any():
        weak = frame["qvalue"] < min_qvalue
        excluded["below_qvalue"] += int(weak.sum())
        frame = frame[~weak]
    if blacklist is not None:
        if blacklist.build != peaks.build:
            raise InputError(
                peaks.path, f"the blacklist is {blacklist.build} but the peaks are {peaks.build} (blacklist: {blacklist.path or 'in memory'})",
                "Use the blacklist of the peaks' build, or lift the peaks over (the data sources declare each build)",
            )
        if len(frame) and len(blacklist.frame):
            listed = intersect(frame[["chrom", "start", "end"]], blacklist.frame[["chrom", "start", "end"]],
                               keep="overlapping")
            excluded["in_blacklist"] += int(listed.sum())
            frame = frame[~listed]
    return PeakSet(frame.reset_index(drop=True), peaks.build, peaks.rows_read, +excluded, peaks.was_sorted, peaks.path)


def intersect(intervals: pd.DataFrame, others: pd.DataFrame, *, keep: str = "overlapping") -> np.ndarray:
    """Boolean mask over `intervals` (chrom, start, end): shares at least one base with an interval of `others`.

    `bedtools intersect -u` through pybedtools decides every interval that could overlap one of `others`, on
    temporary BED files; the rows it reports are read back by their row number with pandas, in one pass. An
    interval that shares no `BIN`-base bin with any of `others` cannot share a base with one and is not written
    out (`_share_a_bin`, the binning bedtools itself indexes by): at GTEx scale 9 in 10 variants, and most of the
    time bedtools took to parse them.
    """
    mask = np.zeros(len(intervals), dtype=bool)
    if not len(intervals) or not len(others):
        return mask
    candidates = np.flatnonzero(_share_a_bin(intervals, others))
    if len(candidates):
        mask[candidates[_bedtools_overlapping(intervals.iloc[candidates], others)]] = True
    return mask if keep == "overlapping" else ~mask


BIN = 1024


def _share_a_bin(intervals: pd.DataFrame, others: pd.DataFrame) -> np.ndarray:
    """Per interval: does a `BIN`-base bin it touches hold part of one of `others`? Sharing a base implies sharing
    that base's bin, so False proves no overlap. Intervals bedtools treats specially (empty, negative start) are
    always True, and so is every interval when one of `others` is such: bedtools decides those."""
    b_start, b_end = others["start"].to_numpy(np.int64), others["end"].to_numpy(np.int64)
    a_start, a_end = intervals["start"].to_numpy(np.int64), intervals["end"].to_numpy(np.int64)
    if (b_end <= b_start).any() or (b_start < 0).any():
        return np.ones(len(intervals), dtype=bool)
    b_codes, b_names = pd.factorize(np.asarray(others["chrom"], dtype=object))
    a_chrom = intervals["chrom"]
    if isinstance(a_chrom.dtype, pd.CategoricalDtype):  # spans of a million variants: map the few names, not rows
        a_codes = pd.Index(b_names).get_indexer(a_chrom.cat.categories)[np.asarray(a_chrom.cat.codes)]
    else:
        a_codes = pd.Index(b_names).get_indexer(np.asarray(a_chrom, dtype=object))
    special = (a_end <= a_start) | (a_start < 0)
    a_first, a_last = a_start // BIN, (np.maximum(a_end, a_start + 1) - 1) // BIN
    size = int(max(a_last.max(), (b_end.max() - 1) // BIN)) + 2
    # Bins as one integer line, chromosome after chromosome: the others' bin runs sorted by their first bin, with
    # the furthest last bin reached so far; an interval shares a bin when a run starting at or before its last bin
    # reaches its first.
    b_first, b_last = b_codes * size + b_start // BIN, b_codes * size + (b_end - 1) // BIN
    order = np.argsort(b_first, kind="stable")
    firsts, reach = b_first[order], np.maximum.accumulate(b_last[order])
    known = a_codes >= 0  # a chromosome none of `others` is on shares no bin
    a_codes = np.where(known, a_codes, 0)
    before = np.searchsorted(firsts, a_codes * size + a_last, side="right") - 1
    shared = known & (before >= 0) & (reach[np.maximum(before, 0)] >= a_codes * size + a_first)
    return shared | special


def _bedtools_overlapping(intervals: pd.DataFrame, others: pd.DataFrame) -> np.ndarray:
    """Row numbers of `intervals` that `bedtools intersect -u` reports against `others`."""
    import pybedtools

    numbered = pd.DataFrame({
        "chrom": np.asarray(intervals["chrom"], dtype=object), "start": intervals["start"].to_numpy(),
        "end": intervals["end"].to_numpy(), "name": np.arange(len(intervals)),
    })
    a = pybedtools.BedTool(_write_bed(numbered))
    b = pybedtools.BedTool(_write_bed(others[["chrom", "start", "end"]]))
    hits = a.intersect(b, u=True)
    try:
        return pd.read_csv(hits.fn, sep="\t", header=None, usecols=[3], dtype={3: np.int64})[3].to_numpy()
    except pd.errors.EmptyDataError:
        return np.array([], dtype=np.int64)
    finally:
        for bed in (a, b, hits):
            Path(bed.fn).unlink(missing_ok=True)


def _write_bed(frame: pd.DataFrame) -> str:
    """A temporary BED file of `frame`'s columns, written by Arrow (ten times faster than DataFrame.to_csv)."""
    import tempfile

    import pyarrow as pa
    import pyarrow.csv as pacsv

    handle = tempfile.NamedTemporaryFile(prefix="endobench.", suffix=".bed", delete=False)
    handle.close()
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    pacsv.write_csv(table, handle.name, pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"))
    return handle.name


def _coordinate(raw: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A BED coordinate column as whole numbers; text or a fraction is an error naming the line, never truncated."""
    values = parse_numbers(raw[column])[0]
    bad = ~(np.isfinite(values) & (values == np.floor(values)))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"{column} {quote(raw[column].iloc[row])} is not a whole number",
                         "Fix the line or check that the file is BED (whole-number 0-based start, end)",
                         line=int(raw.index[row]))
    return pd.Series(values.astype(np.int64), index=raw.index)
