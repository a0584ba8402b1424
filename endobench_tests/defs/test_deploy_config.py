"""`deploy/dagster.yaml`, the scale-out example, loaded by Dagster as `dagster-webserver` and `dagster-daemon` load it.

Dagster validates a dagster.yaml in two layers: the instance schema when the instance is created, then each
pluggable class (run coordinator, run launcher) validates its own `config` block when the instance builds it.
These tests build the instance from the shipped file with its environment variables set, storage swapped for
SQLite because no database server runs here; `make deploy-test` runs the file itself against PostgreSQL.
"""

import re

import dagster as dg
import pytest
import yaml

from endobench.defs.automation import AUTOMATION_INTERVAL_ENV, RELEASE_POLL_INTERVAL_ENV
from endobench.defs.resources import RUN_ENVIRONMENT
from endobench.lib.truth_sets.releases import LISTING_URL_ENV
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
    "ENDOBENCH_PG_PORT": "5432",
    "ENDOBENCH_PG_DB": "endobench",
    "ENDOBENCH_PG_USER": "dagster",
    "ENDOBENCH_PG_PASSWORD": "s3cret-from-env",
    "ENDOBENCH_RUN_IMAGE": "registry.example/endobench:1.0",
    "ENDOBENCH_DOCKER_NETWORK": "endobench",
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A DAGSTER_HOME holding the shipped dagster.yaml with SQLite storage, its environment variables set."""
    config = yaml.safe_load(DEPLOY_YAML.read_text())
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def load(home) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def test_the_storage_is_postgres_with_every_connection_setting_from_the_environment():
    """Runs, event logs and ticks in one Postgres database; the file names variables and holds no value.

    The driver is spelt out: SQLAlchemy 2.1 defaults to psycopg 3, which dagster-postgres does not install.
    """
    postgres = yaml.safe_load(DEPLOY_YAML.read_text())["storage"]["postgres"]["postgres_db"]
    assert postgres == {
        "hostname": {"env": "ENDOBENCH_PG_HOST"}, "port": {"env": "ENDOBENCH_PG_PORT"},
        "db_name": {"env": "ENDOBENCH_PG_DB"}, "username": {"env": "ENDOBENCH_PG_USER"},
        "password": {"env": "ENDOBENCH_PG_PASSWORD"}, "scheme": "postgresql+psycopg2",
    }


def test_the_run_queue_holds_8_runs_with_tag_limits(home):
    """The instance's QueuedRunCoordinator takes 8 runs at most; backfills 6; each release 4."""
    instance = load(home)
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 8
    limits = {limit["key"]: limit for limit in queue.tag_concurrency_limits}
    assert limits["dagster/backfill"]["limit"] == 6
    assert limits[RELEASE_TAG] == {"key": RELEASE_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 4}


RELEASE_TAG = "dagster/partition/release"


def test_the_release_limit_is_written_against_a_tag_prediction_runs_carry():
    """The per-release limit names the tag Dagster puts on every run of a release x chromosome partition (the
    deployment test checks the runs themselves); a tag no run carries would limit nothing."""
    from endobench.defs.partitions import prediction_partition_key, release_chromosome_partitions

    tags = release_chromosome_partitions.get_tags_for_partition_key(str(prediction_partition_key("v10", "chr7")))
    assert tags[RELEASE_TAG] == "v10"


def test_the_alphagenome_pool_gets_one_slot(home):
    """`alphagenome_api` is not configured by name, so the pools' default limit of 1 applies to it."""
    assert load(home).get_concurrency_config().pool_config.default_pool_limit == 1


def test_the_docker_run_launcher_is_built_from_the_environment(home):
    """DockerRunLauncher gets its image and network from env vars and forwards secrets by name only."""
    launcher = load(home).run_launcher
    assert isinstance(launcher, dagster_docker.DockerRunLauncher)
    assert launcher.image == "registry.example/endobench:1.0"
    assert launcher.networks == ["endobench"]
    assert "ALPHAGENOME_API_KEY" in launcher.env_vars
    assert all("=" not in name for name in launcher.env_vars)


def test_every_setting_a_run_reads_is_forwarded_into_run_containers(home):
    """A run container sees only the launcher's `env_vars`: the database, the key and every run setting."""
    database = {"ENDOBENCH_PG_HOST", "ENDOBENCH_PG_PORT", "ENDOBENCH_PG_DB", "ENDOBENCH_PG_USER", "ENDOBENCH_PG_PASSWORD"}
    forwarded = load(home).run_launcher.env_vars
    assert len(forwarded) == len(set(forwarded))
    assert set(forwarded) == database | {"ALPHAGENOME_API_KEY"} | set(RUN_ENVIRONMENT)


def test_run_environment_names_every_setting_the_code_reads():
    """A new `ENDOBENCH_*` variable in the package is either a run setting or one of the sensors' own."""
    read = {name for path in (REPO / "endobench").rglob("*.py")
            for name in re.findall(r"[\"'](ENDOBENCH_[A-Z0-9_]*[A-Z0-9])[\"']", path.read_text())}
    sensors_only = {LISTING_URL_ENV, RELEASE_POLL_INTERVAL_ENV, AUTOMATION_INTERVAL_ENV}
    assert read - sensors_only == set(RUN_ENVIRONMENT)


def test_a_misspelt_key_is_rejected(home):
    """The validation is real: a typo in the run coordinator's config fails when the daemon builds it."""
    text = (home / "dagster.yaml").read_text().replace("dequeue_interval_seconds", "dequeue_interval_secs", 1)
    (home / "dagster.yaml").write_text(text)
    with pytest.raises(dg.DagsterInvalidConfigError, match="dequeue_interval_secs"):
        _ = load(home).run_coordinator


def test_a_misspelt_top_level_section_is_rejected(home):
    """The instance schema rejects an unknown section (here `run_launcher` misspelt) at start-up."""
    text = (home / "dagster.yaml").read_text().replace("run_launcher:", "run_launchers:", 1)
    (home / "dagster.yaml").write_text(text)
    with pytest.raises(dg.DagsterInvalidConfigError, match="run_launchers"):
        load(home)
