"""A throwaway PostgreSQL server on 127.0.0.1: its own data directory, a free port, password authentication.

The server runs in the foreground as a child of the test (no `pg_ctl` daemonising), in its own process group, so
it is stopped by its recorded id like every other process the test starts. PostgreSQL refuses to run as root:
when the test runs as root (CI), `initdb` and the server run as the `postgres` user the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from endobench_tests.processes import free_port, stop_group

START_TIMEOUT_S = 60
SERVER_USER = "postgres"


def server_binaries() -> Path:
    """The directory holding `initdb` and `postgres` (Debian: /usr/lib/postgresql/<version>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).resolve().parent
    raise FileNotFoundError("no PostgreSQL server found: run scripts/ensure_postgres.sh (apt-get install postgresql)")


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    user: str
    password: str
    database: str

    def environment(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads its storage settings from."""
        return {"ENDOBENCH_PG_HOST": self.host, "ENDOBENCH_PG_PORT": str(self.port), "ENDOBENCH_PG_DB": self.database,
                "ENDOBENCH_PG_USER": self.user, "ENDOBENCH_PG_PASSWORD": self.password}


class ThrowawayPostgres:
    """`with ThrowawayPostgres() as db:` a server with database `db.connection.database`; gone afterwards.

    Its folder (data directory, log) is a fresh temporary directory that the server user can reach, removed on exit.
    """

    def __init__(self, *, user: str = "endobench", database: str = "endobench") -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="endobench-postgres-"))
        self.data_dir = self.folder / "pgdata"
        self.log_path = self.folder / "postgres.log"
        self.bin = server_binaries()
        self.connection = Connection("127.0.0.1", free_port(), user, os.urandom(12).hex(), database)
        self.process: subprocess.Popen | None = None
        self.seconds_to_start = 0.0

    def _as_server_user(self, command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups", *command]

    def __enter__(self) -> ThrowawayPostgres:
        started = time.monotonic()
        password_file = self.folder / "password"
        password_file.write_text(self.connection.password + "\n")
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            for path in (self.folder, password_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        try:
            subprocess.run(
                self._as_server_user([str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", self.connection.user,
                                      f"--pwfile={password_file}", "--auth=scram-sha-256", "--no-locale", "-E", "UTF8"]),
                check=True, capture_output=True, text=True, timeout=120,
            )
        finally:
            password_file.unlink()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self._as_server_user([str(self.bin / "postgres"), "-D", str(self.data_dir),
                                      "-p", str(self.connection.port), "-c", "listen_addresses=127.0.0.1",
                                      "-c", "unix_socket_directories=", "-c", "max_connections=200"]),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._wait_until_ready()
        admin = self.connect("postgres")
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.connection.database}"')
        finally:
            admin.close()
        self.seconds_to_start = time.monotonic() - started
        return self

    def connect(self, database: str | None = None):
        c = self.connection
        return psycopg2.connect(host=c.host, port=c.port, user=c.user, password=c.password,
                                dbname=database or c.database, connect_timeout=5)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"postgres exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                self.connect("postgres").close()
                return
            except psycopg2.OperationalError:
                time.sleep(0.3)
        raise AssertionError(f"postgres did not accept connections within {START_TIMEOUT_S} s")

    def log_tail(self, characters: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""

    def __exit__(self, *exc) -> None:
        """Fast shutdown (SIGINT), then the folder with the data directory goes, whatever happened before."""
        try:
            if self.process is not None:
                stop_group(self.process.pid, self.process, first=signal.SIGINT)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
