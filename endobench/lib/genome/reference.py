"""Reference sequence from a full FASTA or from a set of real segments, with coverage reported, not assumed.

A record named `chr22` is a whole chromosome; a record named `chr22:32000001-32300000` (1-based, inclusive)
is a segment of it. The sample reference is such a segment set, because no full hg38 chromosome can be had
offline; a window no record covers is reported as not served, so callers count it as an exclusion.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyfaidx

from endobench.lib.codes import text_codes
from endobench.lib.genome.builds import normalize_chrom
from endobench.lib.io.compression import BGZF, GZIP, PLAIN, refuse, sniff
from endobench.lib.io.errors import InputError, quote

_SEGMENT_NAME = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)$")


@dataclass(frozen=True)
class Segment:
    record: str
    chrom: str
    start0: int  # 0-based inclusive
    end0: int  # 0-based exclusive


class ReferenceGenome:
    """Random access to reference sequence; never loads a whole chromosome to serve one window."""

    def __init__(self, fasta: Path, build: str) -> None:
        self.path = Path(fasta)
        self.build = build
        self._fasta = _open_fasta(self.path)
        by_chrom: dict[str, list[Segment]] = {}
        for name, record in self._fasta.records.items():
            match = _SEGMENT_NAME.match(name)
            if match:
                seg = Segment(name, _chrom_name(match["chrom"]), int(match["start"]) - 1, int(match["end"]))
                if seg.end0 - seg.start0 != len(record):
                    # Spaces or numbers in the sequence lines also make a record longer than its span: say so first.
                    _check_bases(self.path, name, seg.start0, str(record[:1_000]).encode("latin-1", "replace"))
                    raise InputError(
                        self.path,
                        f"record {name} names {seg.end0 - seg.start0:,} bp but holds {len(record):,}",
                        "Rename the record to its real 1-based inclusive span",
                    )
            else:
                seg = Segment(name, _chrom_name(name), 0, len(record))
            by_chrom.setdefault(seg.chrom, []).append(seg)
        self._segments = {c: sorted(s, key=lambda x: (x.start0, -x.end0)) for c, s in by_chrom.items()}
        self._starts = {c: [s.start0 for s in segs] for c, segs in self._segments.items()}
        self._layout = read_layout(self.path) if sniff(self.path) == PLAIN else None

    @property
    def chromosomes(self) -> list[str]:
        return sorted(self._segments)

    def covered_bp(self) -> int:
        return sum(s.end0 - s.start0 for segs in self._segments.values() for s in segs)

    def _segment_for(self, chrom: str, start0: int, end0: int) -> Segment | None:
        segs = self._segments.get(chrom)
        if not segs:
            return None
        # Segments may overlap (neighbouring dsQTL contexts): scan those starting at or before start0.
        i = bisect.bisect_right(self._starts[chrom], start0)
        for seg in reversed(segs[max(0, i - 64):i]):
            if seg.start0 <= start0 and end0 <= seg.end0:
                return seg
        return None

    def covers(self, chrom: str, start0: int, end0: int) -> bool:
        return self._segment_for(chrom, start0, end0) is not None

    def fetch(self, chrom: str, start0: int, end0: int) -> str | None:
        """Upper-case sequence of [start0, end0), or None when no record covers the whole span (one span; for many,
        use `reader`, which opens the file once)."""
        with self.reader() as read:
            return read(chrom, start0, end0)

    def fetch_many(self, chroms: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str | None]:
        """`fetch` of many spans: the same sequences, or None where no record covers a span.

        A span on a chromosome held by one record (a full FASTA) has its file offsets computed with the others', in
        array arithmetic, and costs one `os.pread`: 48 K windows of 2 kb in a fifth of a second on the full hg38
        (`bench/ingest.py`), half the time of one `reader` call per span. Other spans (segment sets, bgzip) are
        served by `reader`.
        """
        starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
        codes, names = text_codes(chroms)
        lo, hi = np.zeros(len(starts), dtype=np.int64), np.zeros(len(starts), dtype=np.int64)
        direct = np.zeros(len(starts), dtype=bool)
        records = np.empty(len(names), dtype=object)
        for k, chrom in enumerate(names):
            segments = self._segments.get(chrom, []) if self._layout is not None else []
            if len(segments) != 1:
                continue
            (segment,), rows = segments, np.flatnonzero(codes == k)
            records[k] = segment
            offset, bases, width = self._layout[segment.record]
            first, last = starts[rows] - segment.start0, ends[rows] - segment.start0 - 1
            served = (first >= 0) & (last >= first) & (last < segment.end0 - segment.start0)
            rows, first, last = rows[served], first[served], last[served]
            direct[rows] = True
            lo[rows] = offset + (first // bases) * width + first % bases
            hi[rows] = offset + (last // bases) * width + last % bases + 1
        out: list[str | None] = [None] * len(starts)
        path = self.path
        with self.reader() as fetch, open(path, "rb") as handle:
            fd = handle.fileno()
            for i, (code, is_direct, a, b) in enumerate(zip(codes.tolist(), direct.tolist(), lo.tolist(),
                                                             hi.tolist())):
                if not is_direct:
                    out[i] = fetch(names[code], int(starts[i]), int(ends[i]))
                    continue
                raw = os.pread(fd, b - a, a).replace(b"\n", b"").replace(b"\r", b"")
                _check_bases(path, records[code].record, int(starts[i]), raw)
                out[i] = raw.decode("latin-1").upper()
        return out

    def _fetch_bgzip(self, chrom: str, start0: int, end0: int) -> str | None:
        seg = self._segment_for(chrom, start0, end0)
        if seg is None:
            return None
        record = self._fasta[seg.record]
        bases = str(record[start0 - seg.start0:end0 - seg.start0]).upper()
        _check_bases(self.path, seg.record, start0, bases.encode("latin-1", "replace"))
        return bases

    @contextlib.contextmanager
    def reader(self) -> Iterator[Callable[[str, int, int], str | None]]:
        """A `fetch` for many windows in a row: one `os.pread` per window at offsets computed from the checked `.fai`.

        No per-call objects (pyfaidx gives the same bases; the tests compare them): 100 K windows of 2 kb in about a
        second on the full hg38. Not a memory map, whose pages would count as this process's memory. A
        bgzip-compressed FASTA has no fixed offsets and is served by pyfaidx.
        """
        if self._layout is None:
            yield self._fetch_bgzip
            return
        layout = self._layout
        segment_for = self._segment_for
        path = self.path
        with open(self.path, "rb") as handle:
            fd = handle.fileno()

            def fetch(chrom: str, start0: int, end0: int) -> str | None:
                seg = segment_for(chrom, start0, end0)
                if seg is None:
                    return None
                if end0 <= start0:
                    return ""
                entry = layout[seg.record]
                lo = byte_of(entry, start0 - seg.start0)
                hi = byte_of(entry, end0 - seg.start0 - 1) + 1
                raw = os.pread(fd, hi - lo, lo)
                if entry[2] - entry[1] == 1:
                    raw = raw.replace(b"\n", b"")
                else:
                    raw = raw.replace(b"\n", b"").replace(b"\r", b"")
                _check_bases(path, seg.record, start0, raw)
                return raw.decode("latin-1").upper()

            yield fetch


def byte_of(entry: tuple[int, int, int], base: int) -> int:
    """File offset of the 0-based `base` of a record laid out as `entry` (`read_layout`)."""
    offset, bases, width = entry
    return offset + (base // bases) * width + base % bases


def read_layout(path: Path) -> dict[str, tuple[int, int, int]]:
    """Record name -> (byte offset of its first base, bases per line, bytes per line), from the checked `.fai`."""
    layout = {}
    with open(f"{path}.fai") as index:
        for entry in index:
            fields = entry.rstrip("\r\n").split("\t")
            layout[fields[0]] = (int(fields[2]), int(fields[3]), int(fields[4]))
    return layout


@functools.lru_cache(maxsize=4096)
def _chrom_name(name: str) -> str:
    """Records named `22`, `chr22` or `MT` are served under one spelling (`chr22`, `chrM`)."""
    return str(normalize_chrom(pd.Series([name])).iloc[0])


def _open_fasta(path: Path) -> pyfaidx.Fasta:
    compression = sniff(path, "reference FASTA")
    if compression == GZIP:
        raise InputError(
            path, "the FASTA is compressed with plain gzip, which allows no random access",
            f"Recompress it with bgzip (htslib), or decompress it: gunzip {path.name}",
        )
    if compression not in (PLAIN, BGZF):
        raise refuse(path, compression, "reference FASTA")
    named_compressed = path.name.lower().endswith((".gz", ".bgz"))
    if named_compressed != (compression == BGZF):  # pyfaidx goes by the name, so name and content must agree
        raise InputError(path, f"the FASTA is {'bgzip-compressed' if compression == BGZF else 'not compressed'} but "
                         f"its name {'does not end' if compression == BGZF else 'ends'} in .gz",
                         f"Rename it to {path.name + '.gz' if compression == BGZF else path.name.rsplit('.', 1)[0]}")
    if compression == PLAIN:
        _check_start(path)
    _check_index_fields(path)
    had_index = Path(f"{path}.fai").exists()
    rebuild = (f"Delete {path}.fai so it is rebuilt; if that fails, check the FASTA" if had_index else
               "Give every record sequence lines of one length (only its last line shorter) and no blank lines; "
               "`samtools faidx` names the first bad line, `seqtk seq -l 60` rewrites the file that way")
    try:
        fasta = pyfaidx.Fasta(str(path), as_raw=True, sequence_always_upper=True, rebuild=False, build_index=True)
    except pyfaidx.FastaIndexingError as exc:
        raise _blank_end(path) or InputError(path, f"the FASTA index could not be built or read ({exc})",
                                             rebuild) from exc
    except ImportError as exc:
        raise InputError(
            path, f"reading a bgzip-compressed FASTA needs Biopython ({exc})",
            f"Install biopython, or decompress the FASTA: bgzip -d {path.name}",
        ) from exc
    except ValueError as exc:
        if "Duplicate key" in str(exc):
            raise InputError(path, f"two records share a name ({exc})", "Give every record a unique name") from exc
        raise InputError(path, f"the FASTA or its index is unreadable ({exc})", rebuild) from exc
    except Exception as exc:  # pyfaidx raises a bare RuntimeError on several blank lines at the end, and worse
        raise _blank_end(path) or InputError(
            path, f"pyfaidx cannot index the FASTA ({type(exc).__name__}: {exc})", rebuild) from exc
    if compression == PLAIN:
        _check_index(path)
    return fasta


def _check_start(path: Path) -> None:
    """A byte-order mark before the first header defeats FASTA indexes (pyfaidx calls it text before a header)."""
    with open(path, "rb") as handle:
        if handle.read(3) == b"\xef\xbb\xbf":
            raise InputError(path, "the FASTA starts with a UTF-8 byte-order mark, which a FASTA index cannot skip",
                             "Remove it, e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' FILE", line=1)


def _blank_end(path: Path) -> InputError | None:
    """The error for a FASTA whose index failed because it ends with blank lines (pyfaidx takes at most one)."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        tail = handle.read().replace(b"\r", b"")
    if not tail.endswith(b"\n\n") and tail.rstrip(b" \t\n") == tail.rstrip(b"\n"):
        return None
    return InputError(path, "the FASTA ends with blank lines (or trailing spaces), which its index cannot describe",
                      "Remove the blank lines at the end of the file (e.g. sed -i '/^\\s*$/d' FILE)")


_BASE_BYTES = b"ACGTURYSWKMBDHVNacgturyswkmbdhvn"


def _check_bases(path: Path, record: str, start0: int, raw: bytes) -> None:
    """Served sequence must be nucleotide codes: pyfaidx indexes GenBank-style numbered lines without complaint."""
    if raw.translate(None, _BASE_BYTES):
        offset = next(i for i, byte in enumerate(raw) if byte not in _BASE_BYTES)
        raise InputError(
            path, f"record {record} holds {quote(chr(raw[offset]))} at 0-based position {start0 + offset:,}, "
            f"which is not a base: {quote(raw.decode('latin-1'), 80)}",
            "Convert the reference to plain FASTA: sequence lines hold bases only, without numbers or spaces",
        )


def _check_index_fields(path: Path) -> None:
    """An existing `.fai` must have five integer fields per line (name, length, offset, line bases, line bytes)."""
    fai = Path(f"{path}.fai")
    if not fai.exists():
        return
    with open(fai, errors="replace") as index:
        for number, entry in enumerate(index, 1):
            fields = entry.rstrip("\r\n").split("\t")
            if len(fields) < 5 or not all(f.strip().isdigit() for f in fields[1:5]):
                raise InputError(
                    fai, f"index line {entry.strip()[:80]!r} does not have the five tab-separated fields of a .fai",
                    f"The index is corrupt: delete {fai} and it is rebuilt on the next run", line=number,
                )


def _check_index(path: Path) -> None:
    """Check every `.fai` entry against the FASTA bytes, since pyfaidx trusts a stale or corrupt index blindly.

    An entry is right when the line before its offset is the record's header, its first line ends after
    `line_bases` bases, and its last base is followed by a line end and then the next header or the end of file.
    """
    fai = Path(f"{path}.fai")
    with open(path, "rb") as fasta, open(fai) as index:
        for number, entry in enumerate(index, 1):
            fields = entry.rstrip("\r\n").split("\t")
            name, length, offset, bases, width = fields[0], *(int(f) for f in fields[1:5])
            problem = _index_entry_problem(fasta, name, length, offset, bases, width)
            if problem:
                raise InputError(
                    fai, f"the index entry of record {name} does not match {path.name}: {problem}",
                    f"The index is stale or corrupt: delete {fai} and it is rebuilt on the next run", line=number,
                )


def _index_entry_problem(fasta, name: str, length: int, offset: int, bases: int, width: int) -> str | None:
    line_end = (b"\n", b"\r")

    def byte_at(position: int) -> bytes:
        fasta.seek(position)
        return fasta.read(1)

    if offset < 1 or bases < 1 or width <= bases:
        return f"offset {offset}, line length {bases}/{width} are impossible"
    fasta.seek(max(0, offset - 4096))
    before = fasta.read(offset - max(0, offset - 4096))
    header = before[:-1].rsplit(b"\n", 1)[-1].rstrip(b"\r")
    if not before.endswith(b"\n") or not header.startswith(b">") or header[1:].split()[:1] != [name.encode()]:
        return f"the line before byte {offset:,} is not the header >{name}"
    full, rest = divmod(length, bases)
    if full and (length > bases or rest == 0) and byte_at(offset + bases) not in line_end:
        return f"its first line does not end after {bases} bases"
    end = offset + full * width + rest
    if rest:
        if byte_at(end) not in line_end:
            return f"its sequence does not end after {length:,} bases"
        end += width - bases
    if byte_at(end) not in (b">", b"", *line_end):
        return f"no header or end of file follows its {length:,} bases"
    return None
