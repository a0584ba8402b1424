"""A loopback HTTP/1.0 file server (127.0.0.1) for download tests, with byte ranges and injectable faults.

It serves fixture bytes at fixed paths the way a static bucket does: `200` with `Content-Length`, `206` with
`Content-Range` for `Range: bytes=a-` / `bytes=a-b`, `416` for a range past the end, `404` for an unknown path.
Faults are queued per path and consumed one request at a time:

- `Fault.status(500)`: answer with that status instead of the file;
- `Fault.cut(n)`: announce the full length, send only the first `n` bytes of the body, then drop the connection;
- `Fault.stall(seconds)`: send the headers, then wait before the body (to trip a client read timeout);
- `Fault.ignore_range()`: answer `200` with the whole file even when a range was asked for.

Every request is recorded (`server.requests`) with its method, path and `Range` header, so tests can check that
a client resumed from the right byte.

A path can also be served as Google Cloud Storage serves an object: with its `x-goog-hash` header (`goog_hash`), and
from a requester-pays bucket (`requester_pays`): without `?userProject=` the answer is 400 (GCS's
`UserProjectMissing`), without the right `Authorization: Bearer` token 401.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class Fault:
    kind: str
    value: float = 0

    @classmethod
    def status(cls, code: int) -> Fault:
        return cls("status", code)

    @classmethod
    def cut(cls, after_bytes: int) -> Fault:
        return cls("cut", after_bytes)

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        return cls("stall", seconds)

    @classmethod
    def ignore_range(cls) -> Fault:
        return cls("ignore_range")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    range: str | None
    status: int
    authorization: str | None = None
    query: str = ""


class FixtureServer:
    """`with FixtureServer({"/a/file.gz": b"..."}) as server: server.url("/a/file.gz")`."""

    def __init__(self, files: dict[str, bytes | Path] | None = None) -> None:
        self.files: dict[str, bytes] = {}
        for path, content in (files or {}).items():
            self.add(path, content)
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.extra_headers: dict[str, dict[str, str]] = {}
        self.paying: dict[str, tuple[str, str]] = {}  # path -> (billing project, token) it requires
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add(self, path: str, content: bytes | Path) -> None:
        self.files[path] = content if isinstance(content, bytes) else Path(content).read_bytes()

    def goog_hash(self, path: str) -> None:
        """Answer `path` with the `x-goog-hash` headers GCS sends: the CRC32C (a placeholder here) and the MD5."""
        md5 = base64.b64encode(hashlib.md5(self.files[path]).digest()).decode()
        self.extra_headers[path] = {"x-goog-hash": f"crc32c=AAAAAA==, md5={md5}"}

    def requester_pays(self, path: str, project: str, token: str) -> None:
        self.paying[path] = (project, token)

    def inject(self, path: str, *faults: Fault) -> None:
        with self._lock:
            self.faults[path].extend(faults)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def requests_for(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> FixtureServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:  # noqa: N802 (http.server naming)
                server._serve(self, head=True)

            def do_GET(self) -> None:  # noqa: N802
                server._serve(self, head=False)

            def log_message(self, format: str, *args) -> None:  # keep test output clean
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fixture-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self.faults.get(path)
            return queue.popleft() if queue else None

    def _record(self, handler: BaseHTTPRequestHandler, path: str, status: int) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, path, handler.headers.get("Range"), status,
                                                 handler.headers.get("Authorization"), urlsplit(handler.path).query))

    def _refused(self, handler: BaseHTTPRequestHandler, path: str) -> int | None:
        """The status of a requester-pays refusal of this request, or None when it may be served."""
        if path not in self.paying:
            return None
        project, token = self.paying[path]
        if parse_qs(urlsplit(handler.path).query).get("userProject") != [project]:
            return 400
        return None if handler.headers.get("Authorization") == f"Bearer {token}" else 401

    def _serve(self, handler: BaseHTTPRequestHandler, *, head: bool) -> None:
        path = handler.path.split("?", 1)[0]
        refused = self._refused(handler, path)
        if refused is not None:
            self._record(handler, path, refused)
            handler.send_error(refused)
            return
        fault = self._next_fault(path)
        if fault is not None and fault.kind == "status":
            self._record(handler, path, int(fault.value))
            handler.send_error(int(fault.value))
            return
        body = self.files.get(path)
        if body is None:
            self._record(handler, path, 404)
            handler.send_error(404)
            return
        size = len(body)
        start, end = 0, size
        status = 200
        asked = handler.headers.get("Range")
        if asked and not (fault is not None and fault.kind == "ignore_range"):
            match = _RANGE.match(asked.strip())
            if match is None or int(match[1]) >= size:
                self._record(handler, path, 416)
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{size}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            start = int(match[1])
            end = min(size, int(match[2]) + 1) if match[2] else size
            status = 206
        self._record(handler, path, status)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(end - start))
        for name, value in self.extra_headers.get(path, {}).items():
            handler.send_header(name, value)
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        handler.end_headers()
        if head:
            return
        payload = body[start:end]
        if fault is not None and fault.kind == "stall":
            handler.wfile.flush()
            time.sleep(fault.value)
        if fault is not None and fault.kind == "cut":
            payload = payload[: int(fault.value)]
            handler.wfile.write(payload)
            handler.wfile.flush()
            handler.close_connection = True
            return
        try:
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to clean up


def tar_archive(members: dict[str, bytes], *, gz: bool = False, links: dict[str, str] | None = None) -> bytes:
    """A tar (gzip-compressed with `gz`) of `members`, plus symbolic `links` name -> target, as bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


K562_DNASE_PEAKS_METADATA = {
    "@id": "/files/ENCFF185XRG/", "accession": "ENCFF185XRG", "dataset": "/experiments/ENCSR000EOT/",
    "assembly": "GRCh38", "status": "released", "output_type": "peaks", "file_format": "bed",
    "file_format_type": "narrowPeak", "file_type": "bed narrowPeak", "assay_term_name": "DNase-seq",
    "biosample_ontology": {"term_id": "EFO:0002067", "term_name": "K562", "classification": "cell line"},
}
EXCLUSION_LIST_METADATA = {"@id": "/files/ENCFF356LFX/", "accession": "ENCFF356LFX", "assembly": "GRCh38",
                           "status": "released", "output_type": "exclusion list", "file_format": "bed"}


def encode_file_metadata(data: bytes, base: dict | None = None, **changes) -> bytes:
    """What ENCODE answers at `/files/<accession>/?format=json` (the fields endobench reads, spelt as the portal
    spells them) for a file whose bytes are `data`: K562 DNase peaks on GRCh38 unless `base` says otherwise (the
    exclusion list, a reference file, has no assay or biosample), with `changes` applied."""
    metadata = {**(K562_DNASE_PEAKS_METADATA if base is None else base), "md5sum": hashlib.md5(data).hexdigest()}
    return json.dumps({**metadata, **changes}).encode()
