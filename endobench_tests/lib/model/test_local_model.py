"""The local gapped k-mer DNase model: exact scoring, persistence, determinism, and its held-out accuracy."""

import dataclasses

import numpy as np
import pytest

from endobench.lib.genome.sequence import reverse_complement as revcomp
from endobench.lib.io.errors import InputError
from endobench.lib.model.gkm import GkmConfig, LocalDnaseModel, gkm_features_both_strands, lmer_table, table_scores
from endobench.lib.model.held_out import evaluate_held_out, variant_windows
from endobench.lib.model.training import (
    HELD_OUT_CHROMOSOMES,
    TRAINING_CHROMOSOMES,
    TrainingInputs,
    cross_validate,
    train_local_model,
)
from endobench_tests.paths import SAMPLE_DIR

SMALL_TRAIN = ["chr21"]  # 100 dsQTLs: enough to train in a second for the properties that do not need accuracy


@pytest.fixture(scope="module")
def inputs() -> TrainingInputs:
    return TrainingInputs.sample(SAMPLE_DIR)


@pytest.fixture(scope="module")
def small_model(inputs) -> LocalDnaseModel:
    return train_local_model(inputs, SMALL_TRAIN)[0]


@pytest.fixture(scope="module")
def full_model(inputs) -> LocalDnaseModel:
    return train_local_model(inputs, TRAINING_CHROMOSOMES)[0]


def real_contexts(inputs: TrainingInputs, n: int) -> list[str]:
    return [inputs.high[i] for i in inputs.dsqtls["id"][:n]]


def test_chromosome_split_is_odd_versus_even():
    """The default split trains on chr1, chr3, ..., chr21 and holds out chr2, chr4, ..., chr22."""
    assert TRAINING_CHROMOSOMES == ["chr1", "chr3", "chr5", "chr7", "chr9", "chr11", "chr13", "chr15", "chr17", "chr19",
                               "chr21"]
    assert HELD_OUT_CHROMOSOMES == [f"chr{i}" for i in range(2, 23, 2)]


def test_sample_inputs_count_what_they_leave_out(inputs):
    """5,671 dsQTLs: 12 not lifted to a primary hg38 chromosome and 3 without contexts are counted, 5,656 kept."""
    assert len(inputs.dsqtls) == 5_656
    assert inputs.excluded == {"not_lifted_to_primary_hg38": 12, "no_context_sequence": 3}


def test_positive_beta_means_alt_is_the_high_accessibility_allele(inputs):
    """Orientation used by the evaluation: Beta > 0 exactly when the table's Alt is the high allele's base."""
    table = inputs.dsqtls
    alt_is_high = np.array([inputs.high[i][49] == a for i, a in zip(table["id"], table["alt"])])
    assert np.array_equal(alt_is_high, table["beta"].to_numpy() > 0)
    assert 0 < alt_is_high.sum() < len(table)  # both signs occur


def test_table_score_equals_gapped_kmer_weights_times_features():
    """Folding gapped k-mer weights into the l-mer table changes nothing: table score == weights . features."""
    config = GkmConfig(l=6, k=4)
    rng = np.random.default_rng(1)
    weights = rng.normal(size=config.n_features)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (6, 7, 31, 99, 100)]
    expected = gkm_features_both_strands(seqs, config) @ weights
    got = table_scores(seqs, lmer_table(weights, config).astype(np.float64), config.l)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_model_is_strand_symmetric(small_model, inputs):
    """A sequence and its reverse complement get the same score."""
    seqs = real_contexts(inputs, 20)
    np.testing.assert_allclose(small_model.score_sequences(seqs),
                               small_model.score_sequences([revcomp(s) for s in seqs]), rtol=1e-5, atol=1e-6)


def test_windows_holding_n_add_nothing(small_model, inputs):
    """An N splits a sequence: its score is the sum of the two parts' scores; lower case scores as upper case."""
    left, right = inputs.high[inputs.dsqtls["id"][0]][:60], inputs.low[inputs.dsqtls["id"][1]][:45]
    joined, parts = small_model.score_sequences([left + "N" + right, left.lower() + "N" + right]), \
        small_model.score_sequences([left, right])
    assert joined[0] == pytest.approx(parts.sum(), rel=1e-5)
    assert joined[1] == pytest.approx(joined[0], rel=1e-6)


def test_score_pairs_handles_indels_of_any_length(small_model, inputs):
    """REF/ALT of different lengths are scored; the delta of a SNV only comes from windows around it."""
    ref = inputs.low[inputs.dsqtls["id"][2]][:99]
    deletion, insertion = ref[:49] + ref[52:], ref[:49] + "GATTACA" + ref[49:]
    s_ref, s_alt = small_model.score_pairs([ref, ref], [deletion, insertion])
    assert np.isfinite(s_alt).all() and (s_alt != s_ref).all()
    snv = ref[:49] + ("A" if ref[49] != "A" else "C") + ref[50:]
    far = "ACGT" * 10
    d_short = np.diff(small_model.score_sequences([ref, snv]))
    d_long = np.diff(small_model.score_sequences([far + ref + far, far + snv + far]))
    assert d_long[0] == pytest.approx(d_short[0], abs=1e-4)


def test_save_load_round_trip_keeps_scores_and_fingerprint(small_model, inputs, tmp_path):
    """The npz file restores the same table, flank and fingerprint, so scores are identical."""
    path = small_model.save(tmp_path / "model" / "local.npz")
    loaded = LocalDnaseModel.load(path)
    seqs = real_contexts(inputs, 10)
    assert loaded.fingerprint() == small_model.fingerprint()
    assert (loaded.flank, loaded.name) == (small_model.flank, small_model.name)
    np.testing.assert_array_equal(loaded.score_sequences(seqs), small_model.score_sequences(seqs))
    assert [p.name for p in path.parent.iterdir()] == ["local.npz"]  # no temporary file left behind


def test_fingerprint_changes_with_the_weights(small_model):
    """Any change to the table changes the fingerprint (it keys prediction caches)."""
    table = small_model.table.copy()
    table[0] += 1e-3
    other = LocalDnaseModel(table, small_model.config, small_model.flank, small_model.name, small_model.training)
    assert len(small_model.fingerprint()) == 64
    assert other.fingerprint() != small_model.fingerprint()


def test_load_names_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="missing.npz: the local model file does not exist. Materialize"):
        LocalDnaseModel.load(tmp_path / "missing.npz")


def test_load_names_a_corrupt_file(small_model, tmp_path):
    """A truncated model file (e.g. a crash elsewhere) is reported with what to do, not a zipfile traceback."""
    path = small_model.save(tmp_path / "local.npz")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="unreadable or incomplete.*Materialize the local_model asset"):
        LocalDnaseModel.load(path)


def test_training_is_deterministic(inputs, small_model):
    """Training twice on the same chromosomes gives the same weights."""
    again, _ = train_local_model(inputs, SMALL_TRAIN)
    assert again.fingerprint() == small_model.fingerprint()


def test_training_reads_only_the_training_chromosomes(inputs, small_model):
    """Changing every held-out dsQTL's sequences and effects leaves the trained model unchanged."""
    held_out = inputs.dsqtls["chrom"] != "chr21"
    scrambled = dataclasses.replace(
        inputs,
        dsqtls=inputs.dsqtls.assign(beta=np.where(held_out, -inputs.dsqtls["beta"], inputs.dsqtls["beta"])),
        high={k: (inputs.low[k] if k not in set(inputs.dsqtls["id"][~held_out]) else v) for k, v in inputs.high.items()},
    )
    model, summary = train_local_model(scrambled, SMALL_TRAIN)
    assert summary["n_train_dsqtls"] == 100
    assert model.fingerprint() == small_model.fingerprint()


def test_cross_validation_holds_out_whole_chromosomes(inputs):
    """Each fold holds out whole training chromosomes and scores every dsQTL on them once."""
    result = cross_validate(inputs, ["chr19", "chr21"], n_folds=2)
    assert [(f["held_out"], f["n"]) for f in result["folds"]] == [(["chr19"], 435), (["chr21"], 100)]
    assert 0.0 < result["sign_auroc"] < 1.0
    assert result == cross_validate(inputs, ["chr19", "chr21"], n_folds=2)


def test_too_few_training_dsqtls_is_an_input_error(inputs):
    with pytest.raises(InputError, match="only 0 dsQTLs lie on the training chromosomes"):
        train_local_model(inputs, ["chrY"])


def test_evaluation_windows_are_the_hg38_plus_strand_alleles(inputs):
    """REF windows come from the sample reference with the REF base at `flank`; minus-strand alleles are flipped."""
    frame, refs, alts = variant_windows(inputs, TRAINING_CHROMOSOMES + HELD_OUT_CHROMOSOMES, flank=49)
    assert len(frame) == len(refs) == len(alts) == 5_656
    assert (frame["strand"] == "-").sum() == 18  # 21 lift to minus; 3 (chr13) have no context
    minus = frame.index[frame["strand"] == "-"][0]
    assert refs[minus][49] == revcomp(frame.loc[minus, "ref"])
    assert alts[minus][49] == revcomp(frame.loc[minus, "alt"])
    plus = frame.index[frame["strand"] == "+"][0]
    assert (refs[plus][49], alts[plus][49]) == (frame.loc[plus, "ref"], frame.loc[plus, "alt"])
    assert refs[plus][:49] == alts[plus][:49] and len(refs[plus]) == 99


def test_held_out_dsqtl_signs_are_predicted_above_chance(full_model, inputs):
    """Trained on odd chromosomes, the model predicts even-chromosome dsQTL signs: auROC >= 0.60, CI above 0.5."""
    evaluation = evaluate_held_out(full_model, inputs, HELD_OUT_CHROMOSOMES, n_boot=200)
    assert evaluation.n == 2_667
    assert evaluation.train_chromosomes == TRAINING_CHROMOSOMES
    assert evaluation.test_chromosomes == HELD_OUT_CHROMOSOMES
    assert evaluation.sign_auroc >= 0.60
    assert evaluation.sign_auroc_ci[0] > 0.5
    assert evaluation.sign_auroc_ci[0] < evaluation.sign_auroc < evaluation.sign_auroc_ci[1]
    assert evaluation.pearson_ci[0] > 0 and evaluation.spearman_ci[0] > 0


def test_large_batches_score_like_small_ones(small_model, inputs):
    """Batches larger than one scoring chunk (20,000 sequences) give the same scores as tiny batches."""
    seqs = real_contexts(inputs, 50)
    big = small_model.score_sequences(seqs * 500)
    np.testing.assert_array_equal(big[-50:], small_model.score_sequences(seqs))
    np.testing.assert_array_equal(big[:50], big[-50:])


def test_evaluating_on_chromosomes_without_dsqtls_is_an_input_error(small_model, inputs):
    with pytest.raises(InputError, match=r"only 0 dsQTLs on \['chrY'\] can be scored"):
        evaluate_held_out(small_model, inputs, ["chrY"])
