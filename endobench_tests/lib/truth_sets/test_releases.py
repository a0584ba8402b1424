"""The GTEx release listing read through the real `requests` client from a loopback server that misbehaves:
other hosts, other schemes, absurd release numbers and oversized answers never become partitions."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from endobench.lib.truth_sets.releases import (
    MAX_LISTING_BYTES,
    ListingError,
    fetch_release_listing,
    parse_release_listing,
    release_number,
)

V8 = {"datasetId": "gtex_v8"}
V10 = {"datasetId": "gtex_v10"}


@pytest.fixture
def portal():
    """Answers per path: (status, headers, body); every request is recorded."""
    routes: dict[str, tuple[int, dict, bytes]] = {}
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, routes, requests
    server.shutdown()
    server.server_close()


def _json(datasets) -> tuple[int, dict, bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(datasets).encode()


def test_a_redirect_within_the_listing_host_is_followed(portal):
    base, routes, _ = portal
    routes["/api/v2/metadata/dataset"] = (301, {"Location": "/api/v2/metadata/dataset/"}, b"")
    routes["/api/v2/metadata/dataset/"] = _json([V8, V10])
    assert fetch_release_listing(f"{base}/api/v2/metadata/dataset").releases == ("v8", "v10")


def test_a_redirect_to_another_host_is_refused_without_a_request_there(portal):
    """127.0.0.1 redirects to localhost: another host name, so the listing is refused and nothing is fetched."""
    base, routes, requests = portal
    port = base.rsplit(":", 1)[1]
    routes["/api/v2/metadata/dataset"] = (302, {"Location": f"http://localhost:{port}/evil"}, b"")
    routes["/evil"] = _json([{"datasetId": "gtex_v99"}])
    with pytest.raises(ListingError, match="redirected to another host"):
        fetch_release_listing(f"{base}/api/v2/metadata/dataset")
    assert requests == ["/api/v2/metadata/dataset"]


def test_a_redirect_to_another_scheme_is_refused(portal):
    base, routes, _ = portal
    routes["/api/v2/metadata/dataset"] = (302, {"Location": "file:///etc/passwd"}, b"")
    with pytest.raises(ListingError, match="only http and https URLs are read"):
        fetch_release_listing(f"{base}/api/v2/metadata/dataset")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://gtexportal.org/listing.json"])
def test_a_listing_url_of_another_scheme_is_refused(url):
    with pytest.raises(ListingError, match="only http and https URLs are read"):
        fetch_release_listing(url)


def test_an_oversized_answer_is_refused(portal):
    base, routes, _ = portal
    routes["/listing"] = (200, {}, b"[" + b" " * MAX_LISTING_BYTES + b"]")
    with pytest.raises(ListingError, match="larger than 5,000,000 bytes"):
        fetch_release_listing(f"{base}/listing")


def test_release_numbers_outside_a_sane_range_are_ignored_and_counted():
    listing = parse_release_listing([V8, V10, {"datasetId": "gtex_v999999"}, {"datasetId": "gtex_v51"},
                                     {"datasetId": "gtex_v" + "9" * 40}])
    assert listing.releases == ("v8", "v10")
    assert listing.ignored == {"release_number_out_of_range": 2, "not_a_gtex_release": 1}


@pytest.mark.parametrize("name", ["v999999", "v7", "v8a", "8", "v" + "1" * 30])
def test_a_release_name_outside_the_range_is_not_a_release(name):
    with pytest.raises(ValueError, match="is not a GTEx release name from v8 to v50"):
        release_number(name)


def test_deeply_nested_json_is_a_listing_error_not_a_crash(portal):
    base, routes, _ = portal
    routes["/listing"] = (200, {}, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ListingError, match="not JSON"):
        fetch_release_listing(f"{base}/listing")
