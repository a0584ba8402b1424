"""`endobench score-pairs --predictor motif`: allele pairs as FASTA, scanned where the two sequences differ, with the
columns the local model writes, on real hg38 sequence from the bundled reference.

The CTCF site is chr22:32,207,069-32,207,083 (JASPAR MA0139.2 on the minus strand; see
lib/motifs/test_motif_changes.py); its core C at 32,207,076 mutated to A breaks it.
"""

import numpy as np
import pandas as pd
import pytest

from endobench.cli import main
from endobench.lib.genome.sequence import reverse_complement
from endobench.lib.motifs.changes import baseline_score, scan_variants
from endobench.lib.motifs.library import load_jaspar

CORE_POS = 32_207_076
CONTEXT = 60  # bases of the record on each side of the variant


@pytest.fixture(scope="module")
def library():
    return load_jaspar()


def write_fasta(path, records: dict[str, str]) -> None:
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records.items()))


@pytest.fixture(scope="module")
def pairs(sample_reference):
    """REF and ALT records: the CTCF core SNV, the same pair read from the other strand, a 5-bp deletion of the
    site's core, and a dsQTL whose alleles make or break no site (its real 100-bp context)."""
    ctcf = sample_reference.fetch("chr22", CORE_POS - 1 - CONTEXT, CORE_POS + CONTEXT)
    assert ctcf[CONTEXT] == "C"
    core_a = ctcf[:CONTEXT] + "A" + ctcf[CONTEXT + 1:]
    deletion = ctcf[:CONTEXT - 1] + ctcf[CONTEXT + 4:]  # ...CC|TAGTG|GC... without TAGTG
    quiet = sample_reference.fetch("chr17", 81_126_206 - 49, 81_126_206 + 51)
    assert quiet[49] == "A"
    refs = {"ctcf_core": ctcf, "ctcf_core_minus": reverse_complement(ctcf), "ctcf_deletion": ctcf, "no_site": quiet}
    alts = {"ctcf_core": core_a, "ctcf_core_minus": reverse_complement(core_a), "ctcf_deletion": deletion,
            "no_site": quiet[:49] + "G" + quiet[50:]}
    return refs, alts


@pytest.fixture(scope="module")
def scored(pairs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("motif_pairs")
    write_fasta(folder / "ref.fa", pairs[0])
    write_fasta(folder / "alt.fa", pairs[1])
    assert main(["score-pairs", "--predictor", "motif", "--ref", str(folder / "ref.fa"), "--alt",
                 str(folder / "alt.fa"), "--out", str(folder / "scores.tsv")]) == 0
    return pd.read_csv(folder / "scores.tsv", sep="\t").set_index("name")


def test_the_columns_are_the_local_models(scored):
    assert list(scored.reset_index().columns) == ["name", "score_ref", "score_alt", "delta"]
    assert list(scored.index) == ["ctcf_core", "ctcf_core_minus", "ctcf_deletion", "no_site"]
    assert np.allclose(scored["delta"], scored["score_alt"] - scored["score_ref"])


def test_mutating_the_ctcf_core_loses_the_site(scored):
    """REF holds the CTCF site (p < 1e-7: -log2 p above 23); the strongest change the pair makes is a loss."""
    row = scored.loc["ctcf_core"]
    assert row["score_ref"] > 23 and row["delta"] <= -6


def test_the_pair_scores_as_its_variant_does_in_the_graph(scored, sample_reference, library):
    """Scanned where the two records differ, the pair gets the motif baseline's score of the variant itself
    (every profile: a pair has no biosample, as K562 has no expression list)."""
    scan = scan_variants(pd.DataFrame({"chrom": ["chr22"], "pos": [CORE_POS], "ref": ["C"], "alt": ["A"]}),
                         sample_reference, library)
    assert scored.loc["ctcf_core", "delta"] == pytest.approx(baseline_score(scan.candidates, 1)[0])


def test_the_scan_is_strand_aware(scored):
    """The same pair read from the other strand makes and breaks the same sites: the same scores."""
    assert scored.loc["ctcf_core_minus"].to_numpy() == pytest.approx(scored.loc["ctcf_core"].to_numpy())


def test_a_deletion_is_scanned_as_a_deletion(scored):
    assert scored.loc["ctcf_deletion", "delta"] <= -6


def test_a_pair_outside_every_motif_scores_zero(scored):
    assert scored.loc["no_site"].tolist() == [0.0, 0.0, 0.0]


def test_pairs_that_cannot_be_scanned_are_counted_and_named_as_for_the_local_model(pairs, tmp_path, capsys):
    refs, alts = pairs
    write_fasta(tmp_path / "ref.fa", {**refs, "same": refs["no_site"], "with_n": "ACGTN" + refs["no_site"]})
    write_fasta(tmp_path / "alt.fa", {**alts, "same": refs["no_site"], "with_n": "ACGTA" + refs["no_site"]})
    assert main(["score-pairs", "--predictor", "motif", "--ref", str(tmp_path / "ref.fa"), "--alt",
                 str(tmp_path / "alt.fa"), "--out", str(tmp_path / "scores.csv")]) == 0
    line = capsys.readouterr().out
    assert "scored 4 pairs; not scored:" in line
    assert "1 with a base other than A, C, G, T (N or an ambiguity code) (with_n)" in line
    assert "1 whose REF and ALT sequences are the same (ref_equals_alt) (same)" in line
    assert len(pd.read_csv(tmp_path / "scores.csv")) == 4


def test_the_variant_of_a_pair_is_where_its_sequences_differ():
    """A SNV is its one base; an insertion or a deletion is anchored on the base before it, as VCF writes it (on the
    base after it at the start of a record); several differences are one span."""
    from endobench.lib.motifs.pairs import differing_span

    assert differing_span("ACGTA", "ACTTA") == (2, 3, 3)
    assert differing_span("ACGT", "ACGTT") == (3, 4, 5)  # an inserted T after the last T: anchored on it
    assert differing_span("ACGT", "AGT") == (0, 2, 1)  # C deleted: anchored on the A before it
    assert differing_span("ACG", "TACG") == (0, 1, 2)  # T inserted before the record: anchored on the A after it
    assert differing_span("AAAACCCC", "AGAACCGC") == (1, 7, 7)
