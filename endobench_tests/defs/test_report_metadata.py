"""The report's headline as the UI shows it: one metadata entry per truth set, readout, configuration and metric."""

import dagster as dg

from endobench.defs.assets.report import headline_metadata

HEADLINE = {
    "dsqtl_degner2012|accessibility|local k-mer, held-out chromosomes": {
        "title": "Degner 2012 dsQTLs", "readout_label": "DNase x GM12878 (LCL)",
        "n": 2667, "n_units": 2667, "spearman": 0.195152, "sign_agreement": 0.5741, "sign_auroc": 0.62029,
        "pearson": float("nan"),
    },
}


def test_keys_read_as_words_the_ui_can_wrap():
    metadata = headline_metadata(HEADLINE)
    prefix = "dsqtl_degner2012 / accessibility / local k-mer, held-out chromosomes"
    assert metadata[f"{prefix} / n"] == dg.MetadataValue.int(2667)
    assert metadata[f"{prefix} / spearman"] == dg.MetadataValue.float(0.195)
    assert metadata[f"{prefix} / sign_auroc"] == dg.MetadataValue.float(0.62)
    assert max(len(word) for key in metadata for word in key.split()) <= 24


def test_a_metric_without_a_finite_value_says_too_few():
    metadata = headline_metadata(HEADLINE)
    assert metadata["dsqtl_degner2012 / accessibility / local k-mer, held-out chromosomes / pearson"] == \
        dg.MetadataValue.text("too few")
