"""Each row is scored on one exactly named track, resolved against the server's real catalogue by its readout and
biosample before any paid call, never an ontology mean and never a made-up name."""

import logging

import dagster as dg
import pandas as pd
import pytest

from endobench.lib.scoring.score_cache import CallKey, ScoreCache
from endobench.resources.alphagenome import AlphaGenomePredictor, strip_gene_version
from endobench.resources.predictors import SCORED
from endobench_tests.stand_ins.alphagenome_server import (
    AlphaGenomeStandIn,
    expected_score,
    fast_predictor,
    sample_eqtl_requests,
)

LOG = logging.getLogger("test_alphagenome_tracks")
KEY = "test-key-tracks"
GM12878_DNASE = "EFO:0002784 DNase-seq"
K562_DNASE = "EFO:0002067 DNase-seq"
BLOOD_RNA = "UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq"
LCL_RNA = "EFO:0000572 gtex Cells_EBV-transformed_lymphocytes polyA plus RNA-seq"
SPLEEN_RNA = "UBERON:0002106 gtex Spleen polyA plus RNA-seq"


@pytest.fixture(scope="module")
def eqtls():
    frame, genes = sample_eqtl_requests(8)
    return frame.drop(columns=["window_start", "window_end"]), genes


def _variant(row) -> str:
    return f"{row.chrom}:{row.pos}:{row.ref}>{row.alt}"


def _expected(row, track: str, strand: str = ".") -> float:
    gene = "" if row.readout == "accessibility" else strip_gene_version(row.gene_id) + (strand if strand != "." else "")
    return expected_score(_variant(row), track, gene, "ALL_FOLDS", 1_048_576)


def test_each_row_is_scored_on_the_catalogue_track_of_its_biosample(eqtls, tmp_path):
    """The same variants asked for GM12878 and K562 DNase and for GTEx Whole Blood, LCL and Spleen RNA-seq: each
    row carries its own track's score and that track's exact name from the server's catalogue, and each variant is
    still asked once, after one free GetMetadata."""
    frame, genes = eqtls
    rows = pd.concat([
        frame[frame["readout"] == "accessibility"].assign(biosample="EFO:0002784"),
        frame[frame["readout"] == "accessibility"].assign(biosample="EFO:0002067"),
        frame[frame["readout"] == "expression"].assign(biosample="UBERON:0013756"),
        frame[frame["readout"] == "expression"].assign(biosample="EFO:0000572"),
        frame[frame["readout"] == "expression"].assign(biosample="UBERON:0002106"),
    ], ignore_index=True)
    track_of = {"EFO:0002784": GM12878_DNASE, "EFO:0002067": K562_DNASE, "UBERON:0013756": BLOOD_RNA,
                "EFO:0000572": LCL_RNA, "UBERON:0002106": SPLEEN_RNA}
    with AlphaGenomeStandIn(genes=genes) as server:
        scores = fast_predictor(server.address).score_variants(rows, reference=None, cache_dir=tmp_path, log=LOG).scores
        assert set(server.requests_by_variant().values()) == {1}
        assert len(server.metadata_requests) == 1
        assert server.metadata_requests[0].started < min(r.started for r in server.records)
    scored = scores["status"] == SCORED
    assert scored.sum() >= 0.75 * len(rows)
    for row, result in zip(rows[scored.to_numpy()].itertuples(), scores[scored].itertuples()):
        assert result.track == track_of[row.biosample]
        assert result.score == pytest.approx(_expected(row, result.track), rel=1e-6)


def test_a_gtex_tissue_name_picks_its_expression_track(eqtls, tmp_path):
    """`Liver` as the biosample of an expression row is GTEx Liver's RNA-seq track (gtex_tissue in the catalogue)."""
    frame, genes = eqtls
    rows = frame[frame["readout"] == "expression"].head(2).assign(biosample="Liver").reset_index(drop=True)
    with AlphaGenomeStandIn(genes=genes) as server:
        scores = fast_predictor(server.address).score_variants(rows, reference=None, cache_dir=tmp_path, log=LOG).scores
    assert set(scores["track"]) == {"UBERON:0001114 gtex Liver polyA plus RNA-seq"}


def test_tracks_sharing_an_ontology_term_are_not_averaged(eqtls, tmp_path):
    """GM12878 has a polyA plus and a total RNA-seq track under one CURIE in the real catalogue: a row set to the
    total RNA-seq track gets that track's score alone, neither the other's nor their mean."""
    frame, genes = eqtls
    row = frame[frame["readout"] == "expression"].head(1).assign(biosample="EFO:0002784").reset_index(drop=True)
    total, poly_a = "EFO:0002784 total RNA-seq", "EFO:0002784 polyA plus RNA-seq"
    with AlphaGenomeStandIn(genes=genes) as server:
        score = fast_predictor(server.address, tracks={"expression|EFO:0002784": total}).score_variants(
            row, reference=None, cache_dir=tmp_path, log=LOG).scores
    request = row.iloc[0]
    named, other = _expected(request, total), _expected(request, poly_a)
    assert abs(named - other) > 0.01
    assert score.loc[0, "score"] == pytest.approx(named, rel=1e-6)


def test_without_a_biosample_column_the_readouts_ontology_settings_pick_the_track(eqtls, tmp_path):
    """No `biosample` column: accessibility uses `dnase_ontology` (here GM12878), expression `rna_ontology`."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes) as server:
        scores = fast_predictor(server.address, dnase_ontology="EFO:0002784").score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG).scores
    tracks = scores.groupby(frame["readout"].to_numpy())["track"].agg(set).to_dict()
    assert tracks == {"accessibility": {GM12878_DNASE}, "expression": {BLOOD_RNA}}


def test_stranded_tracks_are_read_on_the_genes_strand_and_named_with_it(eqtls, tmp_path):
    """GM12878 polyA plus RNA-seq comes as + and - tracks of one name (a server that does not merge them): a gene
    on + takes the + track and a gene on - the - track, and `track` says which."""
    frame, genes = eqtls
    rows = frame[frame["readout"] == "expression"].assign(biosample="EFO:0002784").reset_index(drop=True)
    name = "EFO:0002784 polyA plus RNA-seq"
    strand_of = {g.gene_id: g.strand for g in genes}
    with AlphaGenomeStandIn(genes=genes, merges_stranded_tracks=False) as server:
        scores = fast_predictor(server.address, tracks={"expression|EFO:0002784": name}).score_variants(
            rows, reference=None, cache_dir=tmp_path, log=LOG).scores
    scored = scores["status"] == SCORED
    strands = {strand_of[strip_gene_version(g)] for g in rows.loc[scored, "gene_id"]}
    assert strands == {"+", "-"}
    for row, result in zip(rows[scored.to_numpy()].itertuples(), scores[scored].itertuples()):
        strand = strand_of[strip_gene_version(row.gene_id)]
        assert result.track == f"{name} ({strand})"
        assert result.score == pytest.approx(_expected(row, name, strand), rel=1e-6)


def test_a_misspelt_track_stops_the_run_before_any_paid_call_naming_the_closest(eqtls, tmp_path):
    """A track override that the catalogue lacks costs nothing: the run stops after the free GetMetadata, naming
    the setting and the closest real names, without retries, and nothing is cached."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes) as server:
        with pytest.raises(dg.Failure) as stopped:
            fast_predictor(server.address, tracks={"accessibility|EFO:0002784": "EFO:0002784 DNAse-seq"}
                           ).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert server.records == [] and len(server.metadata_requests) == 1
    message = stopped.value.description
    assert "EFO:0002784 DNAse-seq" in message and f"closest real names: '{GM12878_DNASE}'" in message
    assert stopped.value.allow_retries is False
    with ScoreCache(tmp_path) as cache:
        assert cache.count_calls() == 0


def test_a_track_the_answer_lacks_is_track_not_in_output(eqtls, tmp_path):
    """A server whose ScoreVariant answers leave out a track its catalogue lists: the row says
    track_not_in_output and names the track."""
    frame, genes = eqtls
    row = frame[frame["readout"] == "accessibility"].head(1).assign(biosample="EFO:0002784").reset_index(drop=True)
    with AlphaGenomeStandIn(genes=genes, withheld_tracks={GM12878_DNASE}) as server:
        outcome = fast_predictor(server.address).score_variants(row, reference=None, cache_dir=tmp_path, log=LOG)
    assert outcome.scores.loc[0, "reason"] == "track_not_in_output"
    assert outcome.scores.loc[0, "track"] == GM12878_DNASE


def test_a_biosample_without_a_track_fails_its_rows_without_a_call_and_no_name_is_made_up(eqtls, tmp_path):
    """Whole Blood and the GTEx LCL CURIE have no DNase track in the real catalogue: their accessibility rows are
    no_track_for_biosample with no track named (no `<CURIE> DNase-seq` invented) and no call is made for them."""
    frame, genes = eqtls
    rows = pd.concat([
        frame[frame["readout"] == "accessibility"].head(2).assign(biosample="UBERON:0013756"),
        frame[frame["readout"] == "accessibility"].head(1).assign(biosample="EFO:0000572"),
    ], ignore_index=True)
    with AlphaGenomeStandIn(genes=genes) as server:
        outcome = fast_predictor(server.address).score_variants(rows, reference=None, cache_dir=tmp_path, log=LOG)
        assert server.records == []
    assert outcome.failures_by_reason == {"no_track_for_biosample": 3}
    assert set(outcome.scores["track"]) == {""}


def test_cache_entries_are_keyed_by_the_exact_track_name_and_the_server(eqtls, tmp_path):
    frame, genes = eqtls
    row = frame[frame["readout"] == "accessibility"].head(1).assign(biosample="EFO:0002784").reset_index(drop=True)
    with AlphaGenomeStandIn(genes=genes) as server:
        predictor = fast_predictor(server.address)
        predictor.score_variants(row, reference=None, cache_dir=tmp_path, log=LOG)
    key = CallKey(_variant(row.iloc[0]), "alphagenome", "ALL_FOLDS", predictor.scorer_for("accessibility").name,
                  GM12878_DNASE, 1_048_576, server.address)
    with ScoreCache(tmp_path) as cache:
        assert cache.lookup([key])[key].ok
        assert cache.lookup([CallKey(**{**key.__dict__, "track": "EFO:0002784"})]) == {}
        assert cache.lookup([CallKey(**{**key.__dict__, "server": "gdmscience.googleapis.com:443"})]) == {}


def test_the_configuration_id_follows_the_overrides_and_fallbacks_not_one_ontology_per_readout():
    """A track override or a different fallback biosample changes the id; the id names no ontology itself."""
    base = AlphaGenomePredictor(api_key=KEY)
    overridden = AlphaGenomePredictor(api_key=KEY, tracks={"expression|UBERON:0002106": SPLEEN_RNA})
    fallback = AlphaGenomePredictor(api_key=KEY, dnase_ontology="EFO:0002784")
    ids = {base.configuration_id(), overridden.configuration_id(), fallback.configuration_id()}
    assert len(ids) == 3
    assert base.configuration_id() == AlphaGenomePredictor(api_key="another-key").configuration_id()
    assert not any("EFO:" in i or "UBERON:" in i for i in ids)
