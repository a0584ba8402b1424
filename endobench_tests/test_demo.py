"""The whole asset graph on the bundled sample, as `make demo` runs it, into a temporary data folder."""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from endobench.definitions import build_definitions
from endobench.defs.partitions import chromosome_partitions
from endobench.defs.resources import build_resources
from endobench.demo import run_demo
from endobench_tests.conftest import SAMPLE_DIR


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo_data")
    (data_dir / "sample").symlink_to(SAMPLE_DIR)
    previous = os.environ.get("DAGSTER_HOME")
    try:
        summary = run_demo(data_dir)
        instance = dg.DagsterInstance.get()
        yield data_dir, summary, instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def test_report_files_are_written(demo):
    data_dir, summary, _ = demo
    report_dir = data_dir / "outputs" / "benchmark_report" / "v8"
    assert Path(summary["report"]) == report_dir / "report.html"
    for name in ("report.html", "report.md", "metrics.json"):
        assert (report_dir / name).stat().st_size > 0


def test_every_prediction_partition_is_materialised(demo):
    _, _, instance = demo
    materialised = instance.get_materialized_partitions(dg.AssetKey("variant_effect_predictions"))
    expected = {dg.MultiPartitionKey({"release": "v8", "chrom": c}) for c in chromosome_partitions.get_partition_keys()}
    assert set(materialised) == expected


def test_blocking_checks_all_passed(demo):
    data_dir, _, instance = demo
    check_keys = build_definitions(build_resources(data_dir=str(data_dir))).resolve_asset_graph().asset_check_keys
    assert len(check_keys) == 5
    for key in check_keys:
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
        assert history, f"{key.name} never ran"
        assert history[0].evaluation.passed, f"{key.name} failed"


def test_funnel_counts_both_truth_sets(demo):
    data_dir, _, _ = demo
    metrics = json.loads((data_dir / "outputs" / "benchmark_report" / "v8" / "metrics.json").read_text())
    funnels = {name: t["funnel"] for name, t in metrics["truth_sets"].items()}
    assert funnels["gtex_wb"]["rows_read"] == 20_315
    assert funnels["dsqtl_degner2012"]["rows_read"] == 5_671
    assert funnels["dsqtl_degner2012"]["scored_variants"] == 5_656


def test_local_model_beats_chance_on_held_out_dsqtls(demo):
    """Train on odd chromosomes, test on even: the held-out sign auROC is the number that counts (>= 0.60)."""
    data_dir, _, _ = demo
    metrics = json.loads((data_dir / "outputs" / "benchmark_report" / "v8" / "metrics.json").read_text())
    held_out = [v for k, v in metrics["headline"].items() if k.startswith("dsqtl_degner2012")]
    assert len(held_out) == 1
    assert held_out[0]["n"] == 2_667
    assert held_out[0]["sign_auroc"] >= 0.60


def test_a_second_demo_skips_every_stage_already_up_to_date(demo):
    """An interrupted or repeated `make demo` resumes: finished runs are not redone."""
    data_dir, _, _ = demo
    again = run_demo(data_dir)
    assert again["runs_skipped"] == 1 + 1 + len(chromosome_partitions.get_partition_keys()) + 1
