"""Every command line the documentation quotes in a fenced block works as written, or this file says why it is not
run here (`docs_commands` reads them: README.md, docs/*.md, deploy/README.md).

Cheap ones run here, in a temporary folder laid out as the repository is (`data/sample`, a small trained model where
`data/outputs/local_model/` keeps it), with the documentation's placeholder names (`REF.fa`, `FILE`, `DIR`, ...)
standing for real files. Expensive ones are run by the slow tests named below, which read their command line from
the documentation too. A command the documentation gains that is in none of the lists fails
`test_every_documented_command_is_run_here_or_said_why_not`.
"""

import gzip
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests

from endobench.cli import main
from endobench.demo import DAGSTER_YAML
from endobench.lib.model import model_path
from endobench_tests.docs_commands import DocumentedCommand, documented_commands, expansions
from endobench_tests.lib.model.small_model import small_cross_fitted
from endobench_tests.paths import FIXTURES, REPO, SAMPLE_DIR
from endobench_tests.processes import free_port, stop_group, wait_for_http

# Run by a slow test (`make test-slow`), which reads the line from the documentation: the start of the line -> where.
RUN_BY_SLOW_TESTS = {
    "make demo": "endobench_tests/test_demo.py runs the command the target runs (`make -n demo` is checked here), "
                 "in a temporary data folder",
    "DAGSTER_HOME=$PWD/data/dagster_home .venv/bin/dagster job backfill":
        "endobench_tests/defs/test_backfill.py runs this line, with its own chromosomes and data folder",
    "make ui": "test_make_ui_serves_the_instance_of_the_data_folder, below, serves it on a free port and asks it "
               "which instance it serves",
}
# Not run here, and why: the start of the line (of one expansion of a synopsis) -> the reason.
NOT_RUN = {
    "make test": "the suite this file belongs to (its target is checked with `make -n` below)",
    "export ALPHAGENOME_API_KEY=": "sets the AlphaGenome API key, a secret no test has",
    "export ENDOBENCH_PREDICTOR=alphagenome": "chooses AlphaGenome for the line after it, which needs the key",
    "ENDOBENCH_PREDICTOR=alphagenome make ui": "scores with AlphaGenome: the key and the network (without the key, "
                                              "test_settings.py checks the one line that says which variable to set)",
    ".venv/bin/endobench score-variants --variants FILE --predictor alphagenome":
        "calls the AlphaGenome API: the key and the network (tests/test_score_variants.py runs it against the "
        "loopback stand-in of the service)",
    ".venv/bin/endobench score-variants --variants my_variants.tsv --predictor alphagenome":
        "the free preflight asks the AlphaGenome API (the key and the network); test_score_variants.py runs the "
        "dry run against the loopback stand-in",
    "ENDOBENCH_PROFILE=full ENDOBENCH_DATA_DIR=/big/disk/endobench .venv/bin/endobench demo":
        "downloads the real inputs (gigabytes) from their publishers; without network it stops in one line naming "
        "the URL, which test_settings.py checks against a closed loopback port",
    ".venv/bin/python bench/alphagenome_throughput.py": "a benchmark of minutes (`make bench`); the options it is "
                                                        "given are checked against its --help here",
    "docker ": "needs a Docker engine, which the test machine does not have: test_deploy_files.py checks the image "
               "recipe and the environment file these lines use",
    "pg_dump ": "needs the deployment's PostgreSQL database (`make deploy-test` starts one, not this backup)",
    "tar -C $ENDOBENCH_DATA_DIR": "archives a deployment's data volume beside the database dump",
}
# Placeholder words of the documentation -> the file each stands for here (FILE: "TSV, CSV or parquet").
PLACEHOLDERS = {"FILE": "FILE.tsv"}
# The documented make targets, and the command each runs (`make -n`).
MAKE_TARGETS = {"make demo": ".venv/bin/endobench demo", "make test": ".venv/bin/python -m pytest -q -m 'not slow"}


def lines_to_run() -> list[tuple[DocumentedCommand, list[str]]]:
    """Every expansion of every documented command that runs here, each line once (two pages may quote one)."""
    out: dict[tuple[str, ...], tuple[DocumentedCommand, list[str]]] = {}
    for command in documented_commands():
        for words in expansions(list(command.words)):
            if how_covered(" ".join(words)) == "run here":
                out.setdefault(tuple(words), (command, words))
    return list(out.values())


def how_covered(text: str) -> str:
    kinds = [kind for kind, prefixes in (("slow test", RUN_BY_SLOW_TESTS), ("not run", NOT_RUN))
             if any(text.startswith(p) for p in prefixes)]
    if kinds:
        return kinds[0] if len(kinds) == 1 else "listed twice"
    return "run here" if text.startswith((".venv/bin/endobench ", ".venv/bin/pytest ")) else "not covered"


def test_every_documented_command_is_run_here_or_said_why_not():
    uncovered = [f"{command}  ->  {' '.join(words)}" for command in documented_commands()
                 for words in expansions(list(command.words))
                 if how_covered(" ".join(words)) in ("not covered", "listed twice")]
    assert uncovered == []
    assert len(lines_to_run()) >= 6  # score-pairs (2), score-variants (4), evaluate, pytest


def test_every_entry_of_the_lists_still_names_a_documented_command():
    """A line removed from the documentation leaves no stale entry behind."""
    texts = [" ".join(words) for command in documented_commands() for words in expansions(list(command.words))]
    stale = [p for p in [*RUN_BY_SLOW_TESTS, *NOT_RUN, *MAKE_TARGETS] if not any(t.startswith(p) for t in texts)]
    assert stale == []


@pytest.mark.parametrize("target, runs", list(MAKE_TARGETS.items()))
def test_the_documented_make_targets_run_what_they_say(target, runs):
    dry = subprocess.run(["make", "-n", *target.split()[1:]], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert runs in dry.stdout.replace("$(BIN)", ".venv/bin")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder laid out as the repository: the bundled sample, a trained model where the commands look for it, and
    the files the documentation's placeholder names stand for."""
    root = tmp_path_factory.mktemp("docs_commands")
    (root / "data").mkdir()
    (root / "data" / "sample").symlink_to(SAMPLE_DIR)
    small_cross_fitted().save(model_path(root / "data" / "outputs"))
    # Real dsQTL contexts: the low-accessibility allele of each as REF, the high one as ALT (the same record names).
    shutil.copy(FIXTURES / "local_model" / "low_alleles.fa", root / "REF.fa")
    (root / "ALT.fa").write_bytes(gzip.decompress((FIXTURES / "local_model" / "high_alleles.fa.gz").read_bytes()))
    pd.DataFrame({"chrom": ["chr22", "chr17"], "pos": [32_207_076, 81_126_207], "ref": ["C", "A"],
                  "alt": ["A", "G"]}).to_csv(root / PLACEHOLDERS["FILE"], sep="\t", index=False)
    (root / "hg38.fa").symlink_to(SAMPLE_DIR / "hg38_sample_segments.fa")
    gtex = pd.read_csv(FIXTURES / "report" / "gtex_wb_egenes_chr22_first120.tsv", sep="\t")
    gtex.rename(columns={"log2_aFC": "score"}).to_csv(root / "predictions.tsv", sep="\t", index=False)
    (root / "DIR").mkdir()
    return root


@pytest.mark.parametrize("command, words", lines_to_run(), ids=lambda value: " ".join(value)
                         if isinstance(value, list) else "")
def test_the_documented_command_runs_as_written(command, words, workdir, monkeypatch, capsys):
    """Each line (each expansion of a synopsis) exits with 0 and writes what it says it writes (a dry run: its plan,
    and no output)."""
    monkeypatch.chdir(workdir)
    for name in ("ENDOBENCH_DATA_DIR", "ENDOBENCH_PREDICTOR", "ENDOBENCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    program, *arguments = [PLACEHOLDERS.get(word, word) for word in words]
    if program == ".venv/bin/pytest":
        paths = [str(p.relative_to(REPO)) for a in arguments if not a.startswith("-") for p in sorted(REPO.glob(a))]
        collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *paths], cwd=REPO,
                                   capture_output=True, text=True, timeout=300)
        assert collected.returncode == 0 and " tests collected" in collected.stdout, collected.stdout[-2000:]
        return
    assert program == ".venv/bin/endobench" and Path(sys.executable).with_name("endobench").exists()
    out = arguments[arguments.index("--out") + 1]
    shutil.rmtree(workdir / out, ignore_errors=True) if out.endswith("/") else (workdir / out).unlink(missing_ok=True)
    assert main(arguments) == 0, str(command)
    if "--dry-run" in arguments:
        assert f"dry run: 0 paid calls made, {out} not written" in capsys.readouterr().out
        assert not (workdir / out).exists()
    else:
        assert (workdir / out).exists()


def test_the_benchmarks_options_are_the_documented_ones():
    """`bench/alphagenome_throughput.py --sections quota --window-seconds 6` names options the script has."""
    options: dict[str, set[str]] = {}
    for command in documented_commands():
        if command.text.startswith(".venv/bin/python bench/"):
            options.setdefault(command.argv[1], set()).update(a for a in command.argv[2:] if a.startswith("--"))
    assert options
    for script, given in options.items():
        usage = subprocess.run([sys.executable, str(REPO / script), "--help"], capture_output=True, text=True,
                               timeout=60)
        assert usage.returncode == 0, usage.stderr
        assert {option for option in given if option not in usage.stdout} == set(), script


@pytest.mark.slow
def test_make_ui_serves_the_instance_of_the_data_folder(tmp_path):
    """`make ui` (how the README and docs/ open the UI) serves `dagster dev` on the Dagster home of the data folder
    the demo writes to, `$ENDOBENCH_DATA_DIR/dagster_home`, as the demo names it (UI_PORT only picks a free port)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sample").symlink_to(SAMPLE_DIR)
    port = free_port()
    log_path = tmp_path / "make_ui.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(["make", "ui", f"UI_PORT={port}"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "ENDOBENCH_DATA_DIR": str(data)}, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", server, log_path, 240)
        answer = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ instance { info } }"}, timeout=30)
        assert str(data / "dagster_home") in answer.json()["data"]["instance"]["info"]
        assert (data / "dagster_home" / "dagster.yaml").read_text() == DAGSTER_YAML
    finally:
        stop_group(server.pid, server, first=signal.SIGINT, grace_s=45)
