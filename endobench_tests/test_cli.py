"""Every `endobench` subcommand ends a failure with one clear line on stderr and a non-zero exit, never a traceback.

The wrapper is `cli.main`, so a subcommand added later gets it without code of its own; `--debug` adds the
traceback. Runs `main` in process on real fixtures.
"""

import pandas as pd
import pytest

from endobench.cli import failure_line, main
from endobench_tests.paths import CORPUS, FIXTURES

GTEX_120 = FIXTURES / "report" / "gtex_wb_egenes_chr22_first120.tsv"
LOW = FIXTURES / "local_model" / "low_alleles.fa"
HIGH = FIXTURES / "local_model" / "high_alleles.fa.gz"


def _one_line_failure(capsys, argv, command, status=2) -> str:
    assert main(argv) == status
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith(f"endobench {command}: ")
    return lines[0]


def test_effect_and_score_from_one_column_end_in_one_line(capsys, tmp_path):
    line = _one_line_failure(capsys, ["evaluate", "--table", str(GTEX_120), "--effect-col", "slope",
                                      "--score-col", "slope", "--out", str(tmp_path / "out")], "evaluate")
    assert "--effect-col and --score-col both name 'slope'" in line


def test_an_output_folder_that_is_a_file_ends_in_one_line(capsys, tmp_path):
    out = tmp_path / "out"
    out.write_text("taken")
    line = _one_line_failure(capsys, ["evaluate", "--table", str(GTEX_120), "--effect-col", "slope",
                                      "--score-col", "log2_aFC", "--out", str(out)], "evaluate")
    assert f"{out}: the output folder is an existing file" in line


@pytest.mark.parametrize("out, says", [
    ("{tmp}", "the output file is an existing folder"),
    ("/sys/endobench/scores.tsv", "nothing can be written in /sys"),
    ("{tmp}/taken/scores.tsv", "is a file, so nothing can be written below it"),
])
def test_score_pairs_refuses_an_output_it_cannot_write_before_any_work(capsys, tmp_path, out, says):
    (tmp_path / "taken").write_text("a file")
    out = out.format(tmp=tmp_path)
    line = _one_line_failure(capsys, ["score-pairs", "--ref", str(LOW), "--alt", str(HIGH), "--out", out,
                                      "--model", str(tmp_path / "absent.npz")], "score-pairs")
    assert says in line
    assert not (tmp_path / "absent.npz").exists(), "no model is trained for a run that cannot write its output"


def test_a_reader_error_ends_in_one_line_with_status_2(capsys, tmp_path):
    line = _one_line_failure(capsys, ["score-pairs", "--ref", str(CORPUS / "fasta" / "genbank_numbered.fa"),
                                      "--alt", str(HIGH), "--out", str(tmp_path / "s.tsv"),
                                      "--model", str(tmp_path / "absent.npz")], "score-pairs")
    assert "genbank_numbered.fa, line 2: record 'PRR14L_context' has ' '" in line


def test_demo_with_a_data_folder_that_is_a_file_ends_in_one_line(capsys, tmp_path):
    data = tmp_path / "data"
    data.write_text("not a folder")
    line = _one_line_failure(capsys, ["demo", "--data-dir", str(data)], "demo", status=1)
    assert str(data) in line


def test_debug_adds_the_traceback_and_keeps_the_last_line(capsys, tmp_path):
    out = tmp_path / "out"
    out.write_text("taken")
    argv = ["evaluate", "--table", str(GTEX_120), "--effect-col", "slope", "--score-col", "log2_aFC",
            "--out", str(out), "--debug"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("endobench evaluate: ")


def test_an_unexpected_error_is_named_with_a_pointer_to_debug():
    line = failure_line(RuntimeError("boom\nsecond line"))
    assert line == ("unexpected RuntimeError: boom second line (run again with --debug for the traceback, "
                    "and please report it)")


def test_evaluate_prints_the_exclusions_on_the_console(capsys, tmp_path):
    frame = pd.read_csv(GTEX_120, sep="\t")
    frame.loc[:2, "log2_aFC"] = None
    table = tmp_path / "t.tsv"
    frame.to_csv(table, sep="\t", index=False)
    assert main(["evaluate", "--table", str(table), "--effect-col", "slope", "--score-col", "log2_aFC",
                 "--out", str(tmp_path / "out")]) == 0
    assert "  excluded: score_missing_or_not_numeric=3" in capsys.readouterr().out.splitlines()
