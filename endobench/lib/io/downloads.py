"""Downloads that survive real networks: streamed to a `.partial` file, resumed with HTTP Range, checked, renamed.

A file at `dest` is only ever the complete, verified download: it appears by an atomic rename of the `.partial`
file once the size (and checksum, when given) match. An interrupted transfer leaves the `.partial` file behind
and the next attempt (in this call or a later run) asks the server only for the missing bytes.

Members of a tar archive (the GTEx eQTL archive is 1.5 GB, one member per tissue and kind) are extracted by
streaming through the archive once (`tarfile` mode `r|*`, which also reads gzip-compressed tars); nothing but
the requested member is written, and a member that is a link or whose name could escape a directory is refused.
"""

from __future__ import annotations

import fcntl
import gzip
import logging
import os
import shutil
import tarfile
import time
import urllib.parse
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import requests
import urllib3

from endobench.lib.io.atomic import atomic_path
from endobench.lib.io.checksums import file_digest, md5_from_goog_hash

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read between bytes), seconds
DEFAULT_RETRIES = 5
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
_GONE_STATUS = {404, 410}


class DownloadError(RuntimeError):
    """A download or extraction that failed; the message names the URL (or file) and what to do."""

    def __init__(self, source: str, problem: str, fix: str, *, retryable: bool = False) -> None:
        self.source = source
        self.problem = problem
        self.fix = fix
        self.retryable = retryable
        super().__init__(f"{source}: {problem}. {fix}")


class _Retry(Exception):
    """An attempt failed in a way that another attempt may fix."""


def partial_path(dest: Path) -> Path:
    dest = Path(dest)
    return dest.with_name(dest.name + ".partial")


def download(
    url: str,
    dest: Path | str,
    *,
    expected_size: int | None = None,
    sha256: str | None = None,
    timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = 1.0,
    session: requests.Session | None = None,
    headers: Mapping[str, str] | None = None,
) -> Path:
    """Download `url` to `dest` and return `dest`; reuse `dest` when it already holds the verified file.

    `headers` go with every request (an `Authorization` for a requester-pays bucket); they are never logged.

    Transient failures (connection errors, timeouts, a transfer cut short, HTTP 408/429/5xx) are retried up to
    `retries` times with exponential backoff (`backoff`, 2x, 4x... seconds), each retry resuming from the bytes
    already on disk. 404/410 and other client errors fail at once. A complete file whose size differs from
    `expected_size` (or from the server's own length) or whose SHA-256 differs from `sha256` is deleted and
    reported, never renamed into place.
    """
    require_http(url)
    dest = Path(dest)
    if dest.exists() and _verified(dest, expected_size, sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    http = session or requests.Session()
    partial = partial_path(dest)
    with _exclusive(partial, url):
        last: Exception | None = None
        for attempt in range(retries + 1):
            if attempt:
                delay = backoff * 2 ** (attempt - 1)
                log.warning("retrying %s in %.1f s (attempt %d of %d): %s", url, delay, attempt + 1, retries + 1, last)
                time.sleep(delay)
            try:
                total = _fetch_once(http, url, partial, expected_size, timeout, headers or {})
            except _Retry as exc:
                last = exc
                continue
            _check_complete(url, partial, total, expected_size, sha256)
            os.replace(partial, dest)
            return dest
    kept = partial.stat().st_size if partial.exists() else 0
    raise DownloadError(
        url, f"failed after {retries + 1} attempts ({last})",
        f"The server or network is failing; run again later (the {kept:,} bytes already in {partial} are kept "
        "and the next run resumes from them)",
        retryable=True,
    )


def _fetch_once(
    http: requests.Session, url: str, partial: Path, expected_size: int | None, timeout, extra: Mapping[str, str]
) -> int | None:
    """One GET, appending to `partial` from where it ends; returns the full length the server announced."""
    offset = partial.stat().st_size if partial.exists() else 0
    if expected_size is not None and offset > expected_size:
        partial.unlink()
        offset = 0
    if expected_size is not None and offset == expected_size and offset > 0:
        return expected_size
    # `identity`: byte ranges must count the bytes of the file itself, never of an on-the-fly compressed copy.
    headers = {**extra, "Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
    try:
        response = http.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retry(f"{type(exc).__name__}: {exc}") from exc
    except requests.RequestException as exc:  # a redirect to another scheme, an invalid URL, a redirect loop
        raise DownloadError(url, f"the request cannot be made ({type(exc).__name__}: {exc})",
                            "Check the URL; only http and https downloads are followed") from exc
    with response:
        status = response.status_code
        if status in _GONE_STATUS:
            raise DownloadError(
                url, f"the server answered HTTP {status} (not found)",
                "Check the URL in the data sources (release, tissue, accession, base URL); the file may have moved",
            )
        if status == 416 and offset:
            # Our partial file is at least as long as the resource: start again rather than guess.
            partial.unlink()
            raise _Retry("HTTP 416: the partial file does not fit the resource; restarting from byte 0")
        if status in _RETRYABLE_STATUS:
            raise _Retry(f"HTTP {status}")
        if status >= 400:
            raise DownloadError(
                url, f"the server answered HTTP {status} {response.reason}",
                "Check that the URL is public and correct; this is not retried",
            )
        if status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != offset:
                partial.unlink(missing_ok=True)
                raise _Retry(f"asked for bytes from {offset:,}, the server sent from {start}; restarting")
            mode = "ab"
        else:
            # 200: the server ignored the Range header (or there was none); write from the start.
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.isdigit() else None
            mode = "wb"
        if expected_size is not None and total is not None and total != expected_size:
            partial.unlink(missing_ok=True)
            raise DownloadError(
                url, f"the server announces {total:,} bytes but {expected_size:,} were expected",
                "The file on the server changed or the expected size in the data sources is wrong; update one of them",
            )
        # A cut connection must keep every byte received so far: with length enforcement on, urllib3 raises on the
        # short read and drops its buffer; off, the stream simply ends short and the size check below retries.
        # Raw bytes, not decoded ones: a `.gz` served with `Content-Encoding: gzip` must stay compressed.
        response.raw.enforce_content_length = False
        try:
            with open(partial, mode) as handle:
                for chunk in response.raw.stream(CHUNK, decode_content=False):
                    handle.write(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise _Retry(f"transfer interrupted after {partial.stat().st_size:,} bytes ({type(exc).__name__})") from exc
    size = partial.stat().st_size
    if total is not None and size < total:
        raise _Retry(f"transfer ended at {size:,} of {total:,} bytes")
    return total


def _content_range(value: str) -> tuple[int | None, int | None]:
    # "bytes 100-999/1000" (total may be "*")
    try:
        unit, spec = value.split(" ", 1)
        span, total = spec.split("/", 1)
        start = int(span.split("-", 1)[0])
        return start, (int(total) if total.strip() != "*" else None)
    except ValueError:
        return None, None


def _check_complete(url: str, partial: Path, total: int | None, expected_size: int | None, sha256: str | None) -> None:
    size = partial.stat().st_size
    for what, want in (("the server's Content-Length", total), ("the expected size", expected_size)):
        if want is not None and size != want:
            partial.unlink()
            raise DownloadError(
                url, f"received {size:,} bytes but {what} is {want:,}",
                "The download is corrupt or the file changed on the server; run again, and if it repeats, "
                "update the expected size in the data sources",
            )
    if sha256 is not None:
        digest = file_sha256(partial)
        if digest != sha256.lower():
            partial.unlink()
            raise DownloadError(
                url, f"SHA-256 {digest} does not match the expected {sha256.lower()}",
                "The download is corrupt or the file changed on the server; run again, and if it repeats, "
                "update the checksum in the data sources",
            )


def _verified(path: Path, expected_size: int | None, sha256: str | None) -> bool:
    if expected_size is not None and path.stat().st_size != expected_size:
        log.warning("%s has %d bytes, expected %d: downloading again", path, path.stat().st_size, expected_size)
        return False
    if sha256 is not None and file_sha256(path) != sha256.lower():
        log.warning("%s does not match its SHA-256: downloading again", path)
        return False
    return True


def file_sha256(path: Path) -> str:
    return file_digest(path, "sha256")


@contextmanager
def _exclusive(partial: Path, url: str) -> Iterator[None]:
    """Two runs appending to one `.partial` file would corrupt it; the second one fails instead."""
    lock_path = partial.with_name(partial.name + ".lock")
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DownloadError(
                url, f"another process is downloading into {partial}",
                "Wait for it to finish, or stop it, then run again", retryable=True,
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    lock_path.unlink(missing_ok=True)


def unreachable(url: str, timeout: tuple[float, float] = (10.0, 20.0)) -> str | None:
    """Why `url`'s server cannot be reached (no network, no such host, a refused connection, a timeout), or None
    when it answers at all (whatever its status: the download says what an answer means). One HEAD, no retry."""
    require_http(url)
    try:
        requests.head(url, timeout=timeout, allow_redirects=True).close()
    except (requests.ConnectionError, requests.Timeout) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def published_md5(url: str, headers: Mapping[str, str] | None = None,
                  timeout: tuple[float, float] = (10.0, 20.0)) -> str | None:
    """The MD5 a Google Cloud Storage object declares for itself (`x-goog-hash: md5=<base64>`, on a HEAD), as hex;
    None when the server gives none (composite objects carry only a CRC32C) or does not answer. One HEAD, no retry:
    without it the download's MD5 is recorded instead of checked."""
    require_http(url)
    try:
        with requests.head(url, headers={**(headers or {}), "Accept-Encoding": "identity"}, timeout=timeout,
                           allow_redirects=True) as response:
            if response.status_code != 200:
                return None
            return md5_from_goog_hash(response.headers.get("x-goog-hash", ""))
    except requests.RequestException:
        return None


def is_url(source: Path | str) -> bool:
    return str(source).startswith(("http://", "https://"))


def require_http(url: str) -> None:
    """Only http and https are ever fetched: a `file://` or `ftp://` URL in the settings is refused, not tried."""
    scheme = urllib.parse.urlsplit(str(url)).scheme.lower()
    if scheme not in ("http", "https") or not urllib.parse.urlsplit(str(url)).netloc:
        raise DownloadError(str(url)[:300], f"the URL scheme {scheme or '(none)'!r} is not http or https",
                            "Use an http:// or https:// URL")


def safe_member_name(name: str) -> bool:
    """A relative POSIX path without `..` parts: nothing that could escape the directory it is written to."""
    if not name or "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def extract_tar_member(
    archive: Path | str,
    member_name: str,
    dest: Path | str,
    *,
    timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = 1.0,
    session: requests.Session | None = None,
) -> Path:
    """Stream through a (possibly gzipped) tar, local or at a URL, and write only `member_name` to `dest`.

    The archive is read once, front to back, and reading stops at the member; the rest is never unpacked.
    A member that is a symlink, hard link or device, or whose name is absolute or contains `..`, is refused.
    `dest` appears atomically. From a URL, a broken stream is retried from the start (streaming tar reads
    cannot seek), so for repeated use download the archive once with `download` and extract from the file.
    """
    dest = Path(dest)
    source = str(archive)
    if "://" in source:
        require_http(source)
    if not safe_member_name(member_name):
        raise DownloadError(
            source, f"refusing the member name {member_name!r}: it is absolute or contains '..'",
            "Ask for the member by its relative path inside the archive",
        )
    if not is_url(archive):
        if not Path(archive).exists():
            raise DownloadError(source, "the archive does not exist", "Download it first, or check the path")
        with open(archive, "rb") as handle:
            return _extract_from_stream(handle, source, member_name, dest)
    http = session or requests.Session()
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            response = http.get(source, stream=True, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = exc
            continue
        except requests.RequestException as exc:
            raise DownloadError(source, f"the request cannot be made ({type(exc).__name__}: {exc})",
                                "Check the URL; only http and https downloads are followed") from exc
        with response:
            if response.status_code in _GONE_STATUS:
                raise DownloadError(
                    source, f"the server answered HTTP {response.status_code} (not found)",
                    "Check the archive URL in the data sources (release, base URL)",
                )
            if response.status_code in _RETRYABLE_STATUS:
                last = _Retry(f"HTTP {response.status_code}")
                continue
            if response.status_code >= 400:
                raise DownloadError(source, f"the server answered HTTP {response.status_code}", "Check the URL")
            response.raw.decode_content = True
            try:
                return _extract_from_stream(response.raw, source, member_name, dest)
            except DownloadError as exc:
                if not exc.retryable:
                    raise
                last = exc
    raise DownloadError(
        source, f"streaming the archive failed after {retries + 1} attempts ({last})",
        "Run again later, or download the archive with `download` first and extract from the file",
        retryable=True,
    )


def _extract_from_stream(stream: BinaryIO, source: str, member_name: str, dest: Path) -> Path:
    seen: list[str] = []
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                if member.name.rstrip("/") != member_name.rstrip("/"):
                    if len(seen) < 8:
                        seen.append(member.name)
                    continue
                if not member.isfile():
                    kind = "a symlink" if member.issym() else "a hard link" if member.islnk() else "not a regular file"
                    raise DownloadError(
                        source, f"member {member.name!r} is {kind}; refusing to extract it",
                        "Use an archive from the official source; links are never followed",
                    )
                if not safe_member_name(member.name):
                    raise DownloadError(
                        source, f"member {member.name!r} has an unsafe name", "Use an archive from the official source"
                    )
                payload = tar.extractfile(member)
                assert payload is not None  # isfile() guarantees a payload
                with atomic_path(dest) as tmp:
                    with open(tmp, "wb") as out:
                        shutil.copyfileobj(payload, out, CHUNK)
                        written = out.tell()
                    if written != member.size:
                        raise DownloadError(
                            source, f"member {member_name} ended after {written:,} of {member.size:,} bytes",
                            "The archive is truncated; download it again", retryable=True,
                        )
                return dest
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, urllib3.exceptions.HTTPError,
            requests.RequestException) as exc:
        raise DownloadError(
            source, f"the archive is truncated or not a tar file ({type(exc).__name__}: {exc})",
            "Delete the archive and download it again", retryable=True,
        ) from exc
    raise DownloadError(
        source, f"member {member_name!r} is not in the archive (first members: {seen})",
        "Check the tissue name and file kind (GTEx tissue names use underscores, e.g. Whole_Blood)",
    )


def gunzip_file(src: Path | str, dest: Path | str) -> Path:
    """Decompress a plain-gzip file (such as UCSC `hg38.fa.gz`) to `dest`, streaming and atomically.

    pyfaidx gives random access to plain FASTA or to bgzip; UCSC ships plain gzip, which it cannot index,
    so the reference is stored decompressed (3.1 GB for hg38) next to the download.
    """
    src, dest = Path(src), Path(dest)
    try:
        with gzip.open(src, "rb") as raw, atomic_path(dest) as tmp, open(tmp, "wb") as out:
            shutil.copyfileobj(raw, out, CHUNK)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DownloadError(str(src), f"the gzip stream is truncated or corrupt ({exc})",
                            f"Delete {src} and download it again") from exc
    return dest
