"""The whole asset graph on the bundled sample, as `make demo` runs it, into a temporary data folder."""

import json
import os
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from endobench.cli import headline_lines
from endobench.definitions import build_definitions
from endobench.defs.partitions import chromosome_partitions
from endobench.defs.resources import build_resources
from endobench.demo import run_demo
from endobench_tests.paths import SAMPLE_DIR


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo_data")
    (data_dir / "sample").symlink_to(SAMPLE_DIR)
    previous = os.environ.get("DAGSTER_HOME")
    try:
        summary = run_demo(data_dir)
        instance = dg.DagsterInstance.get()
        yield data_dir, summary, instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def test_report_files_are_written(demo):
    data_dir, summary, _ = demo
    report_dir = data_dir / "outputs" / "benchmark_report" / "v8"
    assert Path(summary["report"]) == report_dir / "report.html"
    for name in ("report.html", "report.md", "metrics.json"):
        assert (report_dir / name).stat().st_size > 0


def test_every_prediction_partition_is_materialised(demo):
    _, _, instance = demo
    materialised = instance.get_materialized_partitions(dg.AssetKey("variant_effect_predictions"))
    expected = {dg.MultiPartitionKey({"release": "v8", "chrom": c}) for c in chromosome_partitions.get_partition_keys()}
    assert set(materialised) == expected


def test_blocking_checks_all_passed(demo):
    data_dir, _, instance = demo
    check_keys = build_definitions(build_resources(data_dir=str(data_dir))).resolve_asset_graph().asset_check_keys
    assert len(check_keys) == 5
    for key in check_keys:
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
        assert history, f"{key.name} never ran"
        assert history[0].evaluation.passed, f"{key.name} failed"


def _metrics(data_dir: Path) -> dict:
    return json.loads((data_dir / "outputs" / "benchmark_report" / "v8" / "metrics.json").read_text())


def test_funnel_counts_every_truth_set(demo):
    data_dir, _, _ = demo
    funnels = {name: t["funnel"] for name, t in _metrics(data_dir)["truth_sets"].items()}
    assert funnels["gtex_wb_k562_dhs"]["rows_read"] == funnels["gtex_wb_lcl_dsqtl_sites"]["rows_read"] == 20_315
    assert funnels["gtex_lcl_lcl_dsqtl_sites"]["rows_read"] == 22_759
    # 112 Whole Blood and 110 LCL lead eQTLs (genes) sit on a dsQTL position: 103 and 99 distinct variants.
    assert funnels["gtex_wb_lcl_dsqtl_sites"]["kept_after_annotation"] == 103
    assert funnels["gtex_lcl_lcl_dsqtl_sites"]["kept_after_annotation"] == 99
    assert funnels["dsqtl_degner2012"]["rows_read"] == 5_671
    assert funnels["dsqtl_degner2012"]["scored_variants"] == 5_656


def _direct_ceiling(tissue: str) -> tuple[int, float, float]:
    """The ceiling computed straight from the bundled files, without the pipeline: GTEx lead eQTLs of significant
    eGenes at a Degner dsQTL position, Degner's Beta (effect of its Alt) negated where GTEx's alleles are swapped."""
    dsqtls = pd.read_csv(SAMPLE_DIR / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz", sep="\t").dropna(
        subset=["pos_hg38"])
    assert (dsqtls["strand_hg38"] == "-").sum() == 21  # none of them sits on a GTEx lead eQTL (asserted below)
    egenes = pd.read_csv(SAMPLE_DIR / f"gtex_v8_{tissue}.v8.egenes.txt.gz", sep="\t")
    joined = egenes.merge(dsqtls.assign(variant_pos=dsqtls["pos_hg38"].astype(int)),
                          left_on=["chr", "variant_pos"], right_on=["chr_hg38", "variant_pos"])
    assert (joined["strand_hg38"] == "+").all()
    same = (joined["ref"] == joined["Ref"]) & (joined["alt"] == joined["Alt"])
    swapped = (joined["ref"] == joined["Alt"]) & (joined["alt"] == joined["Ref"])
    assert (same | swapped).all()
    joined["measured"] = np.where(same, joined["Beta"], -joined["Beta"])
    significant = joined[joined["qval"] <= 0.05]
    agreement = float((np.sign(significant["slope"]) == np.sign(significant["measured"])).mean())
    return len(significant), float(stats.spearmanr(significant["slope"], significant["measured"])[0]), agreement


@pytest.mark.parametrize("truth_set, tissue, expected_n", [
    ("gtex_wb_lcl_dsqtl_sites", "Whole_Blood", 102), ("gtex_lcl_lcl_dsqtl_sites", "Cells_EBV-transformed_lymphocytes", 86),
])
def test_the_ceiling_equals_a_direct_computation_from_the_bundled_files(demo, truth_set, tissue, expected_n):
    data_dir, _, _ = demo
    ceiling = next(v for v in _metrics(data_dir)["headline"].values()
                   if v["kind"] == "measured" and v["title"].startswith(
                       "GTEx v8 Whole Blood" if tissue == "Whole_Blood" else "GTEx v8 LCL")
                   and "LCL DNase-sensitive sites" in v["title"])
    n, spearman, agreement = _direct_ceiling(tissue)
    assert ceiling["n"] == ceiling["n_units"] == n == expected_n
    assert ceiling["spearman"] == pytest.approx(spearman)
    assert ceiling["sign_agreement"] == pytest.approx(agreement)


def test_headline_lines_name_readout_biosample_and_units(demo):
    """`make demo` prints each headline with its readout x biosample, n and its units, and the ceiling beside it."""
    data_dir, _, _ = demo
    lines = headline_lines(_metrics(data_dir))
    wb = [line for line in lines if "GTEx v8 Whole Blood eQTLs at LCL DNase-sensitive sites" in line]
    assert len(wb) == 2
    assert "DNase x GM12878 (LCL) | measured accessibility (ceiling): n=102 (102 genes)" in wb[0]
    assert "local k-mer, held-out chromosomes: n=41 (41 genes)" in wb[1]
    assert all("spearman=" in line and "sign_agreement=" in line for line in wb)


def test_local_model_beats_chance_on_held_out_dsqtls(demo):
    """Train on odd chromosomes, test on even: the held-out sign auROC is the number that counts (>= 0.60)."""
    data_dir, _, _ = demo
    held_out = [v for k, v in _metrics(data_dir)["headline"].items() if k.startswith("dsqtl_degner2012")]
    assert len(held_out) == 1
    assert held_out[0]["n"] == 2_667
    assert held_out[0]["sign_auroc"] >= 0.60


def test_a_second_demo_skips_every_stage_already_up_to_date(demo):
    """An interrupted or repeated `make demo` resumes: finished runs are not redone."""
    data_dir, _, _ = demo
    again = run_demo(data_dir)
    assert again["runs_skipped"] == 1 + 1 + len(chromosome_partitions.get_partition_keys()) + 1
