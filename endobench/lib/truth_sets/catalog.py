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
- published reference numbers, each with its source and where its setting differs, so that the report can show
  them marked as published in the column of their own metric, and the metric the truth set is read by beside them.
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


# How each metric is named in a sentence or a column head.
METRIC_NAMES = {"spearman": "Spearman", "pearson": "Pearson", "sign_agreement": "sign agreement",
                "sign_auroc": "sign auROC"}


@dataclass(frozen=True)
class Published:
    """A number from the literature, shown beside ours in the column of its own metric and marked as published.

    `setting` says what was evaluated where it differs from ours; `source` where the number is printed and where it
    was checked; `chromosomes` the chromosomes it was computed on (empty: all). `same_setting` is False for a
    number of another setting, shown beside ours only to say where the field stands (never as our target).
    """

    model: str
    metric: str
    value: float
    digits: int
    setting: str
    source: str
    chromosomes: tuple[str, ...] = ()
    same_setting: bool = True

    @property
    def text(self) -> str:
        """The value as precise as its source gives it."""
        return f"{self.value:.{self.digits}f}"


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
    # The metric the truth set is read by beside the literature: signed Pearson where the published numbers are.
    headline_metric: str = "spearman"
    # The measured effect, named as its table names it (GTEx `slope` or `log2_aFC`, Degner `Beta`).
    effect: str = ""
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


# AlphaGenome's dsQTL evaluation (Avsec et al., Nature, Supplementary Table 4): signed Pearson of the GM12878
# DNase prediction against the dsQTL effect over the strong dsQTLs on the chromosomes below. Checked against
# google-deepmind/alphagenome_research @ 3f79219 colabs/variant_eval_examples.ipynb
# ('dsqtl_yoruba_variant_coefficient_human',
# reported_metric 0.8323, EFO:0002784) and Open-Athena/marin-dna @ 3c7916c src/marin_dna/pipelines/evals/qtl_scoring.py
# (SUPPL_TABLE4_REFERENCE: AlphaGenome 0.8323, Borzoi-ensemble 0.7922, ChromBPNet 0.7722; AG_TEST_CHROMS), where issue
# 262 reproduces AlphaGenome at 0.8309 on those chromosomes and 0.8189 on all.
PUBLISHED_EVALUATION_CHROMOSOMES = tuple(f"chr{i}" for i in (3, 6, 9, 12, 16, 18, 19, 21))
_ALPHAGENOME_PAPER = "AlphaGenome paper (Avsec et al., Nature, doi:10.1038/s41586-025-10014-0)"
_SUPPL_TABLE_4 = (f"{_ALPHAGENOME_PAPER}, Supplementary Table 4; checked in "
                  "github.com/google-deepmind/alphagenome_research colabs/variant_eval_examples.ipynb and "
                  "github.com/Open-Athena/marin-dna src/marin_dna/pipelines/evals/qtl_scoring.py (issue 262 reproduces "
                  "AlphaGenome at 0.831 on these chromosomes, 0.819 on all)")
_FIELD_SETTING = ("the ChromBPNet paper's 560 positives (-log10 p > 5 by GEO GSE31388), GM12878 DNase; controls "
                  "(27,735 variants) give it an auPRC, which cannot be computed here without them")
STRONG_DSQTL_PUBLISHED = (
    Published("AlphaGenome", "pearson", 0.8323, 3, _FIELD_SETTING, _SUPPL_TABLE_4, PUBLISHED_EVALUATION_CHROMOSOMES),
    Published("Borzoi (ensemble)", "pearson", 0.7922, 3, _FIELD_SETTING, _SUPPL_TABLE_4,
              PUBLISHED_EVALUATION_CHROMOSOMES),
    Published("ChromBPNet", "pearson", 0.7722, 3, _FIELD_SETTING, _SUPPL_TABLE_4, PUBLISHED_EVALUATION_CHROMOSOMES),
    # Checked in kundajelab/chrombpnet-figures @ 3a81c09 src/figures_factory/Fig6/dsqtls.yoruba.lcls.scoring.ipynb:
    # Pearson of pred.gkmsvm.encsr000emt.varscore.deltasvm with obs.estimate over the 560 positives, 0.7319.
    Published("deltaSVM", "pearson", 0.73, 2, "the same 560 positives, all chromosomes, gkm-SVM on GM12878 DNase "
              "(ENCSR000EMT)", "ChromBPNet paper (Pampari et al., bioRxiv, doi:10.1101/2024.12.25.630221), figure 6; "
              "checked in github.com/kundajelab/chrombpnet-figures "
              "src/figures_factory/Fig6/dsqtls.yoruba.lcls.scoring.ipynb (0.7319)"),
)
# AlphaGenome's eQTL evaluation: fine-mapped GTEx eQTLs (SuSiE PIP > 0.9) scored on the matching tissue's RNA-seq
# track, metrics averaged over tissues weighted by their variants. Checked in alphagenome_research @ 3f79219
# colabs/variant_eval_examples.ipynb: 'eqtl_variant_borzoi_sign_human' tissue_weighted_mean_auroc 0.810077 and
# 'eqtl_variant_borzoi_coefficient_human' tissue_weighted_mean_spearmanr 0.500588 (the paper's figure 4 shows them
# rounded; Borzoi's numbers there could not be checked here, so they are not printed).
_EQTL_SETTING = ("another setting: fine-mapped GTEx eQTLs (SuSiE PIP > 0.9) on the matching tissue's RNA-seq track, "
                 "tissue-weighted mean; ours are lead eQTLs at DNase sites, largely with a DNase readout")
_EQTL_SOURCE = (f"{_ALPHAGENOME_PAPER}, figure 4; checked in github.com/google-deepmind/alphagenome_research "
                "colabs/variant_eval_examples.ipynb")
EQTL_PUBLISHED = (
    Published("AlphaGenome", "spearman", 0.500588, 2, _EQTL_SETTING, _EQTL_SOURCE, same_setting=False),
    Published("AlphaGenome", "sign_auroc", 0.810077, 2, _EQTL_SETTING, _EQTL_SOURCE, same_setting=False),
)

# All 5,671 Degner dsQTLs: no published number is for this set (the field's numbers are for the strong subset).
DSQTL_DEGNER = TruthSetSpec(
    name="dsqtl_degner2012", source="dsqtl_degner2012", label="Degner 2012 LCL dsQTLs",
    measured=Readout(ACCESSIBILITY, GM12878), unit=VARIANT_UNIT, effect="Beta",
)
# The field's dsQTL set: the deltaSVM paper's 574 positives, 573 of them in the Degner table (alleles, Beta).
DSQTL_STRONG = TruthSetSpec(
    name="dsqtl_degner2012_strong", source="dsqtl_degner2012_strong",
    label="strong Degner 2012 LCL dsQTLs (the deltaSVM paper's 574, as the field evaluates)",
    measured=Readout(ACCESSIBILITY, GM12878), unit=VARIANT_UNIT, published=STRONG_DSQTL_PUBLISHED,
    headline_metric="pearson", effect="Beta",
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


def gtex_label(tissue: str) -> str:
    """`GTEx v8 Whole Blood eQTLs`: how the report names a GTEx tissue's eQTLs."""
    return f"GTEx v8 {GTEX_SHORT_NAMES[tissue][1] if tissue in GTEX_SHORT_NAMES else _spelled(tissue)} eQTLs"


# The truth-set source key of every GTEx eQTL tissue, with the tissue.
GTEX_SOURCES = {tissue_key(t): t for t in GTEX_EQTL_TISSUES}


def gtex_truth_set(tissue: str, curie: str, annotation: Annotation, effect: str = "slope") -> TruthSetSpec:
    """The spec of a GTEx tissue's eQTLs under one annotation, named `<source key>_<annotation key>`, measured in
    `effect` (`slope`, or `log2_aFC`); `curie` is the tissue's biosample in AlphaGenome's catalogue."""
    source = tissue_key(tissue)
    return TruthSetSpec(
        name=f"{source}_{annotation.key}", source=source, label=gtex_label(tissue),
        measured=Readout(EXPRESSION, gtex_biosample(tissue, curie)), unit=GENE_UNIT, annotation=annotation,
        published=EQTL_PUBLISHED, effect=effect,
    )


def finemapped_truth_set(tissue: str, curie: str, annotation: Annotation) -> TruthSetSpec:
    """A fine-mapped eQTL table of one tissue: the gene is the unit, the highest-PIP variant leads it."""
    return TruthSetSpec(
        name=f"finemapped_{tissue.lower()}_{annotation.key}", source=f"finemapped_{tissue.lower()}",
        label=f"fine-mapped {tissue} eQTLs", measured=Readout(EXPRESSION, gtex_biosample(tissue, curie)),
        unit=GENE_UNIT, annotation=annotation, lead_by=LEAD_BY_PIP, published=EQTL_PUBLISHED, effect="beta_posterior",
    )
