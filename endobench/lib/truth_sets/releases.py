"""The GTEx release listing: fetch the portal's dataset metadata and turn it into release names (`v8`, `v10`).

The GTEx portal API (`/api/v2/metadata/dataset`) answers a JSON array with one object per dataset, each with a
`datasetId` such as `gtex_v8`, `gtex_v10` or `gtex_snrnaseq_pilot`. Only numbered GTEx releases from v8 on
count: they are on hg38 and ship the same per-tissue `egenes` / `signif_variant_gene_pairs` files that the data
sources read; v7 and earlier are hg19 with another archive layout, and the single-nucleus pilot has no eQTL
tables. A release number beyond `MAX_SUPPORTED_RELEASE` (`gtex_v999999`) is not a plausible release and never
becomes a partition. Everything else in the listing is reported as ignored by reason, never dropped silently.

The listing is fetched over http or https only, redirects are followed only within the listing's own host, and
an answer larger than `MAX_LISTING_BYTES` is refused: the URL is a setting, and its answer decides partitions.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

import requests

DEFAULT_LISTING_URL = "https://gtexportal.org/api/v2/metadata/dataset"
LISTING_URL_ENV = "ENDOBENCH_GTEX_RELEASES_URL"
MIN_SUPPORTED_RELEASE = 8
MAX_SUPPORTED_RELEASE = 50  # v8 came out in 2017 and v10 in 2024: anything near 50 is decades away
MAX_LISTING_BYTES = 5_000_000  # the real listing is a few kB
MAX_REDIRECTS = 5
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0

_DATASET_ID = re.compile(r"^gtex_v(\d{1,9})$")


class ListingError(RuntimeError):
    """The listing could not be fetched or read; the message names the URL and what went wrong."""


@dataclass(frozen=True)
class ReleaseListing:
    """The releases endobench can benchmark, oldest first, and what else the listing held, counted by reason."""

    releases: tuple[str, ...]
    ignored: dict[str, int] = field(default_factory=dict)


def release_number(release: str) -> int:
    """`v10` -> 10; raises ValueError for anything that is not a numbered release in the supported range."""
    match = re.fullmatch(r"v(\d{1,6})", release)
    if match is None or not MIN_SUPPORTED_RELEASE <= int(match.group(1)) <= MAX_SUPPORTED_RELEASE:
        raise ValueError(f"{release[:40]!r} is not a GTEx release name from v{MIN_SUPPORTED_RELEASE} to "
                         f"v{MAX_SUPPORTED_RELEASE}")
    return int(match.group(1))


def parse_release_listing(payload: object, *, source: str = "<listing>") -> ReleaseListing:
    """Releases in a decoded listing: a list of dataset objects, or an object holding one under `data`.

    Raises ListingError when the shape is not a listing at all, so that the caller retries instead of
    concluding that no release exists.
    """
    items = payload.get("data") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise ListingError(
            f"{source}: expected a JSON array of datasets (or an object with a 'data' array), "
            f"got {type(payload).__name__}; check {LISTING_URL_ENV}"
        )
    releases: set[str] = set()
    ignored: Counter[str] = Counter()
    for item in items:
        dataset_id = item.get("datasetId") if isinstance(item, dict) else None
        if not isinstance(dataset_id, str):
            ignored["no_dataset_id"] += 1
            continue
        match = _DATASET_ID.match(dataset_id.strip().lower())
        if match is None:
            ignored["not_a_gtex_release"] += 1
        elif int(match.group(1)) < MIN_SUPPORTED_RELEASE:
            ignored["release_before_v8"] += 1
        elif int(match.group(1)) > MAX_SUPPORTED_RELEASE:
            ignored["release_number_out_of_range"] += 1
        else:
            releases.add(f"v{int(match.group(1))}")
    return ReleaseListing(tuple(sorted(releases, key=release_number)), dict(ignored))


def fetch_release_listing(url: str, *, session: requests.Session | None = None) -> ReleaseListing:
    """GET the listing once (no retries: the sensor's next tick is the retry) and parse it."""
    http = session or requests.Session()
    host = _http_host(url, url)
    target = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = http.get(target, headers={"Accept": "application/json"}, allow_redirects=False, stream=True,
                                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except requests.RequestException as exc:
            raise ListingError(f"{url}: unreachable ({type(exc).__name__}: {exc})") from exc
        with response:
            if response.is_redirect:
                target = urllib.parse.urljoin(target, response.headers.get("Location", ""))
                if _http_host(target, url) != host:
                    raise ListingError(f"{url}: redirected to another host ({target[:200]}); refusing to follow it, "
                                       f"check {LISTING_URL_ENV}")
                continue
            if response.status_code != 200:
                raise ListingError(f"{url}: HTTP {response.status_code} {response.reason}".rstrip())
            content = _read_capped(response, url)
        try:
            payload = json.loads(content)
        except (ValueError, RecursionError) as exc:
            raise ListingError(f"{url}: the answer is not JSON ({exc})") from exc
        return parse_release_listing(payload, source=url)
    raise ListingError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _http_host(target: str, url: str) -> str:
    """The host of an http(s) URL; any other scheme is a ListingError naming the listing URL."""
    parts = urllib.parse.urlsplit(target)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ListingError(f"{url[:200]}: only http and https URLs are read (got {target[:200]!r}); "
                           f"check {LISTING_URL_ENV}")
    return parts.hostname.lower()


def _read_capped(response: requests.Response, url: str) -> bytes:
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(1 << 16):
            size += len(chunk)
            if size > MAX_LISTING_BYTES:
                raise ListingError(f"{url}: the answer is larger than {MAX_LISTING_BYTES:,} bytes; not a release "
                                   "listing")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise ListingError(f"{url}: the answer was cut off ({type(exc).__name__}: {exc})") from exc
    return b"".join(chunks)
