"""Settings are honoured everywhere or refused: numeric settings that do not parse stop the definitions from
loading, `endobench demo` reads the code location's environment and says so in its first line, stops before any
work when a setting cannot work, and a damaged score cache is named with what to do."""

import shutil

import pytest

from endobench.cli import main
from endobench.definitions import build_definitions
from endobench.lib.scoring.score_cache import CACHE_FILE, CallKey, ScoreCache
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, sample_eqtl_requests


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("ENDOBENCH_PREDICTOR", "ENDOBENCH_PROFILE", "ENDOBENCH_GTEX_TISSUES", "ENDOBENCH_ANNOTATIONS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("variable, value, takes", [
    ("ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE", "nan", "calls per minute >= 0"),
    ("ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE", "inf", "calls per minute >= 0"),
    ("ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH", "1MB", "one of 16384, 131072, 524288 or 1048576"),
    ("ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH", "2048", "use one of 16,384, 131,072, 524,288, 1,048,576"),
    ("ENDOBENCH_ALPHAGENOME_CONCURRENCY", "four", "a whole number from 1 to 64"),
    ("ENDOBENCH_ALPHAGENOME_PROGRESS_SECONDS", "-inf", "a number of seconds > 0"),
    ("ENDOBENCH_DOWNLOAD_RETRIES", "3.5", "a whole number of retries >= 0"),
    ("ENDOBENCH_AUTOMATION_INTERVAL_S", "30s", "a whole number of seconds > 0"),
])
def test_a_numeric_setting_that_does_not_parse_stops_the_definitions_loading(clean_environment, variable, value,
                                                                             takes):
    """Loaded as `dagster dev` loads the code location: the error names the variable, its value and what it takes."""
    clean_environment.setenv("ENDOBENCH_PREDICTOR", "alphagenome")
    clean_environment.setenv("ENDOBENCH_PROFILE", "full")
    clean_environment.setenv(variable, value)
    with pytest.raises(Exception) as caught:
        build_definitions().resolve_all_job_defs()
    chain, error = [], caught.value
    while error is not None:  # Dagster's loader wraps the error of the module that failed
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    assert any(variable in text and takes in text for text in chain), chain


def test_the_demo_says_the_settings_it_runs_with_and_stops_on_a_tissue_it_cannot_use(data_dir, clean_environment,
                                                                                       capsys):
    """ENDOBENCH_GTEX_TISSUES and ENDOBENCH_ANNOTATIONS reach the demo (it used to ignore them): its first line
    names them, and a tissue the sample does not bundle stops it before any work, in one line naming the full
    profile."""
    clean_environment.setenv("ENDOBENCH_GTEX_TISSUES", "Whole_Blood,Brain_Cortex")
    clean_environment.setenv("ENDOBENCH_ANNOTATIONS", "k562_dhs")
    assert main(["demo"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == (f"endobench demo: profile=sample data={data_dir} "
                                            "tissues=Whole_Blood,Brain_Cortex annotations=k562_dhs predictor=local")
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "only, not Brain_Cortex; use the full profile (ENDOBENCH_PROFILE=full)" in err[0]
    assert not (data_dir / "dagster_home").exists() and not (data_dir / "outputs").exists()


def test_the_demo_with_alphagenome_and_no_key_says_which_variable_to_set_before_any_work(data_dir, clean_environment,
                                                                                          capsys):
    clean_environment.delenv("ALPHAGENOME_API_KEY", raising=False)
    assert main(["demo", "--predictor", "alphagenome"]) == 1
    captured = capsys.readouterr()
    assert "predictor=alphagenome (interval_length=1048576" in captured.out.splitlines()[0]
    assert captured.err.strip() == ("endobench demo: ALPHAGENOME_API_KEY is not set: export your AlphaGenome API "
                                    "key in it")
    assert not (data_dir / "dagster_home").exists()


def test_the_full_profile_without_network_fails_naming_the_url_it_could_not_reach(data_dir, clean_environment,
                                                                                   capsys):
    """Every publisher is a closed loopback port here: the demo fails in one line naming the first URL it tried,
    never with the sample's numbers (it used to run the sample and print them)."""
    closed = "http://127.0.0.1:9"
    for variable in ("ENDOBENCH_GTEX_BASE_URL", "ENDOBENCH_UCSC_BASE_URL", "ENDOBENCH_ENCODE_BASE_URL"):
        clean_environment.setenv(variable, closed)
    clean_environment.setenv("ENDOBENCH_PROFILE", "full")
    assert main(["demo"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"endobench demo: profile=full data={data_dir} tissues=Whole_Blood,"
                                         "Cells_EBV-transformed_lymphocytes annotations=k562_dhs,lcl_dsqtl_sites "
                                         "predictor=local"]
    failure = captured.err.strip().splitlines()
    assert len(failure) == 1
    assert failure[0].startswith(f"endobench demo: could not reach {closed}/ENCFF185XRG/?format=json (Connection")
    assert not (data_dir / "dagster_home").exists() and not (data_dir / "outputs").exists()


@pytest.mark.parametrize("damage", ["not SQLite", "truncated"])
def test_a_damaged_score_cache_is_one_line_naming_the_file_and_what_to_do(data_dir, clean_environment, tmp_path,
                                                                          capsys, damage):
    cache = data_dir / "cache" / CACHE_FILE
    if damage == "truncated":
        with ScoreCache(cache.parent) as written:
            for i in range(3_000):
                written.store_scores(CallKey(f"chr22:{i + 1}:A>G", "alphagenome", "ALL_FOLDS", "s", "t", 16_384,
                                                     "127.0.0.1:1"),
                                     {"": (0.1, 0.2)})
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 3])
    else:
        cache.parent.mkdir(parents=True)
        cache.write_text("scores, as I remember them\n" * 50)
    frame, genes = sample_eqtl_requests(3)
    frame[["chrom", "pos", "ref", "alt"]].to_csv(tmp_path / "variants.tsv", sep="\t", index=False)
    with AlphaGenomeStandIn(genes=genes) as server:
        clean_environment.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        clean_environment.setenv("ALPHAGENOME_API_KEY", "cache-key")
        assert main(["score-variants", "--variants", str(tmp_path / "variants.tsv"), "--predictor", "alphagenome",
                     "--out", str(tmp_path / "out.tsv")]) == 2
        assert server.records == []
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("endobench")]
    assert len(err) == 1
    assert f"{cache}: the score cache is damaged or is not an SQLite database" in err[0]
    assert f"mv {cache} {cache}.damaged" in err[0]
    shutil.rmtree(data_dir / "cache")


@pytest.mark.slow
def test_the_demo_scores_only_the_tissues_and_annotations_the_environment_names(data_dir, clean_environment, capsys):
    """ENDOBENCH_GTEX_TISSUES=Whole_Blood and ENDOBENCH_ANNOTATIONS=k562_dhs, as deploy/README.md sets them: the
    report holds Whole Blood at K562 peaks and the dsQTL truth sets, nothing of LCL eQTLs or of the dsQTL-site
    annotation."""
    import json

    clean_environment.setenv("ENDOBENCH_GTEX_TISSUES", "Whole_Blood")
    clean_environment.setenv("ENDOBENCH_ANNOTATIONS", "k562_dhs")
    clean_environment.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))  # the demo sets it; restored after
    assert main(["demo"]) == 0
    metrics = json.loads((data_dir / "outputs" / "benchmark_report" / "v8" / "metrics.json").read_text())
    assert set(metrics["truth_sets"]) == {"gtex_wb_k562_dhs", "dsqtl_degner2012", "dsqtl_degner2012_strong"}
    assert capsys.readouterr().out.splitlines()[0].endswith("tissues=Whole_Blood annotations=k562_dhs predictor=local")


def test_the_full_profiles_settings_table_names_every_field_with_its_variable_and_default():
    """docs/full_profile.md: one row per setting of the full profile's sources (it named `gtex_tissue`, which does
    not exist, said no default peaks were preset, and left six settings out), each with the variable that sets it
    and its default."""
    import re

    from endobench.defs.resources import SOURCES_SETTINGS
    from endobench.resources.sources import FullDataSources
    from endobench_tests.paths import REPO

    section = (REPO / "docs" / "full_profile.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip() for cell in line.split("|")[1:5]] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith(("| setting", "|---"))]
    by_field = {field: row for row in rows for field in re.findall(r"`([a-z_0-9]+)`", row[0])}
    assert set(by_field) == set(FullDataSources.model_fields)
    for variable, (field, _) in SOURCES_SETTINGS.items():
        assert f"`{variable}`" in by_field[field][1], (variable, field)
    defaults = FullDataSources()
    assert all(f"`{tissue}`" in by_field["gtex_tissues"][2] for tissue in defaults.gtex_tissues)
    assert f"`{defaults.peaks_encode_accession}`" == by_field["peaks_encode_accession"][2] == "`ENCFF185XRG`"
    assert f"`{defaults.gtex_file_kind}`" == by_field["gtex_file_kind"][2]


def test_the_seeds_hg19_peaks_are_chosen_from_the_environment(clean_environment, tmp_path):
    """An empty variable means the default (ENCODE's GRCh38 peaks), so `ucsc_hg19` names the seed's UCSC hg19 file,
    which the full profile then downloads and lifts."""
    from endobench.defs.resources import resources_from_environment

    from endobench_tests.paths import SAMPLE_DIR

    (tmp_path / "sample").symlink_to(SAMPLE_DIR)
    clean_environment.setenv("ENDOBENCH_PROFILE", "full")
    clean_environment.setenv("ENDOBENCH_DATA_DIR", str(tmp_path))
    clean_environment.setenv("ENDOBENCH_PEAKS_ENCODE_ACCESSION", "ucsc_hg19")
    sources = resources_from_environment()["sources"]
    assert sources.peaks_encode_accession == ""
    assert any(url.endswith("wgEncodeOpenChromDnaseK562PkV2.narrowPeak.gz") for url in sources.pending_downloads("v8"))
    clean_environment.setenv("ENDOBENCH_PEAKS_ENCODE_ACCESSION", "")
    assert resources_from_environment()["sources"].peaks_encode_accession == "ENCFF185XRG"


def test_the_full_profile_page_says_which_checksums_are_pinned():
    """Every MD5 pinned in the code is on docs/full_profile.md with its file, and the page no longer says that none
    is pinned."""
    from endobench.lib.io.checksums import PINNED_MD5
    from endobench_tests.paths import REPO

    text = " ".join((REPO / "docs" / "full_profile.md").read_text().split())
    for path, md5 in PINNED_MD5.items():
        assert md5 in text and path.rsplit("/", 1)[1] in text
    assert "No expected sizes or checksums are pinned" not in text
    assert "Only `hg38.fa.gz`'s MD5 is pinned in the code" in text and len(PINNED_MD5) == 1
