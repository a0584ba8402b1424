"""Materialise the asset graph on the bundled sample into a persistent Dagster home under `data/`.

The demo decides what to run exactly as the deployment's automation sensor does: it evaluates the assets'
automation conditions (`dg.evaluate_automation_conditions`) and executes what they request, in dependency
order, one run per partition, until nothing is requested. A missing partition is requested, so an interrupted
demo resumes where it stopped and a second demo runs nothing. The evaluation state is kept in the Dagster home
between demos, so a bumped `code_version` or an input materialised again from the UI is caught up too.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from endobench.cli import CommandStopped
from endobench.defs.partitions import (
    GTEX_RELEASE_PARTITIONS_NAME,
    SAMPLE_RELEASE,
    chromosome_partitions,
    gtex_release_partitions,
    prediction_partition_key,
)
from endobench.defs.resources import SettingsError, built_predictor, resources_from_environment
from endobench.demo_progress import DemoProgress
from endobench.lib.io.atomic import write_text

DAGSTER_YAML = """\
# Written by `endobench demo`. SQLite storage under this folder (the embedded default).
telemetry:
  enabled: false
run_monitoring:
  # A run whose process died (killed demo, closed laptop) is marked failed, so it can be re-executed from failure.
  enabled: true
concurrency:
  pools:
    # variant_effect_predictions runs in the `alphagenome_api` pool: one partition at a time calls the API.
    default_limit: 1
"""
CURSOR_FILE = "demo_automation_cursor"
MAX_EVALUATIONS = 20
DEMO_PROCESS_TAG = "endobench/demo_pid"
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]

AssetPartition = tuple[dg.AssetKey, str | None]


@dataclass(frozen=True)
class RunSummary:
    """One run the demo executed: its assets, its partition, how long it took, its id, and the variants its one asset
    holds (its `n_variants` metadata; None for a run of several assets or an asset without one)."""

    asset_keys: tuple[dg.AssetKey, ...]
    partition_key: str | None
    seconds: float
    run_id: str
    n_variants: int | None = None


def prepare_dagster_home(data_dir: Path) -> Path:
    home = (data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def demo_resources(data_dir: Path | None = None, predictor: str | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources the code location would build from the environment (`ENDOBENCH_PROFILE`, `ENDOBENCH_DATA_DIR`,
    `ENDOBENCH_GTEX_TISSUES`, `ENDOBENCH_ANNOTATIONS`, `ENDOBENCH_PREDICTOR`, the AlphaGenome settings), with the
    command line's `--data-dir` and `--predictor` on top when given; a setting that does not parse stops here."""
    try:
        return resources_from_environment(predictor=predictor, data_dir=str(data_dir) if data_dir else None)
    except ValueError as exc:
        raise CommandStopped(str(exc)) from None


def check_settings(resources: dict[str, dg.ConfigurableResource]) -> None:
    """What can be known to fail before any work: the predictor's key and settings, tissues and annotations."""
    try:
        built_predictor(resources)
    except SettingsError as exc:
        raise CommandStopped(str(exc)) from None
    try:
        resources["sources"].truth_sets()
        resources["sources"].gtex_sources()
    except dg.Failure as exc:
        raise CommandStopped(exc.description) from None


def check_network(resources: dict[str, dg.ConfigurableResource], release: str) -> None:
    """The `full` profile downloads what it has not yet: each of those publishers must answer before any work, or
    the demo stops in one line naming the first URL it could not reach (never running the sample instead)."""
    from endobench.lib.io.downloads import unreachable
    from endobench.resources.sources import FullDataSources

    sources = resources["sources"]
    if not isinstance(sources, FullDataSources):
        return
    for url in sources.pending_downloads(release):
        why = unreachable(url)
        if why is not None:
            raise CommandStopped(f"could not reach {url} ({' '.join(why.split())[:300]}): the full profile "
                                 "(ENDOBENCH_PROFILE=full) downloads its inputs there; connect to the network, "
                                 "or unset ENDOBENCH_PROFILE to run the bundled sample")


def run_demo(
    data_dir: Path | None = None, release: str = SAMPLE_RELEASE, predictor: str | None = None, force: bool = False,
    resources: dict[str, dg.ConfigurableResource] | None = None, progress: DemoProgress | None = None,
) -> dict:
    """Bring every asset of `release` up to date; return the report path, its metrics and the runs executed.

    The resources are `demo_resources(data_dir, predictor)` unless given. `force` first materialises every
    automated asset of the release again, whatever its state. `progress` is told of every run (the console's
    lines); Dagster's own console log shows only warnings and errors, every event still goes to the instance.
    """
    from endobench.definitions import build_definitions

    resources = resources or demo_resources(data_dir, predictor)
    check_settings(resources)
    check_network(resources, release)
    home = prepare_dagster_home(Path(resources["storage"].root).parent)
    instance = dg.DagsterInstance.get()
    defs = build_definitions(resources)
    if not instance.has_dynamic_partition(GTEX_RELEASE_PARTITIONS_NAME, release):
        instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [release])
    fail_runs_of_dead_demos(instance)
    started = time.monotonic()
    runs: list[RunSummary] = []
    if force:
        runs += execute_in_dependency_order(defs, instance, every_automated_partition(defs, release), progress)
    cursor_path = home / CURSOR_FILE
    cursor, more_runs, evaluations = materialise_until_up_to_date(defs, instance, read_cursor(cursor_path), progress)
    write_text(dg.serialize_value(cursor), cursor_path)
    runs += more_runs
    report_dir = Path(defs.resources["storage"].root) / "benchmark_report" / release
    metrics = json.loads((report_dir / "metrics.json").read_text())
    return {"report": str(report_dir / "report.html"), "seconds": time.monotonic() - started, "metrics": metrics,
            "runs": runs, "evaluations": evaluations}


def fail_runs_of_dead_demos(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs an earlier demo left unfinished when it was killed, and free their pool slots.

    This is what the daemon's run monitoring does in a deployment. Left alone, such a run stays `STARTED` (and
    automation never requests a partition that is in progress), and a prediction run keeps the one slot of the
    `alphagenome_api` pool, so the next prediction would wait for it forever. Runs of a demo process that is
    still alive, and runs launched from the UI, are left alone.
    """
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        pid = run.tags.get(DEMO_PROCESS_TAG)
        if pid is None or _alive(int(pid)):
            continue
        instance.report_run_failed(run, f"the demo process {pid} running it is gone (killed or interrupted)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def read_cursor(path: Path):
    """The automation state the last finished demo left, or None (first demo, or a cursor Dagster cannot read)."""
    if not path.exists():
        return None
    try:
        return dg.deserialize_value(path.read_text())
    except Exception as exc:  # written by another Dagster version: starting afresh still builds what is missing
        logging.getLogger(__name__).warning(
            f"{path}: not an automation cursor this Dagster can read ({exc}); starting afresh, so what is missing "
            "is built but a code change since the last demo is not noticed this time (use --force after one)"
        )
        return None


def materialise_until_up_to_date(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor=None, progress: DemoProgress | None = None,
):
    """Evaluate the automation conditions, execute what they request, repeat until nothing is requested.

    Returns the final cursor, the runs executed and the number of evaluations.
    """
    runs: list[RunSummary] = []
    for evaluation in range(1, MAX_EVALUATIONS + 1):
        with warnings.catch_warnings():
            # Raised inside Dagster's own evaluation (its default selection includes source assets), not by us.
            warnings.filterwarnings("ignore", message="Parameter `include_sources`", category=dg.BetaWarning)
            result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = result.cursor
        requested = [
            (key, partition)
            for key in defs.resolve_asset_graph().get_all_asset_keys()
            for partition in result.get_requested_partitions(key)
        ]
        if not requested:
            return cursor, runs, evaluation
        runs += execute_in_dependency_order(defs, instance, requested, progress)
    raise RuntimeError(f"still requesting work after {MAX_EVALUATIONS} evaluations: {sorted(map(str, requested))}")


def every_automated_partition(defs: dg.Definitions, release: str) -> list[AssetPartition]:
    """Every asset with an automation condition, in its partitions of `release` (all chromosomes for predictions)."""
    graph = defs.resolve_asset_graph()
    wanted = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.automation_condition is None:
            continue
        partitions_def = node.partitions_def
        if partitions_def is None:
            wanted.append((key, None))
        elif partitions_def == gtex_release_partitions:
            wanted.append((key, release))
        else:
            wanted += [(key, str(prediction_partition_key(release, chrom)))
                       for chrom in chromosome_partitions.get_partition_keys()]
    return wanted


def execute_in_dependency_order(
    defs: dg.Definitions, instance: dg.DagsterInstance, requested: Iterable[AssetPartition],
    progress: DemoProgress | None = None,
) -> list[RunSummary]:
    """One run per partition key, each after every run its assets depend on; the first failure stops the demo.

    A run holds the requested assets of one partition whose requested upstream assets are done or in the same
    run, as a backfill groups them.
    """
    graph = defs.resolve_asset_graph()
    pending = set(requested)
    progress = progress or DemoProgress(io.StringIO(), live=False)
    progress.planned(pending)
    try:
        return _execute_pending(defs, instance, graph, pending, progress)
    finally:
        progress.close()


def _execute_pending(defs: dg.Definitions, instance: dg.DagsterInstance, graph, pending: set[AssetPartition],
                     progress: DemoProgress) -> list[RunSummary]:
    runs = []
    while pending:
        pending_assets = {key for key, _ in pending}

        def waits(key: dg.AssetKey, run_keys: set[dg.AssetKey]) -> bool:
            return any(parent in pending_assets and parent not in run_keys for parent in graph.get(key).parent_keys)

        ready = [p for key, p in pending if not waits(key, set())]
        partition = min(ready, key=lambda p: (p is not None, str(p)))
        run_keys: set[dg.AssetKey] = set()
        while True:
            joining = {key for key, p in pending if p == partition and key not in run_keys and not waits(key, run_keys)}
            if not joining:
                break
            run_keys |= joining
        progress.started(run_keys, partition)
        runs.append(_execute(defs, instance, run_keys, partition))
        progress.finished(run_keys, partition, runs[-1].n_variants)
        pending -= {(key, partition) for key in run_keys}
    return runs


def _execute(defs: dg.Definitions, instance: dg.DagsterInstance, keys: set[dg.AssetKey], partition) -> RunSummary:
    ordered = sorted(keys, key=lambda key: key.to_user_string())
    job = defs.resolve_implicit_job_def_def_for_assets(ordered)
    started = time.monotonic()
    # The console shows warnings and errors only (the demo prints its own progress); the instance still records
    # every event, so each run's log is in the UI.
    result = job.execute_in_process(
        instance=instance, partition_key=partition, asset_selection=ordered, raise_on_error=False,
        tags={DEMO_PROCESS_TAG: str(os.getpid())},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    names = ", ".join(key.to_user_string() for key in ordered)
    if not result.success:
        raise CommandStopped(f"{names} ({partition or 'unpartitioned'}) failed: {_failure_text(result)}")
    counts = [event.materialization.metadata.get("n_variants") for event in result.get_asset_materialization_events()]
    n_variants = int(counts[0].value) if len(ordered) == 1 and counts and counts[0] is not None else None
    return RunSummary(tuple(ordered), partition, time.monotonic() - started, result.run_id, n_variants)


def _failure_text(result) -> str:
    """What failed, in the words of the failure itself (a download's URL and reason, an input error's file and
    line), not Dagster's "Execution of step ... failed"."""
    for event in result.all_events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            return " ".join(data.user_failure_data.description.split())
        if data.error is not None:
            return " ".join(data.error.message.split())
        return event.message or ""
    return "see the run in the UI (make ui)"
