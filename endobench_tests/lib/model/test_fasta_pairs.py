"""`score_fasta_pairs`: allele pairs from two FASTA files (same record name = one pair) scored by the local model."""

import gzip

import numpy as np
import pandas as pd
import pytest

from endobench.lib.io.errors import InputError
from endobench.lib.io.fasta import read_fasta
from endobench.lib.model.pairs import describe_counts, score_fasta_pairs
from endobench_tests.lib.model.small_model import small_cross_fitted
from endobench_tests.paths import FIXTURES

PAIR_FIXTURES = FIXTURES / "local_model"
LOW = PAIR_FIXTURES / "low_alleles.fa"  # plain text
HIGH = PAIR_FIXTURES / "high_alleles.fa.gz"  # gzipped, 60-bp lines, another record order
SHARED = ["chr22.16019155", "chr22.16019152", "chr22.16033221"]


@pytest.fixture(scope="module")
def model():
    # A small real cross-fitted pair; accuracy is not what these tests check. Pairs come without a chromosome,
    # so they are scored by the mean of its two fold models.
    return small_cross_fitted()


@pytest.fixture(scope="module")
def scored(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "scores.tsv"
    counts = score_fasta_pairs(LOW, HIGH, out, model)
    return counts, out


def test_writes_one_row_per_shared_name_in_ref_file_order(scored):
    """Rows follow the REF file, with the header name, score_ref, score_alt, delta."""
    _, out = scored
    text = out.read_text()
    assert text.startswith("name\tscore_ref\tscore_alt\tdelta\n")
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["name", "score_ref", "score_alt", "delta"]
    assert list(table["name"]) == SHARED


def test_scores_are_the_models_and_delta_is_alt_minus_ref(scored, model):
    _, out = scored
    table = pd.read_csv(out, sep="\t")
    low, high = read_fasta(LOW), read_fasta(HIGH)
    s_ref, s_alt = model.score_pairs([low[n] for n in SHARED], [high[n] for n in SHARED])
    np.testing.assert_allclose(table["score_ref"], s_ref, rtol=1e-5)
    np.testing.assert_allclose(table["score_alt"], s_alt, rtol=1e-5)
    np.testing.assert_allclose(table["delta"], table["score_alt"] - table["score_ref"], atol=1e-4)


def test_full_record_delta_equals_the_pipeline_window_delta(scored, model):
    """A 100-bp record with the SNV at index 49 gives the same delta as the 99-bp window the pipeline scores."""
    _, out = scored
    table = pd.read_csv(out, sep="\t").set_index("name")
    low, high = read_fasta(LOW), read_fasta(HIGH)
    flank = model.flank
    for name in SHARED:
        window_ref, window_alt = low[name][49 - flank:50 + flank], high[name][49 - flank:50 + flank]
        s_ref, s_alt = model.score_pairs([window_ref], [window_alt])
        assert table.loc[name, "delta"] == pytest.approx(s_alt[0] - s_ref[0], rel=1e-4, abs=1e-4)


def test_unpaired_and_short_records_are_counted_not_written(scored):
    """One name only in each file and one pair shorter than the 99-bp model input are counted and described."""
    counts, _ = scored
    short = counts["not_scored"]["too_short"]
    assert {k: v for k, v in counts.items() if k != "not_scored"} == {
        "ref_records": 5, "alt_records": 5, "scored": 3, "only_in_ref": 1, "only_in_alt": 1, "non_acgt_base": 0,
        "ref_equals_alt": 0, "too_short": 1, "min_length": 99}
    assert describe_counts(counts) == (
        "scored 3 pairs; not scored: 1 only in the REF file, 1 only in the ALT file, "
        f"1 shorter than the model input of 99 bp ({short[0]})"
    )


def test_gzipped_and_plain_fasta_read_the_same(tmp_path):
    plain = tmp_path / "high.fa"
    with gzip.open(HIGH, "rt") as handle:
        plain.write_text(handle.read())
    assert read_fasta(plain) == read_fasta(HIGH)
    assert len(read_fasta(HIGH)["chr22.16033221"]) == 100  # lines joined


def test_duplicated_name_is_an_input_error_naming_the_line(tmp_path, model):
    dup = tmp_path / "dup.fa"
    dup.write_text(">a\n" + "ACGT" * 30 + "\n>a\n" + "ACGT" * 30 + "\n")
    with pytest.raises(InputError, match=r"dup.fa, line 3: record name 'a' appears again \(first at line 1\)"):
        score_fasta_pairs(dup, HIGH, tmp_path / "out.tsv", model)


def test_no_shared_name_is_an_input_error(tmp_path, model):
    other = tmp_path / "other.fa"
    other.write_text(">x\n" + "ACGT" * 30 + "\n")
    with pytest.raises(InputError, match="no record name is shared"):
        score_fasta_pairs(LOW, other, tmp_path / "out.tsv", model)
    assert not (tmp_path / "out.tsv").exists()


def test_missing_file_is_an_input_error(tmp_path, model):
    with pytest.raises(InputError, match="nope.fa: the FASTA file does not exist"):
        score_fasta_pairs(tmp_path / "nope.fa", HIGH, tmp_path / "out.tsv", model)


def _pairs_with(tmp_path, edit) -> tuple:
    """The three shared real pairs, with `edit(name, sequence)` applied to the REF records."""
    low, high = read_fasta(LOW), read_fasta(HIGH)
    ref, alt = tmp_path / "ref.fa", tmp_path / "alt.fa"
    ref.write_text("".join(f">{n}\n{edit(n, low[n])}\n" for n in SHARED))
    alt.write_text("".join(f">{n}\n{high[n]}\n" for n in SHARED))
    return ref, alt


def test_pairs_with_n_or_an_ambiguity_code_are_counted_not_scored(tmp_path, model):
    """An N in one REF context and an IUPAC R in another: both pairs counted as non_acgt_base, the third scored."""
    def edit(name, seq):
        code = {SHARED[0]: "N", SHARED[1]: "R"}.get(name)
        return seq if code is None else seq[:49] + code + seq[50:]

    ref, alt = _pairs_with(tmp_path, edit)
    counts = score_fasta_pairs(ref, alt, tmp_path / "out.tsv", model)
    assert (counts["scored"], counts["non_acgt_base"]) == (1, 2)
    assert pd.read_csv(tmp_path / "out.tsv", sep="\t")["name"].tolist() == [SHARED[2]]
    assert f"2 with a base other than A, C, G, T (N or an ambiguity code) ({SHARED[0]}, {SHARED[1]})" in \
        describe_counts(counts)


def test_a_pair_whose_two_sequences_are_the_same_is_ref_equals_alt(tmp_path, model):
    """The graph's reason for REF equal to ALT: there is no variant, so no score (it would be a bare 0)."""
    high = read_fasta(HIGH)
    ref, alt = _pairs_with(tmp_path, lambda name, seq: high[name] if name == SHARED[1] else seq)
    counts = score_fasta_pairs(ref, alt, tmp_path / "out.tsv", model)
    assert (counts["scored"], counts["ref_equals_alt"]) == (2, 1)
    assert counts["not_scored"]["ref_equals_alt"] == [SHARED[1]]
    assert f"(ref_equals_alt) ({SHARED[1]})" in describe_counts(counts)


@pytest.mark.parametrize("name, read", [
    ("scores.tsv", lambda path: pd.read_csv(path, sep="\t")),
    ("scores.csv", pd.read_csv),
    ("scores.parquet", pd.read_parquet),
])
def test_the_output_format_is_the_one_its_name_says(tmp_path, model, name, read):
    score_fasta_pairs(LOW, HIGH, tmp_path / name, model)
    table = read(tmp_path / name)
    assert table.columns.tolist() == ["name", "score_ref", "score_alt", "delta"]
    assert table["name"].tolist() == SHARED


@pytest.mark.parametrize("line, says", [
    ("        1 gatcctccat atacaacggt atctccacct caggtttaga", "numbering or spacing, as in GenBank/EMBL"),
    ("ACGTACGTAC GTACGTACGT", "numbering or spacing"),
    ("ACGT-ACGT", "alignment gap"),
    ("MKVLAAGIVG", "not a nucleotide code"),
])
def test_sequence_lines_that_are_not_bases_are_an_error_naming_the_line(tmp_path, model, line, says):
    """GenBank numbering, spaces, gaps or protein letters are never read as bases: the error quotes the line."""
    ref, alt = _pairs_with(tmp_path, lambda name, seq: seq if name != SHARED[1] else line)
    with pytest.raises(InputError) as caught:
        score_fasta_pairs(ref, alt, tmp_path / "out.tsv", model)
    assert f"ref.fa, line 4: record '{SHARED[1]}' has" in str(caught.value) and says in str(caught.value)
    assert repr(line) in str(caught.value)
    assert not (tmp_path / "out.tsv").exists()


def test_blank_lines_crlf_and_a_byte_order_mark_read_the_same(tmp_path):
    """Harmless variations of one FASTA give the same records."""
    text = LOW.read_text()
    variant = tmp_path / "variant.fa"
    variant.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n\r\n").encode() + b"\r\n\r\n")
    assert read_fasta(variant) == read_fasta(LOW)
