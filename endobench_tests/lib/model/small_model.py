"""A small real cross-fitted local model for tests of the mechanics (not of accuracy): trains in about two seconds."""

from functools import lru_cache

from endobench.lib.model.crossfit import EVEN, ODD, CrossFittedModel
from endobench.lib.model.training import TrainingInputs, train_local_model
from endobench_tests.paths import SAMPLE_DIR


@lru_cache(maxsize=1)
def small_cross_fitted() -> CrossFittedModel:
    """The odd fold trained on chr21's 100 dsQTLs, the even fold on chr22's 233: chr22 variants are scored by the
    chr21 model, as the pipeline would score them by the odd-autosome model."""
    inputs = TrainingInputs.sample(SAMPLE_DIR)
    return CrossFittedModel({ODD: train_local_model(inputs, ["chr21"])[0],
                             EVEN: train_local_model(inputs, ["chr22"])[0]})
