"""The motif library: p-values exact for the quantised matrices, scores those of Biopython's PSSM scoring."""

import itertools

import numpy as np
import pytest

from endobench.lib.motifs.library import SCALE, gene_symbols, load_jaspar, tail_probabilities
from endobench.lib.motifs.scan import encode, scan_alleles


@pytest.fixture(scope="module")
def library():
    return load_jaspar()


def test_p_values_are_the_share_of_all_sequences_scoring_at_least_as_high(library):
    k = int(np.flatnonzero(library.lengths == 6)[0])  # a 6-bp profile: all 4,096 sequences can be enumerated
    weights = library.weights[k]
    scores = np.array([weights[np.arange(6), list(s)].sum() for s in itertools.product(range(4), repeat=6)])
    for threshold in (np.median(scores), np.quantile(scores, 0.99), scores.max()):
        expected = np.mean(scores >= threshold)
        assert library.p_values(np.array([k]), np.array([threshold]))[0] == pytest.approx(expected, rel=1e-12)


def test_tail_probabilities_of_one_column():
    lowest, tail = tail_probabilities(np.array([[2, 0, 0, -1]]))
    assert lowest == -1
    assert list(tail) == [1.0, 0.75, 0.25, 0.25]  # P(score >= -1), >= 0, >= 1, >= 2


def test_scan_scores_are_biopythons_pssm_scores(sample_reference, library):
    from Bio.motifs import jaspar
    from pyjaspar import jaspardb

    motif = jaspardb(release=library.release).fetch_motif_by_id("MA0139.2")
    motif.pseudocounts = jaspar.calculate_pseudocounts(motif)
    flank = library.max_length - 1
    sequence = sample_reference.fetch("chr22", 32_207_075 - flank, 32_207_076 + flank)
    hits = scan_alleles([sequence], np.array([1]), flank, library)
    k = list(library.ids).index("MA0139.2")
    m = int(library.lengths[k])
    region = sequence[flank - m + 1:flank + m]  # every placement overlapping the variant
    expected = max(np.nanmax(motif.pssm.calculate(region)),
                   np.nanmax(motif.pssm.reverse_complement().calculate(region)))
    assert hits.score[0, k] / SCALE == pytest.approx(expected, abs=m * 0.5 / SCALE)


def test_a_placement_over_an_n_is_not_scored(library):
    flank = library.max_length - 1
    hits = scan_alleles(["N" * (2 * flank + 1)], np.array([1]), flank, library)
    assert (hits.score == np.iinfo(np.int32).min).all()
    assert encode(["ACGTN", "acgtn"]).tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]


def test_profile_names_become_gene_symbols():
    assert gene_symbols("RXRA::VDR") == ["RXRA", "VDR"]
    assert gene_symbols("Ahr::Arnt") == ["AHR", "ARNT"]
    assert gene_symbols("FOSL2::JUN(var.2)") == ["FOSL2", "JUN"]
    assert gene_symbols("CTCF") == ["CTCF"]
