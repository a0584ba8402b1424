"""`endobench score-variants` with the AlphaGenome Atlas (on by default): the dry run splits the work into cached,
Atlas and live calls, the output says where each score came from, and ENDOBENCH_ALPHAGENOME_ATLAS=off turns the
Atlas off; the Atlas and the live model give the same numbers, another model version never reads the Atlas, and
a key the Atlas refuses stops the command; against the loopback stand-in (real gRPC, the SDK's clients)."""

import pandas as pd
import pytest

from endobench.cli import main
from endobench_tests.stand_ins.alphagenome_atlas import ATLAS_RPCS, sample_snvs
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, sample_eqtl_requests

KEY = "score-variants-atlas-key"


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
