"""`make deploy-test`: a real deployment on one machine, and a new GTEx release that flows through by itself.

1. PostgreSQL 15 on 127.0.0.1 with a throwaway data directory, and a DAGSTER_HOME whose dagster.yaml is
   deploy/dagster.yaml with only the run launcher changed (`DefaultRunLauncher`: runs are subprocesses).
2. `dagster-webserver` and `dagster-daemon run` as separate processes on the project's definitions, with the
   `full` profile downloading from a loopback HTTP server laid out as the GTEx bucket, ENCODE and UCSC, and the
   AlphaGenome predictor pointed at the loopback stand-in of the service.
3. GTEx publishes v10 in the release listing (a table made from the real sample, named as v10 names its
   files). With no run launched by hand, the release sensor adds the partition and automation materialises
   every asset of it; asserted through the webserver's GraphQL API.
4. The operator scores v10 again with another AlphaGenome model version, side by side: a backfill of all 23
   chromosome partitions from the GraphQL API, while the `alphagenome_api` pool allows one step at a time.
5. The daemon is SIGKILLed mid-backfill and started again; the backfill completes, each partition materialised
   once, no variant requested twice from the stand-in, no two runs' scoring calls overlapping.
6. Every process started is stopped by its recorded process group, and the database directory removed, also
   when a step fails.

Each step prints what it saw. Run with `make deploy-test` (`pytest -m deploy -s endobench_tests/deploy`).
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from endobench.defs.partitions import chromosome_partitions
from endobench_tests.deploy.deployment import LOCATION, REPOSITORY, Deployment
from endobench_tests.deploy.postgres import ThrowawayPostgres
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.processes import group_pids, listening
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, sample_eqtl_requests
from endobench_tests.stand_ins.http_server import (
    EXCLUSION_LIST_METADATA,
    K562_DNASE_PEAKS_METADATA,
    FixtureServer,
    encode_file_metadata,
    tar_archive,
)

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

RELEASE = "v10"
CHROMOSOMES = chromosome_partitions.get_partition_keys()
API_KEY = "deploy-test-key-not-a-secret-0001"
LISTING = "/api/v2/metadata/dataset"
OLD_DATASETS = [{"datasetId": "gtex_v7", "genomeBuild": "GRCh37/hg19"}, {"datasetId": "gtex_snrnaseq_pilot"}]
NEW_RELEASE = {"datasetId": "gtex_v10", "displayName": "GTEx Analysis Release V10", "genomeBuild": "GRCh38/hg38"}
GTEX_ARCHIVE = "/bulk-qtl/v10/single-tissue-cis-qtl/GTEx_Analysis_v10_eQTL.tar"
GTEX_MEMBER = "GTEx_Analysis_v10_eQTL_updated/Whole_Blood.v10.eGenes.txt.gz"
PEAKS_ACCESSION = "ENCFF860XAE"  # the accession the bundled K562 peaks come from
RELEASE_ASSETS = ["raw_gtex_eqtls", "dhs_filtered_variants", "sequence_windows", "benchmark_report"]
PREDICTIONS = "variant_effect_predictions"
SHARED_ASSETS = ["raw_qtl_tables", "dsqtl_sites", "dhs_peaks", "local_model"]
FLOW_TIMEOUT_S = 600
BACKFILL_TIMEOUT_S = 600
DSQTL_TITLE = "Degner 2012 LCL dsQTLs"
DSQTL_CONFIGURATION = "AlphaGenome 1 MB (ALL_FOLDS)"
POLL_S = 5


def loopback_files() -> dict[str, bytes]:
    """The `full` profile's downloads, laid out as their public hosts lay them out, from the bundled sample, with
    the checksums ENCODE publishes in each file's metadata."""
    files = {
        LISTING: json.dumps(OLD_DATASETS).encode(),
        # Real chr22 Whole Blood eGenes of the sample, named as v10 names its eGenes member (in a gzipped tar, as
        # GTEx ships v10 despite the `.tar` name).
        GTEX_ARCHIVE: tar_archive({GTEX_MEMBER: (SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.chr22.txt.gz").read_bytes()},
                                  gz=True),
        f"/files/{PEAKS_ACCESSION}/@@download/{PEAKS_ACCESSION}.bed.gz":
            (SAMPLE_DIR / "abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz").read_bytes(),
        "/files/ENCFF356LFX/@@download/ENCFF356LFX.bed.gz": (SAMPLE_DIR / "abc_GRCh38_unified_blacklist.bed.gz").read_bytes(),
        # The real hg38 sequence the sample holds, served as UCSC serves the genome.
        "/goldenPath/hg38/bigZips/hg38.fa.gz": gzip.compress((SAMPLE_DIR / "hg38_sample_segments.fa").read_bytes(), 1),
    }
    for accession, base in ((PEAKS_ACCESSION, K562_DNASE_PEAKS_METADATA), ("ENCFF356LFX", EXCLUSION_LIST_METADATA)):
        files[f"/files/{accession}/"] = encode_file_metadata(files[f"/files/{accession}/@@download/{accession}.bed.gz"],
                                                             base, accession=accession)
    return files


@dataclass
class Story:
    """What the steps saw, printed as they go and kept for the summary."""

    started: float = field(default_factory=time.monotonic)
    lines: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(f"[deploy-test {time.monotonic() - self.started:6.1f} s] {line}", flush=True)


@pytest.fixture(scope="module")
def story():
    story = Story()
    yield story
    story.say("summary: " + ", ".join(f"{step} {s:.0f} s" for step, s in story.seconds.items())
              + f"; total {time.monotonic() - story.started:.0f} s")


@pytest.fixture(scope="module")
def stand_ins():
    _, genes = sample_eqtl_requests(0)
    with FixtureServer(loopback_files()) as http, AlphaGenomeStandIn(genes=genes, expected_api_key=API_KEY) as grpc:
        yield http, grpc


@pytest.fixture(scope="module")
def deployment(story, stand_ins, tmp_path_factory):
    """Steps 1, 2 and 6: PostgreSQL, the webserver and the daemon; everything stopped and removed afterwards."""
    http, grpc = stand_ins
    root = tmp_path_factory.mktemp("deploy")
    (root / "data").mkdir()
    (root / "data" / "sample").symlink_to(SAMPLE_DIR)
    step = time.monotonic()
    with ThrowawayPostgres() as postgres:
        story.say(f"step 1: PostgreSQL {postgres.bin.parent.name} on 127.0.0.1:{postgres.connection.port}, data in "
                  f"{postgres.data_dir}, started in {postgres.seconds_to_start:.1f} s")
        deployment = Deployment(root / "dagster_home", {
            **postgres.connection.environment(),
            "ENDOBENCH_DATA_DIR": str(root / "data"),
            "ENDOBENCH_PROFILE": "full",
            "ENDOBENCH_GTEX_RELEASES_URL": http.url(LISTING),
            "ENDOBENCH_GTEX_BASE_URL": http.url("/bulk-qtl"),
            "ENDOBENCH_GTEX_FILE_KIND": "egenes",
            "ENDOBENCH_ENCODE_BASE_URL": http.url("/files"),
            "ENDOBENCH_PEAKS_ENCODE_ACCESSION": PEAKS_ACCESSION,
            "ENDOBENCH_GTEX_TISSUES": "Whole_Blood",  # the loopback archive holds the Whole Blood member only
            # The loopback "hg38.fa.gz" is the sample's segments, not UCSC's file: its pinned md5 cannot hold.
            "ENDOBENCH_PINNED_MD5": "{}",
            "ENDOBENCH_UCSC_BASE_URL": http.url("/goldenPath"),
            "ENDOBENCH_PREDICTOR": "alphagenome",
            "ENDOBENCH_ALPHAGENOME_ADDRESS": grpc.address,
            "ALPHAGENOME_API_KEY": API_KEY,
            "ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE": "0",  # the stand-in has no quota to protect
            "ENDOBENCH_GTEX_POLL_INTERVAL_S": "10",
            "ENDOBENCH_AUTOMATION_INTERVAL_S": "10",
        })
        try:
            webserver_s = deployment.start_webserver()
            daemon_s = deployment.start_daemon()
            sockets = listening(group_pids(deployment.webserver.pid)) | listening(group_pids(deployment.daemon.pid))
            story.say(f"step 2: webserver on {deployment.url} ({webserver_s:.0f} s to answer), daemon healthy after "
                      f"{daemon_s:.0f} s; listening on {sorted(sockets)}")
            assert {address for address, _ in sockets} <= {"127.0.0.1"}, sockets
            story.seconds["steps 1-2: start"] = time.monotonic() - step
            yield deployment
        finally:
            step = time.monotonic()
            left = deployment.stop()
            story.say(f"step 6: stopped {len(deployment.groups)} process groups by id; left running: {left or 'none'}")
    assert not postgres.folder.exists(), f"{postgres.folder} was not removed"
    story.say(f"step 6: PostgreSQL stopped and {postgres.folder} removed in {time.monotonic() - step:.1f} s")
    assert not left, f"processes still running after the deployment stopped: {left}"


def test_a_published_release_flows_through_by_itself(deployment, stand_ins, story):
    """Step 3: v10 appears in the listing; the sensor adds it, automation materialises it up to the report."""
    http, grpc = stand_ins
    step = time.monotonic()
    deployment.graphql(START_SENSOR, selector=sensor("gtex_release_sensor"))
    wait_for(lambda: ticks(deployment, "gtex_release_sensor"), 60, "the release sensor's first tick")
    story.say(f"step 3: release sensor turned on; first tick: {ticks(deployment, 'gtex_release_sensor')[-1]}")
    http.add(LISTING, json.dumps([*OLD_DATASETS, NEW_RELEASE]).encode())
    published = time.time()
    story.say("step 3: gtex_v10 published in the listing; no run launched by hand from here on")
    wait_for(lambda: materialized(deployment, "benchmark_report", [RELEASE]), FLOW_TIMEOUT_S,
             "the v10 report", lambda: progress(deployment))
    for asset in RELEASE_ASSETS:
        assert materialized(deployment, asset, [RELEASE]) == {RELEASE}, asset
    assert materialized(deployment, PREDICTIONS, partitions(RELEASE)) == set(partitions(RELEASE))
    for asset in SHARED_ASSETS:
        assert materialized(deployment, asset, None), asset
    metadata = latest_metadata(deployment, "benchmark_report", RELEASE)
    (headline,) = [row for row in metadata["headline"] if row["truth set"] == DSQTL_TITLE
                   and row["configuration"] == DSQTL_CONFIGURATION]
    assert int(headline["n units"].split()[0].replace(",", "")) > 5_000, headline
    assert headline["primary metric [95% CI]"].startswith("sign agreement: ") and headline["mde"] != "–"
    runs = runs_since(deployment, published)
    figures = run_figures(runs, grpc.records)
    story.say(f"step 3: {figures}")
    story.say(f"step 3: every v10 partition materialised (4 release assets, {len(CHROMOSOMES)} prediction "
              f"partitions) {time.time() - published:.0f} s after the publication; report headline "
              f"{headline}")
    assert figures.failed == 0
    assert figures.concurrent_prediction_steps == 1
    assert figures.overlapping_calls == 0 and figures.unattributed_calls == 0
    assert release_tags(runs) == {RELEASE: len(CHROMOSOMES)}, "every prediction run carries the release tag"
    assert figures.concurrent_release_runs <= 4
    story.seconds["step 3: release flow"] = time.monotonic() - step


def test_a_backfill_shares_the_api_pool_and_survives_a_killed_daemon(deployment, stand_ins, story):
    """Steps 4-5: FOLD_0 backfill of every chromosome of v10 from GraphQL; the daemon is killed and restarted."""
    http, grpc = stand_ins
    step = time.monotonic()
    restart_s = deployment.restart(ENDOBENCH_ALPHAGENOME_MODEL_VERSION="FOLD_0")
    story.say(f"step 4: webserver and daemon restarted with model version FOLD_0 in {restart_s:.0f} s")
    calls_before = len(grpc.records)
    launched = deployment.graphql(LAUNCH_BACKFILL, params={
        "assetSelection": [{"path": [PREDICTIONS]}], "partitionNames": partitions(RELEASE),
        "title": f"{RELEASE} with AlphaGenome FOLD_0",
    })["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]
    started = time.time()
    story.say(f"step 4: backfill {backfill_id} of {len(CHROMOSOMES)} partitions launched through GraphQL")

    wait_for(lambda: backfill_run_statuses(deployment, backfill_id)["SUCCESS"] >= 5, BACKFILL_TIMEOUT_S,
             "5 finished backfill runs")
    before_kill = backfill_run_statuses(deployment, backfill_id)
    deployment.kill_daemon()
    killed_at = time.monotonic()
    story.say(f"step 5: daemon SIGKILLed with backfill runs {dict(before_kill)}")
    time.sleep(5)
    restart_s = deployment.start_daemon()
    story.say(f"step 5: daemon started again, healthy after {restart_s:.0f} s "
              f"({time.monotonic() - killed_at:.0f} s without a daemon)")
    wait_for(lambda: backfill_status(deployment, backfill_id) not in ("REQUESTED", "CANCELING"),
             BACKFILL_TIMEOUT_S, "the backfill to complete", lambda: backfill_run_statuses(deployment, backfill_id))
    status = backfill_status(deployment, backfill_id)
    runs = backfill_runs(deployment, backfill_id)
    calls = grpc.records[calls_before:]
    per_partition = Counter(m["partition"] for m in materializations(deployment, PREDICTIONS, partitions(RELEASE))
                            if m["runId"] in {r["runId"] for r in runs})
    requested_twice = {variant: n for variant, n in Counter(r.variant for r in calls).items() if n > 1}
    figures = run_figures(runs, calls)
    story.say(f"step 5: backfill {status} {time.time() - started:.0f} s after its launch: {figures}")
    story.say(f"step 5: partitions materialised by the backfill: {len(per_partition)}, each "
              f"{' or '.join(map(str, sorted(set(per_partition.values()))))} time(s); variants requested twice: "
              f"{len(requested_twice)} of {len({c.variant for c in calls}):,}")
    assert status == "COMPLETED_SUCCESS"
    assert figures.launched == len(CHROMOSOMES) and figures.failed == 0
    assert release_tags(runs) == {RELEASE: len(CHROMOSOMES)}, "every backfill run carries the release tag"
    assert figures.concurrent_release_runs <= 4
    assert figures.queued >= len(CHROMOSOMES) // 2
    assert figures.concurrent_prediction_steps == 1
    assert figures.overlapping_calls == 0 and figures.unattributed_calls == 0
    assert dict(per_partition) == {p: 1 for p in partitions(RELEASE)}
    assert requested_twice == {}

    wait_for(lambda: report_configurations(deployment) >= 2, FLOW_TIMEOUT_S, "the report with both model versions")
    story.say(f"step 5: automation rebuilt the v10 report with both model versions side by side "
              f"({report_configurations(deployment)} dsQTL configurations)")
    story.seconds["steps 4-5: backfill"] = time.monotonic() - step


# --- reading the deployment through the webserver's GraphQL API ---------------------------------------------

START_SENSOR = """
mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) {
  __typename ... on Sensor { name } ... on PythonError { message } } }
"""
SENSOR_TICKS = """
query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) { ... on Sensor {
  sensorState { ticks(limit: 5) { status skipReason timestamp } } } } }
"""
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }
"""
BACKFILL = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }
"""
RUNS = """
query($filter: RunsFilter!) { runsOrError(filter: $filter) { ... on Runs { results {
  runId status creationTime startTime endTime tags { key value } stepStats { stepKey startTime endTime } } } } }
"""
RELEASE_TAG = "dagster/partition/release"  # the tag deploy/dagster.yaml limits to 4 runs per value
RUN_STATUSES = """
query($filter: RunsFilter!) { runsOrError(filter: $filter) { ... on Runs { results { status } } } }
"""
MATERIALIZATIONS = """
query($key: AssetKeyInput!, $partitions: [String!]) { assetOrError(assetKey: $key) { ... on Asset {
  assetMaterializations(partitions: $partitions, limit: 1000) { partition runId timestamp
    metadataEntries { label __typename ... on IntMetadataEntry { intValue } ... on FloatMetadataEntry { floatValue }
      ... on PathMetadataEntry { path } ... on TextMetadataEntry { text }
      ... on TableMetadataEntry { table { records } } } } } } }
"""


def sensor(name: str) -> dict:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}


def partitions(release: str) -> list[str]:
    return [f"{chrom}|{release}" for chrom in CHROMOSOMES]


def ticks(deployment: Deployment, name: str) -> list[str]:
    found = deployment.graphql(SENSOR_TICKS, selector=sensor(name))["sensorOrError"]["sensorState"]["ticks"]
    return [f"{t['status']}: {t['skipReason'] or ''}".rstrip(": ") for t in found]


def materializations(deployment: Deployment, asset: str, partition_keys: list[str] | None) -> list[dict]:
    asset_or_error = deployment.graphql(MATERIALIZATIONS, key={"path": [asset]}, partitions=partition_keys)
    return asset_or_error["assetOrError"].get("assetMaterializations", [])


def materialized(deployment: Deployment, asset: str, partition_keys: list[str] | None) -> set:
    return {m["partition"] for m in materializations(deployment, asset, partition_keys)}


def latest_metadata(deployment: Deployment, asset: str, partition: str) -> dict:
    latest = max(materializations(deployment, asset, [partition]), key=lambda m: float(m["timestamp"]))
    values = {}
    for entry in latest["metadataEntries"]:
        for field_name in ("intValue", "floatValue", "path", "text"):
            if field_name in entry:
                values[entry["label"]] = entry[field_name]
        if "table" in entry:
            values[entry["label"]] = [json.loads(record) for record in entry["table"]["records"]]
    return values


def report_configurations(deployment: Deployment) -> int:
    """How many dsQTL configurations the latest v10 report's metrics.json holds a headline for."""
    metrics_path = latest_metadata(deployment, "benchmark_report", RELEASE)["metrics_json"]
    headline = json.loads(open(metrics_path).read())["headline"]
    return sum(1 for key in headline if key.startswith("dsqtl_degner2012|"))


def runs_since(deployment: Deployment, timestamp: float) -> list[dict]:
    return deployment.graphql(RUNS, filter={"createdAfter": timestamp})["runsOrError"]["results"]


def backfill_runs(deployment: Deployment, backfill_id: str, query: str = RUNS) -> list[dict]:
    found = deployment.graphql(query, filter={"tags": [{"key": "dagster/backfill", "value": backfill_id}]})
    return found["runsOrError"]["results"]


def release_tags(runs: list[dict]) -> Counter:
    """How many of the prediction runs carry each value of the release tag the run queue limits."""
    found = Counter()
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        if any(s["stepKey"] == PREDICTIONS for s in run["stepStats"]) and RELEASE_TAG in tags:
            found[tags[RELEASE_TAG]] += 1
    return found


def backfill_run_statuses(deployment: Deployment, backfill_id: str) -> Counter:
    return Counter(r["status"] for r in backfill_runs(deployment, backfill_id, RUN_STATUSES))


def backfill_status(deployment: Deployment, backfill_id: str) -> str:
    return deployment.graphql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]["status"]


def progress(deployment: Deployment) -> str:
    done = {asset: len(materialized(deployment, asset, None)) for asset in [*SHARED_ASSETS, *RELEASE_ASSETS, PREDICTIONS]}
    return ", ".join(f"{asset} {n}" for asset, n in done.items())


def wait_for(condition, timeout_s: float, what: str, describe=None) -> None:
    """Poll `condition` every few seconds (each poll is a GraphQL query the webserver answers)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(POLL_S)
    raise AssertionError(f"{what}: not there after {timeout_s:.0f} s" + (f" ({describe()})" if describe else ""))


# --- the run records and the stand-in's request log ---------------------------------------------------------

@dataclass(frozen=True)
class RunFigures:
    """What a set of runs did: from their records (times, statuses, step stats) and the stand-in's request log."""

    launched: int
    failed: int
    queued: int  # sat in the run queue for more than a second before starting
    longest_queued_s: float
    waited_for_pool: int  # started, then held their prediction step until the `alphagenome_api` slot was free
    concurrent_prediction_steps: int
    calls: int
    concurrent_calls: int
    overlapping_calls: int  # pairs of calls from different runs' prediction steps that overlapped in time
    unattributed_calls: int  # calls that fell in no prediction step, or in several at once
    concurrent_release_runs: int = 0  # runs carrying one release's tag in progress at once (the queue allows 4)

    def __str__(self) -> str:
        return (f"{self.launched} runs launched, {self.failed} failed, {self.queued} queued (longest "
                f"{self.longest_queued_s:.0f} s), {self.waited_for_pool} waited in the run for the pool slot, at most "
                f"{self.concurrent_prediction_steps} prediction step(s) and {self.concurrent_release_runs} runs of one "
                f"release at once; {self.calls:,} scoring calls, at most "
                f"{self.concurrent_calls} at once, {self.overlapping_calls} overlapping across runs")


def run_figures(runs: list[dict], calls) -> RunFigures:
    queued_s = [r["startTime"] - r["creationTime"] for r in runs if r["startTime"]]
    steps = prediction_steps(runs)
    waited = {run_id for start, _, run_id in steps
              if start - next(r["startTime"] for r in runs if r["runId"] == run_id) > 1.0}
    overlapping, unattributed = cross_run_overlaps(calls, steps)
    return RunFigures(
        launched=len(runs), failed=sum(r["status"] != "SUCCESS" for r in runs),
        queued=sum(s > 1.0 for s in queued_s), longest_queued_s=max(queued_s, default=0.0),
        waited_for_pool=len(waited), concurrent_prediction_steps=peak([(s, e) for s, e, _ in steps]),
        calls=len(calls), concurrent_calls=peak([(c.started, c.finished or c.started) for c in calls]),
        overlapping_calls=overlapping, unattributed_calls=unattributed,
        concurrent_release_runs=peak([(r["startTime"], r["endTime"] or time.time()) for r in runs
                                      if r["startTime"] and any(t["key"] == RELEASE_TAG for t in r["tags"])]),
    )


def prediction_steps(runs: list[dict]) -> list[tuple[float, float, str]]:
    """(start, end, run id) of every prediction step, in wall-clock seconds."""
    return [(s["startTime"], s["endTime"] or time.time(), r["runId"])
            for r in runs for s in r["stepStats"] if s["stepKey"] == PREDICTIONS and s["startTime"]]


def cross_run_overlaps(calls, steps: list[tuple[float, float, str]]) -> tuple[int, int]:
    """Pairs of overlapping calls made by different runs, and calls no single prediction step accounts for.

    The stand-in timestamps calls with this process's monotonic clock; step stats are wall-clock seconds with
    millisecond precision. A call belongs to the run whose prediction step was running when it arrived.
    """
    to_wall = time.time() - time.monotonic()

    def run_of(call) -> str | None:
        at = call.started + to_wall
        for slack in (0.0, 0.5):  # the clocks of two processes: allow half a second only if nothing else fits
            owners = {run_id for start, end, run_id in steps if start - slack <= at <= end + slack}
            if owners:
                return owners.pop() if len(owners) == 1 else None
        return None

    spans = sorted((c.started, c.finished or c.started, run_of(c)) for c in calls)
    overlapping = 0
    for i, (_, end, run) in enumerate(spans):
        for other_start, _, other_run in spans[i + 1:]:
            if other_start >= end:
                break
            overlapping += other_run != run
    return overlapping, sum(run is None for _, _, run in spans)


def peak(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one time."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    level = highest = 0
    for _, change in events:
        level += change
        highest = max(highest, level)
    return highest
