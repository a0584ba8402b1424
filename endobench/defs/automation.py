"""Automation: a new GTEx release becomes a partition, and every asset keeps itself up to date by declaration.

How a release flows:
1. `gtex_release_sensor` polls the GTEx release listing and adds each release it has not seen as a
   `gtex_release` partition. It launches nothing: a sensor is for the outside world.
2. Every asset carries `UP_TO_DATE`. The automation sensor (`endobench_automation`) evaluates it every
   `AUTOMATION_INTERVAL_S` seconds: the new partition's `raw_gtex_eqtls` is missing, so it is requested together
   with everything downstream of it whose inputs will then be there (windows, the 23 chromosome partitions of
   the predictions, the report), as one backfill that runs one run per partition in dependency order.
3. A blocking check that fails stops its asset's dependants, in the same run and in later ones.

The same condition keeps known releases current: when an input is materialised again (a retrained local model,
new peaks) or an asset's `code_version` is bumped, the assets downstream are requested again, and the report
waits until every chromosome of its release has predictions.
"""

import json
import os

import dagster as dg

from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, gtex_release_partitions
from endobench.lib.truth_sets.releases import DEFAULT_LISTING_URL, LISTING_URL_ENV, ListingError, fetch_release_listing

RELEASE_POLL_INTERVAL_S = 6 * 60 * 60
AUTOMATION_INTERVAL_S = 30

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
    # Passed on the dependency's latest materialization, not merely about to run: a dependency and its
    # dependants may run in separate runs of one backfill, and a backfill does not stop at a failed check.
    & BLOCKING_CHECKS_PASSED
).with_label("missing, upstream updated or code changed; upstream present and its blocking checks passed")

endobench_automation = dg.AutomationConditionSensorDefinition(
    "endobench_automation",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=AUTOMATION_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Materialises what each asset's automation condition asks for: new release partitions, and whatever an "
        "upstream materialisation or a code version change made out of date."
    ),
)


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


@dg.sensor(
    name="gtex_release_sensor",
    minimum_interval_seconds=RELEASE_POLL_INTERVAL_S,
    description=(
        f"Polls the GTEx release listing (${LISTING_URL_ENV}, default the GTEx portal dataset metadata) and adds "
        "each new release (v8 and later) as a gtex_release partition; the automation sensor materialises it."
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
    context.log.info(f"new GTEx release(s): {', '.join(new)}; the automation sensor materialises them")
    return dg.SensorResult(
        dynamic_partitions_requests=[gtex_release_partitions.build_add_request(new)],
        cursor=cursor,
    )
