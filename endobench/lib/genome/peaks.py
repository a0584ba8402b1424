"""Accessibility peaks (narrowPeak or BED) with their build: validated, filtered by width and q, minus the blacklist."""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.genome.builds import CHROM_SIZES, normalize_chrom
from endobench.lib.io.errors import InputError
from endobench.lib.io.tables import _first_line, _is_gzip, truncation_error

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
    """Read a narrowPeak (10 columns, col 9 = -log10 q) or a BED3+ file; invalid intervals are counted, not kept."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "the peak file does not exist", "Check the peaks path in the data sources")
    first = _first_line(path, "peak")
    fields = first.rstrip("\r\n").split("\t")
    if len(fields) < 3:
        raise InputError(path, f"the first line has {len(fields)} tab-separated field(s), a BED file needs at least 3",
                         "Provide a tab-separated BED or narrowPeak file", line=1)
    names = ["chrom", "start", "end", "name", "score", "strand", "signal", "p", "qvalue", "summit"][: len(fields)]
    try:
        raw = pd.read_csv(
            path, sep="\t", header=None, names=names, usecols=[c for c in PEAK_COLUMNS if c in names], dtype=str,
            comment="#", compression="gzip" if _is_gzip(path) else None,
        )
    except (EOFError, OSError, zlib.error) as exc:
        truncated = truncation_error(path, exc)
        raise InputError(path, truncated.problem, "Download the peak file again", line=truncated.line) from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start:,})",
                         "Check that this is a BED or narrowPeak text file, optionally gzipped") from exc
    except pd.errors.ParserError as exc:
        raise InputError(path, f"the file is malformed ({exc})",
                         "Every line needs the same tab-separated BED/narrowPeak fields") from exc
    header_lines = raw["chrom"].str.startswith(("track", "browser")).to_numpy()
    if header_lines.any():
        raw = raw[~header_lines]
    starts = pd.to_numeric(raw["start"], errors="coerce")
    ends = pd.to_numeric(raw["end"], errors="coerce")
    bad = starts.isna() | ends.isna()
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise InputError(path, f"start/end {raw['start'].iloc[line - 1]!r}/{raw['end'].iloc[line - 1]!r} are not integers",
                         "Fix the line or check that the file is BED (0-based start, end)", line=line)
    qvalues = pd.to_numeric(raw["qvalue"], errors="coerce") if "qvalue" in raw else None
    if qvalues is not None and (qvalues.isna() & raw["qvalue"].notna()).any():
        line = int(np.flatnonzero((qvalues.isna() & raw["qvalue"].notna()).to_numpy())[0]) + 1
        raise InputError(path, f"column 9 (-log10 q) holds {raw['qvalue'].iloc[line - 1]!r}, not a number",
                         "Provide a narrowPeak file (column 9 = -log10 q-value) or a plain BED3 file", line=line)
    # narrowPeak q-value -1 means "not computed" (MACS2 without a control, some ENCODE files): unknown, not weak.
    if qvalues is not None:
        qvalues = qvalues.mask(qvalues == -1)
    chrom_codes, chrom_names = pd.factorize(raw["chrom"], use_na_sentinel=False)
    frame = pd.DataFrame({
        "chrom": normalize_chrom(pd.Series(np.asarray(chrom_names, dtype=object))).to_numpy()[chrom_codes],
        "start": starts.astype("int64"),
        "end": ends.astype("int64"),
        "name": raw["name"] if "name" in raw else ".",
        "qvalue": qvalues if qvalues is not None else np.nan,
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

    `bedtools intersect -u` through pybedtools on temporary BED files; the rows it reports are read back by their
    row number with pandas, in one pass.
    """
    import pybedtools

    mask = np.zeros(len(intervals), dtype=bool)
    if not len(intervals) or not len(others):
        return mask
    numbered = pd.DataFrame({
        "chrom": intervals["chrom"].to_numpy(), "start": intervals["start"].to_numpy(),
        "end": intervals["end"].to_numpy(), "name": np.arange(len(intervals)),
    })
    a = pybedtools.BedTool(_write_bed(numbered))
    b = pybedtools.BedTool(_write_bed(others[["chrom", "start", "end"]]))
    hits = a.intersect(b, u=True)
    try:
        found = pd.read_csv(hits.fn, sep="\t", header=None, usecols=[3], dtype={3: np.int64})[3].to_numpy()
    except pd.errors.EmptyDataError:
        found = np.array([], dtype=np.int64)
    finally:
        for bed in (a, b, hits):
            Path(bed.fn).unlink(missing_ok=True)
    mask[found] = True
    return mask if keep == "overlapping" else ~mask


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
