"""Windows: the reference allele is checked, alleles are put on the reference strand, exclusions are counted."""

import pandas as pd
import pytest

from endobench.lib.genome.windows import (
    AS_IS,
    OK,
    SWAPPED,
    build_windows,
    exclusion_counts,
    reference_agreement,
    variant_window,
)


def variants(*rows):
    frame = pd.DataFrame(rows, columns=["variant_id", "chrom", "pos", "ref", "alt", "effect"])
    frame["pos"] = frame["pos"].astype("int64")
    return frame


def windows(reference, frame, length=101, needs_sequence=True):
    return build_windows(frame, reference, window_length=length, needs_sequence=needs_sequence).set_index("variant_id")


def test_reference_allele_matching_the_genome_is_kept_as_is(sample_reference):
    out = windows(sample_reference, variants(["rfpl2", "chr22", 32261410, "C", "T", -0.402071]))
    row = out.loc["rfpl2"]
    assert (row["window_status"], row["harmonisation"]) == (OK, AS_IS)
    assert (row["ref"], row["alt"], row["effect"]) == ("C", "T", pytest.approx(-0.402071))
    assert (row["window_start"], row["window_end"]) == (32261409 - 50, 32261409 + 51)


def test_alt_matching_the_genome_swaps_alleles_and_flips_the_effect(sample_reference):
    out = windows(sample_reference, variants(["flipped", "chr22", 32261410, "T", "C", 0.4]))
    row = out.loc["flipped"]
    assert row["harmonisation"] == SWAPPED
    assert (row["ref"], row["alt"], row["effect"]) == ("C", "T", pytest.approx(-0.4))


def test_neither_allele_matching_is_a_ref_mismatch(sample_reference):
    out = windows(sample_reference, variants(["wrong", "chr22", 32261410, "G", "A", 0.4]))
    assert out.loc["wrong", "window_status"] == "ref_mismatch"


def test_a_window_the_reference_cannot_serve_is_counted(sample_reference):
    out = windows(sample_reference, variants(["far", "chr22", 40_000_000, "A", "G", 0.1]))
    assert out.loc["far", "window_status"] == "no_reference_sequence"


def test_a_window_past_the_chromosome_start_is_off_chromosome_end(sample_reference):
    """chr2:10,001 is the first real base after the telomeric N; a 25,001-bp window around it starts before base 1."""
    base = sample_reference.fetch("chr2", 10_000, 10_001)
    frame = variants(["edge", "chr2", 10_001, base, "G" if base != "G" else "A", 0.1])
    out = windows(sample_reference, frame, length=25_001)
    assert out.loc["edge", "window_status"] == "off_chromosome_end"


def test_an_n_allele_never_agrees_with_an_n_in_the_genome(sample_reference):
    """chr2:5 is telomeric N: a REF of N there is ambiguous_allele, not a match, and is not checked at all."""
    out = windows(sample_reference, variants(["n_ref", "chr2", 5, "N", "A", 0.1],
                                             ["iupac", "chr22", 32261410, "C", "Y", 0.1],
                                             ["gap", "chr22", 32261410, "C", "-", 0.1]))
    assert out["window_status"].to_dict() == {"n_ref": "ambiguous_allele", "iupac": "ambiguous_allele",
                                              "gap": "invalid_allele"}
    assert (out["harmonisation"] == "").all()
    assert reference_agreement(out.reset_index())[1] == 0  # none checked, so none counted as agreeing


def test_a_window_mostly_of_n_is_n_rich(sample_reference):
    """chr2:10,001 is the first real base after the telomere gap: its centred window is half N."""
    base = sample_reference.fetch("chr2", 10_000, 10_001)
    out = windows(sample_reference, variants(["gap_edge", "chr2", 10_001, base, "G" if base != "G" else "A", 0.1]))
    assert out.loc["gap_edge", "window_status"] == "n_rich"
    assert out.loc["gap_edge", "n_fraction"] == pytest.approx(50 / 101)


def test_a_deletion_stays_a_deletion_centred_on_its_ref_span(sample_reference):
    ref = sample_reference.fetch("chr22", 32261409, 32261412)
    out = windows(sample_reference, variants(["del", "chr22", 32261410, ref, ref[0], 0.2]))
    row = out.loc["del"]
    assert (row["window_status"], row["ref"], row["alt"]) == (OK, ref, ref[0])
    assert row["window_end"] - row["window_start"] == 101
    assert row["window_start"] == 32261409 + 1 - 50


def test_an_indel_longer_than_the_window_is_counted(sample_reference):
    ref = sample_reference.fetch("chr22", 32261409, 32261409 + 150)
    out = windows(sample_reference, variants(["long", "chr22", 32261410, ref, ref[0], 0.2]))
    assert out.loc["long", "window_status"] == "indel_longer_than_window"


def test_a_remote_predictor_needs_only_the_allele_checked(sample_reference):
    """AlphaGenome holds its own genome: a 1 Mb window is fine even though the sample serves 300 kb here."""
    out = windows(sample_reference, variants(["rfpl2", "chr22", 32261410, "C", "T", -0.4]),
                  length=1_048_576, needs_sequence=False)
    assert out.loc["rfpl2", "window_status"] == OK
    assert out.loc["rfpl2", "window_end"] - out.loc["rfpl2", "window_start"] == 1_048_576


def test_exclusions_and_agreement_are_summarised(sample_reference):
    frame = variants(
        ["a", "chr22", 32261410, "C", "T", 0.1], ["b", "chr22", 32261410, "T", "C", 0.1],
        ["c", "chr22", 32261410, "G", "A", 0.1], ["d", "chr22", 40_000_000, "A", "G", 0.1],
    )
    out = build_windows(frame, sample_reference, window_length=101, needs_sequence=True)
    assert dict(exclusion_counts(out)) == {"ref_mismatch": 1, "no_reference_sequence": 1}
    assert reference_agreement(out) == (pytest.approx(2 / 3), 3)


@pytest.mark.parametrize("length", [98, 99, 100, 16_384, 131_072, 1_048_576])
@pytest.mark.parametrize("ref", ["A", "AC", "ACG", "ACGT", "ACGTA"])
def test_the_window_is_the_interval_the_alphagenome_sdk_requests(length, ref):
    """One window definition: for every REF length and window length it equals the SDK's
    `Variant.reference_interval.resize(length)`, which is what AlphaGenome scores (the old windows were 1 bp off
    for SNVs at even lengths)."""
    from alphagenome.data import genome

    for pos in (1_000_000, 1_000_001, 2_345_678):
        interval = genome.Variant("chr1", pos, ref, "T").reference_interval.resize(length)
        start, end = variant_window(pos, len(ref), length)
        assert (int(start), int(end)) == (interval.start, interval.end)


def test_a_snv_sits_at_index_49_of_its_99_base_window():
    """The local model's window (flank 49): the variant is at 0-based index 49, as in the Degner contexts."""
    start, end = variant_window(1_000, 1, 99)
    assert (int(start), int(end)) == (1_000 - 1 - 49, 1_000 + 49)
