"""Automation: new GTEx releases become partitions and run through the graph by themselves.

How one release flows, each step a separate Dagster run so that a failure stays in its own partition:
1. `gtex_release_sensor` polls the GTEx release listing; a release that is neither a `gtex_release`
   partition yet nor in its cursor is added as a partition and gets one `release_inputs_job` run (run_key =
   the release, so it is requested exactly once).
2. `release_predictions_sensor` (run-status sensor) sees that run succeed and requests one `predictions_job`
   run per chromosome of that release: the same fan-out as a backfill, sharing the `alphagenome_api` pool.
3. `release_report_sensor` sees each prediction run succeed and, once every chromosome of the release has a
   materialization, requests the release's `report_job` run.
`weekly_release_catch_up` (Mondays 06:00 UTC) is the fallback: it restarts step 1 for every known release that
has no `benchmark_report` yet (a missed sensor tick, a sensor that was off, a run that failed), and the two
run-status sensors take it from there.
"""

import json
import os

import dagster as dg

from endobench.defs.jobs import predictions_job, release_inputs_job, report_job
from endobench.defs.partitions import (
    GTEX_RELEASE_PARTITIONS_NAME,
    chromosome_partitions,
    gtex_release_partitions,
    prediction_partition_key,
)
from endobench.lib.truth_sets.releases import DEFAULT_LISTING_URL, LISTING_URL_ENV, ListingError, fetch_release_listing

RELEASE_POLL_INTERVAL_S = 6 * 60 * 60
PARTITION_TAG = "dagster/partition"
RELEASE_TAG = "endobench/release"
PREDICTIONS_ASSET = dg.AssetKey("variant_effect_predictions")
REPORT_ASSET = dg.AssetKey("benchmark_report")


def listing_url() -> str:
    return os.environ.get(LISTING_URL_ENV, "").strip() or DEFAULT_LISTING_URL


def read_cursor(cursor: str | None) -> set[str]:
    """Releases seen on earlier ticks; an unreadable cursor counts as none seen (partitions still guard reruns)."""
    if not cursor:
        return set()
    try:
        seen = json.loads(cursor).get("seen", [])
    except (ValueError, AttributeError):
        return set()
    return {str(r) for r in seen}


def write_cursor(seen: set[str]) -> str:
    return json.dumps({"seen": sorted(seen)})


def release_inputs_request(release: str, run_key: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key, job_name=release_inputs_job.name, partition_key=release, tags={RELEASE_TAG: release}
    )


@dg.sensor(
    name="gtex_release_sensor",
    jobs=[release_inputs_job],
    minimum_interval_seconds=RELEASE_POLL_INTERVAL_S,
    description=(
        f"Polls the GTEx release listing (${LISTING_URL_ENV}, default the GTEx portal dataset metadata) and adds "
        "each new release (v8 and later) as a partition with one release_inputs_job run."
    ),
)
def gtex_release_sensor(context: dg.SensorEvaluationContext):
    url = listing_url()
    try:
        listing = fetch_release_listing(url)
    except ListingError as exc:
        context.log.warning(f"release listing not read, retrying at the next tick: {exc}")
        return dg.SkipReason(f"release listing not read ({exc}); nothing added, retrying at the next tick")
    if listing.ignored:
        ignored = ", ".join(f"{reason}={n:,}" for reason, n in sorted(listing.ignored.items()))
        context.log.info(f"{url}: ignored datasets by reason: {ignored}")
    seen = read_cursor(context.cursor)
    known = set(context.instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME))
    new = [r for r in listing.releases if r not in known and r not in seen]
    cursor = write_cursor(seen | set(listing.releases))
    if not new:
        skip = dg.SkipReason(f"no new GTEx release: listed {', '.join(listing.releases) or 'none'}")
        return dg.SensorResult(skip_reason=skip, cursor=cursor) if cursor != context.cursor else skip
    context.log.info(f"new GTEx release(s): {', '.join(new)}")
    return dg.SensorResult(
        run_requests=[release_inputs_request(r, run_key=r) for r in new],
        dynamic_partitions_requests=[gtex_release_partitions.build_add_request(new)],
        cursor=cursor,
    )


def predictions_requests(release: str, source_run_id: str) -> list[dg.RunRequest]:
    """One predictions_job run per chromosome of a release, keyed by the run whose windows they read."""
    return [
        dg.RunRequest(
            run_key=f"{release}|{chrom}|{source_run_id}",
            job_name=predictions_job.name,
            partition_key=prediction_partition_key(release, chrom),
            tags={RELEASE_TAG: release},
        )
        for chrom in chromosome_partitions.get_partition_keys()
    ]


def chromosomes_missing_predictions(instance: dg.DagsterInstance, release: str) -> list[str]:
    done = instance.get_materialized_partitions(PREDICTIONS_ASSET)
    return [
        chrom for chrom in chromosome_partitions.get_partition_keys()
        if str(prediction_partition_key(release, chrom)) not in done
    ]


@dg.run_status_sensor(
    name="release_predictions_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[release_inputs_job],
    request_job=predictions_job,
    description="After a release's inputs succeed: one predictions_job run per chromosome of that release.",
)
def release_predictions_sensor(context: dg.RunStatusSensorContext):
    release = context.dagster_run.tags.get(PARTITION_TAG)
    if not release:
        return dg.SkipReason(f"run {context.dagster_run.run_id} has no partition tag; nothing to follow up")
    return predictions_requests(release, context.dagster_run.run_id)


@dg.run_status_sensor(
    name="release_report_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[predictions_job],
    request_job=report_job,
    description="After a prediction run succeeds: the release's report once every chromosome has predictions.",
)
def release_report_sensor(context: dg.RunStatusSensorContext):
    release = context.dagster_run.tags.get(f"{PARTITION_TAG}/release")
    if not release:
        return dg.SkipReason(f"run {context.dagster_run.run_id} has no release partition tag")
    missing = chromosomes_missing_predictions(context.instance, release)
    if missing:
        return dg.SkipReason(f"{release}: {len(missing)} chromosome(s) still without predictions ({', '.join(missing)})")
    return dg.RunRequest(
        run_key=f"{release}|{context.dagster_run.run_id}",
        job_name=report_job.name,
        partition_key=release,
        tags={RELEASE_TAG: release},
    )


def releases_without_report(instance: dg.DagsterInstance) -> list[str]:
    reported = instance.get_materialized_partitions(REPORT_ASSET)
    return [r for r in instance.get_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME) if r not in reported]


@dg.schedule(
    name="weekly_release_catch_up",
    cron_schedule="0 6 * * 1",
    execution_timezone="UTC",
    job=release_inputs_job,
    description="Fallback, Mondays 06:00 UTC: rerun the inputs of every known release that has no report yet.",
)
def weekly_release_catch_up(context: dg.ScheduleEvaluationContext):
    pending = releases_without_report(context.instance)
    if not pending:
        return dg.SkipReason("every known GTEx release has a benchmark_report")
    week = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [release_inputs_request(r, run_key=f"{r}|catch-up|{week}") for r in pending]


SENSORS = [gtex_release_sensor, release_predictions_sensor, release_report_sensor]
SCHEDULES = [weekly_release_catch_up]
