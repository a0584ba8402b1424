"""Fixtures of the browser test: the materialised sample, a `dagster dev` on 127.0.0.1, headless Debian Chromium.

Each fixture skips with the reason when what it needs is not on the machine (Playwright's Python package,
/usr/bin/chromium); nothing here downloads a browser.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from endobench_tests.paths import REPO
from endobench_tests.processes import free_port, stop_group, wait_for_http

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "data" / "screenshots"
SERVER_START_TIMEOUT_S = 240
DEMO_TIMEOUT_S = 600


@pytest.fixture(scope="session")
def playwright_chromium():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test,e2e]'"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory) -> Path:
    """`endobench demo` run into a temporary folder, so the UI shows what this checkout's code produces.

    In its own process, as `make demo` runs it (Playwright's browser session already runs an event loop here, and
    evaluating automation conditions starts one of its own).
    """
    data_dir = tmp_path_factory.mktemp("e2e_data")
    (data_dir / "sample").symlink_to(REPO / "data" / "sample")
    demo = subprocess.run([sys.executable, "-m", "endobench.cli", "demo", "--data-dir", str(data_dir)], cwd=REPO,
                          capture_output=True, text=True, timeout=DEMO_TIMEOUT_S)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    return data_dir


@pytest.fixture(scope="session")
def dagster_ui(demo_data_dir, tmp_path_factory):
    """`dagster dev` on 127.0.0.1 over the demo's Dagster home; yields the base URL, stops the server after."""
    dagster = shutil.which("dagster", path=str(REPO / ".venv" / "bin")) or shutil.which("dagster")
    if dagster is None:
        pytest.skip("the dagster command is not installed in .venv")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(demo_data_dir / "dagster_home"),
        "ENDOBENCH_DATA_DIR": str(demo_data_dir),
        "ENDOBENCH_PREDICTOR": "local",
        "ENDOBENCH_PROFILE": "sample",
    }
    log_path = tmp_path_factory.mktemp("dagster_dev") / "dagster_dev.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [dagster, "dev", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/server_info", server, log_path, SERVER_START_TIMEOUT_S)
        yield base_url
    finally:
        stop(server)


def stop(server: subprocess.Popen) -> None:
    """Stop dagster dev and its children (webserver, daemon, code servers): dagster dev shuts down on SIGINT."""
    stop_group(server.pid, server, first=signal.SIGINT, grace_s=45)


@pytest.fixture
def page(playwright_chromium):
    context = playwright_chromium.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
