"""Motif changes on real hg38 sequence: a CTCF site broken by a core mutation, strand awareness, no site at all.

The CTCF site is the strongest match of JASPAR's CTCF profile (MA0139.2) in the bundled chr22:32.0-32.3 Mb segment,
found with Biopython's own PSSM scoring: chr22:32,207,069-32,207,083 (1-based) on the minus strand, CTGCCACCTAGTGGC
on the plus strand (GCCACTAGGTGGCAG read on the minus strand, the profile's consensus GCCACCAGGGGGCGC).
"""

import numpy as np
import pandas as pd
import pytest

from endobench.lib.genome.sequence import reverse_complement
from endobench.lib.motifs.changes import (
    NO_REFERENCE,
    SCANNED,
    SITE_P,
    candidates_of_pairs,
    scan_variants,
    strongest_changes,
)
from endobench.lib.motifs.library import load_jaspar

CTCF = "MA0139.2"
SITE_START0, SITE_END0 = 32_207_068, 32_207_083  # 0-based half-open, minus strand
# Motif position 8 (1-based) of the minus-strand site is the G of CCAGG (903 of 911 sites in the profile's counts);
# on the plus strand it is the C at chr22:32,207,076.
CORE_POS, CORE_REF, CORE_ALT = 32_207_076, "C", "A"


@pytest.fixture(scope="module")
def library():
    return load_jaspar()


def snv(chrom, pos, ref, alt):
    return pd.DataFrame({"chrom": [chrom], "pos": [pos], "ref": [ref], "alt": [alt]})


def test_the_library_is_jaspar_2024_core_vertebrates_non_redundant(library):
    assert len(library) == 879
    assert library.release == "JASPAR2024"
    assert CTCF in set(library.ids) and "MA0139.1" not in set(library.ids)  # only the latest version of a profile
    assert library.names[list(library.ids).index(CTCF)] == "CTCF"


def test_the_ctcf_site_is_in_the_bundled_reference(sample_reference):
    assert sample_reference.fetch("chr22", SITE_START0, SITE_END0) == "CTGCCACCTAGTGGC"
    assert sample_reference.fetch("chr22", CORE_POS - 1, CORE_POS) == CORE_REF


def test_mutating_the_core_of_a_ctcf_site_loses_the_ctcf_motif(sample_reference, library):
    scan = scan_variants(snv("chr22", CORE_POS, CORE_REF, CORE_ALT), sample_reference, library)
    assert list(scan.status) == [SCANNED]
    ctcf = scan.candidates.set_index("motif_id").loc[CTCF]
    assert ctcf["p_ref"] < 1e-7  # the site as the genome has it
    assert ctcf["p_alt"] > 100 * ctcf["p_ref"]
    assert ctcf["log2_fold"] < -6  # a loss
    assert ctcf["logodds_diff"] == pytest.approx(ctcf["logodds_alt"] - ctcf["logodds_ref"])
    assert ctcf["logodds_ref"] == pytest.approx(20.14, abs=0.2)  # Biopython's score of the site, quantised
    assert (ctcf["strand"], ctcf["motif_position"]) == ("-", 8)
    strongest = strongest_changes(scan.candidates, 1).iloc[0]
    assert strongest["loss_log2_fold"] <= ctcf["log2_fold"]  # CTCF's loss, or a stronger one
    assert strongest["strong"]


def test_the_scan_is_strand_aware(sample_reference, library):
    flank = library.max_length - 1
    ref = sample_reference.fetch("chr22", CORE_POS - 1 - flank, CORE_POS + flank)
    alt = ref[:flank] + CORE_ALT + ref[flank + 1:]
    forward = candidates_of_pairs([ref], [alt], np.array([1]), np.array([1]), flank, library)
    mirrored = candidates_of_pairs([reverse_complement(ref)], [reverse_complement(alt)], np.array([1]),
                                   np.array([1]), flank, library)
    a, b = forward.set_index("motif_id").loc[CTCF], mirrored.set_index("motif_id").loc[CTCF]
    assert (a["strand"], b["strand"]) == ("-", "+")
    assert a["motif_position"] == b["motif_position"] == 8
    assert (a["p_ref"], a["p_alt"], a["logodds_ref"]) == (b["p_ref"], b["p_alt"], b["logodds_ref"])
    # Every motif's change is the same read from the other strand, with the strand turned around.
    merged = forward.merge(mirrored, on="motif_id", suffixes=("", "_rc"))
    assert len(merged) == len(forward) == len(mirrored)
    assert np.allclose(merged["log2_fold"], merged["log2_fold_rc"])


def test_a_variant_outside_every_motif_reports_none(sample_reference, library):
    # A Degner dsQTL position (its real 100-bp context is in the bundled reference) where neither allele places
    # any of the 879 profiles at p < 5e-4.
    variants = snv("chr17", 81_126_207, "A", "G")
    assert sample_reference.fetch("chr17", 81_126_206, 81_126_207) == "A"
    scan = scan_variants(variants, sample_reference, library)
    assert list(scan.status) == [SCANNED]
    assert scan.candidates.empty
    row = strongest_changes(scan.candidates, 1).iloc[0]
    assert (row["strongest"], row["strong"], row["n_sites"]) == ("", False, 0)
    assert pd.isna(row["gain_motif_id"]) and pd.isna(row["loss_motif_id"])


def test_a_variant_the_reference_does_not_serve_is_not_scanned_and_says_why(sample_reference, library):
    scan = scan_variants(snv("chr22", 40_000_000, "A", "G"), sample_reference, library)
    assert list(scan.status) == [NO_REFERENCE]
    assert scan.candidates.empty


def test_an_indel_is_scanned_as_a_real_indel(sample_reference, library):
    # Deleting CTAGT from the site's core (CTGCCAC|CTAGT|GGC; ALT is the anchor C) breaks CTCF: ALT is the REF
    # span replaced, not a padded sequence.
    start = SITE_START0 + 6
    ref = sample_reference.fetch("chr22", start, start + 6)
    assert ref == "CCTAGT"
    scan = scan_variants(snv("chr22", start + 1, ref, "C"), sample_reference, library)
    ctcf = scan.candidates.set_index("motif_id").loc[CTCF]
    assert ctcf["p_ref"] < 1e-7 and ctcf["p_alt"] > SITE_P
    assert ctcf["log2_fold"] < -6
