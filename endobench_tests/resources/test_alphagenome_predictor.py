"""The AlphaGenome predictor's contract, exercised through the real SDK client against the loopback stand-in."""

import logging

import pandas as pd
import pytest

from endobench.resources.alphagenome import AlphaGenomeConfigError, AlphaGenomePredictor, strip_gene_version
from endobench.resources.predictors import PREDICTION_COLUMNS, SCORED
from endobench_tests.stand_ins.alphagenome_server import (
    AlphaGenomeStandIn,
    expected_quantile,
    expected_score,
    fast_predictor,
    gene_desert,
    sample_eqtl_requests,
)

LOG = logging.getLogger("test_alphagenome")
KEY = "test-key-predictor"
BLOOD = "UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq"


def _predictor(address: str, **overrides):
    return fast_predictor(address, **({"api_key": KEY} | overrides))


@pytest.fixture(scope="module")
def requests_and_genes():
    return sample_eqtl_requests(12)


@pytest.fixture
def stand_in(requests_and_genes):
    with AlphaGenomeStandIn(genes=requests_and_genes[1], latency=0.005, expected_api_key=KEY) as server:
        yield server


def test_settings_out_of_range_are_rejected_with_the_allowed_values():
    """A 2,048 bp interval (the seed's) and an unknown model version are refused before any call is made."""
    with pytest.raises(AlphaGenomeConfigError, match=r"interval_length=2,048 .*1,048,576"):
        AlphaGenomePredictor(api_key=KEY, interval_length=2048).check_config()
    with pytest.raises(AlphaGenomeConfigError, match="model_version='FOLD_7'.*ALL_FOLDS"):
        AlphaGenomePredictor(api_key=KEY, model_version="FOLD_7").window_length()
    with pytest.raises(AlphaGenomeConfigError, match="dnase_ontology='K562'"):
        AlphaGenomePredictor(api_key=KEY, dnase_ontology="K562").configuration_id()
    with pytest.raises(AlphaGenomeConfigError, match="max_concurrency=0"):
        AlphaGenomePredictor(api_key=KEY, max_concurrency=0).check_config()


def test_describes_itself_as_a_remote_predictor_of_both_readouts():
    """The API holds the genome, reads the configured interval, and scores accessibility and expression."""
    predictor = AlphaGenomePredictor(api_key=KEY, interval_length=131_072, model_version="FOLD_2")
    assert predictor.needs_local_sequence() is False
    assert predictor.window_length() == 131_072
    assert predictor.supported_readouts() == frozenset({"accessibility", "expression"})
    assert predictor.configuration_id().startswith("alphagenome|FOLD_2|131072|tracks=")


def test_one_call_per_distinct_variant_whatever_the_number_of_genes_and_readouts(stand_in, tmp_path,
                                                                                 requests_and_genes):
    """A lead variant shared by two eGenes, needed for both readouts, is requested once (both scorers together)."""
    frame = requests_and_genes[0]
    outcome = _predictor(stand_in.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
    per_variant = stand_in.requests_by_variant()
    assert len(per_variant) == frame["variant_id"].nunique() == 10
    assert set(per_variant.values()) == {1}
    assert outcome.api_calls == 10
    assert list(outcome.scores.columns) == [*PREDICTION_COLUMNS, "avi_score"]
    assert outcome.scores["variant_id"].tolist() == frame["variant_id"].tolist()
    assert outcome.scores["gene_id"].astype(str).tolist() == frame["gene_id"].astype(str).tolist()


def test_scores_are_the_selected_tracks_raw_and_quantile_values(stand_in, tmp_path, requests_and_genes):
    """Accessibility takes the K562 DNase track, expression the Whole Blood RNA-seq row of the eQTL's own gene."""
    frame = requests_and_genes[0]
    scores = _predictor(stand_in.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG).scores
    k562, blood = "EFO:0002067 DNase-seq", BLOOD
    for request, result in zip(frame.itertuples(), scores.itertuples()):
        if result.status != SCORED:
            continue
        variant = f"{request.chrom}:{request.pos}:{request.ref}>{request.alt}"
        if request.readout == "accessibility":
            expected = expected_score(variant, k562, "", "ALL_FOLDS", 1_048_576)
        else:
            expected = expected_score(variant, blood, strip_gene_version(request.gene_id), "ALL_FOLDS", 1_048_576)
        assert result.score == pytest.approx(expected, rel=1e-6)
        assert result.quantile_score == pytest.approx(expected_quantile(expected), rel=1e-5)


def test_a_gene_outside_the_interval_is_failed_as_gene_not_in_output(stand_in, tmp_path, requests_and_genes):
    """The eGene whose body lies beyond the 524 kb half-interval gets no score and says why; the others score."""
    frame = requests_and_genes[0]
    outcome = _predictor(stand_in.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
    scores = outcome.scores
    missing = scores[scores["reason"] == "gene_not_in_output"]
    genes = {g.gene_id: g for g in requests_and_genes[1]}
    for row in frame.loc[missing.index].itertuples():
        gene = genes[strip_gene_version(row.gene_id)]
        start = row.pos - 1 - 1_048_576 // 2
        assert gene.end <= start or gene.start >= start + 1_048_576
    assert outcome.failures_by_reason == {"gene_not_in_output": len(missing)}
    assert (scores["status"] == SCORED).sum() == len(frame) - len(missing) > 0


def test_the_eqtl_gene_is_matched_without_its_version_suffix(stand_in, tmp_path, requests_and_genes):
    """GTEx's ENSG00000100181.22 matches AlphaGenome's ENSG00000100181; another version of it matches too."""
    frame = requests_and_genes[0].head(1).assign(gene_id="ENSG00000100181.99")
    scores = _predictor(stand_in.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG).scores
    assert scores.loc[0, "status"] == SCORED


def test_a_rerun_with_nothing_new_makes_no_call_and_returns_the_same_scores(stand_in, tmp_path, requests_and_genes):
    """Everything comes from the cache the second time (10 variants x 2 scorers), equal to the first run."""
    frame = requests_and_genes[0]
    first = _predictor(stand_in.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
    stand_in.clear_records()
    second = _predictor(stand_in.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
    assert stand_in.records == []
    assert second.api_calls == 0
    assert second.cache_hits == 20
    assert second.scores["from_cache"].all()
    pd.testing.assert_frame_equal(first.scores.drop(columns="from_cache"), second.scores.drop(columns="from_cache"))


def test_a_new_release_calls_only_for_variants_not_scored_before(stand_in, tmp_path):
    """Twelve eGenes scored, then sixteen: only the four new lead variants are requested."""
    old, _ = sample_eqtl_requests(12)
    new, _ = sample_eqtl_requests(16)
    _predictor(stand_in.address).score_variants(old, reference=None, cache_dir=tmp_path, log=LOG)
    stand_in.clear_records()
    outcome = _predictor(stand_in.address).score_variants(new, reference=None, cache_dir=tmp_path, log=LOG)
    new_variants = set(new["variant_id"]) - set(old["variant_id"])
    assert len(stand_in.requests_by_variant()) == len(new_variants) == 4
    assert outcome.api_calls == 4


def test_rows_that_cannot_be_requested_are_counted_not_dropped(stand_in, tmp_path, requests_and_genes):
    """An expression row without a gene id and an allele with a non-ACGTN base each get a failed row and reason."""
    frame = requests_and_genes[0].head(3).copy()
    frame.loc[0, "gene_id"] = pd.NA
    frame.loc[1, "alt"] = "<DEL>"
    outcome = _predictor(stand_in.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
    assert outcome.scores["reason"].tolist()[:2] == ["missing_gene_id", "invalid_variant"]
    assert outcome.failures_by_reason == {"invalid_variant": 1, "missing_gene_id": 1}
    assert outcome.scores.loc[2, "status"] == SCORED


def test_the_model_version_and_interval_length_are_sent_and_keyed(stand_in, tmp_path, requests_and_genes):
    """FOLD_1 at 16 kb yields the stand-in's FOLD_1/16 kb scores and does not reuse ALL_FOLDS/1 MB cache entries."""
    frame = requests_and_genes[0]
    frame = frame[frame["readout"] == "accessibility"].head(1).reset_index(drop=True)
    _predictor(stand_in.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
    stand_in.clear_records()
    fold = _predictor(stand_in.address, model_version="FOLD_1", interval_length=16_384)
    scores = fold.score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG).scores
    assert len(stand_in.records) == 1
    row = frame.iloc[0]
    expected = expected_score(f"chr22:{row.pos}:{row.ref}>{row.alt}", "EFO:0002067 DNase-seq", "",
                              "FOLD_1", 16_384)
    assert scores.loc[0, "score"] == pytest.approx(expected, rel=1e-6)


def test_a_variant_in_a_gene_desert_gets_gene_not_in_output_and_the_run_goes_on(stand_in, tmp_path,
                                                                                 requests_and_genes):
    """At 131,072 bp a variant with no gene in its interval: the gene scorer returns no gene (the SDK's obs has no
    gene_id column); its expression row is gene_not_in_output, its accessibility row and every other row score."""
    frame, genes = requests_and_genes
    pos = gene_desert(genes, 131_072)
    desert = pd.DataFrame({
        "variant_id": ["desert", "desert"], "chrom": ["chr22", "chr22"], "pos": [pos, pos], "ref": ["A", "A"],
        "alt": ["G", "G"], "gene_id": ["ENSG00000100181.22", pd.NA], "readout": ["expression", "accessibility"],
    })
    frame = pd.concat([desert, frame.drop(columns=["window_start", "window_end"])], ignore_index=True)
    outcome = _predictor(stand_in.address, interval_length=131_072).score_variants(
        frame, reference=None, cache_dir=tmp_path, log=LOG)
    scores = outcome.scores
    assert scores.loc[0, "reason"] == "gene_not_in_output"
    assert scores.loc[1, "status"] == SCORED
    assert (scores.loc[2:, "status"] == SCORED).sum() > 0
    assert set(outcome.failures_by_reason) == {"gene_not_in_output"}
    assert len(stand_in.requests_by_variant()) == frame["variant_id"].nunique()
