"""Materialise the whole asset graph on the bundled sample into a persistent Dagster home under `data/`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg

from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, SAMPLE_RELEASE, chromosome_partitions
from endobench.defs.resources import build_resources

DAGSTER_YAML = """\
# Written by `endobench demo`. SQLite storage under this folder (the embedded default).
telemetry:
  enabled: false
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


def run_demo(data_dir: Path = Path("data"), release: str = SAMPLE_RELEASE, predictor: str = "local") -> dict:
    """Run every stage for one release; return the headline numbers of the report."""
    from endobench.definitions import build_definitions

    prepare_dagster_home(data_dir)
    instance = dg.DagsterInstance.get()
    defs = build_definitions(build_resources(predictor=predictor, data_dir=str(data_dir)))
    if not instance.has_dynamic_partition(GTEX_RELEASE_PARTITIONS_NAME, release):
        instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [release])
    started = time.monotonic()
    _run(defs, instance, "shared_inputs_job", None)
    _run(defs, instance, "release_inputs_job", release)
    for chrom in chromosome_partitions.get_partition_keys():
        _run(defs, instance, "predictions_job", dg.MultiPartitionKey({"release": release, "chrom": chrom}))
    _run(defs, instance, "report_job", release)
    report_dir = Path(defs.resources["storage"].root) / "benchmark_report" / release
    metrics = json.loads((report_dir / "metrics.json").read_text())
    return {"report": str(report_dir / "report.html"), "seconds": time.monotonic() - started, "metrics": metrics}


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, partition_key) -> None:
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, partition_key=partition_key, raise_on_error=False)
    if not result.success:
        failure = next((e for e in result.all_events if e.is_failure), None)
        message = failure.message if failure is not None else "see the run in the UI (make ui)"
        raise SystemExit(f"{job_name} ({partition_key or 'unpartitioned'}) failed: {message}")
