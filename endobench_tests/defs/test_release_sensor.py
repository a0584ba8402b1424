"""The release sensor against a loopback GTEx listing server: new releases become partitions, nothing else.

The listing server speaks plain HTTP on 127.0.0.1 and serves whatever the test puts in `listing.body` /
`listing.status`, so the sensor's real `requests` client code runs on every tick. The tests play the daemon:
they evaluate a tick, then apply the partitions it asked for to the instance, as the sensor daemon would.
What follows a new partition is the automation sensor's (`test_automation.py`).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from endobench.definitions import build_definitions
from endobench.defs.automation import RELEASE_POLL_INTERVAL_S, build_sensors
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME
from endobench.defs.resources import build_resources
from endobench.lib.truth_sets.releases import LISTING_URL_ENV, ListingError, parse_release_listing

V8 = {"datasetId": "gtex_v8", "displayName": "GTEx Analysis Release V8", "genomeBuild": "GRCh38/hg38"}
V10 = {"datasetId": "gtex_v10", "displayName": "GTEx Analysis Release V10", "genomeBuild": "GRCh38/hg38"}
PILOT = {"datasetId": "gtex_snrnaseq_pilot", "displayName": "GTEx snRNA-seq pilot"}
gtex_release_sensor = build_sensors()[0]


class Listing:
    """What the loopback server answers on its next GET."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"[]"
        self.requests = 0

    def serve(self, datasets: list[dict]) -> None:
        self.status, self.body = 200, json.dumps(datasets).encode()


@pytest.fixture
def listing(monkeypatch):
    state = Listing()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests += 1
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(LISTING_URL_ENV, f"http://127.0.0.1:{server.server_address[1]}/api/v2/metadata/dataset")
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def shared_instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def instance(shared_instance):
    """A clean instance per test: creating one costs seconds, wiping its runs, events and partitions does not."""
    shared_instance.wipe()
    for release in shared_instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME):
        shared_instance.delete_dynamic_partition(GTEX_RELEASE_PARTITIONS_NAME, release)
    return shared_instance


@pytest.fixture(scope="module")
def definitions(tmp_path_factory):
    return build_definitions(build_resources(data_dir=str(tmp_path_factory.mktemp("data"))))


def tick(sensor, instance, definitions, cursor) -> dg.SensorResult:
    """Evaluate one tick and apply its partition requests, as the sensor daemon does."""
    context = dg.build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=definitions
    )
    data = sensor.evaluate_tick(context)
    for request in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return data


def test_first_tick_adds_the_release_as_a_partition_and_launches_nothing(listing, instance, definitions):
    """A listing with v8 (and a non-release dataset) adds partition v8; the runs are the automation sensor's."""
    listing.serve([V8, PILOT])
    data = tick(gtex_release_sensor, instance, definitions, cursor=None)
    assert instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME) == ["v8"]
    assert data.run_requests == []
    assert json.loads(data.cursor) == {"seen": ["v8"]}


def test_the_sensor_polls_every_six_hours_and_starts_stopped():
    """It reaches the GTEx portal, so it runs only once turned on; a shorter interval is a setting."""
    assert gtex_release_sensor.minimum_interval_seconds == RELEASE_POLL_INTERVAL_S == 6 * 60 * 60
    assert gtex_release_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert build_sensors(release_poll_interval_s=10)[0].minimum_interval_seconds == 10


def test_a_tick_with_nothing_new_skips(listing, instance, definitions):
    """The same listing on the next tick requests nothing and says why."""
    listing.serve([V8])
    first = tick(gtex_release_sensor, instance, definitions, cursor=None)
    second = tick(gtex_release_sensor, instance, definitions, cursor=first.cursor)
    assert second.dynamic_partitions_requests == []
    assert second.skip_message == "no new GTEx release: listed v8"
    assert listing.requests == 2


def test_a_new_release_in_the_listing_adds_only_that_release(listing, instance, definitions):
    """When v10 joins v8 in the listing, only v10 is added."""
    listing.serve([V8])
    first = tick(gtex_release_sensor, instance, definitions, cursor=None)
    listing.serve([V8, V10])
    second = tick(gtex_release_sensor, instance, definitions, cursor=first.cursor)
    assert sorted(instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME)) == ["v10", "v8"]
    assert [list(r.partition_keys) for r in second.dynamic_partitions_requests] == [["v10"]]
    assert json.loads(second.cursor) == {"seen": ["v10", "v8"]}


def test_a_failing_listing_skips_and_keeps_the_cursor(listing, instance, definitions):
    """HTTP 500 is logged and skipped: no partition, no run, the cursor untouched so the next tick retries."""
    listing.serve([V8])
    first = tick(gtex_release_sensor, instance, definitions, cursor=None)
    listing.status, listing.body = 500, b'{"detail": "internal error"}'
    failed = tick(gtex_release_sensor, instance, definitions, cursor=first.cursor)
    assert failed.dynamic_partitions_requests == []
    assert failed.cursor == first.cursor
    assert "HTTP 500" in failed.skip_message and "retrying at the next tick" in failed.skip_message
    assert instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME) == ["v8"]


def test_a_malformed_listing_adds_nothing(listing, instance, definitions):
    """An answer that is not a dataset array (here an HTML error page) is a skip, not 'no releases'."""
    listing.status, listing.body = 200, b"<html>maintenance</html>"
    data = tick(gtex_release_sensor, instance, definitions, cursor=None)
    assert data.dynamic_partitions_requests == [] and data.cursor is None
    assert "not JSON" in data.skip_message
    assert instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME) == []


def test_a_release_that_is_already_a_partition_is_not_added_again(listing, instance, definitions):
    """v8 added by `make demo` is not added again by the sensor; the cursor still records it."""
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, ["v8"])
    listing.serve([V8])
    data = tick(gtex_release_sensor, instance, definitions, cursor=None)
    assert data.dynamic_partitions_requests == []
    assert json.loads(data.cursor) == {"seen": ["v8"]}


def test_an_absurd_release_number_never_becomes_a_partition(listing, instance, definitions):
    """`gtex_v999999` in a hostile or broken listing is ignored and counted; only v8 is added."""
    listing.serve([V8, {"datasetId": "gtex_v999999"}])
    data = tick(gtex_release_sensor, instance, definitions, cursor=None)
    assert instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME) == ["v8"]
    assert [list(r.partition_keys) for r in data.dynamic_partitions_requests] == [["v8"]]


def test_a_listing_url_of_another_scheme_adds_nothing(listing, instance, definitions, monkeypatch):
    """ENDOBENCH_GTEX_RELEASES_URL=file:///... is refused and the tick skips, retrying later."""
    monkeypatch.setenv(LISTING_URL_ENV, "file:///etc/passwd")
    data = tick(gtex_release_sensor, instance, definitions, cursor=None)
    assert not data.dynamic_partitions_requests and "only http and https URLs are read" in data.skip_message
    assert instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME) == []


def test_the_listing_parser_keeps_numbered_releases_from_v8_and_counts_the_rest():
    """Releases sort by number (v8 before v10); old releases, other datasets and junk are counted by reason."""
    payload = {"data": [V10, {"datasetId": "gtex_v7"}, PILOT, V8, "junk", {"id": 3}]}
    parsed = parse_release_listing(payload)
    assert parsed.releases == ("v8", "v10")
    assert parsed.ignored == {"release_before_v8": 1, "not_a_gtex_release": 1, "no_dataset_id": 2}


def test_the_listing_parser_rejects_a_non_listing():
    """A JSON object without a dataset array raises ListingError naming the source."""
    with pytest.raises(ListingError, match="test-source: expected a JSON array"):
        parse_release_listing({"detail": "not found"}, source="test-source")
