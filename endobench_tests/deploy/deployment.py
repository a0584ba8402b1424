"""A one-machine deployment for `make deploy-test`: PostgreSQL, `dagster-daemon run` and `dagster-webserver`.

The daemon and the webserver are separate processes, each the leader of its own process group (their code
servers and the runs the daemon launches stay in it). Every group started is recorded, so that `stop()` can end
them all by id, also after a step failed; nothing is found or killed by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from endobench_tests.paths import REPO
from endobench_tests.processes import free_port, group_pids, stop_group, wait_for_http

DEPLOY_YAML = REPO / "deploy" / "dagster.yaml"
# The one change a single machine needs: runs as subprocesses of the daemon's code server, not containers.
ONE_MACHINE_LAUNCHER = {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"}
LOCATION = "endobench"
REPOSITORY = "__repository__"
START_TIMEOUT_S = 240


def one_machine_instance_config() -> dict:
    """deploy/dagster.yaml with only its run launcher replaced."""
    config = yaml.safe_load(DEPLOY_YAML.read_text())
    config["run_launcher"] = ONE_MACHINE_LAUNCHER
    return config


@dataclass
class Deployment:
    """The daemon and the webserver of one DAGSTER_HOME, with the environment both processes get."""

    home: Path
    environment: dict[str, str]
    groups: list[tuple[int, subprocess.Popen]] = field(default_factory=list)
    daemon: subprocess.Popen | None = None
    webserver: subprocess.Popen | None = None
    url: str = ""

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(one_machine_instance_config(), sort_keys=False))

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.home / f"{name}.{len(self.groups)}.log", "wb")
        process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **self.environment, "DAGSTER_HOME": str(self.home)},
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.groups.append((process.pid, process))
        return process

    def log_path(self, process: subprocess.Popen) -> Path:
        index = next(i for i, (pid, _) in enumerate(self.groups) if pid == process.pid)
        return next(self.home.glob(f"*.{index}.log"))

    def start_webserver(self) -> float:
        """`dagster-webserver` on 127.0.0.1 and a free port; returns the seconds until it answered."""
        started = time.monotonic()
        port = free_port()
        self.webserver = self._start("webserver", [str(Path(sys.executable).with_name("dagster-webserver")),
                                                   "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"])
        self.url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{self.url}/server_info", self.webserver, self.log_path(self.webserver), START_TIMEOUT_S)
        self.wait_for_code_location()
        return time.monotonic() - started

    def start_daemon(self) -> float:
        """`dagster-daemon run`; returns the seconds until each of its daemons sent a heartbeat to the database."""
        started, started_at = time.monotonic(), time.time()
        self.daemon = self._start("daemon", [str(Path(sys.executable).with_name("dagster-daemon")), "run",
                                             "-w", "workspace.yaml"])
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise AssertionError(f"dagster-daemon exited:\n{self.log_path(self.daemon).read_text()[-3000:]}")
            statuses = self.graphql(DAEMON_HEALTH)["instance"]["daemonHealth"]["allDaemonStatuses"]
            beating = {s["daemonType"] for s in statuses if s["healthy"] and (s["lastHeartbeatTime"] or 0) > started_at}
            if REQUIRED_DAEMONS <= beating:
                return time.monotonic() - started
            time.sleep(1)
        raise AssertionError(f"the daemon did not report healthy within {START_TIMEOUT_S} s")

    def kill_daemon(self) -> None:
        """SIGKILL the daemon process alone, as a crash would: the runs it launched keep running."""
        os.kill(self.daemon.pid, signal.SIGKILL)
        self.daemon.wait(timeout=30)

    def restart(self, **environment: str) -> float:
        """Stop the webserver and the daemon (and their code servers), then start both with a changed environment."""
        started = time.monotonic()
        for process in (self.daemon, self.webserver):
            stop_group(process.pid, process)
        self.environment.update(environment)
        self.start_webserver()
        self.start_daemon()
        return time.monotonic() - started

    def stop(self) -> list[int]:
        """Stop every process group started, by its recorded id; returns any process still alive afterwards."""
        for pgid, process in reversed(self.groups):
            stop_group(pgid, process)
        return sorted(pid for pgid, _ in self.groups for pid in group_pids(pgid))

    def graphql(self, query: str, **variables) -> dict:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60)
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def wait_for_code_location(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            entries = self.graphql(CODE_LOCATIONS)["workspaceOrError"]["locationEntries"]
            states = {e["name"]: e["loadStatus"] for e in entries}
            if states.get(LOCATION) == "LOADED":
                error = next(e for e in entries if e["name"] == LOCATION)["locationOrLoadError"]
                if error.get("__typename") == "PythonError":
                    raise AssertionError(f"the code location failed to load: {error['message']}")
                return
            time.sleep(1)
        raise AssertionError(f"the code location did not load within {START_TIMEOUT_S} s")


REQUIRED_DAEMONS = {"SENSOR", "ASSET", "BACKFILL", "QUEUED_RUN_COORDINATOR"}
DAEMON_HEALTH = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy lastHeartbeatTime } } } }"
CODE_LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
