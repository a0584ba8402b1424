"""What each truth set measures, in which biosample, how it is filtered, and what its independent unit is.

A truth set is a source table (GTEx Whole Blood, GTEx LCL, the Degner dsQTLs, ...) under one accessibility
annotation (K562 DHS peaks, LCL DNase-sensitive sites, or none). Its spec says:
- what was measured (readout x biosample) and which readouts a predictor is asked for, each in a named
  biosample, so that an LCL dsQTL is scored on an LCL (GM12878) DNase track and a Whole Blood eQTL on the Whole
  Blood RNA-seq track, never on whatever one track a run was configured with;
- the unit of resampling: the gene for eQTL truth sets (rows are variant-gene pairs; one gene carries many LD
  tags), the variant for accessibility truth sets;
- how the headline picks one row per unit (the lead variant of a gene by p-value, or the highest PIP);
- its primary endpoint, computed on units oriented by their measured effect so that it does not depend on which
  allele is called ALT: direction (sign agreement) or magnitude (Spearman of |effect| with the oriented score);
- published reference numbers, so that the report can show them marked as published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACCESSIBILITY = "accessibility"
EXPRESSION = "expression"
GENE_UNIT = "gene_id"
VARIANT_UNIT = "variant_id"
LEAD_BY_PVALUE = "pval"
LEAD_BY_PIP = "pip"
# Primary endpoints (computed in lib/evaluation/endpoints.py).
DIRECTION = "direction"
MAGNITUDE = "magnitude"


@dataclass(frozen=True)
class Biosample:
    """A cell type or tissue by its ontology CURIE (what AlphaGenome tracks are labelled with) and a readable name."""

    curie: str
    name: str


GM12878 = Biosample("EFO:0002784", "GM12878 (LCL)")
K562 = Biosample("EFO:0002067", "K562")
WHOLE_BLOOD = Biosample("UBERON:0013756", "GTEx Whole Blood")
GTEX_LCL = Biosample("EFO:0000572", "GTEx EBV-transformed lymphocytes (LCL)")
BIOSAMPLES = {b.curie: b for b in (GM12878, K562, WHOLE_BLOOD, GTEX_LCL)}


@dataclass(frozen=True)
class Readout:
    """A kind of measurement (accessibility by DNase-seq, expression by RNA-seq) in one biosample."""

    kind: str
    biosample: Biosample | None

    @property
    def assay(self) -> str:
        return {ACCESSIBILITY: "DNase", EXPRESSION: "RNA-seq"}.get(self.kind, self.kind)

    @property
    def label(self) -> str:
        """`DNase x GM12878 (LCL)`: readout x biosample, as every report row names it."""
        return f"{self.assay} x {self.biosample.name if self.biosample else 'as given'}"


@dataclass(frozen=True)
class Annotation:
    """Accessible sites that eQTLs must fall in: the peaks of a DNase experiment, or measured DNase QTL sites."""

    key: str
    label: str
    biosample: Biosample
    sites: bool = False  # variant positions, not peaks: enriched for variants by construction


K562_DHS_PEAKS = Annotation("k562_dhs", "K562 DNase peaks", K562)
LCL_DSQTL_SITES = Annotation("lcl_dsqtl_sites", "LCL DNase-sensitive sites (Degner dsQTL positions)", GM12878,
                             sites=True)
ANNOTATIONS = {a.key: a for a in (K562_DHS_PEAKS, LCL_DSQTL_SITES)}


@dataclass(frozen=True)
class Published:
    """A number from the literature for this kind of comparison, shown beside ours and marked as published."""

    metric: str
    value: float
    what: str


@dataclass(frozen=True)
class TruthSetSpec:
    """One truth set: a source table under one annotation (`annotation` None keeps every variant)."""

    name: str
    source: str
    label: str
    measured: Readout
    unit: str
    annotation: Annotation | None = None
    lead_by: str = LEAD_BY_PVALUE
    published: tuple[Published, ...] = field(default_factory=tuple)
    # Direction by default: it reads the same whatever the readout's units (a DNase log ratio against an eQTL
    # slope), and selection on significance truncates |effect|, which weakens a magnitude endpoint.
    primary: str = DIRECTION

    @property
    def readouts(self) -> tuple[Readout, ...]:
        """The readouts a predictor is asked for: the measured one, plus for an expression truth set the
        accessibility of its annotation's biosample (the seed's question: do accessibility changes track eQTLs?)."""
        if self.measured.kind == ACCESSIBILITY:
            return (self.measured,)
        accessibility_in = self.annotation.biosample if self.annotation is not None else self.measured.biosample
        return (Readout(ACCESSIBILITY, accessibility_in), self.measured)

    @property
    def title(self) -> str:
        where = f" at {self.annotation.label}" if self.annotation is not None else ""
        return f"{self.label}{where}"


DSQTL_PUBLISHED = (
    Published("pearson", 0.83, "AlphaGenome, Degner dsQTLs, GM12878 DNase (Avsec et al. 2025)"),
)
EQTL_PUBLISHED = (
    Published("sign_auroc", 0.80, "AlphaGenome, fine-mapped GTEx eQTLs (PIP > 0.9), matching tissue RNA-seq "
                                  "(Avsec et al. 2025); not directly comparable with lead eQTLs"),
)

DSQTL_DEGNER = TruthSetSpec(
    name="dsqtl_degner2012", source="dsqtl_degner2012", label="Degner 2012 LCL dsQTLs",
    measured=Readout(ACCESSIBILITY, GM12878), unit=VARIANT_UNIT, published=DSQTL_PUBLISHED,
)
# The GTEx tissues endobench knows, by the key its truth sets carry, with the tissue's biosample.
GTEX_TISSUES = {
    "gtex_wb": ("Whole_Blood", "GTEx v8 Whole Blood eQTLs", WHOLE_BLOOD),
    "gtex_lcl": ("Cells_EBV-transformed_lymphocytes", "GTEx v8 LCL eQTLs", GTEX_LCL),
}


def gtex_truth_set(source: str, annotation: Annotation) -> TruthSetSpec:
    """The spec of a GTEx tissue's eQTLs under one annotation, named `<source>_<annotation key>`."""
    _, label, biosample = GTEX_TISSUES[source]
    return TruthSetSpec(
        name=f"{source}_{annotation.key}", source=source, label=label, measured=Readout(EXPRESSION, biosample),
        unit=GENE_UNIT, annotation=annotation, published=EQTL_PUBLISHED,
    )


def finemapped_truth_set(tissue: str, annotation: Annotation) -> TruthSetSpec:
    """A fine-mapped eQTL table of one tissue: the gene is the unit, the highest-PIP variant leads it."""
    biosample = next((b for _, (t, _, b) in GTEX_TISSUES.items() if t == tissue), Biosample(tissue, tissue))
    return TruthSetSpec(
        name=f"finemapped_{tissue.lower()}_{annotation.key}", source=f"finemapped_{tissue.lower()}",
        label=f"fine-mapped {tissue} eQTLs", measured=Readout(EXPRESSION, biosample), unit=GENE_UNIT,
        annotation=annotation, lead_by=LEAD_BY_PIP, published=EQTL_PUBLISHED,
    )


def tissue_key(tissue: str) -> str:
    """The truth-set source key of a GTEx tissue (`Whole_Blood` -> `gtex_wb`); unknown tissues get `gtex_<name>`."""
    return next((key for key, (t, _, _) in GTEX_TISSUES.items() if t == tissue), f"gtex_{tissue.lower()}")
