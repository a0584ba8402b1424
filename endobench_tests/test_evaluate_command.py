"""`endobench evaluate` through the command: its output folder is replaced as a whole, units are the same in every
format, and the numbers do not depend on how the table was written or scaled.

The table is 120 real GTEx Whole Blood eGenes; `log2_aFC` (a second real measurement) plays the predictor.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from endobench.cli import main
from endobench_tests.paths import FIXTURES

GTEX_120 = FIXTURES / "report" / "gtex_wb_egenes_chr22_first120.tsv"


@pytest.fixture(scope="module")
def gtex():
    return pd.read_csv(GTEX_120, sep="\t")


def evaluate(table, out, *extra: str) -> dict:
    assert main(["evaluate", "--table", str(table), "--effect-col", "slope", "--score-col", "log2_aFC",
                 "--out", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- the output folder is replaced as a whole -------------------------------------------------------------------

def test_a_second_run_leaves_nothing_of_the_first_in_its_folder(gtex, tmp_path):
    """Plots are named after their table, so a second table's report has other plot names than the first's. Run
    into the same folder, the second run's folder holds exactly what a fresh run of it holds: no plot of the first
    run stays."""
    gtex.head(10).to_csv(tmp_path / "ten.tsv", sep="\t", index=False)
    evaluate(GTEX_120, tmp_path / "out")
    first = listing(tmp_path / "out")
    metrics = evaluate(tmp_path / "ten.tsv", tmp_path / "out")
    evaluate(tmp_path / "ten.tsv", tmp_path / "fresh")
    assert metrics["n"] == 10
    assert set(first) - set(listing(tmp_path / "fresh")), "the first run wrote plots the second does not"
    assert listing(tmp_path / "out") == listing(tmp_path / "fresh")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "out", "ten.tsv"]  # nothing left beside


def test_a_folder_holding_files_evaluate_does_not_write_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    assert main(["evaluate", "--table", str(GTEX_120), "--effect-col", "slope", "--score-col", "log2_aFC",
                 "--out", str(tmp_path / "out")]) == 2
    assert "holds notes.txt, which this command does not write" in capsys.readouterr().err
    assert listing(tmp_path / "out") == ["notes.txt"]


def test_a_folder_holding_the_table_is_refused(gtex, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    gtex.to_csv(tmp_path / "out" / "table.tsv", sep="\t", index=False)
    assert main(["evaluate", "--table", str(tmp_path / "out" / "table.tsv"), "--effect-col", "slope",
                 "--score-col", "log2_aFC", "--out", str(tmp_path / "out")]) == 2
    assert "holds the input" in capsys.readouterr().err
    assert listing(tmp_path / "out") == ["table.tsv"]


@pytest.mark.slow
def test_a_run_killed_at_any_moment_leaves_the_previous_folder_or_the_new_one_whole(gtex, tmp_path):
    """A finished run on 120 rows, then runs on 10 rows killed (SIGKILL) while they write: as soon as their hidden
    folder appears and at moments after it. After each kill the folder is exactly the 120-row result or exactly the
    10-row one, never a mix; what is left beside it is hidden and says it is unfinished."""
    gtex.head(10).to_csv(tmp_path / "ten.tsv", sep="\t", index=False)
    before = _contents(_snapshot(tmp_path, GTEX_120, "before"))
    after = _contents(_snapshot(tmp_path, tmp_path / "ten.tsv", "after"))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "endobench.cli", "evaluate", "--table", str(tmp_path / "ten.tsv"),
               "--effect-col", "slope", "--score-col", "log2_aFC", "--out", str(out)]
    seen = []
    for delay in (0.0, 0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
        _copy_result(tmp_path / "before", out)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".out.*.partial")) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = _contents(out)
        assert state in (before, after), f"killed {delay} s into the write: a mixed folder"
        seen.append("before" if state == before else "after")
        for leftover in tmp_path.glob(".out.*"):
            assert (leftover / "UNFINISHED.txt").exists()
        for leftover in tmp_path.glob(".out.*"):
            shutil.rmtree(leftover)
    assert "before" in seen, "a kill as the writing starts leaves the previous folder"


def _snapshot(tmp_path, table, name):
    out = tmp_path / name
    assert subprocess.run([sys.executable, "-m", "endobench.cli", "evaluate", "--table", str(table), "--effect-col",
                           "slope", "--score-col", "log2_aFC", "--out", str(out)], capture_output=True).returncode == 0
    return out


def _copy_result(source, target):
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)


def _contents(folder):
    """Every file's bytes, except the report's own paths and the HTML's embedded plots, which differ by folder."""
    def text(path):
        data = path.read_bytes()
        return data.replace(str(folder).encode(), b"<out>") if path.suffix in (".json", ".md", ".html") else data

    return {str(p.relative_to(folder)): text(p) for p in sorted(folder.rglob("*")) if p.is_file()}


# --- what it prints ---------------------------------------------------------------------------------------------

def test_the_console_gives_rounded_numbers_with_their_intervals(tmp_path, capsys):
    """Three decimals and the 95% interval of each metric, two significant digits of each p-value, the primary
    endpoint with its exact interval: never a 17-digit float without an interval."""
    metrics = evaluate(GTEX_120, tmp_path / "out")
    printed = capsys.readouterr().out
    lo, hi = metrics["spearman_ci"]
    assert (f"  Spearman: {metrics['spearman']:.3f} [{lo:.3f}, {hi:.3f}], p={metrics['spearman_p']:.2g} "
            "(over units)") in printed
    primary = metrics["primary"]
    assert (f"  primary endpoint, sign agreement on units oriented by their measured effect: {primary['value']:.3f} "
            f"[{primary['ci'][0]:.3f}, {primary['ci'][1]:.3f}], p={primary['p']:.2g} (exact binomial against 0.5)"
            ) in printed
    assert "  n: 120 rows in 120 units of resampling" in printed and f"  mde: {metrics['mde']:.3f} (" in printed
    assert not re.search(r"\d\.\d{4,}", printed)


def test_the_console_prints_no_number_below_the_minimum_of_units(gtex, tmp_path, capsys):
    gtex.head(6).to_csv(tmp_path / "six.tsv", sep="\t", index=False)
    evaluate(tmp_path / "six.tsv", tmp_path / "out")
    printed = capsys.readouterr().out
    assert "  too few (n=6 units; at least 10 needed)" in printed and "Spearman" not in printed


# --- units, flags, columns --------------------------------------------------------------------------------------

WRITERS = {
    "csv": lambda f, p: f.to_csv(p, index=False),
    "tsv": lambda f, p: f.to_csv(p, sep="\t", index=False),
    "parquet": lambda f, p: f.to_parquet(p, index=False),
}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_blank_unit_cells_are_handled_the_same_in_every_format(gtex, tmp_path, kind):
    """32 rows without a unit, written empty, null, NA or as spaces: each is a unit of its own, whatever the format
    (in CSV 30 blank cells used to merge into one unit, in parquet they stayed apart). The other 88 rows are pairs
    whose unit is spelled with and without a trailing space, trimmed as ids are: 44 units."""
    table = gtex.assign(unit=[f"g{i // 2}" + (" " if i % 2 else "") for i in range(120)])
    table.loc[:31, "unit"] = ["", None, "NA", "  "] * 8
    path = tmp_path / f"t.{kind}"
    WRITERS[kind](table, path)
    metrics = evaluate(path, tmp_path / "out", "--unit-col", "unit")
    assert metrics["n_units"] == 32 + 44
    assert any("32 rows have no unit" in w for w in metrics["input_warnings"])


def test_rows_repeated_under_one_id_are_one_unit(gtex, tmp_path):
    """With --id-col and no predictions file, three copies of every row are 120 units, not 360, and the p-value is
    the single table's."""
    pd.concat([gtex] * 3).to_csv(tmp_path / "three.tsv", sep="\t", index=False)
    once = evaluate(GTEX_120, tmp_path / "once", "--id-col", "gene_id")
    three = evaluate(tmp_path / "three.tsv", tmp_path / "three", "--id-col", "gene_id")
    assert (three["n"], three["n_units"]) == (360, 120)
    assert three["spearman_p"] == pytest.approx(once["spearman_p"])
    assert three["unit"] == "gene_id"


@pytest.mark.parametrize("kind", list(WRITERS))
def test_is_significant_is_read_from_text_as_from_parquet(gtex, tmp_path, kind):
    """Only significant rows enter the metrics: 70 of 120 here, in every format."""
    table = gtex.assign(is_significant=np.arange(120) < 70)
    WRITERS[kind](table, tmp_path / f"t.{kind}")
    assert evaluate(tmp_path / f"t.{kind}", tmp_path / "out")["n"] == 70


def test_a_significance_flag_that_is_not_true_or_false_names_its_line(gtex, tmp_path, capsys):
    gtex.assign(is_significant=["yes"] * 119 + ["maybe"]).to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    assert main(["evaluate", "--table", str(tmp_path / "t.tsv"), "--effect-col", "slope", "--score-col", "log2_aFC",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "line 121" in err and "'maybe'" in err


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_the_same_column_guard_sees_through_links(tmp_path, capsys, link):
    """--predictions a link to --table and --score-col equal to --effect-col: the effects against themselves."""
    alias = tmp_path / "predictions.tsv"
    os.link(GTEX_120, alias) if link == "hard" else alias.symlink_to(GTEX_120)
    assert main(["evaluate", "--table", str(GTEX_120), "--predictions", str(alias), "--id-col", "gene_id",
                 "--effect-col", "slope", "--score-col", "slope", "--out", str(tmp_path / "out")]) == 2
    assert "both name 'slope'" in capsys.readouterr().err


def test_parquet_tables_whose_pandas_index_repeats_are_read_like_any_other(gtex, tmp_path):
    """What `pd.concat(...).to_parquet()` writes: the index 0-59 twice, in the table and the predictions (the join
    used to crash); an index set from a column (`set_index("gene_id")`) comes back as that column."""
    def halves(frame):
        return pd.concat([frame.iloc[:60].reset_index(drop=True), frame.iloc[60:].reset_index(drop=True)])

    halves(gtex.drop(columns="log2_aFC")).to_parquet(tmp_path / "truth.parquet")
    halves(gtex[["gene_id", "log2_aFC"]]).to_parquet(tmp_path / "repeated.parquet")
    gtex[["gene_id", "log2_aFC"]].set_index("gene_id").to_parquet(tmp_path / "named.parquet")
    as_text = evaluate(GTEX_120, tmp_path / "text")
    for predictions in ("repeated.parquet", "named.parquet"):
        joined = evaluate(tmp_path / "truth.parquet", tmp_path / predictions.split(".")[0], "--id-col", "gene_id",
                          "--predictions", str(tmp_path / predictions))
        assert joined["n"] == 120
        assert joined["spearman"] == pytest.approx(as_text["spearman"])


# --- numbers ----------------------------------------------------------------------------------------------------

def test_pearson_and_its_interval_do_not_depend_on_the_scale_of_the_scores(gtex, tmp_path):
    """x 1e-7 gave a null interval, x 1e100 an interval of [0, 0]: both now give the numbers of the table itself."""
    as_given = evaluate(GTEX_120, tmp_path / "given")
    for scale in (1e-7, 1e100):
        gtex.assign(log2_aFC=gtex["log2_aFC"] * scale).to_csv(tmp_path / "scaled.tsv", sep="\t", index=False)
        scaled = evaluate(tmp_path / "scaled.tsv", tmp_path / "scaled")
        assert scaled["pearson"] == pytest.approx(as_given["pearson"])
        assert scaled["pearson_ci"] == pytest.approx(as_given["pearson_ci"])
        assert scaled["pearson_ci"][0] < scaled["pearson"] < scaled["pearson_ci"][1]


def test_a_p_value_below_the_float_range_is_reported_as_a_bound(tmp_path, capsys):
    """3,000 rows whose score is the effect plus a little noise: scipy's p-value underflows to 0; the command
    reports it as < 1e-300 in metrics.json and on the console, never as 0."""
    effect = np.linspace(-1, 1, 3000)
    noise = np.random.default_rng(7).normal(scale=0.01, size=3000)
    pd.DataFrame({"slope": effect, "log2_aFC": effect + noise}).to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    metrics = evaluate(tmp_path / "t.tsv", tmp_path / "out")
    assert metrics["spearman_p"] == metrics["pearson_p"] == "< 1e-300"
    assert re.search(r"  Spearman: [\d.]+ \[[\d.]+, [\d.]+\], p < 1e-300 \(over units\)", capsys.readouterr().out)
