"""Backfills of `variant_effect_predictions` with Dagster's own CLI: one run per (release, chromosome) partition.

README.md's `dagster job backfill` line (read from it) submits one `predictions_job` run per partition to a temporary instance configured as
`make demo` writes it (`concurrency: pools: default_limit: 1`), except that runs launch at once
(`DefaultRunCoordinator`) instead of waiting for a daemon to dequeue them; each run executes in its own process,
as the deployment's runs do, with the real assets on the bundled sample. The story: the model file goes missing after
the inputs were built, the backfill of two chromosomes fails partition by partition, the model file comes back,
and one failed partition is backfilled again alone. (`make deploy-test` runs backfills through the daemon and
the webserver's GraphQL API, over Postgres.)
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from endobench.definitions import build_definitions
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, prediction_partition_key
from endobench.defs.resources import build_resources
from endobench.demo import DAGSTER_YAML
from endobench_tests.docs_commands import documented
from endobench_tests.paths import REPO, SAMPLE_DIR

pytestmark = pytest.mark.slow  # runs a whole pipeline or many processes: `make test-slow` (CI runs both)

RELEASE = "v8"
CHROMOSOMES = ["chr21", "chr22"]
PREDICTIONS = dg.AssetKey("variant_effect_predictions")
SCORING_POOL = "alphagenome_api"
BACKFILL_TAG = "dagster/backfill"
PARTITION_TAG = "dagster/partition"
RUN_TIMEOUT_S = 240
LAUNCH_AT_ONCE = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("backfill")
    (root / "sample").symlink_to(SAMPLE_DIR)
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text(DAGSTER_YAML + LAUNCH_AT_ONCE)
    return root


@pytest.fixture(scope="module")
def environment(data_dir):
    """What the CLI and the run processes read: the instance, and the resources' data directory."""
    return {**os.environ, "DAGSTER_HOME": str(data_dir / "dagster_home"), "ENDOBENCH_DATA_DIR": str(data_dir),
            "ENDOBENCH_PREDICTOR": "local", "ENDOBENCH_PROFILE": "sample"}


@pytest.fixture(scope="module")
def instance(data_dir):
    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        yield instance


@pytest.fixture(scope="module")
def inputs_built(instance, data_dir):
    """The shared and release inputs of v8, materialised once; the model file is then moved away."""
    defs = build_definitions(build_resources(data_dir=str(data_dir)))
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [RELEASE])
    for job_name, partition in [("shared_inputs_job", None), ("release_inputs_job", RELEASE)]:
        result = defs.resolve_job_def(job_name).execute_in_process(instance=instance, partition_key=partition)
        assert result.success, job_name
    model = build_resources(data_dir=str(data_dir))["storage"].local_model_path()
    shutil.move(model, model.with_suffix(".moved"))
    return model


def documented_backfill(partitions: str) -> list[str]:
    """README.md's backfill command line as written, with these partitions (its DAGSTER_HOME is the environment's)."""
    command = documented("DAGSTER_HOME=$PWD/data/dagster_home .venv/bin/dagster job backfill")
    assert command.environment == {"DAGSTER_HOME": "$PWD/data/dagster_home"}
    program, *arguments = command.argv
    assert program == ".venv/bin/dagster" and Path(sys.executable).with_name("dagster").exists()
    arguments[arguments.index("--partitions") + 1] = partitions
    return [sys.executable, "-m", "dagster", *arguments]


def backfill(instance, environment, chromosomes) -> list[dg.DagsterRun]:
    """`dagster job backfill` of predictions_job over `chromosomes`; waits for its runs and returns them."""
    known = {run.run_id for run in instance.get_runs()}
    partitions = ",".join(str(prediction_partition_key(RELEASE, c)) for c in chromosomes)
    cli = subprocess.run(documented_backfill(partitions), cwd=REPO, env=environment, capture_output=True, text=True,
                         timeout=RUN_TIMEOUT_S)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = [run for run in instance.get_runs() if run.run_id not in known]
        if len(runs) == len(chromosomes) and all(run.is_finished for run in runs):
            return runs
        time.sleep(1)
    raise AssertionError(f"backfill runs not finished after {RUN_TIMEOUT_S} s: {[(r.tags, r.status) for r in runs]}")


@pytest.fixture(scope="module")
def failed_runs(instance, environment, inputs_built):
    return backfill(instance, environment, CHROMOSOMES)


def test_a_backfill_runs_one_run_per_chromosome_partition(failed_runs):
    """Two chromosomes, two runs of one backfill, each carrying exactly its own partition key."""
    assert sorted(r.tags[PARTITION_TAG] for r in failed_runs) == sorted(
        str(prediction_partition_key(RELEASE, c)) for c in CHROMOSOMES
    )
    assert len({r.tags[BACKFILL_TAG] for r in failed_runs}) == 1


def test_partitions_fail_in_their_own_runs_with_the_reason(instance, failed_runs):
    """With the model file gone, each partition's run fails on its own, saying what to do."""
    assert {r.status for r in failed_runs} == {dg.DagsterRunStatus.FAILURE}
    failure = next(
        e for e in instance.all_logs(failed_runs[0].run_id) if e.dagster_event and e.dagster_event.is_step_failure
    )
    assert "materialize the local_model asset" in failure.dagster_event.step_failure_data.error.message
    assert instance.get_materialized_partitions(PREDICTIONS) == set()


def test_a_failed_partition_reruns_alone(instance, environment, inputs_built, failed_runs):
    """After the model is back, a backfill of chr22 alone is one run; chr21 stays unmaterialised."""
    shutil.move(inputs_built.with_suffix(".moved"), inputs_built)
    (rerun,) = backfill(instance, environment, ["chr22"])
    assert rerun.tags[PARTITION_TAG] == str(prediction_partition_key(RELEASE, "chr22"))
    assert rerun.status == dg.DagsterRunStatus.SUCCESS
    assert instance.get_materialized_partitions(PREDICTIONS) == {str(prediction_partition_key(RELEASE, "chr22"))}


def test_prediction_steps_run_in_the_api_pool_with_one_slot(instance, failed_runs):
    """The pool `alphagenome_api` exists with the instance's default limit of 1 once prediction steps ran."""
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    assert SCORING_POOL in instance.event_log_storage.get_concurrency_keys()
