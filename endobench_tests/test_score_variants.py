"""`endobench score-variants`: any variant list scored through the graph's predictor wiring, settings and cache,
exercised through the command against the loopback AlphaGenome stand-in (real gRPC, the SDK client)."""

import re
import socket
import time

import grpc
import pandas as pd
import pytest

from endobench.cli import main
from endobench.lib.model.crossfit import ODD, SCORED_BY
from endobench.lib.scoring.score_cache import CACHE_FILE, ScoreCache
from endobench.lib.truth_sets.variant_list import check_variant_list
from endobench.resources.predictors import ACCESSIBILITY, local_track
from endobench_tests.lib.model.small_model import small_cross_fitted
from endobench_tests.paths import FIXTURES, SAMPLE_DIR
from endobench_tests.stand_ins.alphagenome_server import (
    AlphaGenomeStandIn,
    FaultPlan,
    gene_desert,
    sample_eqtl_requests,
)
from endobench_tests.stand_ins.quotas import SlidingWindow

RIGHT_KEY = "score-variants-right-key"
OUTPUT_COLUMNS = ["chrom", "pos", "ref", "alt", "gene_id", "readout", "score", "quantile_score", "status", "reason",
                  "harmonisation", "variant_id", "track", "source", "avi_score"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A data dir of its own (the sample linked in), and the stand-in's address for the AlphaGenome wiring; the live
    model only (these are the live path's tests; test_score_variants_atlas.py runs the command with the Atlas)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sample").symlink_to(SAMPLE_DIR)
    monkeypatch.setenv("ENDOBENCH_DATA_DIR", str(data))
    monkeypatch.setenv("ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE", "0")
    monkeypatch.setenv("ENDOBENCH_ALPHAGENOME_ATLAS", "off")
    monkeypatch.setenv("ALPHAGENOME_API_KEY", RIGHT_KEY)
    return monkeypatch


def _eqtl_list(path, n_genes: int = 10):
    """Real chr22 GTEx Whole Blood eGenes with their lead variants, as a researcher's TSV, and the annotation."""
    frame, genes = sample_eqtl_requests(n_genes)
    table = frame[frame["readout"] == "expression"][["chrom", "pos", "ref", "alt", "gene_id"]]
    table.to_csv(path, sep="\t", index=False)
    return table.reset_index(drop=True), genes


def _score(variants, out, predictor="alphagenome", *extra) -> int:
    return main(["score-variants", "--variants", str(variants), "--predictor", predictor, "--out", str(out), *extra])


def test_a_wrong_key_stops_with_one_line_and_the_right_key_then_scores_every_row(env, tmp_path, capsys):
    """Google's answer to a wrong key (INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID) stops the command with exit 1
    and one line naming ALPHAGENOME_API_KEY, no output and nothing cached; the right key on the same cache then
    asks for every variant and writes a row per input row and readout."""
    variants, genes = _eqtl_list(tmp_path / "eqtls.tsv")
    out = tmp_path / "scores.parquet"
    with AlphaGenomeStandIn(genes=genes, expected_api_key=RIGHT_KEY) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        env.setenv("ALPHAGENOME_API_KEY", "a-wrong-key")
        assert _score(tmp_path / "eqtls.tsv", out) == 1
        stderr = capsys.readouterr().err
        stopped = [line for line in stderr.splitlines() if line.startswith("endobench score-variants:")]
        assert len(stopped) == 1 and "ALPHAGENOME_API_KEY" in stopped[0] and "a-wrong-key" not in stderr
        assert not out.exists()
        with ScoreCache(tmp_path / "data" / "cache") as cache:
            assert cache.count_calls() == 0

        env.setenv("ALPHAGENOME_API_KEY", RIGHT_KEY)
        server.clear_records()
        assert _score(tmp_path / "eqtls.tsv", out) == 0
        asked = server.requests_by_variant()
    result = pd.read_parquet(out)
    n_variants = variants.drop_duplicates(["chrom", "pos", "ref", "alt"]).shape[0]
    assert len(asked) == n_variants
    assert list(result.columns) == OUTPUT_COLUMNS
    assert len(result) == 2 * len(variants)  # accessibility and expression for each row naming a gene
    assert set(result["status"]) <= {"scored", "failed"}
    assert set(result.loc[result["status"] == "failed", "reason"]) <= {"gene_not_in_output"}
    assert (result["status"] == "scored").sum() > 0.8 * len(result)
    assert f"{len(result):,} rows" in capsys.readouterr().out


def test_a_gene_desert_variant_at_131072_bp_is_gene_not_in_output(env, tmp_path):
    """At 131,072 bp the interval of a variant far from every gene holds no gene: its expression row says
    gene_not_in_output, its accessibility row and the other variants score, and the command succeeds."""
    variants, genes = _eqtl_list(tmp_path / "eqtls.tsv", 4)
    desert = pd.DataFrame({"chrom": ["chr22"], "pos": [gene_desert(genes, 131_072)], "ref": ["A"], "alt": ["G"],
                           "gene_id": ["ENSG00000100181.22"]})
    pd.concat([desert, variants]).to_csv(tmp_path / "with_desert.tsv", sep="\t", index=False)
    env.setenv("ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH", "131072")
    with AlphaGenomeStandIn(genes=genes) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "with_desert.tsv", tmp_path / "out.parquet") == 0
    result = pd.read_parquet(tmp_path / "out.parquet")
    first = result[result["pos"] == desert.loc[0, "pos"]].set_index("readout")
    assert first.loc["expression", ["status", "reason"]].tolist() == ["failed", "gene_not_in_output"]
    assert first.loc["accessibility", "status"] == "scored"
    assert (result["status"] == "scored").sum() >= len(variants) + 1


def test_under_a_sliding_window_of_20_calls_every_variant_is_scored(env, tmp_path):
    """A quota of 20 calls in any sliding window (1 s here and in ENDOBENCH_ALPHAGENOME_QUOTA_WINDOW_SECONDS, the
    20/min quota scaled so the test stays fast) and 38 variants: the command waits for the quota instead of losing
    variants, and uses at least 80% of it."""
    variants, genes = _eqtl_list(tmp_path / "eqtls.tsv", 40)
    quota = SlidingWindow(20, window_seconds=1.0)
    env.setenv("ENDOBENCH_ALPHAGENOME_QUOTA_WINDOW_SECONDS", "1")
    with AlphaGenomeStandIn(genes=genes, quota=quota, latency=0.005) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet") == 0
    result = pd.read_parquet(tmp_path / "out.parquet")
    assert quota.refused > 0
    assert set(result["status"]) <= {"scored", "failed"}
    assert quota.used_fraction() >= 0.8


def test_scores_land_in_the_graphs_cache_so_nothing_is_paid_twice(env, tmp_path):
    """Without --cache-dir the command uses the data dir's cache, the one the prediction asset reads: a second run
    (or the graph) makes no call for the same variants."""
    _, genes = _eqtl_list(tmp_path / "eqtls.tsv", 5)
    with AlphaGenomeStandIn(genes=genes) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "a.parquet") == 0
        first = len(server.records)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "b.parquet") == 0
        assert len(server.records) == first > 0
    assert (tmp_path / "data" / "cache" / CACHE_FILE).exists()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet"))


def test_every_input_row_leaves_with_a_row_with_the_local_model(env, tmp_path):
    """The local model on a CSV: variants in the bundled chr22 segment score, one outside it is excluded with
    no_reference_sequence, position 0 and a symbolic allele with the readers' reasons; `track` names the fold model
    that scored each row (chr22 is an even autosome: the model trained on the odd ones)."""
    small_cross_fitted().save(tmp_path / "data" / "outputs" / "local_model" / "local_dnase_model.npz")
    egenes = pd.read_csv(FIXTURES / "gtex" / "Whole_Blood.v8.egenes.chr22_32Mb.txt", sep="\t")
    table = pd.DataFrame({"chrom": egenes["chr"].str.removeprefix("chr"), "pos": egenes["variant_pos"],
                          "ref": egenes["ref"], "alt": egenes["alt"]})
    extra = pd.DataFrame({"chrom": ["22", "22", "22"], "pos": ["20000000", "0", "32100000"],
                          "ref": ["C", "A", "A"], "alt": ["T", "G", "<DEL>"]})
    pd.concat([table, extra]).to_csv(tmp_path / "variants.csv", index=False)
    assert _score(tmp_path / "variants.csv", tmp_path / "out.parquet", "local") == 0
    result = pd.read_parquet(tmp_path / "out.parquet")
    assert len(result) == len(table) + len(extra)
    assert result["chrom"].iloc[0] == "chr22"
    assert (result["status"].head(len(table)) == "scored").all()
    assert result["status"].tail(3).tolist() == ["excluded"] * 3
    assert result["reason"].tail(3).tolist() == ["no_reference_sequence", "invalid_position", "symbolic_allele"]
    assert set(result.loc[result["status"] == "scored", "track"]) == {local_track(SCORED_BY[ODD])}


def test_a_fractional_position_stops_the_command_naming_its_line(env, tmp_path, capsys):
    """As in every truth-set reader, positions are never rounded: 12.5 is an error naming line 3."""
    (tmp_path / "variants.tsv").write_text("chrom\tpos\tref\talt\nchr22\t32016646\tG\tT\nchr22\t12.5\tA\tG\n")
    assert _score(tmp_path / "variants.tsv", tmp_path / "out.parquet", "local") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 3" in err[0] and "not a whole number" in err[0]
    assert not (tmp_path / "out.parquet").exists()


def test_n_and_iupac_alleles_are_never_scored(env, tmp_path):
    """Only A, C, G and T are bases a model can score: N and IUPAC codes (R, Y, ...) leave as ambiguous_allele,
    the reason the truth sets give them."""
    small_cross_fitted().save(tmp_path / "data" / "outputs" / "local_model" / "local_dnase_model.npz")
    pd.DataFrame({"chrom": ["chr22"] * 3, "pos": [32_261_410] * 3, "ref": ["C", "N", "C"],
                  "alt": ["T", "T", "R"]}).to_csv(tmp_path / "variants.tsv", sep="\t", index=False)
    assert _score(tmp_path / "variants.tsv", tmp_path / "out.parquet", "local") == 0
    result = pd.read_parquet(tmp_path / "out.parquet")
    assert result["status"].tolist() == ["scored", "excluded", "excluded"]
    assert result["reason"].tolist()[1:] == ["ambiguous_allele", "ambiguous_allele"]


def test_rows_are_spelled_and_checked_as_the_truth_sets_are():
    """Chromosome names as the truth sets write them, ids with the build suffix, and each unusable row with the
    reason the truth sets would give it; the row's first problem (chromosome, position, alleles) is the reason."""
    variants = pd.DataFrame({
        "chrom": ["x", "MT", "1", "chrUn_KI270742v1", "22", "", "22"],
        "pos": [100, 50, 248956422, 10, 0, 7, 32100000],
        "ref": ["a", "G", "AC", "A", "A", "A", "N"],
        "alt": ["g", "T", "A", "G", "G", "G", "<DEL>"],
        "gene_id": None, "biosample": None,
    })
    checked = check_variant_list(variants, None, window_length=16_384, needs_sequence=False)
    assert checked["reason"].tolist() == ["", "", "off_chromosome_end", "unknown_chromosome", "invalid_position",
                                          "unplaced", "symbolic_allele"]
    assert checked["variant_id"].tolist()[:2] == ["chrX_100_A_G_b38", "chrM_50_G_T_b38"]
    assert checked["harmonisation"].tolist()[:2] == ["unchecked", "unchecked"]


def test_a_list_without_the_required_columns_exits_2_with_one_line(env, tmp_path, capsys):
    (tmp_path / "bad.tsv").write_text("chromosome\tposition\tref\talt\nchr22\t100\tA\tG\n")
    assert _score(tmp_path / "bad.tsv", tmp_path / "out.parquet") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column 'chrom', 'pos'" in err[0] and "bad.tsv" in err[0]


@pytest.mark.parametrize("variable, value, says", [
    ("ALPHAGENOME_API_KEY", None, "ALPHAGENOME_API_KEY is not set"),
    ("ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH", "2048", "interval_length=2,048"),
    ("ENDOBENCH_ALPHAGENOME_TRACKS", "not json", "ENDOBENCH_ALPHAGENOME_TRACKS='not json': it takes a JSON object"),
])
def test_a_setting_that_cannot_work_stops_before_any_call_with_one_line(env, tmp_path, capsys, variable, value, says):
    _eqtl_list(tmp_path / "eqtls.tsv", 2)
    with AlphaGenomeStandIn() as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        if value is None:
            env.delenv(variable)
        else:
            env.setenv(variable, value)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet") == 1
        assert server.records == []
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]


def _paid(server) -> int:
    return len(server.records)


def _stopped(stderr: str) -> list[str]:
    """The command's own lines on stderr (the progress log goes there too)."""
    return [line for line in stderr.splitlines() if line.startswith("endobench score-variants:")]


def test_a_misspelt_track_stops_before_any_paid_call_naming_the_closest_names(env, tmp_path, capsys):
    """ENDOBENCH_ALPHAGENOME_TRACKS with a name the server's catalogue lacks: exit 1 after the free GetMetadata,
    one line naming the setting and the closest real names, no ScoreVariant call, nothing written or cached."""
    _, genes = _eqtl_list(tmp_path / "eqtls.tsv", 3)
    env.setenv("ENDOBENCH_ALPHAGENOME_TRACKS", '{"expression|UBERON:0013756": "UBERON:0013756 Whole Blood RNA-seq"}')
    with AlphaGenomeStandIn(genes=genes) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet") == 1
        assert _paid(server) == 0 and len(server.metadata_requests) == 1
    err = _stopped(capsys.readouterr().err)
    assert len(err) == 1 and "'UBERON:0013756 Whole Blood RNA-seq'" in err[0]
    assert "closest real names: 'UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq'" in err[0]
    assert not (tmp_path / "out.parquet").exists()


def test_a_biosample_without_a_track_is_failed_without_a_call_and_others_use_their_catalogue_track(env, tmp_path):
    """Whole Blood rows: their accessibility has no DNase track in the real catalogue (failed,
    no_track_for_biosample, no track named), their expression is read on the Whole Blood RNA-seq track; a Liver row
    is read on GTEx Liver's RNA-seq track and on the liver DNase track."""
    variants, genes = _eqtl_list(tmp_path / "eqtls.tsv", 3)
    table = variants.assign(biosample=["UBERON:0013756", "UBERON:0013756", "UBERON:0001114"][: len(variants)])
    table.to_csv(tmp_path / "with_biosample.tsv", sep="\t", index=False)
    with AlphaGenomeStandIn(genes=genes) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "with_biosample.tsv", tmp_path / "out.parquet") == 0
        asked = len(server.requests_by_variant())
    result = pd.read_parquet(tmp_path / "out.parquet")
    access = result[result["readout"] == "accessibility"].reset_index(drop=True)
    assert access["reason"].tolist() == ["no_track_for_biosample", "no_track_for_biosample", ""]
    assert access["track"].tolist() == ["", "", "UBERON:0001114 DNase-seq"]
    expression = result[(result["readout"] == "expression") & (result["status"] == "scored")]
    assert set(expression["track"]) == {"UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq",
                                        "UBERON:0001114 gtex Liver polyA plus RNA-seq"}
    assert asked == table.drop_duplicates(["chrom", "pos", "ref", "alt"]).shape[0]


def test_scores_of_one_server_are_never_served_for_another(env, tmp_path):
    """One cache, two servers: the second server is asked for every variant the first one answered (its scores are
    not the first's), and each server's own scores are reused on a rerun against it."""
    _, genes = _eqtl_list(tmp_path / "eqtls.tsv", 4)
    with AlphaGenomeStandIn(genes=genes) as first, AlphaGenomeStandIn(genes=genes) as second:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", first.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "a.parquet") == 0
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", second.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "b.parquet") == 0
        assert second.requests_by_variant() == first.requests_by_variant()
        first.clear_records()
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", first.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "c.parquet") == 0
        assert _paid(first) == 0


def test_a_dry_run_prints_the_plan_and_makes_no_paid_call(env, tmp_path, capsys):
    """`--dry-run`: distinct variants, cached, to request, calls and wall time; 0 ScoreVariant calls, nothing
    written. After a run that learned the server's quota, the plan's time is at that quota, and what was scored is
    cached."""
    variants, genes = _eqtl_list(tmp_path / "eqtls.tsv", 30)
    n_variants = variants.drop_duplicates(["chrom", "pos", "ref", "alt"]).shape[0]
    env.setenv("ENDOBENCH_ALPHAGENOME_QUOTA_WINDOW_SECONDS", "1")
    with AlphaGenomeStandIn(genes=genes, quota=SlidingWindow(10, window_seconds=1.0)) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet", "alphagenome", "--dry-run") == 0
        assert _paid(server) == 0 and not (tmp_path / "out.parquet").exists()
        before = capsys.readouterr().out
        env.setenv("ENDOBENCH_ALPHAGENOME_MAX_NEW_CALLS", "20")
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet") == 0
        server.clear_records()
        capsys.readouterr()
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "plan.parquet", "alphagenome", "--dry-run") == 0
        assert _paid(server) == 0
        after = capsys.readouterr().out
    assert f"{n_variants} distinct variants" in before
    assert "cached:       0 variants" in before and f"to request:   {n_variants} variants" in before
    assert f"calls:        {n_variants} " in before and "wall time:    about" in before
    assert "dry run: 0 paid calls made" in before
    assert "cached:       20 variants" in after and f"to request:   {n_variants - 20} variants" in after
    learned = re.search(r"at ([\d.]+) calls/min \(the quota learned from this server on ", after)
    assert learned and 500 <= float(learned.group(1)) <= 700  # 10 per 1-s window is 600 per minute


def test_the_first_variants_all_rejected_alike_stop_the_run_and_nothing_is_cached(env, tmp_path, capsys):
    """Every call refused with one INVALID_ARGUMENT message: after the first 5 variants the command stops with exit
    1 naming the message, caches none of them; against a healthy server the rerun scores them all."""
    variants, genes = _eqtl_list(tmp_path / "eqtls.tsv", 20)
    env.setenv("ENDOBENCH_ALPHAGENOME_CONCURRENCY", "1")
    rejecting = FaultPlan(reject_all=grpc.StatusCode.INVALID_ARGUMENT, reject_message="Unknown scorer requested.")
    with AlphaGenomeStandIn(genes=genes, faults=rejecting) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet") == 1
        assert _paid(server) == 5
    err = _stopped(capsys.readouterr().err)
    assert len(err) == 1 and "INVALID_ARGUMENT: Unknown scorer requested." in err[0] and "first 5 variants" in err[0]
    with ScoreCache(tmp_path / "data" / "cache") as cache:
        assert cache.count_calls() == 0
    with AlphaGenomeStandIn(genes=genes) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet") == 0
        assert len(server.requests_by_variant()) == variants.drop_duplicates(["chrom", "pos", "ref", "alt"]).shape[0]
    result = pd.read_parquet(tmp_path / "out.parquet")
    assert set(result.loc[result["status"] != "scored", "reason"]) <= {"gene_not_in_output"}


@pytest.mark.parametrize("key", ["", "  "], ids=["empty", "blank"])
def test_an_empty_or_blank_key_is_refused_without_any_call(env, tmp_path, capsys, key):
    _eqtl_list(tmp_path / "eqtls.tsv", 2)
    env.setenv("ALPHAGENOME_API_KEY", key)
    with AlphaGenomeStandIn() as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet") == 1
        assert _paid(server) == 0 and server.metadata_requests == []
    err = _stopped(capsys.readouterr().err)
    assert len(err) == 1 and "ALPHAGENOME_API_KEY" in err[0]


def test_a_server_nobody_listens_on_stops_the_command_within_the_preflight(env, tmp_path, capsys):
    """An address where nothing answers: exit 1 with one line naming it, after the preflight's time (1 s here), not
    a run of failed rows."""
    _eqtl_list(tmp_path / "eqtls.tsv", 2)
    with socket.socket() as probe:  # a port that was free a moment ago, so that nothing listens on it
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", address)
    env.setenv("ENDOBENCH_ALPHAGENOME_CONNECT_SECONDS", "1")
    started = time.monotonic()
    assert _score(tmp_path / "eqtls.tsv", tmp_path / "out.parquet") == 1
    assert time.monotonic() - started < 15
    err = _stopped(capsys.readouterr().err)
    assert len(err) == 1 and f"could not reach {address} within 1 s" in err[0]
    assert not (tmp_path / "out.parquet").exists()


def test_help_names_the_key_the_address_the_columns_the_default_tracks_the_options_and_exit_codes(capsys):
    """`score-variants --help` says what a first user needs; the default tracks it names are those the bundled
    catalogue gives the predictor's default biosamples."""
    from endobench.lib.scoring.tracks import CATALOGUE_FILE, TrackCatalogue
    from endobench.resources.alphagenome import AlphaGenomePredictor

    with pytest.raises(SystemExit):
        main(["score-variants", "--help"])
    text = capsys.readouterr().out
    catalogue = TrackCatalogue.from_file(SAMPLE_DIR / CATALOGUE_FILE)
    defaults = AlphaGenomePredictor(api_key="x")
    for readout, biosample in (("accessibility", defaults.dnase_ontology), ("expression", defaults.rna_ontology)):
        assert f"{readout:<20}{catalogue.track_for(readout, biosample).name}" in text
    for needed in ("ALPHAGENOME_API_KEY", "ENDOBENCH_ALPHAGENOME_ADDRESS", "gene_id", "biosample", "--dry-run",
                   "--reference",
                   "exit status", "0  every input row", "1  the run was stopped", "2  bad input"):
        assert needed in text
