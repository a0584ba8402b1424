"""The GTEx release listing: fetch the portal's dataset metadata and turn it into release names (`v8`, `v10`).

The GTEx portal API (`/api/v2/metadata/dataset`) answers a JSON array with one object per dataset, each with a
`datasetId` such as `gtex_v8`, `gtex_v10` or `gtex_snrnaseq_pilot`. Only numbered GTEx releases from v8 on
count: they are on hg38 and ship the same per-tissue `egenes` / `signif_variant_gene_pairs` files that the data
sources read; v7 and earlier are hg19 with another archive layout, and the single-nucleus pilot has no eQTL
tables. Everything else in the listing is reported as ignored by reason, never dropped silently.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

import requests

DEFAULT_LISTING_URL = "https://gtexportal.org/api/v2/metadata/dataset"
LISTING_URL_ENV = "ENDOBENCH_GTEX_RELEASES_URL"
MIN_SUPPORTED_RELEASE = 8
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0

_DATASET_ID = re.compile(r"^gtex_v(\d+)$")


class ListingError(RuntimeError):
    """The listing could not be fetched or read; the message names the URL and what went wrong."""


@dataclass(frozen=True)
class ReleaseListing:
    """The releases endobench can benchmark, oldest first, and what else the listing held, counted by reason."""

    releases: tuple[str, ...]
    ignored: dict[str, int] = field(default_factory=dict)


def release_number(release: str) -> int:
    """`v10` -> 10; raises ValueError for anything that is not a numbered release."""
    match = re.fullmatch(r"v(\d+)", release)
    if match is None:
        raise ValueError(f"{release!r} is not a GTEx release name like 'v8'")
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
        else:
            releases.add(f"v{int(match.group(1))}")
    return ReleaseListing(tuple(sorted(releases, key=release_number)), dict(ignored))


def fetch_release_listing(url: str, *, session: requests.Session | None = None) -> ReleaseListing:
    """GET the listing once (no retries: the sensor's next tick is the retry) and parse it."""
    http = session or requests.Session()
    try:
        response = http.get(
            url, headers={"Accept": "application/json"}, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
        )
    except requests.RequestException as exc:
        raise ListingError(f"{url}: unreachable ({type(exc).__name__}: {exc})") from exc
    if response.status_code != 200:
        raise ListingError(f"{url}: HTTP {response.status_code} {response.reason}".rstrip())
    try:
        payload = json.loads(response.content)
    except ValueError as exc:
        raise ListingError(f"{url}: the answer is not JSON ({exc})") from exc
    return parse_release_listing(payload, source=url)
