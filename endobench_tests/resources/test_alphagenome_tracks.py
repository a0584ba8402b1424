"""Each row is scored on one exactly named track, chosen by its readout and biosample, never an ontology mean."""

import logging

import pandas as pd
import pytest

from endobench.lib.scoring.score_cache import CallKey, ScoreCache
from endobench.resources.alphagenome import DEFAULT_TRACKS, AlphaGenomePredictor, strip_gene_version
from endobench.resources.predictors import SCORED
from endobench_tests.stand_ins.alphagenome_server import (
    DECOY_TRACK,
    TRACK_BY_NAME,
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




@pytest.fixture(scope="module")
def eqtls():
    frame, genes = sample_eqtl_requests(8)
    return frame.drop(columns=["window_start", "window_end"]), genes


def _variant(row) -> str:
    return f"{row.chrom}:{row.pos}:{row.ref}>{row.alt}"


def _expected(row, track: str, strand: str = ".") -> float:
    gene = "" if row.readout == "accessibility" else strip_gene_version(row.gene_id) + (strand if strand != "." else "")
    return expected_score(_variant(row), TRACK_BY_NAME[track], gene, "ALL_FOLDS", 1_048_576)


def test_each_row_is_scored_on_the_named_track_of_its_biosample(eqtls, tmp_path):
    """The same variants asked for GM12878 and K562 DNase and for GTEx Whole Blood and LCL RNA-seq: each row
    carries its own track's score and that track's exact name, and each variant is still asked once."""
    frame, genes = eqtls
    rows = pd.concat([
        frame[frame["readout"] == "accessibility"].assign(biosample="EFO:0002784"),
        frame[frame["readout"] == "accessibility"].assign(biosample="EFO:0002067"),
        frame[frame["readout"] == "expression"].assign(biosample="UBERON:0013756"),
        frame[frame["readout"] == "expression"].assign(biosample="EFO:0000572"),
    ], ignore_index=True)
    track_of = {"EFO:0002784": GM12878_DNASE, "EFO:0002067": K562_DNASE, "UBERON:0013756": BLOOD_RNA,
                "EFO:0000572": LCL_RNA}
    with AlphaGenomeStandIn(genes=genes) as server:
        scores = fast_predictor(server.address).score_variants(rows, reference=None, cache_dir=tmp_path, log=LOG).scores
        assert set(server.requests_by_variant().values()) == {1}
    scored = scores["status"] == SCORED
    assert scored.sum() >= 0.75 * len(rows)
    for row, result in zip(rows[scored.to_numpy()].itertuples(), scores[scored].itertuples()):
        assert result.track == track_of[row.biosample]
        assert result.score == pytest.approx(_expected(row, result.track), rel=1e-6)


def test_a_decoy_track_sharing_the_ontology_term_is_not_averaged_in(eqtls, tmp_path):
    """The stand-in serves a second GM12878 DNase track (same CURIE, another name): the GM12878 score is that of
    `EFO:0002784 DNase-seq` alone, not the mean of the two."""
    frame, genes = eqtls
    row = frame[frame["readout"] == "accessibility"].head(1).assign(biosample="EFO:0002784").reset_index(drop=True)
    with AlphaGenomeStandIn(genes=genes) as server:
        score = fast_predictor(server.address).score_variants(row, reference=None, cache_dir=tmp_path, log=LOG).scores
    request = row.iloc[0]
    named = expected_score(_variant(request), TRACK_BY_NAME[GM12878_DNASE], "", "ALL_FOLDS", 1_048_576)
    decoy = expected_score(_variant(request), DECOY_TRACK, "", "ALL_FOLDS", 1_048_576)
    assert DECOY_TRACK.ontology_curie == "EFO:0002784" and abs(named - decoy) > 0.01
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


def test_a_named_track_missing_from_the_response_is_track_not_in_output(eqtls, tmp_path):
    frame, genes = eqtls
    row = frame[frame["readout"] == "accessibility"].head(1).assign(biosample="EFO:0002784").reset_index(drop=True)
    with AlphaGenomeStandIn(genes=genes) as server:
        outcome = fast_predictor(server.address, tracks={"accessibility|EFO:0002784": "EFO:0002784 DNase-seq retired"}
                             ).score_variants(row, reference=None, cache_dir=tmp_path, log=LOG)
    assert outcome.scores.loc[0, "reason"] == "track_not_in_output"
    assert outcome.scores.loc[0, "track"] == "EFO:0002784 DNase-seq retired"


def test_a_biosample_without_a_known_expression_track_fails_its_rows_without_a_call(eqtls, tmp_path):
    """Spleen RNA-seq has no default track: those rows are no_track_for_biosample and nothing is requested."""
    frame, genes = eqtls
    rows = frame[frame["readout"] == "expression"].head(2).assign(biosample="UBERON:0002106").reset_index(drop=True)
    with AlphaGenomeStandIn(genes=genes) as server:
        outcome = fast_predictor(server.address).score_variants(rows, reference=None, cache_dir=tmp_path, log=LOG)
        assert server.records == []
    assert outcome.failures_by_reason == {"no_track_for_biosample": 2}


def test_cache_entries_are_keyed_by_the_exact_track_name(eqtls, tmp_path):
    frame, genes = eqtls
    row = frame[frame["readout"] == "accessibility"].head(1).assign(biosample="EFO:0002784").reset_index(drop=True)
    with AlphaGenomeStandIn(genes=genes) as server:
        predictor = fast_predictor(server.address)
        predictor.score_variants(row, reference=None, cache_dir=tmp_path, log=LOG)
    key = CallKey(_variant(row.iloc[0]), "alphagenome", "ALL_FOLDS", predictor.scorer_for("accessibility").name,
                  GM12878_DNASE, 1_048_576)
    with ScoreCache(tmp_path) as cache:
        assert cache.lookup([key])[key].ok
        assert cache.lookup([CallKey(**{**key.__dict__, "track": "EFO:0002784"})]) == {}


def test_the_configuration_id_follows_the_track_table_not_one_ontology_per_readout():
    """A track override or a different fallback biosample changes the id; the id names no ontology itself."""
    base = AlphaGenomePredictor(api_key=KEY)
    overridden = AlphaGenomePredictor(api_key=KEY, tracks={"expression|UBERON:0002106": "UBERON:0002106 gtex "
                                                           "Spleen polyA plus RNA-seq"})
    fallback = AlphaGenomePredictor(api_key=KEY, dnase_ontology="EFO:0002784")
    ids = {base.configuration_id(), overridden.configuration_id(), fallback.configuration_id()}
    assert len(ids) == 3
    assert base.configuration_id() == AlphaGenomePredictor(api_key="another-key").configuration_id()
    assert not any("EFO:" in i or "UBERON:" in i for i in ids)
    assert base.track_name("accessibility", "EFO:0002784") == DEFAULT_TRACKS[("accessibility", "EFO:0002784")]
    assert base.track_name("accessibility", "EFO:0001187") == "EFO:0001187 DNase-seq"
    assert base.track_name("expression", "UBERON:0002106") is None
