"""The whole asset graph on the bundled sample, as `make demo` runs it, into a temporary data folder.

The demo is first killed (SIGKILL) in a subprocess while it predicts its fifth chromosome partition, then run again
in this process: it resumes from what the automation conditions still request.
"""

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
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
from endobench.demo_progress import DemoProgress
from endobench_tests.paths import REPO, SAMPLE_DIR

pytestmark = pytest.mark.slow  # runs a whole pipeline or many processes: `make test-slow` (CI runs both)

PREDICTION_RUN_KILLED = 5
# The shared inputs, raw_gtex_eqtls, dhs_filtered_variants and sequence_windows run first, then four chromosomes
# finish; the fifth is killed as soon as its run is recorded, before it can record a materialization.
RUNS_FINISHED = 4 + PREDICTION_RUN_KILLED - 1
# The shared inputs, the release's inputs, the predictions, then motif_changes (its partition, the release, sorts
# after the predictions') and the report.
ALL_RUNS = 4 + len(chromosome_partitions.get_partition_keys()) + 2
PREDICTIONS = dg.AssetKey("variant_effect_predictions")


def kill_demo_while_predicting(data_dir: Path, run_number: int) -> list[str]:
    """Start `endobench demo`, SIGKILL it while its `run_number`-th prediction run is under way (recorded in the
    demo's Dagster instance, not yet finished: a run takes about a second), and return what it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "endobench.cli", "demo", "--data-dir", str(data_dir)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(process.stdout), daemon=True)
    reader.start()
    prediction_runs: list = []
    try:
        # The instance's tables exist once the first run has finished and printed its line.
        while len(printed) < 2 and process.poll() is None:
            time.sleep(0.05)
        instance = dg.DagsterInstance.from_config(str(data_dir / "dagster_home"))
        while process.poll() is None and len(prediction_runs) < run_number:
            prediction_runs = [run for run in instance.get_runs() if "dagster/partition/chrom" in run.tags]
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        instance.dispose()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
        reader.join(timeout=60)
    assert len(prediction_runs) == run_number, f"the demo ended after {len(prediction_runs)} prediction runs"
    return printed


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo_data")
    (data_dir / "sample").symlink_to(SAMPLE_DIR)
    previous = os.environ.get("DAGSTER_HOME")
    try:
        killed_output = kill_demo_while_predicting(data_dir, PREDICTION_RUN_KILLED)
        console = io.StringIO()
        summary = run_demo(data_dir, progress=DemoProgress(console, live=False))
        instance = dg.DagsterInstance.get()
        yield data_dir, {**summary, "killed_output": killed_output, "console": console.getvalue()}, instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def test_the_demo_prints_a_line_per_step_not_dagsters_events(demo):
    """The killed demo printed its settings, then one line per finished step (the inputs, the windows): no line of
    Dagster's event log, no run id."""
    _, summary, _ = demo
    printed = summary["killed_output"]
    assert printed[0].startswith("endobench demo: profile=sample ")
    assert not [line for line in printed if " - dagster - " in line or "__ASSET_JOB" in line]
    assert re.fullmatch(r"  sequence_windows v8: [\d,]+ variants, \d+ s\n", next(
        line for line in printed if "sequence_windows" in line))


def test_the_predictions_are_one_line_counting_chromosomes(demo):
    """The resumed demo's 19 prediction runs (23 chromosomes, 4 done before the kill) are one line, then the motif
    changes and the report."""
    _, summary, _ = demo
    lines = summary["console"].splitlines()
    counted = [line for line in lines if line.startswith("  variant_effect_predictions v8: ")]
    assert counted and re.fullmatch(r"  variant_effect_predictions v8: 19/19 chromosomes, [\d,]+ variants, \d+ s",
                                    counted[-1])
    seconds = int(counted[-1].rsplit(", ", 1)[1].removesuffix(" s"))
    assert len(lines) == len(counted) + 2 and len(counted) <= 1 + seconds // 10  # the counter every 10 s at most
    assert lines[-2].startswith("  motif_changes v8: ") and lines[-1].startswith("  benchmark_report v8: ")


def test_report_files_are_written(demo):
    data_dir, summary, _ = demo
    report_dir = data_dir / "outputs" / "benchmark_report" / "v8"
    assert Path(summary["report"]) == report_dir / "report.html"
    for name in ("report.html", "report.md", "metrics.json"):
        assert (report_dir / name).stat().st_size > 0


def test_every_prediction_partition_is_materialised(demo):
    _, _, instance = demo
    materialised = instance.get_materialized_partitions(PREDICTIONS)
    expected = {dg.MultiPartitionKey({"release": "v8", "chrom": c}) for c in chromosome_partitions.get_partition_keys()}
    assert set(materialised) == expected


def test_the_interrupted_demo_resumed_without_redoing_finished_work(demo):
    """After the kill, only the unfinished runs ran: every prediction partition was materialised exactly once."""
    _, summary, instance = demo
    assert len(summary["runs"]) == ALL_RUNS - RUNS_FINISHED
    resumed = {key.to_user_string() for run in summary["runs"] for key in run.asset_keys}
    assert resumed == {"variant_effect_predictions", "motif_changes", "benchmark_report"}
    records = instance.fetch_materializations(PREDICTIONS, limit=1_000).records
    per_partition = {}
    for record in records:
        per_partition[record.partition_key] = per_partition.get(record.partition_key, 0) + 1
    assert len(per_partition) == len(chromosome_partitions.get_partition_keys())
    assert set(per_partition.values()) == {1}


def test_the_killed_run_was_marked_failed(demo):
    """The run the kill cut short is not left `STARTED`, which would keep its partition `in progress` forever."""
    _, _, instance = demo
    unfinished = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    assert instance.get_runs(filters=dg.RunsFilter(statuses=unfinished)) == []


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


def _direct_reference(tissue: str) -> tuple[int, int, float, float]:
    """The measured accessibility reference straight from the bundled files, without the pipeline: GTEx lead eQTLs
    of significant eGenes at a Degner dsQTL position, Degner's Beta (effect of its Alt) negated where GTEx's alleles
    are swapped; genes, distinct variants, Spearman and sign agreement."""
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
    return (len(significant), significant["variant_id"].nunique(),
            float(stats.spearmanr(significant["slope"], significant["measured"])[0]), agreement)


@pytest.mark.parametrize("truth_set, tissue, expected_n, expected_variants", [
    ("gtex_wb_lcl_dsqtl_sites", "Whole_Blood", 102, 93),
    ("gtex_lcl_lcl_dsqtl_sites", "Cells_EBV-transformed_lymphocytes", 86, 77),
])
def test_the_measured_reference_equals_a_direct_computation_from_the_bundled_files(demo, truth_set, tissue, expected_n,
                                                                                   expected_variants):
    """Its numbers equal the files', and its interval resamples the measured variants, which n_units counts."""
    data_dir, _, _ = demo
    reference = _metrics(data_dir)["headline"][f"{truth_set}|accessibility|measured accessibility (reference)"]
    n, n_variants, spearman, agreement = _direct_reference(tissue)
    assert reference["kind"] == "reference"
    assert (reference["n"], reference["n_units"]) == (n, n_variants) == (expected_n, expected_variants)
    assert reference["units"] == f"{n} genes on {n_variants} variants"
    assert reference["spearman"] == pytest.approx(spearman)
    assert reference["sign_agreement"] == pytest.approx(agreement)


def test_the_readme_shows_exactly_the_headline_the_demo_prints(demo):
    """README.md's `make demo` block is the demo's console headline, line for line: every truth set (the one with
    no scorable unit too), per model line the primary endpoint, p, Spearman, mde and the reference beside it."""
    data_dir, _, _ = demo
    metrics = _metrics(data_dir)
    printed = headline_lines(metrics)
    readme = (REPO / "README.md").read_text()
    block = readme.split("`make demo` prints its settings", 1)[1].split("```\n", 2)[1].splitlines()
    assert block[block.index(printed[0]):][:len(printed)] == printed
    lines = "\n".join(printed)
    assert "GTEx v8 LCL eQTLs at K562 DNase peaks: 0 scorable units (" in lines
    group = printed.index(next(line for line in printed if line.startswith("    DNase x GM12878 (LCL): 102 genes on 93")))
    model = next(line for line in printed[group:] if "local k-mer" in line)
    assert len(re.findall(r"\d\.\d{3} \[", model)) == 2 and model.endswith("(93)")  # primary, Spearman, ref


def test_the_demo_prints_the_motif_baseline_and_the_agreement_rate(demo):
    data_dir, _, _ = demo
    metrics = _metrics(data_dir)
    lines = headline_lines(metrics)
    start = lines.index("  Degner 2012 LCL dsQTLs (primary: sign agreement)")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    dsqtl = lines[start + 1:end]
    assert dsqtl[0].startswith("    DNase x GM12878 (LCL): 5,656 variants; ceiling ")
    assert any(line.strip().startswith("JASPAR motif baseline (floor)") for line in dsqtl)
    motifs = metrics["motifs"]["dsqtl_degner2012"]
    assert motifs["n_units"] == 5_656 and 0 < motifs["n_strong"] <= 5_656
    assert 0.5 < motifs["agreement"] < 0.6  # above chance, far below allele-specific binding's 85%
    low, high = motifs["agreement_ci"]
    assert (f"    motif direction agrees with the measured effect: {motifs['agreement']:.3f} [{low:.3f}, {high:.3f}] "
            f"of {motifs['n_strong']:,} units with a strong motif change (of 5,656)") in dsqtl


def test_the_report_shows_the_motif_tables(demo):
    data_dir, _, _ = demo
    html = (data_dir / "outputs" / "benchmark_report" / "v8" / "report.html").read_text()
    section = html[html.index("Motifs gained and lost"):]
    assert "The 10 units with the largest measured effects" in section
    assert "local k-mer: the 10 units where its score and the measured effect disagree most" in section
    assert "strongest motif change" in section and "motif agrees with effect" in section
    assert "ADASTRA" in section


def test_local_model_beats_chance_on_every_dsqtl_cross_fitted(demo):
    """Cross-fitted by chromosome parity, every scored dsQTL (5,656) is held out of the model that scores it, and
    the sign auROC over all of them is >= 0.60; the eQTL truth sets at dsQTL sites keep every gene (102 Whole
    Blood, 86 LCL), as their measured reference does, and are labelled with GM12878 DNase, the biosample the model
    learned."""
    data_dir, _, _ = demo
    headline = _metrics(data_dir)["headline"]
    dsqtl = [v for k, v in headline.items() if k.startswith("dsqtl_degner2012|") and "local k-mer" in k]
    assert len(dsqtl) == 1
    assert dsqtl[0]["n"] == 5_656 and dsqtl[0]["split"] == "held_out"
    assert dsqtl[0]["sign_auroc"] >= 0.60
    local = {v["title"]: v for v in headline.values() if v["label"].startswith("local k-mer")}
    at_sites = {t.split(" eQTLs")[0]: v["n"] for t, v in local.items() if "LCL DNase-sensitive sites" in t}
    assert at_sites == {"GTEx v8 Whole Blood": 102, "GTEx v8 LCL": 86}
    assert {v["readout_label"] for v in local.values()} == {"DNase x GM12878 (LCL)"}


def test_the_local_models_metadata_give_the_reports_numbers_and_intervals_on_the_same_dsqtls(demo):
    """The cross-fitted evaluation in `local_model`'s metadata is the report's result for the dsQTLs: the same 5,656
    variants, and every metric (sign agreement too) with the same 95% interval."""
    data_dir, _, instance = demo
    metadata = instance.fetch_materializations(dg.AssetKey("local_model"), limit=1).records[0] \
        .asset_materialization.metadata
    result = next(r for r in _metrics(data_dir)["results"]
                  if r["truth_set"] == "dsqtl_degner2012" and r["label"].startswith("local k-mer"))
    assert metadata["cross_fitted_n"].value == result["n"] == 5_656

    def interval(key):
        low, high = result[f"{key}_ci"]
        return f"[{low:.3f}, {high:.3f}]"

    for key in ("pearson", "spearman", "sign_agreement"):
        assert metadata[f"cross_fitted_{key}"].value == pytest.approx(result[key], rel=1e-3)
        assert metadata[f"cross_fitted_{key}_ci"].value == interval(key), key
    assert metadata["cross_fitted_sign_auroc"].value == pytest.approx(result["sign_auroc"], rel=1e-3)
    assert (metadata["cross_fitted_sign_auroc_ci_low"].value, metadata["cross_fitted_sign_auroc_ci_high"].value) == \
        pytest.approx(result["sign_auroc_ci"], rel=1e-3)


def test_a_second_demo_runs_nothing(demo):
    """Everything is up to date: one evaluation of the automation conditions requests nothing."""
    data_dir, _, _ = demo
    again = run_demo(data_dir)
    assert again["runs"] == []
    assert again["evaluations"] == 1


def test_the_strong_dsqtls_print_their_pearson_beside_the_published_numbers(demo):
    """The field's dsQTL set (the deltaSVM paper's 574: 573 in the Degner table, 572 with an hg38 position, all
    scored) is read by signed Pearson over all its variants and on the chromosomes of the published evaluation,
    beside AlphaGenome, Borzoi, ChromBPNet and deltaSVM, each with its source."""
    data_dir, _, _ = demo
    metrics = _metrics(data_dir)
    strong = metrics["truth_sets"]["dsqtl_degner2012_strong"]
    assert strong["funnel"]["rows_read"] == 574 and strong["funnel"]["scored_variants"] == 572
    assert strong["exclusions"]["input_not_in_source_table"] == 1
    lines = headline_lines(metrics)
    start = lines.index("    Pearson, as the published numbers of this setting read it: all units | on chromosomes 3, 6, 9, "
                        "12, 16, 18, 19, 21")
    local = next(text for text in lines[start:] if "local k-mer" in text)
    assert local.startswith("      local k-mer, cross-fitted, every chromosome held out  ")
    assert re.search(r"\(n=572\) \| [-\d.]+ \[[-\d.]+, [-\d.]+\] \(n=173\)$", local)
    published = [text for text in lines if text.startswith("      published on")]
    assert len(published) == 2 and published[0].startswith(
        "      published on those chromosomes: AlphaGenome 0.832, Borzoi (ensemble) 0.792, ChromBPNet 0.772 (")
    assert published[1].startswith("      published on all chromosomes: deltaSVM 0.73 (")
