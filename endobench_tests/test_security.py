"""Security: the UI and every test server listen on loopback only; the AlphaGenome key never lands in any file.

Safe extraction of downloaded archives (no tar path traversal) is tested in `lib/test_downloads.py`.
"""

import os
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from endobench_tests.paths import REPO, SAMPLE_DIR
from endobench_tests.processes import free_port, group_pids, listening, stop_group
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn
from endobench_tests.stand_ins.http_server import FixtureServer
from endobench_tests.test_resume_and_atomic import (
    FAKE_KEY,
    materialize_shared_inputs,
    prepare_run_dir,
)

pytestmark = pytest.mark.timeout(180)

DEGNER = "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"
LOOPBACK = {"127.0.0.1", "::1"}


def test_make_ui_calls_the_cli_without_a_host_override():
    """`make ui` runs `endobench ui` with its defaults, so the CLI's default host is what the UI binds to."""
    recipe = subprocess.run(["make", "-n", "ui"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    ui_line = [line for line in recipe.splitlines() if "endobench ui" in line]
    assert len(ui_line) == 1 and "--host" not in ui_line[0] and "0.0.0.0" not in recipe


@pytest.mark.slow
def test_the_ui_listens_on_loopback_only(tmp_path):
    """`endobench ui` (what `make ui` runs) starts dagster dev; every socket its processes listen on is loopback."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "endobench.cli", "ui", "--data-dir", str(tmp_path), "--port", str(port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        env=os.environ | {"DAGSTER_DISABLE_TELEMETRY": "1"},
    )
    try:
        deadline = time.monotonic() + 150
        sockets: set[tuple[str, int]] = set()
        while time.monotonic() < deadline and process.poll() is None:
            sockets = listening(group_pids(process.pid))
            if any(p == port for _, p in sockets):
                break
            time.sleep(0.5)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert any(p == port for _, p in sockets), "the UI never started listening"
        assert {address for address, _ in sockets} <= LOOPBACK, sockets
    finally:
        stop_group(process.pid, process)


def test_the_cli_ui_default_host_is_loopback():
    """The parser's default, which `endobench ui` passes to `dagster dev -h`, is 127.0.0.1."""
    from endobench.cli import build_parser

    assert build_parser().parse_args(["ui"]).host == "127.0.0.1"


def test_test_servers_listen_on_loopback_only():
    """The AlphaGenome gRPC stand-in and the HTTP fixture server bind 127.0.0.1, never all interfaces."""
    with AlphaGenomeStandIn() as grpc_server, FixtureServer({"/a": b"x"}) as http_server:
        ports = {int(grpc_server.address.rsplit(":", 1)[1]), int(http_server.base_url.rsplit(":", 1)[1])}
        mine = {(a, p) for a, p in listening({os.getpid()}) if p in ports}
    assert {p for _, p in mine} == ports
    assert {a for a, _ in mine} <= LOOPBACK, mine


def _key_run_code() -> str:
    return textwrap.dedent("""
        import dagster as dg
        from endobench.definitions import build_definitions
        from endobench.defs.resources import resources_from_environment
        instance = dg.DagsterInstance.get()
        defs = build_definitions(resources_from_environment())
        release = defs.resolve_job_def("release_inputs_job").execute_in_process(
            instance=instance, partition_key="v8", raise_on_error=False)
        key = dg.MultiPartitionKey({"release": "v8", "chrom": "chr21"})
        predictions = defs.resolve_job_def("predictions_job").execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False)
        print("success", release.success, predictions.success, flush=True)
    """)


@pytest.mark.slow
def test_the_api_key_is_in_no_file_log_or_metadata_of_a_run(tmp_path):
    """A run with the AlphaGenome predictor and a key in the environment (sent to a loopback stand-in that insists on
    it): no file written under the data dir or the Dagster home (outputs, score cache, SQLite run/event storage with
    run config, metadata and logs, compute logs) and nothing printed contains the key."""
    # 20 real chr21 dsQTLs keep the prediction partition to 20 calls at the predictor's default request rate.
    table = pd.read_csv(SAMPLE_DIR / DEGNER, sep="\t", dtype=str, keep_default_na=False)
    small = tmp_path / "inputs" / DEGNER
    small.parent.mkdir()
    table[table["chr_hg38"] == "chr21"].head(20).to_csv(small, sep="\t", index=False, compression="gzip")
    with AlphaGenomeStandIn(expected_api_key=FAKE_KEY) as server:
        env = prepare_run_dir(tmp_path / "run", address=server.address, replace={DEGNER: small})
        materialize_shared_inputs(env)
        run = subprocess.run([sys.executable, "-c", _key_run_code()], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=150)
        asked = len(server.records)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-3:] == ["success", "True", "True"], run.stderr[-3000:]
    assert asked > 0, "the stand-in was never called, so the key was never used"
    key = FAKE_KEY.encode()
    files = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()]
    assert any(p.suffix == ".db" for p in files) and any(p.suffix == ".parquet" for p in files)
    leaking = [str(p.relative_to(tmp_path)) for p in files if key in p.read_bytes()]
    assert leaking == []
    assert FAKE_KEY not in run.stdout and FAKE_KEY not in run.stderr
