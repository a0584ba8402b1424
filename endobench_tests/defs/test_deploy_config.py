"""`deploy/dagster.yaml`, the scale-out example, checked with Dagster's own instance-config validation.

Dagster validates a dagster.yaml in two layers: the instance schema (`dagster_instance_config`, what
`dagster-webserver` and `dagster-daemon` run at start-up), then each pluggable class validates its own `config`
block when the instance builds it. These tests run both layers on the shipped file, resolve its environment
variables and build the run coordinator and run launcher exactly as the daemon would; only the Postgres
connection itself is not opened (no database server here).
"""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import process_config, validate_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef

from endobench_tests.paths import REPO

dagster_postgres = pytest.importorskip(
    "dagster_postgres", reason="dagster-postgres is not installed: pip install -e '.[scale]'"
)
dagster_docker = pytest.importorskip(
    "dagster_docker", reason="dagster-docker is not installed: pip install -e '.[scale]'"
)

DEPLOY_YAML = REPO / "deploy" / "dagster.yaml"
ENVIRONMENT = {
    "ENDOBENCH_PG_HOST": "db.internal",
    "ENDOBENCH_PG_DB": "endobench",
    "ENDOBENCH_PG_USER": "dagster",
    "ENDOBENCH_PG_PASSWORD": "s3cret-from-env",
    "ENDOBENCH_RUN_IMAGE": "registry.example/endobench:1.0",
    "ENDOBENCH_DOCKER_NETWORK": "endobench",
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A DAGSTER_HOME holding the shipped dagster.yaml, with its environment variables set."""
    shutil.copy(DEPLOY_YAML, tmp_path / "dagster.yaml")
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_the_instance_schema_accepts_the_file(home):
    """Dagster's instance schema validates the whole file and keeps its sections."""
    config, custom_class = dagster_instance_config(str(home))
    assert custom_class is None
    assert set(config) >= {"storage", "run_launcher", "run_coordinator", "concurrency"}


def test_postgres_storage_config_is_valid_and_reads_secrets_from_the_environment(home):
    """DagsterPostgresStorage accepts the storage block; the URL is built from env vars, the file holds none."""
    config, _ = dagster_instance_config(str(home))
    postgres = config["storage"]["postgres"]
    assert postgres["postgres_db"]["password"] == {"env": "ENDOBENCH_PG_PASSWORD"}
    schema = dagster_postgres.DagsterPostgresStorage.config_type()
    assert validate_config(schema, postgres).success
    resolved = process_config(schema, postgres)
    assert resolved.success, resolved.errors
    url = dagster_postgres.utils.pg_url_from_config(resolved.value)
    assert url == "postgresql://dagster:s3cret-from-env@db.internal:5432/endobench"
    assert "s3cret" not in DEPLOY_YAML.read_text()


def instance_with_sqlite_storage(home: Path) -> dg.DagsterInstance:
    """The shipped file as the daemon loads it, except that storage is SQLite (no Postgres server here)."""
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    config["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def test_the_run_queue_holds_8_runs_with_tag_limits(home):
    """The instance's QueuedRunCoordinator takes 8 runs at most; backfills 6; each release 4."""
    instance = instance_with_sqlite_storage(home)
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 8
    limits = {limit["key"]: limit for limit in queue.tag_concurrency_limits}
    assert limits["dagster/backfill"]["limit"] == 6
    assert limits["endobench/release"] == {
        "key": "endobench/release", "value": {"applyLimitPerUniqueValue": True}, "limit": 4
    }


def test_the_alphagenome_pool_gets_one_slot(home):
    """`alphagenome_api` is not configured by name, so the pools' default limit of 1 applies to it."""
    instance = instance_with_sqlite_storage(home)
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_the_docker_run_launcher_is_built_from_the_environment(home):
    """DockerRunLauncher gets its image and network from env vars and forwards secrets by name only."""
    launcher = InstanceRef.from_dir(str(home)).run_launcher
    assert isinstance(launcher, dagster_docker.DockerRunLauncher)
    assert launcher.image == "registry.example/endobench:1.0"
    assert launcher.networks == ["endobench"]
    assert "ALPHAGENOME_API_KEY" in launcher.env_vars
    assert all("=" not in name for name in launcher.env_vars)


def test_a_misspelt_key_is_rejected(home):
    """The validation is real: a typo in the run coordinator's config fails when the daemon builds it."""
    text = (home / "dagster.yaml").read_text().replace("dequeue_interval_seconds", "dequeue_interval_secs", 1)
    (home / "dagster.yaml").write_text(text)
    ref = InstanceRef.from_dir(str(home))
    with pytest.raises(DagsterInvalidConfigError, match="dequeue_interval_secs"):
        _ = ref.run_coordinator


def test_a_misspelt_top_level_section_is_rejected(home):
    """The instance schema rejects an unknown section (here `run_launchers`) at start-up."""
    text = (home / "dagster.yaml").read_text().replace("run_launcher:", "run_launchers:", 1)
    (home / "dagster.yaml").write_text(text)
    with pytest.raises(DagsterInvalidConfigError, match="run_launchers"):
        dagster_instance_config(str(home))
