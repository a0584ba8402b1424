"""Which variants an AlphaGenome model version never trained on: its fold regions, from the SDK's definition."""

import pandas as pd

from endobench.resources.alphagenome import AlphaGenomePredictor
from endobench_tests.paths import SAMPLE_DIR

REGIONS = str(SAMPLE_DIR / "borzoi_sequences_human.hg38.bed.gz")
# chr17:59,914,322 lies only in fold1 regions (FOLD_0's test fold), chr5:128,136,968 only in fold5 ones (FOLD_2's).
VARIANTS = pd.DataFrame({"chrom": ["chr17", "chr5"], "pos": [59_914_322, 128_136_968], "ref": ["A", "C"]})


def test_a_fold_model_holds_out_the_variants_in_its_validation_and_test_regions():
    split = AlphaGenomePredictor(api_key="k", model_version="FOLD_0", fold_regions_path=REGIONS).training_split(VARIANTS)
    assert split.held_out.tolist() == [True, False]
    assert split.scheme.startswith("regions: FOLD_0")


def test_all_folds_holds_out_no_variant_and_says_so():
    split = AlphaGenomePredictor(api_key="k", fold_regions_path=REGIONS).training_split(VARIANTS)
    assert split.held_out is pd.NA and split.beyond_context is pd.NA
    assert "no variant is held out" in split.scheme
