"""The local predictor: cross-fitted by chromosome parity, so every row is held out and says which model scored it;
its scores stand for the biosample it learned (GM12878 DNase), whatever biosample a truth set asks for."""

import logging

import numpy as np
import pandas as pd
import pytest

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.model.crossfit import BOTH, EVEN, ODD, SCORED_BY
from endobench.lib.truth_sets.catalog import GM12878, K562
from endobench.resources.predictors import LocalPredictor, local_track
from endobench_tests.lib.model.small_model import small_cross_fitted
from endobench_tests.paths import SAMPLE_DIR

# Real hg38 positions the bundled reference serves: chr22 (an even autosome) and chr2 inside its sample segments.
VARIANTS = pd.DataFrame({
    "variant_id": ["a", "b", "c"], "gene_id": [pd.NA] * 3, "chrom": ["chr22", "chr22", "chr2"],
    "pos": [32_261_410, 32_100_000, 1_000_000], "ref": ["C", "A", "A"], "alt": ["T", "G", "C"],
    "readout": "accessibility", "biosample": K562.curie,
})


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> LocalPredictor:
    path = small_cross_fitted().save(tmp_path_factory.mktemp("model") / "local_dnase_model.npz")
    return LocalPredictor(model_path=str(path))


def test_every_row_is_held_out_and_names_the_model_that_scored_it(predictor):
    split = predictor.training_split(VARIANTS.assign(chrom=["chr22", "chr1", "chrX"]))
    assert split.held_out.tolist() == [True, True, True]
    assert split.scored_by.tolist() == [SCORED_BY[ODD], SCORED_BY[EVEN], SCORED_BY[BOTH]]
    assert "cross-fitted" in split.scheme and "every variant is held out" in split.scheme


def test_rows_are_scored_by_the_fold_model_that_never_saw_their_chromosome(predictor):
    reference = ReferenceGenome(SAMPLE_DIR / "hg38_sample_segments.fa", "hg38")
    scores = predictor.score_variants(VARIANTS, reference=reference, cache_dir=SAMPLE_DIR,
                                      log=logging.getLogger("test")).scores
    model = small_cross_fitted()
    assert scores["status"].tolist() == ["scored"] * 3
    assert scores["track"].tolist() == [local_track(SCORED_BY[ODD])] * 3  # chr22 and chr2 are even autosomes
    with reference.reader() as fetch:
        window = fetch("chr22", 32_261_410 - 1 - model.flank, 32_261_410 + model.flank)
    alt = window[:model.flank] + "T" + window[model.flank + 1:]
    s_ref, s_alt = model.models[ODD].score_pairs([window], [alt])
    assert scores["score"].iloc[0] == pytest.approx(float(s_alt[0] - s_ref[0]), rel=1e-6)
    assert np.isfinite(scores["score"]).all()


def test_its_scores_stand_for_gm12878_whatever_biosample_was_asked(predictor):
    """The model learned LCL (GM12878) DNase: a K562 request is answered with GM12878 DNase, and says so."""
    assert predictor.biosample_scored(K562.curie) == GM12878.curie
    assert predictor.biosample_scored(GM12878.curie) == GM12878.curie
