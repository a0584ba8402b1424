"""Backfills of `variant_effect_predictions`: one run per (release, chromosome) partition, launched by Dagster's
own backfill daemon iteration on a temporary instance, with the real assets on the bundled sample.

The instance is configured as `make demo` writes it (`concurrency: pools: default_limit: 1`), queues runs
(QueuedRunCoordinator, the test instance's default) and runs each launched run in process
(`SyncInMemoryRunLauncher`): one iteration of the backfill daemon submits the partitions' runs, one iteration
of the run-queue daemon dequeues and executes them. The story: the model file goes missing after the inputs
were built, the backfill of two chromosomes fails partition by partition, the model file comes back, and one
failed partition is rerun alone.

Needs the finished local model (`endobench.lib.model`) and the asset graph importable; training the
model on the sample is the slow part of this file.
"""

import logging
import shutil
import time

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, prediction_partition_key
from endobench.defs.resources import build_resources
from endobench_tests.paths import SAMPLE_DIR

RELEASE = "v8"
CHROMOSOMES = ["chr21", "chr22"]
PREDICTIONS = dg.AssetKey("variant_effect_predictions")
SCORING_POOL = "alphagenome_api"
INSTANCE_CONFIG = {
    "concurrency": {"pools": {"default_limit": 1}},
    "run_launcher": {"module": "dagster._core.launcher.sync_in_memory_run_launcher", "class": "SyncInMemoryRunLauncher"},
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("backfill")
    (root / "sample").symlink_to(SAMPLE_DIR)
    return root


@pytest.fixture(scope="module")
def instance(data_dir):
    with dg.instance_for_test(overrides=INSTANCE_CONFIG) as instance:
        yield instance


@pytest.fixture(scope="module")
def workspace(instance, data_dir):
    """The code location as the daemon loads it, with resources pointed at the temporary data directory."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ENDOBENCH_DATA_DIR", str(data_dir))
    mp.setenv("ENDOBENCH_PREDICTOR", "local")
    mp.setenv("ENDOBENCH_PROFILE", "sample")
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="endobench.definitions", attribute="defs"), location_name="endobench"
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as context:
        yield context
    mp.undo()


@pytest.fixture(scope="module")
def inputs_built(instance, workspace, data_dir):
    """The shared and release inputs of v8, materialised once; the model file is then moved away."""
    from endobench.definitions import build_definitions

    defs = build_definitions(build_resources(data_dir=str(data_dir)))
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [RELEASE])
    for job_name, partition in [("shared_inputs_job", None), ("release_inputs_job", RELEASE)]:
        result = defs.resolve_job_def(job_name).execute_in_process(instance=instance, partition_key=partition)
        assert result.success, job_name
    model = build_resources(data_dir=str(data_dir))["storage"].local_model_path()
    shutil.move(model, model.with_suffix(".moved"))
    return model


def run_backfill(instance, workspace, chromosomes, max_iterations=20) -> PartitionBackfill:
    """Submit an asset backfill of predictions for `chromosomes` and iterate the daemon until it is done."""
    backfill_id = make_new_backfill_id()
    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=workspace.create_request_context().asset_graph,
            partition_names=[str(prediction_partition_key(RELEASE, c)) for c in chromosomes],
            asset_selection=[PREDICTIONS],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=f"predictions {RELEASE} {', '.join(chromosomes)}",
            description=None,
            run_config=None,
        )
    )
    logger = logging.getLogger("endobench.test_backfill")
    queue_daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    for _ in range(max_iterations):
        errors = [e for e in execute_backfill_iteration(workspace, logger) if e is not None]
        assert not errors, errors[0].to_string()
        list(queue_daemon.run_iteration(workspace))
        backfill = instance.get_backfill(backfill_id)
        if backfill.status != BulkActionStatus.REQUESTED:
            return backfill
    runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    raise AssertionError(
        f"backfill {backfill_id} still {backfill.status} after {max_iterations} iterations; "
        f"runs: {[(r.tags.get(PARTITION_NAME_TAG), r.status) for r in runs]}"
    )


def runs_of(instance, backfill):
    return instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill.backfill_id}))


@pytest.fixture(scope="module")
def failed_backfill(instance, workspace, inputs_built):
    return run_backfill(instance, workspace, CHROMOSOMES)


def test_a_backfill_runs_one_run_per_chromosome_partition(instance, failed_backfill):
    """Two chromosomes, two runs, each carrying exactly its own partition key and the backfill's id."""
    runs = runs_of(instance, failed_backfill)
    assert sorted(r.tags[PARTITION_NAME_TAG] for r in runs) == sorted(
        str(prediction_partition_key(RELEASE, c)) for c in CHROMOSOMES
    )


def test_partitions_fail_in_their_own_runs_with_the_reason(instance, failed_backfill):
    """With the model file gone, each partition's run fails on its own and the backfill completes as failed."""
    runs = runs_of(instance, failed_backfill)
    assert {r.status for r in runs} == {dg.DagsterRunStatus.FAILURE}
    assert failed_backfill.status in (BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED)
    failure = next(
        e for e in instance.all_logs(runs[0].run_id) if e.dagster_event and e.dagster_event.is_step_failure
    )
    assert "materialize the local_model asset" in failure.dagster_event.step_failure_data.error.message
    assert instance.get_materialized_partitions(PREDICTIONS) == set()


def test_a_failed_partition_reruns_alone(instance, workspace, inputs_built, failed_backfill):
    """After the model is back, a backfill of chr22 alone is one run; chr21 stays unmaterialised."""
    shutil.move(inputs_built.with_suffix(".moved"), inputs_built)
    rerun = run_backfill(instance, workspace, ["chr22"])
    runs = runs_of(instance, rerun)
    assert [r.tags[PARTITION_NAME_TAG] for r in runs] == [str(prediction_partition_key(RELEASE, "chr22"))]
    assert runs[0].status == dg.DagsterRunStatus.SUCCESS
    assert rerun.status == BulkActionStatus.COMPLETED_SUCCESS
    assert instance.get_materialized_partitions(PREDICTIONS) == {str(prediction_partition_key(RELEASE, "chr22"))}


def test_prediction_steps_run_in_the_api_pool_with_one_slot(instance, workspace, inputs_built, failed_backfill):
    """The pool `alphagenome_api` exists with the instance's default limit of 1 once prediction steps ran."""
    info = instance.event_log_storage.get_concurrency_info(SCORING_POOL)
    assert info.slot_count == 1
    assert info.active_slot_count == 0
