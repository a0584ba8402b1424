"""The Dagster UI over the materialised sample, as a person sees it in headless Chromium.

Run with `make e2e` (`.venv/bin/pytest -m e2e endobench_tests/e2e`). Screenshots land in `data/screenshots/`.
"""

import re

import pytest

from endobench.defs.partitions import SAMPLE_RELEASE, chromosome_partitions

pytestmark = pytest.mark.e2e
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test,e2e]'")
PlaywrightTimeoutError = sync_api.TimeoutError

PAGE_SETTLE_MS = 120_000
DIALOG_WAIT_MS = 4_000


def open_page(page, url: str, wait_for_text: str) -> str:
    """Open `url`, close Dagster's first-visit dialog if it shows, wait for `wait_for_text`; return the page text."""
    page.goto(url)
    page.get_by_text(wait_for_text, exact=True).first.wait_for(timeout=PAGE_SETTLE_MS)
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.first.wait_for(timeout=DIALOG_WAIT_MS)
        skip.first.click()
    except PlaywrightTimeoutError:
        pass  # the dialog shows once per browser profile, and not at all when already dismissed
    page.wait_for_timeout(1500)
    return page.inner_text("body")


def assets_by_group() -> dict[str, list[str]]:
    """Every asset of the code location, by asset group, as the definitions declare them."""
    from endobench.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    groups: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, []).append(key.to_user_string())
    return {group: sorted(names) for group, names in sorted(groups.items())}


def test_the_asset_graph_shows_every_asset(page, dagster_ui, screenshots):
    """Each asset group's lineage page draws its assets; together they name every asset of the code location."""
    groups = assets_by_group()
    open_page(page, f"{dagster_ui}/asset-groups", "Global asset lineage")
    page.screenshot(path=str(screenshots / "asset_graph.png"), full_page=True)
    shown: set[str] = set()
    for group, names in groups.items():
        text = open_page(page, f"{dagster_ui}/locations/endobench/asset-groups/{group}", names[0])
        page.screenshot(path=str(screenshots / f"asset_group_{group}.png"), full_page=True)
        shown |= {name for name in names if name in text}
    missing = sorted({n for names in groups.values() for n in names} - shown)
    assert not missing, f"not drawn on their group's lineage page: {missing}"


def test_the_graph_shows_partition_fill(page, dagster_ui):
    """The predictions group's graph node reports its partitions as fully materialised."""
    open_page(page, f"{dagster_ui}/locations/endobench/asset-groups/predictions", "variant_effect_predictions")
    fill = page.get_by_text(re.compile(r"^\d+% filled$")).first
    fill.wait_for(timeout=PAGE_SETTLE_MS)  # the node's partition counts load after the graph is drawn
    assert fill.inner_text() == "100% filled"


def test_prediction_partitions_are_all_materialised(page, dagster_ui, screenshots):
    """variant_effect_predictions lists every chromosome partition of the sample release as materialised."""
    n = len(chromosome_partitions.get_partition_keys())
    text = open_page(page, f"{dagster_ui}/assets/variant_effect_predictions?view=partitions", "Partitions")
    page.screenshot(path=str(screenshots / "predictions_partitions.png"), full_page=True)
    assert f"Materialized ({n})" in text
    assert "Failed (0)" in text and "Missing (0)" in text


def test_the_report_shows_its_metrics(page, dagster_ui, screenshots, demo_data_dir):
    """The v8 benchmark_report partition shows its metadata: the markdown report, and the headline as one table
    (primary endpoint with its interval, units, mde) with its figure beside it."""
    url = f"{dagster_ui}/assets/benchmark_report?view=partitions&partition={SAMPLE_RELEASE}"
    text = open_page(page, url, "Metadata")
    page.screenshot(path=str(screenshots / "benchmark_report.png"), full_page=True)
    assert "Materialized" in text
    for key in ("report", "metrics_json", "chromosomes_missing_predictions", "headline", "headline_figure"):
        assert re.search(rf"^{re.escape(key)}$", text, flags=re.MULTILINE), f"metadata key {key} not shown"
    assert not re.search(r"^dsqtl_degner2012 / accessibility / .* / sign_auroc$", text, flags=re.MULTILINE)
    import json

    metrics = json.loads((demo_data_dir / "outputs" / "benchmark_report" / SAMPLE_RELEASE / "metrics.json").read_text())
    (held_out,) = [v for v in metrics["headline"].values()
                   if v["truth_set"] == "dsqtl_degner2012" and v["label"].startswith("local k-mer")]
    assert f"{held_out['primary']['value']:.3f}" in text
    assert held_out["units"] in text


def test_the_automation_page_lists_the_release_and_automation_sensors(page, dagster_ui, screenshots):
    """Automation shows the release sensor (stopped until turned on) and the automation condition sensor."""
    text = open_page(page, f"{dagster_ui}/automation", "gtex_release_sensor")
    page.screenshot(path=str(screenshots / "automation.png"), full_page=True)
    assert "endobench_automation" in text
    assert "release_predictions_sensor" not in text and "weekly_release_catch_up" not in text


def test_an_asset_shows_its_automation_condition(page, dagster_ui, screenshots):
    """The asset page names its automation condition, and its Automation tab the sensor's evaluations of it."""
    text = open_page(page, f"{dagster_ui}/assets/sequence_windows", "sequence_windows")
    page.screenshot(path=str(screenshots / "asset_automation_condition.png"), full_page=True)
    assert "upstream present and its blocking checks passed" in text
    open_page(page, f"{dagster_ui}/assets/sequence_windows?view=automation", "Automation")
    # The demo left everything up to date, so the automation sensor's evaluations request nothing.
    page.get_by_text("Not requested").first.wait_for(timeout=PAGE_SETTLE_MS)
    page.screenshot(path=str(screenshots / "asset_automation_evaluations.png"), full_page=True)
    page.get_by_text(re.compile(r"\d{1,2}:\d{2}:\d{2}")).first.click()  # the latest evaluation's timestamp
    page.get_by_text("requested or updated").first.wait_for(timeout=PAGE_SETTLE_MS)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshots / "asset_automation_evaluation.png"), full_page=True)
