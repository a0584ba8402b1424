"""Downloads checked against the checksum their publisher gives: UCSC's md5sum.txt, ENCODE's file metadata.

A file whose publisher gives a checksum is kept only when its MD5 equals it; a pinned value (known from the
publisher in advance) must agree too. The verified MD5 of every download is recorded in `checksums.json` beside
the downloads, so that a later run that finds the publisher's value changed says so instead of mixing versions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from pathlib import Path

from endobench.lib.io.atomic import write_text
from endobench.lib.io.errors import InputError

# Values the publisher lists, pinned here so that a changed file fails even if its listing changed with it.
# hg38.fa.gz: UCSC goldenPath hg38/bigZips/md5sum.txt.
PINNED_MD5 = {"hg38/bigZips/hg38.fa.gz": "1c9dcaddfa41027f17cd8f7a82c7293b"}
LEDGER = "checksums.json"
_MD5 = re.compile(r"^[0-9a-f]{32}$")


class ChecksumMismatch(RuntimeError):
    """A downloaded file differs from its publisher's checksum; the message names the file and both values."""


def file_digest(path: Path, algorithm: str, chunk: int = 1 << 22) -> str:
    """The hex digest of a file's bytes (`md5`, `sha256`, ...), read in blocks: genome-sized files included."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    return file_digest(path, "md5")


def md5_from_listing(listing: Path, name: str) -> str | None:
    """The MD5 of `name` in a UCSC-style `md5sum.txt` (`<md5>  <name>` per line); None when it is not listed."""
    for number, line in enumerate(Path(listing).read_text(errors="replace").splitlines(), 1):
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("*./") == name:
            if not _MD5.match(fields[0].lower()):
                raise InputError(listing, f"the checksum of {name} is {fields[0][:40]!r}, not an MD5", "Download the "
                                 "listing again; if it stays so, report it to the publisher", line=number)
            return fields[0].lower()
    return None


def md5_from_goog_hash(value: str) -> str | None:
    """The MD5 in a Google Cloud Storage `x-goog-hash` header (`crc32c=<b64>,md5=<b64>`) as hex, or None."""
    for part in value.split(","):
        name, _, encoded = part.strip().partition("=")
        if name == "md5":
            try:
                digest = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                return None
            return digest.hex() if len(digest) == 16 else None
    return None


def verify(path: Path, key: str, published: str | None, ledger_dir: Path, pinned: str | None = None) -> str:
    """Check `path` against the publisher's MD5 (and a pinned one) and record it; return how it was verified.

    Raises `ChecksumMismatch` naming the file and the values when any differs, including a value recorded by an
    earlier run for the same file (the publisher replaced it).
    """
    actual = md5_of(path)
    ledger_path = Path(ledger_dir) / LEDGER
    ledger = json.loads(ledger_path.read_text()) if ledger_path.exists() else {}
    expected = {"publisher": published, "pinned": pinned, "recorded by an earlier run": ledger.get(key)}
    wrong = {what: value for what, value in expected.items() if value is not None and value != actual}
    if wrong:
        raise ChecksumMismatch(
            f"{path}: MD5 {actual} differs from the " + ", ".join(f"{w} value {v}" for w, v in wrong.items())
            + ". The transfer is corrupt or the publisher replaced the file: the copy was removed, run again to "
              "download it anew; if it fails again, compare the publisher's listing with the pinned value")
    ledger[key] = actual
    write_text(json.dumps(ledger, indent=1, sort_keys=True), ledger_path)
    checked = [what for what, value in expected.items() if value is not None]
    return f"md5 {actual} matches the {' and '.join(checked)} value" if checked else \
        f"md5 {actual} recorded; the publisher gives no checksum for this file"
