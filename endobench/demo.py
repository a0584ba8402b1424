"""Materialise the whole asset graph on the bundled sample into a persistent Dagster home under `data/`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg

from endobench.defs.partitions import (
    GTEX_RELEASE_PARTITIONS_NAME,
    SAMPLE_RELEASE,
    chromosome_partitions,
    prediction_partition_key,
)
from endobench.defs.resources import build_resources

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


def prepare_dagster_home(data_dir: Path) -> Path:
    home = (data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def stages(release: str) -> list[list[tuple[str, str | dg.MultiPartitionKey | None]]]:
    """The jobs that materialise a release, in order: (job name, partition key) runs, each stage after the last."""
    return [
        [("shared_inputs_job", None)],
        [("release_inputs_job", release)],
        [("predictions_job", prediction_partition_key(release, chrom)) for chrom in chromosome_partitions.get_partition_keys()],
        [("report_job", release)],
    ]


def run_demo(
    data_dir: Path = Path("data"), release: str = SAMPLE_RELEASE, predictor: str = "local", force: bool = False
) -> dict:
    """Run every stage for one release; return the report path and its metrics.

    A stage whose assets were all materialised after the stages before it is skipped, so an interrupted demo
    resumes where it stopped (`force` reruns everything). Code changes are not detected: use `force` after them.
    """
    from endobench.definitions import build_definitions

    prepare_dagster_home(data_dir)
    instance = dg.DagsterInstance.get()
    defs = build_definitions(build_resources(predictor=predictor, data_dir=str(data_dir)))
    if not instance.has_dynamic_partition(GTEX_RELEASE_PARTITIONS_NAME, release):
        instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [release])
    started = time.monotonic()
    upstream_done = 0.0
    skipped = 0
    for stage in stages(release):
        finished = []
        for job_name, partition_key in stage:
            done_at = None if force else _materialised_after(defs, instance, job_name, partition_key, upstream_done)
            if done_at is None:
                _run(defs, instance, job_name, partition_key)
                done_at = time.time()
            else:
                skipped += 1
            finished.append(done_at)
        upstream_done = max(finished)
    report_dir = Path(defs.resources["storage"].root) / "benchmark_report" / release
    metrics = json.loads((report_dir / "metrics.json").read_text())
    return {"report": str(report_dir / "report.html"), "seconds": time.monotonic() - started, "metrics": metrics,
            "runs_skipped": skipped}


def _materialised_after(
    defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, partition_key, after: float
) -> float | None:
    """When the job's assets were last all materialised for the partition, if every one after `after`."""
    job = defs.resolve_job_def(job_name)
    latest = []
    for key in job.asset_layer.executable_asset_keys:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[str(partition_key)] if partition_key else None),
            limit=1,
        ).records
        if not records or records[0].timestamp < after:
            return None
        latest.append(records[0].timestamp)
    return max(latest) if latest else None


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, partition_key) -> None:
    job = defs.resolve_job_def(job_name)
    # The console shows progress (INFO); the instance still records every event for the UI.
    result = job.execute_in_process(
        instance=instance, partition_key=partition_key, raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    if not result.success:
        failure = next((e for e in result.all_events if e.is_failure), None)
        message = failure.message if failure is not None else "see the run in the UI (make ui)"
        raise SystemExit(f"{job_name} ({partition_key or 'unpartitioned'}) failed: {message}")
