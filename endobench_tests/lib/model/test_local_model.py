"""The local gapped k-mer DNase model: exact scoring, cross-fitting, persistence, determinism, held-out accuracy."""

import dataclasses

import numpy as np
import pytest

from endobench.lib.genome.sequence import reverse_complement as revcomp
from endobench.lib.io.errors import InputError
from endobench.lib.model.crossfit import BOTH, EVEN, FOLD_CHROMOSOMES, ODD, CrossFittedModel, scoring_fold
from endobench.lib.model.gkm import GkmConfig, LocalDnaseModel, gkm_features_both_strands, lmer_table, table_scores
from endobench.lib.model.held_out import evaluate_held_out, variant_windows
from endobench.lib.model.training import TrainingInputs, cross_validate, train_cross_fitted, train_local_model
from endobench_tests.paths import SAMPLE_DIR

SMALL_TRAIN = ["chr21"]  # 100 dsQTLs: enough to train in a second for the properties that do not need accuracy
AUTOSOMES = FOLD_CHROMOSOMES[ODD] + FOLD_CHROMOSOMES[EVEN]


@pytest.fixture(scope="module")
def inputs() -> TrainingInputs:
    return TrainingInputs.sample(SAMPLE_DIR)


@pytest.fixture(scope="module")
def small_model(inputs) -> LocalDnaseModel:
    return train_local_model(inputs, SMALL_TRAIN)[0]


@pytest.fixture(scope="module")
def small_pair(inputs, small_model) -> CrossFittedModel:
    """A cross-fitted pair of small models (chr21 for the odd fold, chr22 for the even): fast, for the mechanics."""
    return CrossFittedModel({ODD: small_model, EVEN: train_local_model(inputs, ["chr22"])[0]})


@pytest.fixture(scope="module")
def cross_fitted(inputs) -> CrossFittedModel:
    return train_cross_fitted(inputs)[0]


def real_contexts(inputs: TrainingInputs, n: int) -> list[str]:
    return [inputs.high[i] for i in inputs.dsqtls["id"][:n]]


def test_the_folds_are_the_odd_and_the_even_autosomes():
    assert FOLD_CHROMOSOMES[ODD] == ["chr1", "chr3", "chr5", "chr7", "chr9", "chr11", "chr13", "chr15", "chr17",
                                     "chr19", "chr21"]
    assert FOLD_CHROMOSOMES[EVEN] == [f"chr{i}" for i in range(2, 23, 2)]


def test_each_chromosome_is_scored_by_the_model_that_never_saw_it():
    """Odd autosomes by the model trained on the even ones, and the reverse; chromosomes neither trained on by both."""
    folds = scoring_fold(["chr1", "chr2", "chr21", "chr22", "chrX", "chrM"])
    assert folds.tolist() == [EVEN, ODD, EVEN, ODD, BOTH, BOTH]


def test_a_pair_is_scored_by_its_fold_model_and_without_a_chromosome_by_their_mean(small_pair, inputs):
    refs = real_contexts(inputs, 6)
    alts = [inputs.low[i] for i in inputs.dsqtls["id"][:6]]
    by_fold = {fold: np.subtract(*reversed(small_pair.models[fold].score_pairs(refs, alts))) for fold in (ODD, EVEN)}
    s_ref, s_alt = small_pair.score_pairs(refs, alts, ["chr1", "chr2"] * 3)
    np.testing.assert_allclose((s_alt - s_ref)[0::2], by_fold[EVEN][0::2], rtol=1e-6)
    np.testing.assert_allclose((s_alt - s_ref)[1::2], by_fold[ODD][1::2], rtol=1e-6)
    s_ref, s_alt = small_pair.score_pairs(refs, alts)
    np.testing.assert_allclose(s_alt - s_ref, (by_fold[ODD] + by_fold[EVEN]) / 2, rtol=1e-4, atol=1e-5)


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


def test_save_load_round_trip_keeps_scores_and_fingerprint(small_pair, inputs, tmp_path):
    """The npz file restores both fold models, their flank and the fingerprint, so scores are identical."""
    path = small_pair.save(tmp_path / "model" / "local.npz")
    loaded = CrossFittedModel.load(path)
    seqs = real_contexts(inputs, 10)
    assert loaded.fingerprint() == small_pair.fingerprint()
    assert (loaded.flank, loaded.name) == (small_pair.flank, small_pair.name)
    assert loaded.train_chromosomes(EVEN) == ["chr22"]
    for chroms in (["chr1"] * 10, ["chr2"] * 10, None):
        np.testing.assert_array_equal(loaded.score_pairs(seqs, seqs[::-1], chroms)[0],
                                      small_pair.score_pairs(seqs, seqs[::-1], chroms)[0])
    assert [p.name for p in path.parent.iterdir()] == ["local.npz"]  # no temporary file left behind


def test_a_single_model_file_from_before_cross_fitting_is_refused(small_pair, tmp_path):
    """A model file of the old format (one table) names the format and says to retrain, it is not half-read."""
    path = tmp_path / "old.npz"
    np.savez_compressed(path, table=small_pair.models[ODD].table, config=np.array('{"format_version": 1}'))
    with pytest.raises(InputError, match="model format 1 is not 2.*Materialize the local_model asset"):
        CrossFittedModel.load(path)


def test_fingerprint_changes_with_the_weights(small_model):
    """Any change to the table changes the fingerprint (it keys prediction caches)."""
    table = small_model.table.copy()
    table[0] += 1e-3
    other = LocalDnaseModel(table, small_model.config, small_model.flank, small_model.name, small_model.training)
    assert len(small_model.fingerprint()) == 64
    assert other.fingerprint() != small_model.fingerprint()


def test_load_names_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="missing.npz: the local model file does not exist. Materialize"):
        CrossFittedModel.load(tmp_path / "missing.npz")


def test_load_names_a_corrupt_file(small_pair, tmp_path):
    """A truncated model file (e.g. a crash elsewhere) is reported with what to do, not a zipfile traceback."""
    path = small_pair.save(tmp_path / "local.npz")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="unreadable or incomplete.*Materialize the local_model asset"):
        CrossFittedModel.load(path)


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
    frame, refs, alts = variant_windows(inputs, AUTOSOMES, flank=49)
    assert len(frame) == len(refs) == len(alts) == 5_656
    assert (frame["strand"] == "-").sum() == 18  # 21 lift to minus; 3 (chr13) have no context
    minus = frame.index[frame["strand"] == "-"][0]
    assert refs[minus][49] == revcomp(frame.loc[minus, "ref"])
    assert alts[minus][49] == revcomp(frame.loc[minus, "alt"])
    plus = frame.index[frame["strand"] == "+"][0]
    assert (refs[plus][49], alts[plus][49]) == (frame.loc[plus, "ref"], frame.loc[plus, "alt"])
    assert refs[plus][:49] == alts[plus][:49] and len(refs[plus]) == 99


def test_cross_fitting_holds_out_every_dsqtl_and_predicts_signs_above_chance(cross_fitted, inputs):
    """Every dsQTL the reference serves (5,656) is scored by the model that never saw its chromosome: the 2,667 on
    even autosomes by the odd-trained model, the 2,989 on odd ones by the even-trained model; auROC >= 0.60 with its
    interval above 0.5, and positive Pearson and Spearman."""
    evaluation = evaluate_held_out(cross_fitted, inputs, AUTOSOMES, n_boot=200)
    assert evaluation.n == 5_656
    assert evaluation.scored_by == {ODD: 2_667, EVEN: 2_989}
    assert cross_fitted.train_chromosomes(ODD) == FOLD_CHROMOSOMES[ODD]
    assert evaluation.sign_auroc >= 0.60
    assert evaluation.sign_auroc_ci[0] > 0.5
    assert evaluation.sign_auroc_ci[0] < evaluation.sign_auroc < evaluation.sign_auroc_ci[1]
    assert evaluation.pearson_ci[0] > 0 and evaluation.spearman_ci[0] > 0
    assert evaluation.sign_agreement_ci[0] > 0.5
    assert evaluation.sign_agreement_ci[0] < evaluation.sign_agreement < evaluation.sign_agreement_ci[1]


def test_each_fold_model_alone_predicts_its_held_out_half(cross_fitted, inputs):
    """The odd-trained model on the even autosomes (the split before cross-fitting) and the even-trained model on
    the odd ones both beat chance on their own."""
    for chroms, fold, n in ((FOLD_CHROMOSOMES[EVEN], ODD, 2_667), (FOLD_CHROMOSOMES[ODD], EVEN, 2_989)):
        evaluation = evaluate_held_out(cross_fitted, inputs, chroms, n_boot=200)
        assert evaluation.scored_by == {fold: n}
        assert evaluation.sign_auroc_ci[0] > 0.5


def test_large_batches_score_like_small_ones(small_model, inputs):
    """Batches larger than one scoring chunk (20,000 sequences) give the same scores as tiny batches."""
    seqs = real_contexts(inputs, 50)
    big = small_model.score_sequences(seqs * 500)
    np.testing.assert_array_equal(big[-50:], small_model.score_sequences(seqs))
    np.testing.assert_array_equal(big[:50], big[-50:])


def test_evaluating_on_chromosomes_without_dsqtls_is_an_input_error(small_pair, inputs):
    with pytest.raises(InputError, match=r"only 0 dsQTLs on \['chrY'\] can be scored"):
        evaluate_held_out(small_pair, inputs, ["chrY"])
