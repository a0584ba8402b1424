"""Every diagnostic with an input that triggers it and a clean input that does not."""

import pandas as pd
import pytest

from endobench.lib.evaluation import diagnostics


@pytest.fixture(scope="module")
def gtex(fixtures):
    """120 real GTEx Whole Blood eGenes (slope, pval_nominal, tss_distance, ...)."""
    return pd.read_csv(fixtures / "report" / "gtex_wb_egenes_chr22_first120.tsv", sep="\t")


@pytest.fixture(scope="module")
def dsqtl(fixtures):
    """The 233 real Degner 2012 dsQTLs on chr22 (Beta is signed, Pr(>|t|) is the p-value)."""
    return pd.read_csv(fixtures / "report" / "dsqtl_degner2012_chr22.tsv", sep="\t")


def _scored(effect, *, truth_set="gtex_wb", readout="accessibility", variant_ids=None, gene_ids=None, tss=None):
    n = len(effect)
    return pd.DataFrame({
        "truth_set": truth_set, "variant_id": variant_ids if variant_ids is not None else [f"v{i}" for i in range(n)],
        "gene_id": gene_ids if gene_ids is not None else pd.NA, "tss_distance": tss if tss is not None else pd.NA,
        "effect": list(effect), "score": 0.0, "readout": readout, "configuration": "local|accessibility",
    })


def test_pvalues_used_as_effect_warn(gtex):
    """The seed's mistake: pval_nominal read as slope is never negative and piles up near 0."""
    warnings = diagnostics.effect_sign_warnings(gtex["pval_nominal"], "gtex_wb")
    assert len(warnings) == 2
    assert "never negative" in warnings[0]
    assert "looks like p-values" in warnings[1]
    assert all(w.startswith("gtex_wb: ") for w in warnings)


def test_real_slopes_do_not_warn(gtex):
    """Real GTEx slopes take both signs: no sign warning."""
    assert diagnostics.effect_sign_warnings(gtex["slope"], "gtex_wb") == []


def test_effect_that_is_never_negative_warns_without_looking_like_pvalues(gtex):
    """|slope| is never negative but spreads beyond [0, 1]: only the sign warning fires."""
    warnings = diagnostics.effect_sign_warnings(gtex["slope"].abs() + 1, "gtex_wb")
    assert len(warnings) == 1 and "never negative" in warnings[0]


def test_tiny_effects_warn(gtex):
    """Slopes divided by 100 (a median of about 0.003) are tiny next to typical |slope| of 0.3-0.5."""
    warnings = diagnostics.tiny_effect_warnings(gtex["slope"] / 100, "gtex_wb")
    assert len(warnings) == 1 and "tiny" in warnings[0]


def test_real_slopes_are_not_tiny(gtex):
    """Real whole-blood slopes (median |slope| well above 0.03) pass."""
    assert diagnostics.tiny_effect_warnings(gtex["slope"], "gtex_wb") == []


def test_peak_fraction_at_coverage_warns_of_build_mismatch():
    """4.4% of variants in peaks that cover 4% of the genome: no enrichment, the seed's hg38-vs-hg19 symptom."""
    warnings = diagnostics.peak_fraction_warnings("gtex_wb", 0.044, 0.04, True)
    assert len(warnings) == 1 and "different genome builds" in warnings[0]


def test_enriched_peak_fraction_passes():
    """15% in peaks covering 4%: the enrichment QTLs show on a matching build."""
    assert diagnostics.peak_fraction_warnings("gtex_wb", 0.15, 0.04, True) == []


def test_peak_fraction_ignored_when_peaks_do_not_filter():
    """dsQTLs are not filtered by peaks (filtered_by_annotation False): their fraction says nothing about builds."""
    assert diagnostics.peak_fraction_warnings("dsqtl", 0.01, 0.04, False) == []
    assert diagnostics.peak_fraction_warnings("gtex_wb", None, 0.04, True) == []


def test_absurd_enrichment_warns():
    """All variants in peaks covering 1%: the variants were selected by these peaks."""
    warnings = diagnostics.peak_fraction_warnings("gtex_wb", 1.0, 0.01, True)
    assert len(warnings) == 1 and "pre-selected" in warnings[0]


def test_high_reference_mismatch_warns():
    """30% of REF alleles disagreeing with the genome is a build or strand problem."""
    warnings = diagnostics.reference_mismatch_warnings("gtex_wb", 0.30)
    assert len(warnings) == 1 and "30.0%" in warnings[0]


def test_low_reference_mismatch_passes():
    """1% disagreement (multi-allelic sites, errata) passes; None (unknown) passes."""
    assert diagnostics.reference_mismatch_warnings("gtex_wb", 0.01) == []
    assert diagnostics.reference_mismatch_warnings("gtex_wb", None) == []


def test_variant_repeated_in_accessibility_readout_warns():
    """One variant in three rows of an accessibility readout: counted three times."""
    units = _scored([0.1, 0.2, -0.3, 0.4], variant_ids=["a", "a", "a", "b"])
    warnings = diagnostics.duplicate_warnings(units, "gtex_wb")
    assert len(warnings) == 1 and "2 extra rows for 2 variants" in warnings[0]


def test_real_egenes_lead_variants_shared_by_genes_are_caught(gtex):
    """The real eGenes fixture has 4 lead variants shared by two genes: as accessibility rows that is 4 extra."""
    warnings = diagnostics.duplicate_warnings(_scored(gtex["slope"], variant_ids=gtex["variant_id"]), "gtex_wb")
    assert len(warnings) == 1 and "4 extra rows for 116 variants" in warnings[0]


def test_unique_variants_in_accessibility_readout_pass():
    """One row per variant passes."""
    assert diagnostics.duplicate_warnings(_scored([0.1, -0.2, 0.3]), "gtex_wb") == []


def test_expression_readout_keeps_pairs_but_not_many_per_variant():
    """Expression keeps variant-gene pairs: 2 genes per variant passes, 12 rows per variant warns."""
    pairs = _scored([0.1] * 4, readout="expression", variant_ids=["a", "a", "b", "b"], gene_ids=["g1", "g2"] * 2)
    assert diagnostics.duplicate_warnings(pairs, "gtex_wb") == []
    multiplied = _scored([0.1] * 24, readout="expression", variant_ids=["a"] * 12 + ["b"] * 12,
                         gene_ids=[f"g{i}" for i in range(24)])
    warnings = diagnostics.duplicate_warnings(multiplied, "gtex_wb")
    assert len(warnings) == 1 and "12.0 rows per variant" in warnings[0]


def test_diagnose_clean_real_truth_sets_give_no_warnings(gtex, dsqtl):
    """Real slopes and real dsQTL betas, one row per variant, good context numbers: nothing to warn about.

    Four lead variants in the eGenes fixture lead two genes each; an accessibility readout counts them once.
    """
    once = gtex.drop_duplicates("variant_id")
    scored = pd.concat([
        _scored(once["slope"], variant_ids=once["variant_id"], tss=once["tss_distance"]),
        _scored(dsqtl["Beta"], truth_set="dsqtl_degner2012", variant_ids=dsqtl["ID"]),
    ], ignore_index=True)
    context = {
        "gtex_wb": {"fraction_in_annotation_observed": 0.12, "fraction_in_annotation_expected": 0.03, "filtered_by_annotation": True,
                    "reference_mismatch_rate": 0.0},
        "dsqtl_degner2012": {"fraction_in_annotation_observed": 0.01, "fraction_in_annotation_expected": 0.03,
                             "filtered_by_annotation": False, "reference_mismatch_rate": 0.02},
    }
    assert diagnostics.diagnose(scored, context) == []


def test_diagnose_reports_the_seed_setup(gtex):
    """p-values as effects, peaks on another build and a 40% REF mismatch: every problem is named."""
    scored = _scored(gtex["pval_nominal"], variant_ids=gtex["variant_id"], tss=gtex["tss_distance"])
    context = {"gtex_wb": {"fraction_in_annotation_observed": 0.044, "fraction_in_annotation_expected": 0.04,
                           "filtered_by_annotation": True, "reference_mismatch_rate": 0.4}}
    warnings = diagnostics.diagnose(scored, context)
    text = "\n".join(warnings)
    assert "never negative" in text and "looks like p-values" in text
    assert "different genome builds" in text
    assert "disagrees with the reference genome" in text


def test_dsqtl_betas_are_not_judged_against_eqtl_slopes(dsqtl):
    """Accessibility QTL betas (no gene, no TSS distance) skip the eQTL-scale check even when small."""
    scored = _scored(dsqtl["Beta"] / 100, truth_set="dsqtl_degner2012", variant_ids=dsqtl["ID"])
    assert diagnostics.diagnose(scored, {}) == []
