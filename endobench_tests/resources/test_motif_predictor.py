"""The motif baseline as a predictor: the same columns as every predictor, scores from TFs expressed in the
biosample, a row for every input."""

import logging

import pandas as pd
import pytest

from endobench.lib.genome.reference import ReferenceGenome
from endobench.resources.motifs import MotifPredictor
from endobench.resources.predictors import FAILED, PREDICTION_COLUMNS, SCORED
from endobench.resources.sources import SampleDataSources
from endobench_tests.paths import SAMPLE_DIR

K562, GM12878 = "EFO:0002067", "EFO:0002784"


@pytest.fixture(scope="module")
def predictor():
    sources = SampleDataSources(sample_dir=str(SAMPLE_DIR))
    return MotifPredictor(expressed_genes={k: str(v) for k, v in sources.expressed_genes().items()})


def requests(*rows):
    return pd.DataFrame(rows, columns=["variant_id", "chrom", "pos", "ref", "alt", "biosample"]).assign(
        gene_id=pd.NA, readout="accessibility")


def score(predictor, frame, tmp_path):
    reference = ReferenceGenome(SAMPLE_DIR / "hg38_sample_segments.fa", "hg38")
    return predictor.score_variants(frame, reference=reference, cache_dir=tmp_path, log=logging.getLogger("test"))


def test_every_row_has_the_prediction_columns_and_a_status(predictor, tmp_path):
    outcome = score(predictor, requests(
        ["ctcf_core", "chr22", 32_207_076, "C", "A", K562],
        ["no_site", "chr17", 81_126_207, "A", "G", K562],
        ["not_in_reference", "chr22", 40_000_000, "A", "G", K562],
    ), tmp_path)
    frame = outcome.scores.set_index("variant_id")
    assert list(outcome.scores.columns) == PREDICTION_COLUMNS
    assert list(frame["status"]) == [SCORED, SCORED, FAILED]
    assert frame.loc["not_in_reference", "reason"] == "no_reference_sequence"
    assert outcome.failures_by_reason == {"no_reference_sequence": 1}
    assert frame.loc["ctcf_core", "score"] <= -6  # a loss: the strongest change, CTCF's or stronger
    assert frame.loc["no_site", "score"] == 0.0  # makes or breaks no site: no predicted effect
    assert "all (no expression list for K562)" in frame.loc["ctcf_core", "track"]


def test_a_biosample_with_an_expression_list_scores_only_its_expressed_tfs(predictor, tmp_path):
    # G>A at motif position 9 of the CTCF site gains HOX sites: over all profiles the strongest is HOXA6's (log2
    # fold +7.08, then HOXA7 +6.36), but neither is expressed in LCLs (not among GTEx's tested LCL genes), so in
    # GM12878 the strongest change is HOXB6's (+5.95), ahead of the CTCF site lost (-5.71).
    outcome = score(predictor, requests(["all_tfs", "chr22", 32_207_079, "G", "A", K562],
                                        ["lcl_tfs", "chr22", 32_207_079, "G", "A", GM12878]), tmp_path)
    frame = outcome.scores.set_index("variant_id")
    assert frame.loc["all_tfs", "score"] == pytest.approx(7.08, abs=0.01)
    assert frame.loc["lcl_tfs", "score"] == pytest.approx(5.95, abs=0.01)
    track = frame.loc["lcl_tfs", "track"]
    assert "expressed in GM12878 (LCL) (GTEx v8 tested genes)" in track
    n_expressed = int(track.split("the ")[1].split(" expressed")[0].replace(",", ""))
    assert 400 < n_expressed < 879


def test_the_configuration_names_the_release_and_the_rule(predictor):
    assert predictor.configuration_id().startswith("motif_jaspar|JASPAR2024|site_p=0.0005|expressed=")
    assert predictor.window_length() == 2 * 32 + 1
