"""Automation: a new GTEx release becomes a partition, and every asset keeps itself up to date by declaration.

How a release flows:
1. `gtex_release_sensor` polls the GTEx release listing and adds each release it has not seen as a
   `gtex_release` partition. It launches nothing: a sensor is for the outside world.
2. Every automated asset carries `UP_TO_DATE`, which the automation sensor (`endobench_automation`) evaluates on
   each tick. The new partition's `raw_gtex_eqtls` is missing, so it is requested. Its dependants follow on
   later ticks, each once the blocking checks of what it reads have passed: `dhs_filtered_variants`, then
   `sequence_windows`, then the 23 chromosome partitions of `variant_effect_predictions` together with the
   release's `benchmark_report`, as one backfill (one run per partition, the report last).
3. A blocking check that fails stops its asset's dependants: they are not requested until the asset is
   materialised again and the check passes.

The same condition keeps what exists current: when an input is materialised again (a retrained local model,
new peaks) or an asset's `code_version` is bumped, what reads it is requested again; a partition that failed
waits for one of those instead of being retried on every tick. The release-independent inputs are built on
the automation sensor's first tick, when they are missing.
"""

import json
import os

import dagster as dg

from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, gtex_release_partitions
from endobench.defs.resources import settings_from_environment, whole_number
from endobench.lib.truth_sets.releases import DEFAULT_LISTING_URL, LISTING_URL_ENV, ListingError, fetch_release_listing

RELEASE_POLL_INTERVAL_S = 6 * 60 * 60
RELEASE_POLL_INTERVAL_ENV = "ENDOBENCH_GTEX_POLL_INTERVAL_S"
AUTOMATION_INTERVAL_S = 30
AUTOMATION_INTERVAL_ENV = "ENDOBENCH_AUTOMATION_INTERVAL_S"

_condition = dg.AutomationCondition
BLOCKING_CHECKS_PASSED = _condition.all_deps_match(
    _condition.all_checks_match(_condition.check_passed(), blocking_only=True).with_label("blocking checks passed")
).with_label("every dependency's blocking checks passed")
UP_TO_DATE = (
    _condition.eager()
    # No asset here is time-partitioned: eager's latest-time-window clause would only clutter the UI.
    .without(_condition.in_latest_time_window())
    # A bumped code_version makes an asset out of date, as an upstream update does.
    .replace("newly_missing", _condition.newly_missing() | _condition.code_version_changed())
    # Eager leaves alone what was already missing when it was first evaluated; here anything missing is built
    # (the shared inputs of a new deployment, the demo on an empty instance), once: a failed partition waits
    # for an upstream update or a code change instead of being retried every tick.
    .replace("handled", (_condition.newly_requested() | _condition.newly_updated()).with_label("requested or updated"))
    # Passed on the dependency's latest materialization, not merely "requested on this tick" as Dagster's own
    # all_deps_blocking_checks_passed() allows: a backfill runs its partitions in separate runs and does not
    # stop at a failed check, so the check must have passed before what reads the asset is requested.
    & BLOCKING_CHECKS_PASSED
).with_label("missing, upstream updated or code changed; upstream present and its blocking checks passed")

# The report reads the windows' funnel counts, but it follows the predictions, which follow the windows: reacting
# to the windows as well would build it once more, in the windows' run, from predictions about to be redone.
REPORT_UP_TO_DATE = UP_TO_DATE.ignore(dg.AssetSelection.assets("sequence_windows"))


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


def read_release_listing(context: dg.SensorEvaluationContext):
    """One tick of the release sensor: new releases in the listing become `gtex_release` partitions."""
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
    context.log.info(f"new GTEx release(s): {', '.join(new)}; the automation sensor materialises them")
    return dg.SensorResult(
        dynamic_partitions_requests=[gtex_release_partitions.build_add_request(new)],
        cursor=cursor,
    )


def build_sensors(
    release_poll_interval_s: int = RELEASE_POLL_INTERVAL_S, automation_interval_s: int = AUTOMATION_INTERVAL_S
) -> list[dg.SensorDefinition]:
    """The release sensor (stopped until turned on: it reaches the GTEx portal) and the automation sensor."""
    release_sensor = dg.SensorDefinition(
        name="gtex_release_sensor",
        evaluation_fn=read_release_listing,
        minimum_interval_seconds=release_poll_interval_s,
        description=(
            f"Polls the GTEx release listing (${LISTING_URL_ENV}, default the GTEx portal dataset metadata) and adds "
            "each new release (v8 and later) as a gtex_release partition; the automation sensor materialises it."
        ),
    )
    automation_sensor = dg.AutomationConditionSensorDefinition(
        "endobench_automation",
        target=dg.AssetSelection.all(),
        minimum_interval_seconds=automation_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Materialises what each asset's automation condition asks for: new release partitions, and whatever "
            "an upstream materialisation or a code version change made out of date."
        ),
    )
    return [release_sensor, automation_sensor]


@dg.definitions
def sensors() -> dg.Definitions:
    """Both sensors, with their intervals from the environment when the definitions load (defaults: 6 h, 30 s)."""
    seconds = whole_number("a whole number of seconds > 0")
    intervals = settings_from_environment({RELEASE_POLL_INTERVAL_ENV: ("release", seconds),
                                           AUTOMATION_INTERVAL_ENV: ("automation", seconds)})
    for name, field in ((RELEASE_POLL_INTERVAL_ENV, "release"), (AUTOMATION_INTERVAL_ENV, "automation")):
        if intervals.get(field, 1) <= 0:
            raise ValueError(f"{name}={intervals[field]}: it takes a whole number of seconds > 0")
    return dg.Definitions(sensors=build_sensors(intervals.get("release", RELEASE_POLL_INTERVAL_S),
                                                intervals.get("automation", AUTOMATION_INTERVAL_S)))
