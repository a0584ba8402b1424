"""The AlphaGenome Atlas inside the AlphaGenome predictor: the SDK's own `AtlasClient` and request builders against
the loopback stand-in's `AtlasService`, whose scores are those of its live `ScoreVariant` (real chr22 dsQTL SNVs,
whose bases the stand-in's Atlas knows from the bundled hg38 segments)."""

import logging

import grpc
import pandas as pd
import pytest
from alphagenome.atlas import atlas as sdk_atlas
from alphagenome.data import genome
from alphagenome.protos import atlas_service_pb2_grpc

from endobench.lib.scoring.score_cache import ATLAS, LIVE, ScoreCache
from endobench.resources.alphagenome import ApiKeyRefused
from endobench_tests.stand_ins.alphagenome_atlas import AtlasHoldings, sample_snvs
from endobench_tests.stand_ins.alphagenome_server import (
    AlphaGenomeStandIn,
    FaultPlan,
    expected_quantile,
    expected_score,
    fast_predictor,
    sample_eqtl_requests,
)
from endobench_tests.stand_ins.quotas import SlidingWindow
from endobench_tests.stand_ins.scores import expected_avi

LOG = logging.getLogger("test_alphagenome_atlas")
KEY = "test-key-atlas"
GM12878_DNASE = "EFO:0002784 DNase-seq"
BLOOD = "UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq"
GET, LIST = "GetDenseVariantScores", "ListDenseVariantScores"


@pytest.fixture(scope="module")
def genes():
    return sample_eqtl_requests(1)[1]


@pytest.fixture(scope="module")
def snvs(genes):
    return sample_snvs(12, genes=genes)


@pytest.fixture
def stand_in(genes):
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY) as server:
        yield server


def _predictor(address: str, **overrides):
    return fast_predictor(address, **({"api_key": KEY, "atlas": True} | overrides))


def _score(server, frame, cache_dir, **overrides):
    return _predictor(server.address, **overrides).score_variants(frame, reference=None, cache_dir=cache_dir, log=LOG)


def test_the_sdks_own_atlas_client_reads_the_stand_in(stand_in, snvs):
    """`AtlasClient` (its scorer metadata, one variant, an interval) parses the stand-in's answers, which hold the
    live model's score for the same SNV and track, its quantile, and an unsigned AVI score."""
    channel = grpc.insecure_channel(stand_in.address)
    client = sdk_atlas.AtlasClient(atlas_service_pb2_grpc.AtlasServiceStub(channel), metadata=[("x-goog-api-key", KEY)])
    row = snvs.iloc[0]
    variant = genome.Variant(row.chrom, int(row.pos), row.ref, row.alt)
    try:
        scorers = client.scorer_metadata()
        one = client.query_variant(variant, requested_scorers=["DNASE", "AVI_SCORE"], ontology_terms=["EFO:0002784"])
        listed = client.query_interval(genome.Interval(row.chrom, variant.start - 4, variant.start + 6),
                                       requested_scorers=["AVI_SCORE"], progress_bar=False, max_workers=1)
    finally:
        channel.close()
    assert {"DNASE", "RNA_SEQ", "AVI_SCORE"} <= set(scorers) and not scorers["AVI_SCORE"].is_signed
    assert one["DNASE"].var["name"].tolist() == [GM12878_DNASE]
    raw = expected_score(str(variant), GM12878_DNASE, "", "ALL_FOLDS", 1_048_576)
    assert float(one["DNASE"].X[0, 0]) == pytest.approx(raw, rel=1e-6)
    assert float(one["DNASE"].layers["quantiles"][0, 0]) == pytest.approx(expected_quantile(raw), rel=1e-6)
    assert float(one["AVI_SCORE"].X[0, 0]) == pytest.approx(expected_avi(str(variant)), rel=1e-6)
    assert listed["AVI_SCORE"].n_obs == 30  # three SNVs at each of 10 bases


def test_atlas_and_live_give_the_same_number_for_the_same_snv_and_track(stand_in, snvs, tmp_path):
    """Every SNV scored from the Atlas has the raw and quantile score the live model gives on the same track (the
    GM12878 DNase track, the Whole Blood RNA-seq row of the eQTL's gene), and no ScoreVariant call is made."""
    from_atlas = _score(stand_in, snvs, tmp_path / "atlas").scores
    assert stand_in.live_records == [] and len(stand_in.atlas_records) > 0
    from_live = _score(stand_in, snvs, tmp_path / "live", atlas=False).scores
    assert (from_atlas["status"] == "scored").all() and set(from_atlas["source"]) == {ATLAS}
    assert set(from_live["source"]) == {LIVE}
    assert from_atlas["score"].tolist() == from_live["score"].tolist()
    assert from_atlas["quantile_score"].tolist() == from_live["quantile_score"].tolist()
    assert from_atlas["track"].tolist() == from_live["track"].tolist()
    assert set(from_atlas["track"]) == {GM12878_DNASE, BLOOD}


def test_indels_and_mnvs_go_live_and_snvs_to_the_atlas(stand_in, snvs, tmp_path):
    """An indel and a multi-nucleotide variant are never asked of the Atlas: one ScoreVariant each; the SNVs come
    from the Atlas; every row says which."""
    first = snvs.iloc[0]
    others = snvs.iloc[:2].assign(variant_id=["indel", "mnv"], ref=[first.ref, first.ref + "A"],
                                  alt=[first.ref + "T", "GC"], readout="accessibility", gene_id=None,
                                  biosample="EFO:0002784")
    frame = pd.concat([snvs, others], ignore_index=True)
    scores = _score(stand_in, frame, tmp_path).scores
    live = {r.variant for r in stand_in.live_records}
    assert live == {f"{first.chrom}:{first.pos}:{first.ref}>{first.ref}T", f"{first.chrom}:{first.pos}:{first.ref}A>GC"}
    assert not {r.variant for r in stand_in.atlas_records} & live
    by_id = scores.set_index(frame["variant_id"])["source"]
    assert by_id["indel"] == by_id["mnv"] == LIVE
    assert set(by_id.drop(["indel", "mnv"])) == {ATLAS}


@pytest.mark.parametrize("setting, said", [({"model_version": "FOLD_0"}, "FOLD_0 at 1,048,576 bp"),
                                           ({"interval_length": 524_288}, "ALL_FOLDS at 524,288 bp")])
def test_another_configuration_never_reads_the_atlas(stand_in, snvs, tmp_path, setting, said):
    """A model version or interval length the Atlas was not computed with sends every variant live, even on a cache
    holding the Atlas's scores of the same SNVs, and asks the Atlas nothing, not even its scorers."""
    _score(stand_in, snvs, tmp_path)
    stand_in.clear_records()
    outcome = _score(stand_in, snvs, tmp_path, **setting)
    assert [r for r in stand_in.metadata_requests if r.rpc == "ListVariantScoresMetadata"] == []
    assert stand_in.atlas_records == []
    assert set(outcome.scores["source"]) == {LIVE} and len(stand_in.live_records) == snvs["variant_id"].nunique()
    assert outcome.plan["plan_atlas"].startswith(f"{said} is not the configuration the Atlas was computed with")


def test_the_setting_turns_the_atlas_off(stand_in, snvs, tmp_path):
    outcome = _score(stand_in, snvs, tmp_path, atlas=False)
    assert stand_in.atlas_records == [] and set(outcome.scores["source"]) == {LIVE}
    assert outcome.plan["plan_atlas"].startswith("off")


def test_scores_the_atlas_computed_in_another_interval_are_not_read(genes, snvs, tmp_path):
    """An Atlas whose answers name another interval than the centred 1 MB one a live call sends is another
    configuration: those SNVs are scored live, with the live model's numbers."""
    with AlphaGenomeStandIn(genes=genes, atlas=AtlasHoldings(interval_shift=1_000)) as server:
        shifted = _score(server, snvs, tmp_path / "a").scores
        assert len(server.live_records) == snvs["variant_id"].nunique()
        live = _score(server, snvs, tmp_path / "b", atlas=False).scores
    assert set(shifted["source"]) == {LIVE} and shifted["score"].tolist() == live["score"].tolist()


def test_a_refused_key_stops_an_atlas_run_before_any_live_call(stand_in, snvs, tmp_path):
    """A key revoked after the free preflight: the Atlas's first refusal stops the run (no retries), nothing more is
    sent to either service, and nothing of the refusal is cached."""
    stand_in.key_revoked = True
    with pytest.raises(ApiKeyRefused, match="ALPHAGENOME_API_KEY") as refused:
        _score(stand_in, snvs, tmp_path, max_concurrency=1)
    assert len(stand_in.atlas_records) == 1 and stand_in.live_records == []
    assert refused.value.metadata["calls_sent_after_first_refusal"].value == 0
    with ScoreCache(tmp_path) as cache:
        assert cache.count_calls() == 0


def _swapped(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(ref=rows["alt"], alt=rows["ref"], variant_id=rows["variant_id"] + "_swapped")


def test_a_ref_the_genome_does_not_have_is_the_rows_ref_mismatch_and_the_run_goes_on(stand_in, snvs, tmp_path):
    """Six lone SNVs given with REF and ALT swapped, asked first and one at a time: the Atlas answers each with
    INVALID_ARGUMENT naming the genome's base, and each is its own `ref_mismatch` row from the Atlas, cached and never
    sent live, not a uniform rejection of the run; the SNVs after them are scored."""
    variants = snvs["variant_id"].drop_duplicates()
    chosen = snvs[snvs["variant_id"].isin(variants.iloc[2:8]) & (snvs["readout"] == "accessibility")]
    frame = pd.concat([_swapped(chosen), snvs[snvs["variant_id"].isin(variants.iloc[8:])]], ignore_index=True)
    scores = _score(stand_in, frame, tmp_path, max_concurrency=1).scores
    mismatched = scores["variant_id"].str.endswith("_swapped")
    assert (scores.loc[mismatched, "reason"] == "ref_mismatch").all() and mismatched.sum() == 6
    assert set(scores.loc[mismatched, "source"]) == {ATLAS}
    assert [(r.rpc, r.outcome) for r in stand_in.atlas_records[:6]] == [(GET, "INVALID_ARGUMENT")] * 6
    assert (scores.loc[~mismatched, "status"] == "scored").all() and stand_in.live_records == []
    stand_in.clear_records()
    again = _score(stand_in, frame, tmp_path).scores
    assert stand_in.records == [] and (again.loc[mismatched, "reason"] == "ref_mismatch").all()


def test_a_ref_mismatch_read_from_a_listing_is_the_rows_own(stand_in, snvs, tmp_path):
    """A swapped SNV 3 bp from another dsQTL is read from their shared listing, whose REF at its base is the
    genome's: it is `ref_mismatch`, its neighbour scored."""
    pair = snvs[snvs["variant_id"].isin(snvs["variant_id"].drop_duplicates().iloc[:2])
                & (snvs["readout"] == "accessibility")]
    frame = pd.concat([_swapped(pair.iloc[:1]), pair.iloc[1:]], ignore_index=True)
    scores = _score(stand_in, frame, tmp_path).scores
    assert [r.rpc for r in stand_in.records] == [LIST]
    assert scores["reason"].tolist() == ["ref_mismatch", ""] and scores["status"].tolist()[1] == "scored"


def test_transient_atlas_errors_are_retried(genes, snvs, tmp_path):
    """A third of the Atlas's answers UNAVAILABLE or INTERNAL: each is asked again, and every SNV is scored from the
    Atlas with the numbers of a fault-free run."""
    faults = FaultPlan(transient_rate=0.3, transient_codes=(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL),
                       seed=4)
    with AlphaGenomeStandIn(genes=genes, atlas_faults=faults) as server:
        faulty = _score(server, snvs, tmp_path / "a", max_retries=12).scores
        outcomes = {r.outcome for r in server.atlas_records}
    with AlphaGenomeStandIn(genes=genes) as server:
        clean = _score(server, snvs, tmp_path / "b").scores
    assert {"UNAVAILABLE", "INTERNAL", "ok"} <= outcomes
    assert set(faulty["source"]) == {ATLAS} and faulty["score"].tolist() == clean["score"].tolist()


def test_the_atlas_quota_is_learned_apart_from_the_live_models(genes, snvs, tmp_path):
    """An Atlas quota of 4 calls per 0.5-s window: the Atlas's pacer learns it and every SNV is scored; the rate is
    kept as the Atlas's, the live model's stays unknown."""
    quota = SlidingWindow(4, window_seconds=0.5)
    with AlphaGenomeStandIn(genes=genes, atlas_quota=quota) as server:
        scores = _score(server, snvs, tmp_path, quota_window_seconds=0.5).scores
        address = server.address
    assert quota.refused > 0 and (scores["status"] == "scored").all()
    with ScoreCache(tmp_path) as cache:
        per_minute, _ = cache.learned_rate(address, ATLAS)
        assert 300 <= per_minute <= 700 and cache.learned_rate(address, LIVE) is None


def test_snvs_close_together_share_one_listing_and_the_others_one_lookup_each(stand_in, snvs, tmp_path):
    """Two dsQTLs 3 bp apart are read from one ListDenseVariantScores (the SDK's 32-bp chunk request); each other SNV
    from one GetDenseVariantScores; the filter names the scorers and the tracks' ontology terms."""
    _score(stand_in, snvs, tmp_path)
    listings = [r for r in stand_in.atlas_records if r.rpc == LIST]
    lookups = [r for r in stand_in.atlas_records if r.rpc == GET]
    assert [r.variant for r in listings] == ["chr22:17158261-17158265:."]
    assert len(lookups) == snvs["variant_id"].nunique() - 2
    assert all('scores.variant_scorer.name = "DNASE"' in r.filter and "ontology_term.id = 2784" in r.filter
               for r in stand_in.atlas_records)


def test_a_variant_the_atlas_lacks_is_scored_live_once(stand_in, snvs, genes, tmp_path):
    """An SNV at a position the Atlas holds nothing for (NOT_FOUND) is scored live; the rerun asks neither."""
    frame, _ = sample_eqtl_requests(1)
    frame = pd.concat([snvs, frame[frame["readout"] == "accessibility"].assign(biosample="EFO:0002784")],
                      ignore_index=True)
    lacking = f"{frame.iloc[-1].chrom}:{frame.iloc[-1].pos}:{frame.iloc[-1].ref}>{frame.iloc[-1].alt}"
    first = _score(stand_in, frame, tmp_path).scores
    assert [r.variant for r in stand_in.live_records] == [lacking]
    assert [r.outcome for r in stand_in.atlas_records if r.variant == lacking] == ["NOT_FOUND"]
    assert first["source"].iloc[-1] == LIVE and first["status"].iloc[-1] == "scored"
    stand_in.clear_records()
    again = _score(stand_in, frame, tmp_path)
    assert stand_in.records == [] and again.api_calls == 0
    assert again.scores["source"].tolist() == first["source"].tolist() and again.scores["from_cache"].all()


def test_genes_asked_of_the_atlas_are_filtered_and_a_new_gene_is_asked_again(stand_in, snvs, genes, tmp_path):
    """Once a variant's AVI is known, an expression-only question names its gene in the filter; the cache keeps
    which genes were asked, so another gene of the same variant is asked of the Atlas again, not taken as absent."""
    row = snvs[snvs["readout"] == "expression"].iloc[:1]
    _score(stand_in, snvs[snvs["variant_id"] == row["variant_id"].iloc[0]].iloc[:1], tmp_path)  # accessibility, AVI
    stand_in.clear_records()
    gene = row["gene_id"].iloc[0].split(".")[0]
    first = _score(stand_in, row, tmp_path).scores
    assert [r.filter.count("gene_id =") for r in stand_in.atlas_records] == [1] and gene in stand_in.records[0].filter
    interval = genome.Variant(row.chrom.iloc[0], int(row.pos.iloc[0]), "A", "C").reference_interval.resize(1_048_576)
    other = next(g.gene_id for g in stand_in.genes_in(interval) if g.gene_id != gene)
    stand_in.clear_records()
    second = _score(stand_in, row.assign(gene_id=other), tmp_path).scores
    assert len(stand_in.atlas_records) == 1 and other in stand_in.atlas_records[0].filter
    assert first["status"].iloc[0] == second["status"].iloc[0] == "scored"
    assert second["score"].iloc[0] == pytest.approx(expected_score(
        f"{row.chrom.iloc[0]}:{row.pos.iloc[0]}:{row.ref.iloc[0]}>{row.alt.iloc[0]}", BLOOD, other, "ALL_FOLDS",
        1_048_576), rel=1e-6)


def test_each_snv_carries_its_avi_score_and_an_indel_none(stand_in, snvs, tmp_path):
    frame = snvs.iloc[:2]
    scores = _score(stand_in, frame, tmp_path).scores
    variant = f"{frame.iloc[0].chrom}:{frame.iloc[0].pos}:{frame.iloc[0].ref}>{frame.iloc[0].alt}"
    assert scores["avi_score"].tolist() == pytest.approx([expected_avi(variant)] * 2, rel=1e-6)


def test_a_server_without_an_atlas_scores_everything_live(genes, snvs, tmp_path):
    """A server that has no AtlasService (UNIMPLEMENTED at the free preflight) sends every variant live and says
    why in the plan."""
    with AlphaGenomeStandIn(genes=genes, atlas=None) as server:
        outcome = _score(server, snvs, tmp_path)
    assert set(outcome.scores["source"]) == {LIVE} and "serves no Atlas" in outcome.plan["plan_atlas"]
