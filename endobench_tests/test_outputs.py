"""Outputs never overwrite inputs, and are written in the format their name says, through the commands.

An output that is an input (by the same name, a hard link or a symbolic link) is refused before any work, as is a
name that says no table format, an output below a file, a cache folder that is a file, or a symbolic link loop.
"""

import os
import shutil

import pandas as pd
import pytest

from endobench.cli import main
from endobench_tests.paths import FIXTURES, SAMPLE_DIR

LOW = FIXTURES / "local_model" / "low_alleles.fa"
HIGH = FIXTURES / "local_model" / "high_alleles.fa.gz"
VARIANTS = "chrom\tpos\tref\talt\nchr22\t32016646\tG\tT\nchr22\t32016646\tC\tA\n"


@pytest.fixture
def data(data_dir):
    """A command that got past its checks would train a model in it."""
    return data_dir


def model_in(data):
    return data / "outputs" / "local_model" / "local_dnase_model.npz"


def one_line(capsys, argv: list[str], status: int = 2) -> str:
    assert main(argv) == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def aliases(tmp_path, given):
    """The same file under another name: itself, a hard link, a symbolic link."""
    hard, soft = tmp_path / f"hard{given.suffix}", tmp_path / f"soft{given.suffix}"
    os.link(given, hard)
    soft.symlink_to(given)
    return {"same name": given, "hard link": hard, "symbolic link": soft}


@pytest.mark.parametrize("how", ["same name", "hard link", "symbolic link"])
def test_score_variants_refuses_to_write_over_its_variant_list(data, tmp_path, capsys, how):
    listed = tmp_path / "variants.tsv"
    listed.write_text(VARIANTS)
    out = aliases(tmp_path, listed)[how]
    line = one_line(capsys, ["score-variants", "--variants", str(listed), "--predictor", "local", "--out", str(out)])
    assert "the output is the input" in line and str(listed) in line
    assert listed.read_text() == VARIANTS
    assert not model_in(data).exists()


@pytest.mark.parametrize("which", ["--ref", "--alt"])
@pytest.mark.parametrize("how", ["same name", "hard link", "symbolic link"])
def test_score_pairs_refuses_to_write_over_either_fasta(tmp_path, capsys, which, how):
    inputs = {"--ref": tmp_path / "ref.fa", "--alt": tmp_path / "alt.fa"}
    shutil.copy(LOW, inputs["--ref"])
    inputs["--alt"].write_bytes(__import__("gzip").decompress(HIGH.read_bytes()))
    before = inputs[which].read_bytes()
    out = aliases(tmp_path, inputs[which])[how]
    line = one_line(capsys, ["score-pairs", "--ref", str(inputs["--ref"]), "--alt", str(inputs["--alt"]),
                             "--out", str(out), "--model", str(tmp_path / "absent.npz")])
    assert "the output is the input" in line
    assert inputs[which].read_bytes() == before
    assert not (tmp_path / "absent.npz").exists()


@pytest.mark.parametrize("name, read", [
    ("scores.tsv", lambda path: pd.read_csv(path, sep="\t")),
    ("scores.csv", pd.read_csv),
    ("scores.parquet", pd.read_parquet),
])
def test_score_variants_writes_the_format_its_output_is_named_for(data, tmp_path, small_model_file, name, read):
    model_in(data).parent.mkdir(parents=True)
    shutil.copy(small_model_file, model_in(data))
    (tmp_path / "variants.tsv").write_text(VARIANTS)
    assert main(["score-variants", "--variants", str(tmp_path / "variants.tsv"), "--predictor", "local",
                 "--out", str(tmp_path / name)]) == 0
    table = read(tmp_path / name)
    assert table["status"].tolist() == ["scored", "excluded"]
    assert table["reason"].fillna("").tolist() == ["", "ref_mismatch"]


@pytest.mark.parametrize("name", ["scores.txt", "scores", "scores.parquet.gz", "scores.xlsx"])
def test_an_output_named_for_no_format_is_refused_before_any_work(data, tmp_path, capsys, name):
    (tmp_path / "variants.tsv").write_text(VARIANTS)
    line = one_line(capsys, ["score-variants", "--variants", str(tmp_path / "variants.tsv"), "--predictor",
                             "local", "--out", str(tmp_path / name)])
    assert "names no table format" in line and ".parquet, .tsv or .csv" in line
    assert not model_in(data).exists() and not (tmp_path / name).exists()


def test_score_pairs_refuses_an_output_named_for_no_format(tmp_path, capsys):
    line = one_line(capsys, ["score-pairs", "--ref", str(LOW), "--alt", str(HIGH), "--out", str(tmp_path / "s.fa"),
                             "--model", str(tmp_path / "absent.npz")])
    assert "names no table format" in line


def test_score_variants_refuses_an_output_below_a_file_before_scoring(data, tmp_path, capsys):
    (tmp_path / "variants.tsv").write_text(VARIANTS)
    (tmp_path / "taken").write_text("a file")
    line = one_line(capsys, ["score-variants", "--variants", str(tmp_path / "variants.tsv"), "--predictor",
                             "local", "--out", str(tmp_path / "taken" / "scores.tsv")])
    assert "is a file, so nothing can be written below it" in line
    assert not model_in(data).exists()


def test_a_cache_dir_that_is_a_file_is_named_as_the_cache_folder(data, tmp_path, capsys):
    (tmp_path / "variants.tsv").write_text(VARIANTS)
    (tmp_path / "cache").write_text("a file")
    line = one_line(capsys, ["score-variants", "--variants", str(tmp_path / "variants.tsv"), "--predictor",
                             "local", "--out", str(tmp_path / "s.tsv"), "--cache-dir", str(tmp_path / "cache")])
    assert f"{tmp_path / 'cache'}: the score cache folder (--cache-dir) is an existing file" in line


@pytest.mark.parametrize("role", ["--variants", "--out"])
def test_a_symbolic_link_loop_is_named_as_a_loop(data, tmp_path, capsys, role):
    (tmp_path / "variants.tsv").write_text(VARIANTS)
    loop = tmp_path / "loop.tsv"
    loop.symlink_to(loop)
    paths = {"--variants": tmp_path / "variants.tsv", "--out": tmp_path / "s.tsv", role: loop}
    line = one_line(capsys, ["score-variants", "--variants", str(paths["--variants"]), "--predictor", "local",
                             "--out", str(paths["--out"])])
    assert "symbolic link loop" in line and str(loop) in line


def test_build_sample_reference_refuses_to_write_over_a_file_it_reads(tmp_path, capsys):
    sample = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, sample, symlinks=True)
    table = sample / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"
    before = table.read_bytes()
    line = one_line(capsys, ["build-sample-reference", "--sample-dir", str(sample), "--out", str(table)])
    assert "the output is the input" in line
    assert table.read_bytes() == before
