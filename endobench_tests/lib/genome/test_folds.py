"""AlphaGenome's held-out regions come from the SDK's fold definition and the bundled regions file, not a list."""

import pandas as pd
import pytest

from endobench.lib.genome.folds import INPUT_REACH, fold_split, held_out_scheme
from endobench.lib.truth_sets.generic import read_generic_qtls
from endobench.resources.sources import DEGNER_COLUMNS
from endobench_tests.paths import SAMPLE_DIR

REGIONS = SAMPLE_DIR / "borzoi_sequences_human.hg38.bed.gz"
# chr17:59,914,322 lies only in fold1 regions, chr5:128,136,968 only in fold5 ones (read off the bundled file).
VARIANTS = pd.DataFrame({"chrom": ["chr17", "chr5", "chr3"], "pos": [59_914_322, 128_136_968, 10_000],
                         "ref": ["A", "C", "G"]})


@pytest.mark.parametrize("version, expected", [
    ("FOLD_0", [True, False, False]),  # FOLD_0 holds out fold0 (validation) and fold1 (test)
    ("FOLD_2", [False, True, False]),  # FOLD_2 holds out fold2 and fold5
    ("FOLD_1", [False, False, False]),  # FOLD_1 holds out fold3 and fold4
])
def test_a_variant_is_held_out_only_by_the_versions_whose_folds_hold_it(version, expected):
    assert fold_split(VARIANTS, version, REGIONS).held_out.tolist() == expected


def test_all_folds_holds_nothing_out_and_says_so():
    """The default model trained on every region: there is no held-out set, and the scheme says it plainly."""
    assert fold_split(VARIANTS, "ALL_FOLDS", REGIONS) is None
    assert "no variant is held out" in held_out_scheme("ALL_FOLDS")


def test_chromosome_3_is_not_a_test_chromosome():
    """The old 'AlphaGenome test chromosomes' list (3, 6, 9, ...) was wrong: chr3 holds regions of six folds, and
    for every FOLD_k version some of them are training regions."""
    regions = pd.read_csv(REGIONS, sep="\t", names=["chrom", "start", "end", "fold"])
    chr3 = set(regions.loc[regions["chrom"] == "chr3", "fold"])
    assert len(chr3) == 6
    held_out = {"FOLD_0": {"fold0", "fold1"}, "FOLD_1": {"fold3", "fold4"}, "FOLD_2": {"fold2", "fold5"},
                "FOLD_3": {"fold6", "fold7"}}
    assert all(chr3 - folds for folds in held_out.values())


def test_the_input_reach_is_what_a_1_mb_input_around_a_196_kb_region_adds_on_each_side():
    assert INPUT_REACH == (1_048_576 - 196_608) // 2 == 425_984


def test_held_out_beyond_training_context_excludes_what_a_training_input_reached():
    """Of the Degner dsQTLs FOLD_0 holds out, 104 lie within 425,984 bp of a training region (inside some training
    example's 1 MB input): the stricter split keeps the other 1,475, as an independent audit counted."""
    table = read_generic_qtls(SAMPLE_DIR / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz", truth_set="dsqtl",
                              build="hg38", columns=DEGNER_COLUMNS).table.to_pandas()
    split = fold_split(table[["chrom", "pos", "ref"]], "FOLD_0", REGIONS)
    assert int(split.held_out.sum()) == 1_579
    assert int((split.held_out & ~split.beyond_context).sum()) == 104
    assert not (split.beyond_context & ~split.held_out).any()
