"""What a file is, judged from its first bytes, and its bytes decompressed: the one sniffer every reader uses.

Text readers take plain or gzip files (bgzip and multi-member gzip included: they are gzip). Every other kind
(bzip2, xz, zstd, zip, tar, parquet, Arrow, UTF-16 text, an empty file) is named in a clear `InputError` instead of
being parsed as garbage. A gzip stream is inflated member by member, so that a truncated stream, bytes appended
after it and corrupt data each get their own message with the number of complete lines before the damage, and a
size guard stops a small file that inflates to gigabytes before it exhausts memory.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

from isal import igzip_threaded, isal_zlib

from endobench.lib.io.errors import InputError, refuse_link_loop, replace_damaged

PLAIN = "plain"
GZIP = "gzip"
BGZF = "bgzip"
BZIP2 = "bzip2"
XZ = "xz"
ZSTD = "zstd"
ZIP = "zip"
TAR = "tar"
PARQUET = "parquet"
ARROW = "arrow"
UTF16 = "utf-16"
EMPTY = "empty"

TEXT_KINDS = (PLAIN, GZIP, BGZF)
_MAGIC = [
    (b"\x1f\x8b", GZIP), (b"BZh", BZIP2), (b"\xfd7zXZ\x00", XZ), (b"\x28\xb5\x2f\xfd", ZSTD), (b"PK\x03\x04", ZIP),
    (b"PAR1", PARQUET), (b"ARROW1", ARROW), (b"FEA1", ARROW), (b"\xff\xfe", UTF16), (b"\xfe\xff", UTF16),
]
_HOW_TO_READ = {
    BZIP2: "decompress it (bunzip2) or recompress it with gzip (bunzip2 -c FILE | gzip > FILE.gz)",
    XZ: "decompress it (xz -d) or recompress it with gzip (xz -dc FILE | gzip > FILE.gz)",
    ZSTD: "decompress it (zstd -d) or recompress it with gzip (zstd -dc FILE | gzip > FILE.gz)",
    ZIP: "unzip it and point the run at the file inside",
    TAR: "extract the file from the archive (tar -xf) and point the run at it",
    PARQUET: "export it as tab-separated text, or use a reader that takes parquet",
    ARROW: "export it as tab-separated text, or use a reader that takes feather/Arrow",
    UTF16: "save it as UTF-8 text (most editors and `iconv -f UTF-16 -t UTF-8` do this)",
}

MAX_DECOMPRESSED_ENV = "ENDOBENCH_MAX_DECOMPRESSED_GB"
# A tissue's signif_variant_gene_pairs is the largest GTEx table read here: Whole Blood's 2.4 M rows inflate to
# about 0.4 GB (bench/ingest.py's file in the same layout: 376 MB). 4 GB leaves ten times that for larger tissues
# and releases while stopping a gzip bomb (gzip inflates up to about 1,000-fold) long before it fills memory.
DEFAULT_MAX_DECOMPRESSED_GB = 4.0
_CHUNK = 1 << 20


def sniff(path: Path | str, what: str = "input") -> str:
    """The kind of file at `path` from its magic bytes: one of the constants above (PLAIN when none matches).

    A path that does not exist, is a directory or cannot be read is an `InputError` here, before any parser.
    """
    path = Path(path)
    if not path.exists():
        refuse_link_loop(path, f"{what} file")
        raise InputError(path, f"the {what} file does not exist", "Check the path")
    if path.is_dir():
        raise InputError(path, f"the {what} path is a directory, not a file", "Point the run at the file itself")
    try:
        with open(path, "rb") as handle:
            head = handle.read(18)
            handle.seek(257)
            tar_magic = handle.read(5)
    except OSError as exc:
        raise InputError(path, f"the {what} file cannot be read ({exc.strerror or exc})",
                         "Check that the file is readable by this user") from exc
    if not head:
        return EMPTY
    if head[:2] == b"\x1f\x8b":
        return BGZF if len(head) >= 14 and head[3] & 0x04 and head[12:14] == b"BC" else GZIP
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return TAR if tar_magic == b"ustar" else PLAIN


def refuse(path: Path | str, kind: str, what: str) -> InputError:
    """The error for a file of a kind a text reader does not take."""
    if kind == EMPTY:
        return InputError(path, f"the {what} file is empty (0 bytes)", "Point the run at a non-empty file", line=1)
    how = _HOW_TO_READ.get(kind, "provide plain or gzip-compressed text")
    return InputError(path, f"the {what} file is {kind}, not plain or gzip-compressed text", how[0].upper() + how[1:])


def max_decompressed_bytes() -> int:
    """The size guard in bytes: `ENDOBENCH_MAX_DECOMPRESSED_GB` (read when a file is opened) or the default."""
    text = os.environ.get(MAX_DECOMPRESSED_ENV, "").strip()
    if not text:
        return int(DEFAULT_MAX_DECOMPRESSED_GB * 1e9)
    try:
        gigabytes = float(text)
    except ValueError:
        gigabytes = float("nan")
    if not gigabytes > 0 or gigabytes == float("inf"):
        raise InputError(None, f"{MAX_DECOMPRESSED_ENV}={text!r} is not a positive number of gigabytes",
                         f"Set it to a number such as {DEFAULT_MAX_DECOMPRESSED_GB:g}, or unset it")
    return int(gigabytes * 1e9)


def too_large(path: Path | str, limit: int) -> InputError:
    return InputError(
        path, f"the file inflates to more than {limit / 1e9:g} GB, the limit for decompressed input",
        f"If the file is genuine, raise the limit with {MAX_DECOMPRESSED_ENV} (in GB); a small file that inflates "
        "this far is usually a corrupt or hostile archive",
    )


def open_bytes(path: Path | str, what: str) -> BinaryIO:
    """The decompressed bytes of a plain or gzip file as a buffered binary stream (close it when done).

    Any other kind is refused with `refuse`; damage in a gzip stream raises `InputError` while reading.
    """
    path = Path(path)
    kind = sniff(path, what)
    if kind not in TEXT_KINDS:
        raise refuse(path, kind, what)
    if kind == PLAIN:
        return open(path, "rb")
    return io.BufferedReader(_Inflate(path, max_decompressed_bytes()), buffer_size=_CHUNK)


def open_fast(path: Path | str, max_bytes: int | None = None) -> Counted | None:
    """For Arrow's multithreaded reader: ISA-L inflating on a thread of its own, under the size guard (or
    `max_bytes`, for a reader that streams a file too large to hold), with the lines counted on the way (see
    `Counted`).

    None when the file is not plain or gzip text; the caller then reads it with the exact reader, which says why.
    """
    path = Path(path)
    kind = sniff(path)
    if kind == PLAIN:
        return Counted(path, open(path, "rb"), None)
    if kind in (GZIP, BGZF):
        return Counted(path, igzip_threaded.open(path, "rb", threads=1), max_bytes or max_decompressed_bytes())
    return None


class Counted(io.RawIOBase):
    """Passes a (decompressing) stream through, stops at the size guard, and counts lines as they pass.

    `content_lines` is the number of lines up to the last one holding anything but line ends, so a reader that
    skips blank lines can tell whether they all trail the data (line numbers unchanged) or some stood between rows.
    """

    def __init__(self, path: Path, inner: BinaryIO, limit: int | None) -> None:
        self._path, self._inner, self._limit = path, inner, limit
        self._seen = 0
        self._newlines = 0
        self.content_lines = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._count(data)
        return data

    def readinto(self, buffer) -> int:
        n = self._inner.readinto(buffer)
        self._count(bytes(memoryview(buffer)[:n]))
        return n

    def _count(self, chunk: bytes) -> None:
        last = len(chunk.rstrip(b"\r\n"))
        if last:
            self.content_lines = self._newlines + chunk.count(b"\n", 0, last) + 1
        self._newlines += chunk.count(b"\n")
        self._seen += len(chunk)
        if self._limit is not None and self._seen > self._limit:
            raise too_large(self._path, self._limit)

    def close(self) -> None:
        self._inner.close()
        super().close()


class _Inflate(io.RawIOBase):
    """Gzip members one after another (bgzip and concatenated gzip), with a precise error for each kind of damage.

    Truncated, corrupt, or followed by bytes that are not gzip: the error names the number of complete lines
    inflated before the damage, so the user sees how much of the file is good. Zero padding after the last
    member (written by some tools) is accepted.
    """

    def __init__(self, path: Path, limit: int) -> None:
        self._path, self._limit = path, limit
        self._file = open(path, "rb")
        self._inflater = isal_zlib.decompressobj(31)
        self._member_started = False
        self._pending = memoryview(b"")
        self._input = b""
        self._consumed = 0  # compressed bytes handed to the inflater
        self._produced = 0
        self._lines = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            self._pending = memoryview(self._inflate_some())
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _inflate_some(self) -> bytes:
        if not self._input:
            self._input = self._file.read(_CHUNK)
            if not self._input:
                if self._member_started:
                    raise self._damage("the gzip stream is truncated", " (it ends before its end-of-stream marker)")
                self._done = True
                return b""
        data, self._input = self._input, b""
        self._member_started = True
        try:
            out = self._inflater.decompress(data, _CHUNK)
        except isal_zlib.error as exc:
            raise self._damage("the gzip data is corrupt", f" ({exc})") from exc
        self._input = self._inflater.unconsumed_tail
        self._consumed += len(data) - len(self._input)
        self._produced += len(out)
        self._lines += out.count(b"\n")
        if self._produced > self._limit:
            raise too_large(self._path, self._limit)
        if self._inflater.eof:
            self._consumed -= len(self._inflater.unused_data)
            self._next_member(self._inflater.unused_data)
        return out

    def _next_member(self, rest: bytes) -> None:
        """After a member's end: another member, zero padding up to the end of the file, or trailing garbage."""
        self._member_started = False
        while len(rest) < 2:
            more = self._file.read(_CHUNK)
            if not more:
                break
            rest += more
        if rest[:2] == b"\x1f\x8b":
            self._inflater = isal_zlib.decompressobj(31)
            self._input = rest
            return
        stripped = rest.lstrip(b"\x00")
        while not stripped:
            more = self._file.read(_CHUNK)
            if not more:
                self._done = True
                self._input = b""
                return
            stripped = more.lstrip(b"\x00")
        raise self._damage(
            "the gzip stream is followed by bytes that are not gzip",
            f" (at byte {self._consumed:,}: {stripped[:16]!r}; was something appended to the file?)",
        )

    def _damage(self, problem: str, detail: str) -> InputError:
        return InputError(
            self._path, f"{problem} after {self._lines:,} complete line(s){detail}", replace_damaged(self._path),
            line=self._lines + 1, damaged=True,
        )

    def close(self) -> None:
        self._file.close()
        super().close()


def open_text(path: Path | str, what: str) -> io.TextIOWrapper:
    """`open_bytes` decoded as UTF-8 (a byte-order mark dropped), with universal line endings (LF, CRLF, CR).

    A byte that is not UTF-8 raises `UnicodeDecodeError` while reading; `encoding_error` turns it into an
    `InputError` naming the line.
    """
    return io.TextIOWrapper(open_bytes(path, what), encoding="utf-8-sig", newline=None)


def encoding_error(path: Path | str, what: str, exc: UnicodeDecodeError) -> InputError:
    """The first line that is not UTF-8, found by reading the file again line by line (only on this error path)."""
    line_no, column, byte = None, None, exc.object[exc.start:exc.start + 1] if exc.object else b""
    with open_bytes(path, what) as stream:
        for number, raw in enumerate(stream, 1):
            try:
                (raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw).decode("utf-8")
            except UnicodeDecodeError as found:
                line_no, column, byte = number, found.start + 1, raw[found.start:found.start + 1]
                break
    where = f" (byte {byte!r} at column {column:,})" if column is not None else f" (byte {byte!r})"
    return InputError(path, f"the {what} file is not UTF-8 text{where}",
                      "Save the file as UTF-8 (`iconv -f LATIN1 -t UTF-8` converts Latin-1), or check that this is "
                      "the right file", line=line_no)
