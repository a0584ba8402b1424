"""The report's motif section: each unit with its strongest change, and the agreement rate over strong changes."""

import pandas as pd

from endobench.lib.evaluation.motif_report import agreement, change_text, motif_section, with_changes
from endobench.lib.motifs.changes import changes_of_variants
from endobench.lib.motifs.library import load_jaspar

# Real variants of the bundled reference: a CTCF core mutation (a loss), a HOX gain next to it, and a dsQTL
# position where neither allele places any profile.
VARIANTS = pd.DataFrame({
    "variant_id": ["ctcf_core", "hox_gain", "no_site"], "chrom": ["chr22", "chr22", "chr17"],
    "pos": [32_207_076, 32_207_079, 81_126_207], "ref": ["C", "G", "A"], "alt": ["A", "A", "G"],
})


def table(sample_reference):
    return changes_of_variants(VARIANTS, sample_reference, load_jaspar())[0]


def test_the_agreement_rate_counts_units_whose_strong_change_has_the_effects_sign(sample_reference):
    # The loss agrees with a negative effect, the gain disagrees with a negative one: 1 of 2 strong changes.
    units = with_changes(VARIANTS.assign(effect=[-1.0, -0.5, 2.0]), table(sample_reference))
    assert list(units["strongest"]) == ["loss", "gain", ""]
    assert change_text(units.iloc[0]).startswith("loss of ")
    numbers = agreement(units.assign(variant_id=["u1", "u2", "u3"]), "variant_id")
    assert (numbers["n_units"], numbers["n_strong"]) == (3, 2)
    assert "agreement" not in numbers  # too few units for a rate


def test_the_section_lists_largest_effects_and_each_models_disagreements(sample_reference):
    predictions = VARIANTS.assign(truth_set="t", gene_id=pd.NA, effect=[-1.0, -0.5, 2.0], score=[0.1, 0.3, -0.9],
                                  status="scored", configuration="m1", predictor="local_gkm_dnase")
    blocks, numbers = motif_section(predictions, table(sample_reference), {}, {"m1": "local k-mer"})
    tables = [b for b in blocks if b[0] == "table"]
    assert len(tables) == 2
    largest, worst = tables[0][2], tables[1][2]
    assert [row[0] for row in largest] == ["no_site", "ctcf_core", "hox_gain"]  # by |measured effect|
    assert largest[0][2] == "none" and largest[1][-1] == "yes" and largest[2][-1] == "no"
    assert worst[0][0] == "no_site"  # the highest effect, scored lowest
    assert numbers["t"]["n_strong"] == 2
