"""What deploy/README.md tells an operator to use exists and fits together: the image recipe its `docker run` lines
start from (deploy/Dockerfile) and the environment file they pass (deploy/endobench.env.example).

No Docker engine runs here, so the image is not built: the recipe is read instead. It installs the project as
`make install` does, every file it copies exists, and it lays the image out as the `docker run` lines and
deploy/dagster.yaml expect (the working folder, the data volume, the instance, the port). The environment file names
exactly the variables the code and the deployment read, and loaded as it is, the definitions load.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from endobench.definitions import build_definitions
from endobench.defs.automation import AUTOMATION_INTERVAL_ENV, RELEASE_POLL_INTERVAL_ENV
from endobench.defs.resources import ALPHAGENOME_SETTINGS, RUN_ENVIRONMENT
from endobench.lib.truth_sets.releases import LISTING_URL_ENV
from endobench_tests.docs_commands import documented_commands
from endobench_tests.paths import REPO

DEPLOY = REPO / "deploy"
DATABASE = {"ENDOBENCH_PG_HOST", "ENDOBENCH_PG_PORT", "ENDOBENCH_PG_DB", "ENDOBENCH_PG_USER", "ENDOBENCH_PG_PASSWORD"}
LAUNCHER = {"ENDOBENCH_RUN_IMAGE", "ENDOBENCH_DOCKER_NETWORK"}
SENSORS = {LISTING_URL_ENV, RELEASE_POLL_INTERVAL_ENV, AUTOMATION_INTERVAL_ENV}


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "endobench.env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), "a variable is set twice"
    return dict(pairs)


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def instructions(name: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == name]


def docker_runs() -> list[list[str]]:
    return [list(c.argv) for c in documented_commands() if c.path == "deploy/README.md" and c.argv[:2] == ["docker", "run"]]


def test_the_environment_file_names_every_variable_the_deployment_reads_and_no_other():
    """The run settings the code reads (RUN_ENVIRONMENT), the key, the database, the launcher's image and network,
    the sensors' settings and DAGSTER_HOME: the variables of deploy/README.md's table."""
    assert set(env_example()) == ({"DAGSTER_HOME", "ALPHAGENOME_API_KEY"} | DATABASE | LAUNCHER | SENSORS
                                  | set(RUN_ENVIRONMENT))


def test_the_readme_table_names_the_same_variables():
    readme = (DEPLOY / "README.md").read_text()
    section = readme.split("### Environment, per process", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows
    named = set()
    for row in rows:
        for name in re.findall(r"`([A-Z][A-Z0-9_]*\*?)`", row.split("|")[1]):
            named |= ({"ENDOBENCH_ALPHAGENOME_ADDRESS", *ALPHAGENOME_SETTINGS} if name == "ENDOBENCH_ALPHAGENOME_*"
                      else {name})
    assert named == set(env_example())


def test_the_environment_file_as_it_is_loads_the_code_location(monkeypatch):
    """Empty means the default: the definitions load with every variable set as the file sets it (an empty
    ENDOBENCH_PREDICTOR used to be refused as an unknown predictor '')."""
    for name, value in env_example().items():
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    resources = defs.resources
    assert type(resources["predictor"]).__name__ == "LocalPredictor"
    assert type(resources["sources"]).__name__ == "SampleDataSources"
    assert resources["storage"].root == "/opt/endobench/data/outputs"
    assert len(defs.resolve_all_job_defs()) >= 1


def test_the_image_installs_the_project_as_make_install_does():
    """Editable, from the repository's pyproject.toml, with the deployment's extra, on a Python the project
    supports, with bedtools."""
    (base,) = instructions("FROM")
    python = re.fullmatch(r"python:(\d+)\.(\d+)-slim", base)
    pyproject = (REPO / "pyproject.toml").read_text()
    minimum = re.search(r'^requires-python = ">=(\d+)\.(\d+)"', pyproject, flags=re.M).groups()
    assert python and tuple(map(int, python.groups())) >= tuple(map(int, minimum))
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet -e '.[test,scale,dev]'" in makefile
    installs = [run for run in instructions("RUN") if "pip install" in run]
    assert installs == ["pip install --no-cache-dir -e '.[scale]'"]
    assert re.search(r"^scale = \[", pyproject, flags=re.M)
    assert any("apt-get install" in run and "bedtools" in run for run in instructions("RUN"))


def test_every_file_the_image_copies_exists():
    for copy in instructions("COPY"):
        *sources, _ = shlex.split(copy)
        for source in sources:
            assert (REPO / source).exists(), source


def test_the_image_is_laid_out_as_the_docker_run_lines_and_dagster_yaml_expect():
    """The commands run in the working folder that holds workspace.yaml, the data volume is mounted where
    ENDOBENCH_DATA_DIR points (the run containers' mount too), the instance is where DAGSTER_HOME says, and the
    webserver's port is exposed."""
    (workdir,) = instructions("WORKDIR")
    environment = dict(pair.split("=", 1) for env in instructions("ENV") for pair in shlex.split(env))
    copied = {shlex.split(c)[-1]: shlex.split(c)[:-1] for c in instructions("COPY")}
    assert copied["./"] == ["pyproject.toml", "README.md", "workspace.yaml"]
    assert environment["DAGSTER_HOME"] == f"{workdir}/dagster_home" == env_example()["DAGSTER_HOME"]
    assert copied["./dagster_home/dagster.yaml"] == ["deploy/dagster.yaml"]
    data_dir = environment["ENDOBENCH_DATA_DIR"]
    assert data_dir == env_example()["ENDOBENCH_DATA_DIR"] == f"{workdir}/data"
    launcher = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert launcher["container_kwargs"]["volumes"] == [f"endobench-data:{data_dir}"]
    runs = docker_runs()
    servers = [run for run in runs if "endobench:1.0" in run]
    assert len(servers) == 2
    for run in servers:
        assert f"endobench-data:{data_dir}" in run and "--env-file" in run
        assert run[run.index("-w") + 1] == "workspace.yaml"
    webserver = next(run for run in servers if "dagster-webserver" in run)
    assert webserver[webserver.index("-p") + 1].endswith(":3000") and instructions("EXPOSE") == ["3000"]
    assert env_example()["ENDOBENCH_RUN_IMAGE"] == "endobench:1.0"


def test_the_entrypoint_points_the_data_volumes_sample_at_the_images_and_runs_the_command(tmp_path):
    """Every container starts through it: the volume gets sample/ -> the image's copy of data/sample, then the
    container's own command runs with its arguments."""
    (entrypoint,) = instructions("ENTRYPOINT")
    assert entrypoint == '["endobench-entrypoint"]'
    (workdir,) = instructions("WORKDIR")
    assert shlex.split(next(c for c in instructions("COPY") if c.startswith("data/sample"))) == ["data/sample",
                                                                                                 "./sample"]
    data = tmp_path / "volume"
    done = subprocess.run([str(DEPLOY / "entrypoint.sh"), "sh", "-c", 'echo "$0 $1"', "runs", "its command"],
                          env={"ENDOBENCH_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "runs its command\n"
    assert (data / "sample").is_symlink() and str((data / "sample").readlink()) == f"{workdir}/sample"


@pytest.mark.parametrize("text", ["dagster-webserver -h 0.0.0.0 -p 3000 -w workspace.yaml",
                                  "dagster-daemon run -w workspace.yaml"])
def test_the_servers_the_image_runs_are_installed_with_the_project(text):
    """The two long-lived containers run commands the project's dependencies install."""
    program = text.split()[0]
    assert Path(sys.executable).with_name(program).exists()
    assert any(" ".join(run).endswith(text) for run in docker_runs())
