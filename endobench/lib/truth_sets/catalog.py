"""What each truth set measures, in which biosample, how it is filtered, and what its independent unit is.

A truth set is a source table (GTEx Whole Blood, GTEx LCL, the Degner dsQTLs, ...) under one accessibility
annotation (K562 DHS peaks, LCL DNase-sensitive sites, or none). Its spec says:
- what was measured (readout x biosample) and which readouts a predictor is asked for, each in a named
  biosample, so that an LCL dsQTL is scored on an LCL (GM12878) DNase track and a Whole Blood eQTL on the Whole
  Blood RNA-seq track, never on whatever one track a run was configured with;
- the unit of resampling: the gene for eQTL truth sets (rows are variant-gene pairs; one gene carries many LD
  tags), the variant for accessibility truth sets;
- how the headline picks one row per unit (the lead variant of a gene by p-value, or the highest PIP);
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


@dataclass(frozen=True)
class Biosample:
    """A cell type or tissue by its ontology CURIE (what AlphaGenome tracks are labelled with) and a readable name."""

    curie: str
    name: str


# The cell lines of the annotations and the dsQTLs. GTEx tissues get their CURIE from AlphaGenome's track
# catalogue (`gtex_biosample`), not from a list kept by hand.
GM12878 = Biosample("EFO:0002784", "GM12878 (LCL)")
K562 = Biosample("EFO:0002067", "K562")
BIOSAMPLES = {b.curie: b for b in (GM12878, K562)}


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
# The tissues of GTEx v8's single-tissue eQTL tables (the members of GTEx_Analysis_v8_eQTL.tar: 49 tissues with
# at least 70 samples). AlphaGenome's catalogue has an expression track for each, and for five more tissues
# without eQTL tables (Bladder, Cervix_Ectocervix, Cervix_Endocervix, Fallopian_Tube, Kidney_Medulla).
GTEX_EQTL_TISSUES = (
    "Adipose_Subcutaneous", "Adipose_Visceral_Omentum", "Adrenal_Gland", "Artery_Aorta", "Artery_Coronary",
    "Artery_Tibial", "Brain_Amygdala", "Brain_Anterior_cingulate_cortex_BA24", "Brain_Caudate_basal_ganglia",
    "Brain_Cerebellar_Hemisphere", "Brain_Cerebellum", "Brain_Cortex", "Brain_Frontal_Cortex_BA9",
    "Brain_Hippocampus", "Brain_Hypothalamus", "Brain_Nucleus_accumbens_basal_ganglia", "Brain_Putamen_basal_ganglia",
    "Brain_Spinal_cord_cervical_c-1", "Brain_Substantia_nigra", "Breast_Mammary_Tissue", "Cells_Cultured_fibroblasts",
    "Cells_EBV-transformed_lymphocytes", "Colon_Sigmoid", "Colon_Transverse", "Esophagus_Gastroesophageal_Junction",
    "Esophagus_Mucosa", "Esophagus_Muscularis", "Heart_Atrial_Appendage", "Heart_Left_Ventricle", "Kidney_Cortex",
    "Liver", "Lung", "Minor_Salivary_Gland", "Muscle_Skeletal", "Nerve_Tibial", "Ovary", "Pancreas", "Pituitary",
    "Prostate", "Skin_Not_Sun_Exposed_Suprapubic", "Skin_Sun_Exposed_Lower_leg", "Small_Intestine_Terminal_Ileum",
    "Spleen", "Stomach", "Testis", "Thyroid", "Uterus", "Vagina", "Whole_Blood",
)
# Short names of the two tissues the sample bundles (truth-set key, label, biosample name); every other tissue
# is named after its GTEx name (`gtex_liver`, "GTEx v8 Liver eQTLs", "GTEx Liver").
GTEX_SHORT_NAMES = {
    "Whole_Blood": ("gtex_wb", "Whole Blood", "GTEx Whole Blood"),
    "Cells_EBV-transformed_lymphocytes": ("gtex_lcl", "LCL", "GTEx EBV-transformed lymphocytes (LCL)"),
}


def _spelled(tissue: str) -> str:
    return tissue.replace("_", " ")


def gtex_biosample(tissue: str, curie: str) -> Biosample:
    """A GTEx tissue as a biosample: its ontology CURIE (from AlphaGenome's catalogue) and a readable name."""
    return Biosample(curie, GTEX_SHORT_NAMES[tissue][2] if tissue in GTEX_SHORT_NAMES else f"GTEx {_spelled(tissue)}")


def tissue_key(tissue: str) -> str:
    """The truth-set source key of a GTEx tissue (`Whole_Blood` -> `gtex_wb`, `Liver` -> `gtex_liver`)."""
    return GTEX_SHORT_NAMES[tissue][0] if tissue in GTEX_SHORT_NAMES else f"gtex_{tissue.lower()}"


def gtex_truth_set(tissue: str, curie: str, annotation: Annotation) -> TruthSetSpec:
    """The spec of a GTEx tissue's eQTLs under one annotation, named `<source key>_<annotation key>`; `curie` is the
    tissue's biosample in AlphaGenome's catalogue."""
    source = tissue_key(tissue)
    short = GTEX_SHORT_NAMES[tissue][1] if tissue in GTEX_SHORT_NAMES else _spelled(tissue)
    return TruthSetSpec(
        name=f"{source}_{annotation.key}", source=source, label=f"GTEx v8 {short} eQTLs",
        measured=Readout(EXPRESSION, gtex_biosample(tissue, curie)), unit=GENE_UNIT, annotation=annotation,
        published=EQTL_PUBLISHED,
    )


def finemapped_truth_set(tissue: str, curie: str, annotation: Annotation) -> TruthSetSpec:
    """A fine-mapped eQTL table of one tissue: the gene is the unit, the highest-PIP variant leads it."""
    return TruthSetSpec(
        name=f"finemapped_{tissue.lower()}_{annotation.key}", source=f"finemapped_{tissue.lower()}",
        label=f"fine-mapped {tissue} eQTLs", measured=Readout(EXPRESSION, gtex_biosample(tissue, curie)),
        unit=GENE_UNIT, annotation=annotation, lead_by=LEAD_BY_PIP, published=EQTL_PUBLISHED,
    )
