"""`endobench score-variants` with the AlphaGenome Atlas (on by default): the dry run splits the work into cached,
Atlas and live calls, the output says where each score came from, and ENDOBENCH_ALPHAGENOME_ATLAS=off turns the
Atlas off; the Atlas and the live model give the same numbers, another model version never reads the Atlas, and
a key the Atlas refuses stops the command. Against Atlas answers a real service may give besides the plain one (an
SNV a listing lacks while it lists the others of its base, a chromosome it holds nothing of, scores that do not
name their tracks or that carry every track of a scorer, answers that do not say their interval, an Atlas without
the AVI score), an SNV the Atlas cannot give is scored live, never dropped, never a stop. All against the loopback
stand-in (real gRPC, the SDK's clients)."""

import pandas as pd
import pytest
from alphagenome.data import genome

from endobench.cli import main
from endobench_tests.stand_ins.alphagenome_atlas import ATLAS_RPCS, AtlasHoldings, sample_snvs
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, sample_eqtl_requests

KEY = "score-variants-atlas-key"
BASES = "ACGT"


@pytest.fixture
def env(data_dir, monkeypatch):
    monkeypatch.setenv("ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE", "0")
    monkeypatch.setenv("ALPHAGENOME_API_KEY", KEY)
    return monkeypatch


@pytest.fixture
def variant_list(tmp_path):
    """Ten real chr22 dsQTL SNVs (two of them 3 bp apart) and two indels at the first one's base, as a TSV."""
    genes = sample_eqtl_requests(1)[1]
    snvs = sample_snvs(10, genes=genes)
    snvs = snvs[snvs["readout"] == "accessibility"][["chrom", "pos", "ref", "alt", "biosample"]]
    first = snvs.iloc[0]
    indels = pd.DataFrame({"chrom": first.chrom, "pos": first.pos, "ref": [first.ref, first.ref + "TT"],
                           "alt": [first.ref + "A", first.ref], "biosample": first.biosample})
    table = pd.concat([snvs, indels], ignore_index=True)
    table.to_csv(tmp_path / "variants.tsv", sep="\t", index=False)
    return tmp_path / "variants.tsv", genes


def _score(variants, out, *extra) -> int:
    return main(["score-variants", "--variants", str(variants), "--predictor", "alphagenome", "--out", str(out),
                 *extra])


def test_the_dry_run_counts_atlas_and_live_calls_and_the_run_makes_them(env, variant_list, tmp_path, capsys):
    """The plan: 10 SNVs in 9 Atlas calls (one listing for the pair), 2 indels to ask live, 0 paid calls; the run
    then makes exactly those calls, and each output row says where its score came from."""
    path, genes = variant_list
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(path, tmp_path / "plan.parquet", "--dry-run") == 0
        assert server.records == []
        plan = capsys.readouterr().out
        assert _score(path, tmp_path / "out.parquet") == 0
        summary = capsys.readouterr().out
        atlas_calls, live_calls = len(server.atlas_records), len(server.live_records)
        assert _score(path, tmp_path / "again.parquet", "--dry-run") == 0
        again = capsys.readouterr().out
    assert ("Atlas:        10 SNVs in 9 calls (1 listings of up to 32 bp, 8 lookups of one variant), about 1.1 s at "
            "480.0 calls/min (4 workers at about 2.0 calls/s each") in plan
    assert "to request:   2 variants from the live model" in plan
    assert "calls:        2 (one per variant, before retries), about 0.4 s at 336.0 calls/min" in plan
    assert "wall time:    about 1.5 s (the Atlas first, then the live model" in plan
    assert (atlas_calls, live_calls) == (9, 2) and "11 calls (atlas 9, live 2)" in summary
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["source"].tolist() == ["atlas"] * 10 + ["live"] * 2 and (out["status"] == "scored").all()
    assert out["avi_score"].iloc[:10].between(0, 1).all() and out["avi_score"].iloc[10:].isna().all()
    assert "cached:       12 variants" in again and "Atlas:        0 SNVs in 0 calls" in again


def test_the_setting_turns_the_atlas_off(env, variant_list, tmp_path, capsys):
    path, genes = variant_list
    env.setenv("ENDOBENCH_ALPHAGENOME_ATLAS", "off")
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(path, tmp_path / "plan.parquet", "--dry-run") == 0
        assert _score(path, tmp_path / "out.parquet") == 0
        assert server.atlas_records == [] and len(server.live_records) == 12
    assert "Atlas:        not read: off (ENDOBENCH_ALPHAGENOME_ATLAS=off)" in capsys.readouterr().out
    assert set(pd.read_parquet(tmp_path / "out.parquet")["source"]) == {"live"}


def test_a_switch_that_is_not_on_or_off_is_refused_before_any_work(env, variant_list, tmp_path, capsys):
    env.setenv("ENDOBENCH_ALPHAGENOME_ATLAS", "maybe")
    assert _score(variant_list[0], tmp_path / "out.parquet") == 1
    assert "ENDOBENCH_ALPHAGENOME_ATLAS='maybe': it takes on or off" in capsys.readouterr().err


def test_the_atlas_and_the_live_model_give_the_same_scores_for_the_same_snvs(env, variant_list, tmp_path):
    """The same SNVs, tracks and configuration scored once from the Atlas and once live (the Atlas off, another
    cache): the same numbers, row for row, the sources aside."""
    path, genes = variant_list
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(path, tmp_path / "atlas.parquet", "--cache-dir", str(tmp_path / "a")) == 0
        env.setenv("ENDOBENCH_ALPHAGENOME_ATLAS", "off")
        assert _score(path, tmp_path / "live.parquet", "--cache-dir", str(tmp_path / "b")) == 0
    atlas, live = pd.read_parquet(tmp_path / "atlas.parquet"), pd.read_parquet(tmp_path / "live.parquet")
    snvs = atlas["source"] == "atlas"
    assert snvs.sum() == 10 and set(live["source"]) == {"live"}
    assert atlas.loc[snvs, "score"].tolist() == live.loc[snvs, "score"].tolist()
    assert atlas.loc[snvs, "quantile_score"].tolist() == live.loc[snvs, "quantile_score"].tolist()
    assert atlas.loc[snvs, "track"].tolist() == live.loc[snvs, "track"].tolist()


def test_another_model_version_never_reads_the_atlas(env, variant_list, tmp_path, caplog):
    """FOLD_0 is not what the Atlas was computed with: the plan says so, every variant is asked live, and the Atlas
    is asked nothing, not even its scorers."""
    path, genes = variant_list
    env.setenv("ENDOBENCH_ALPHAGENOME_MODEL_VERSION", "FOLD_0")
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        assert _score(path, tmp_path / "out.parquet") == 0
        asked_atlas = [r for r in server.records if r.rpc in ATLAS_RPCS]
        live_calls = len(server.live_records)
    assert asked_atlas == [] and live_calls == 12
    assert "Atlas:        not read: FOLD_0 at 1,048,576 bp is not the configuration" in caplog.text
    assert set(pd.read_parquet(tmp_path / "out.parquet")["source"]) == {"live"}


def test_a_key_the_atlas_refuses_stops_the_run_before_any_live_call(env, variant_list, tmp_path, capsys):
    """The key passes the free preflight and is then refused (revoked): the Atlas's first refusal stops the command
    (exit 1, one line asking for a valid key), no live call is made and no output is written."""
    path, genes = variant_list
    env.setenv("ENDOBENCH_ALPHAGENOME_CONCURRENCY", "1")
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        server.key_revoked = True
        assert _score(path, tmp_path / "out.parquet") == 1
        atlas_calls, live_calls = len(server.atlas_records), len(server.live_records)
    assert (atlas_calls, live_calls) == (1, 0)
    assert "ALPHAGENOME_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()


@pytest.fixture
def snvs():
    """Ten real chr22 dsQTL SNVs (REF the sample reference's base; two of them 3 bp apart, one listing) and the
    stand-in's genes."""
    genes = sample_eqtl_requests(1)[1]
    table = sample_snvs(10, genes=genes)
    rows = table[table["readout"] == "accessibility"][["chrom", "pos", "ref", "alt", "biosample"]]
    return rows.reset_index(drop=True), genes


def _score_rows(rows: pd.DataFrame, tmp_path, name: str, *extra) -> pd.DataFrame | None:
    rows.to_csv(tmp_path / "variants.tsv", sep="\t", index=False)
    code = main(["score-variants", "--variants", str(tmp_path / "variants.tsv"), "--predictor", "alphagenome",
                 "--out", str(tmp_path / name), *extra])
    return pd.read_parquet(tmp_path / name) if code == 0 else None


def _name(row) -> str:
    return str(genome.Variant(row.chrom, int(row.pos), row.ref, row.alt))


def _live_scores(rows, tmp_path, server, env) -> list[float]:
    """The same rows scored by the live model only (the Atlas off, a cache of its own)."""
    env.setenv("ENDOBENCH_ALPHAGENOME_ATLAS", "off")
    live = _score_rows(rows, tmp_path, "live.parquet", "--cache-dir", str(tmp_path / "live-cache"))
    env.delenv("ENDOBENCH_ALPHAGENOME_ATLAS")
    return live["score"].tolist()


def test_an_snv_a_listing_lacks_is_scored_live_not_called_a_ref_mismatch(env, snvs, tmp_path):
    """The pair 3 bp apart is one listing; the Atlas lacks the first SNV but lists the other SNVs of its base, with
    the row's REF: the row's REF is right, so it alone is asked live (its live score), and its neighbour stays
    the Atlas's."""
    rows, genes = snvs
    pair = rows["pos"].diff().abs().between(1, 31).to_numpy().nonzero()[0][0]
    lacked = rows.iloc[pair - 1]
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY,
                            atlas=AtlasHoldings(missing=frozenset({_name(lacked)}))) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        out = _score_rows(rows, tmp_path, "out.parquet")
        asked_live = [r.variant for r in server.live_records]
        live = _live_scores(rows, tmp_path, server, env)
    assert out is not None and (out["status"] == "scored").all()
    assert out["source"].tolist()[pair - 1: pair + 1] == ["live", "atlas"] and (out["source"] == "atlas").sum() == 9
    assert asked_live == [_name(lacked)] and out["score"].iloc[pair - 1] == live[pair - 1]


def test_a_chromosome_the_atlas_does_not_hold_sends_its_snvs_live_instead_of_stopping(env, snvs, tmp_path):
    """Seven multi-allelic sites (the three SNVs of each base; two sites share a listing, six listings in all) on a
    chromosome the Atlas answers NOT_FOUND for, with one message for all: not a request wrong for every variant,
    but variants it lacks; every row is scored live and the command succeeds."""
    rows, genes = snvs
    sites = rows.drop_duplicates("pos").head(7)
    alleles = pd.DataFrame([{**site._asdict(), "alt": alt} for site in sites.itertuples(index=False)
                            for alt in BASES if alt != site.ref])
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY,
                            atlas=AtlasHoldings(unheld_chromosomes=frozenset({"chr22"}))) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        out = _score_rows(alleles, tmp_path, "out.parquet")
        listings = [r for r in server.atlas_records if r.rpc == "ListDenseVariantScores"]
        asked_live = len(server.live_records)
    assert len(listings) == 6 and asked_live == 21
    assert out is not None and (out["status"] == "scored").all() and set(out["source"]) == {"live"}


def test_lookup_answers_whose_scores_name_no_tracks_are_read_with_the_atlas_scorer_tracks(env, snvs, tmp_path):
    """The proto makes each score's track metadata optional: an Atlas that leaves it out of every answer is read
    with the tracks of its scorer metadata (as the SDK's own clients read it), the same numbers as live."""
    rows, genes = snvs
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY,
                            atlas=AtlasHoldings(tracks_in_answers=False)) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        out = _score_rows(rows, tmp_path, "out.parquet")
        live = _live_scores(rows, tmp_path, server, env)
    assert out is not None and (out["source"] == "atlas").all() and (out["status"] == "scored").all()
    assert out["score"].tolist() == live


def test_answers_with_every_track_of_a_scorer_are_read_on_the_named_track(env, snvs, tmp_path):
    """An Atlas that answers every track of a scorer whatever the filter's ontology terms, leaving their metadata
    out as the field mask asks: each score is still read on its own named track (the scorer metadata's every track),
    lookups and the listing alike, the same numbers as live."""
    rows, genes = snvs
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY, atlas=AtlasHoldings(filters_tracks=False)) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        out = _score_rows(rows, tmp_path, "out.parquet")
        live = _live_scores(rows, tmp_path, server, env)
    assert out is not None and (out["source"] == "atlas").all() and (out["status"] == "scored").all()
    assert out["score"].tolist() == live


def test_an_answer_that_does_not_say_its_interval_is_not_taken(env, snvs, tmp_path):
    """Only a score computed in the variant's centred 1 MB interval is the Atlas's to give; an answer that does not
    name its interval cannot show it, so every SNV is asked live."""
    rows, genes = snvs
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY,
                            atlas=AtlasHoldings(names_intervals=False)) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        out = _score_rows(rows, tmp_path, "out.parquet")
        asked = (len(server.atlas_records), len(server.live_records))
    assert asked == (9, 10)
    assert out is not None and (out["status"] == "scored").all() and set(out["source"]) == {"live"}


def test_an_atlas_without_the_avi_score_is_not_asked_for_it(env, snvs, tmp_path):
    """An Atlas whose scorer metadata lists no AVI_SCORE, and which refuses a filter naming a scorer it lacks: the
    requests ask only for what it holds, every SNV is read from it, and the AVI column stays empty."""
    rows, genes = snvs
    holdings = AtlasHoldings(scorers=("DNASE", "RNA_SEQ"), rejects_unknown_scorers=True)
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY, atlas=holdings) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        out = _score_rows(rows, tmp_path, "out.parquet")
    assert out is not None and (out["source"] == "atlas").all() and (out["status"] == "scored").all()
    assert out["avi_score"].isna().all()
