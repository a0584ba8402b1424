"""The report's headline as the UI shows it: one table (truth set, readout x biosample, configuration, n units,
primary metric and interval, mde, ...) with the headline figures beside it, not one metadata key per number."""

import dagster as dg
import pandas as pd
import pytest

from endobench.defs.assets.report import HEADLINE_COLUMNS, headline_metadata
from endobench.lib.evaluation.report import build_report
from endobench.lib.truth_sets.catalog import DSQTL_DEGNER


@pytest.fixture(scope="module")
def report(fixtures, tmp_path_factory):
    """The report of the real chr22 dsQTLs scored by their own t values (a second measurement of each variant)."""
    dsqtl = pd.read_csv(fixtures / "report" / "dsqtl_degner2012_chr22.tsv", sep="\t")
    predictions = pd.DataFrame({
        "truth_set": DSQTL_DEGNER.name, "variant_id": dsqtl["ID"], "gene_id": pd.NA, "effect": dsqtl["Beta"],
        "effect_se": dsqtl["Std. Error"], "score": dsqtl["t value"], "status": "scored", "readout": "accessibility",
        "biosample": "EFO:0002784", "configuration": "local_gkm_dnase|0123", "predictor": "local_gkm_dnase",
        "held_out": True, "held_out_scheme": "chromosomes (even)",
    })
    funnels = {DSQTL_DEGNER.name: {"rows_read": 233, "scored_variants": 233},
               "gtex_wb_k562_dhs": {"rows_read": 574, "in_annotation": 63, "windows_ok": 0}}
    exclusions = {"gtex_wb_k562_dhs": {"not_in_annotation": 511, "no_reference_sequence": 63}}
    return build_report(predictions, funnels, exclusions, {}, tmp_path_factory.mktemp("report"),
                        specs={DSQTL_DEGNER.name: DSQTL_DEGNER}, n_boot=50)


def test_the_headline_is_one_table_with_its_schema(report):
    metadata = headline_metadata(report.metrics, report.headline_figures)
    table = metadata["headline"]
    assert isinstance(table, dg.TableMetadataValue)
    assert [c.name for c in table.schema.columns] == list(HEADLINE_COLUMNS) == [
        "truth set", "readout x biosample", "configuration", "n units", "primary metric [95% CI]", "p (Holm)", "mde",
        "reference on the same units", "noise ceiling", "power"]
    dsqtl, empty = (record.data for record in table.records)
    entry = next(iter(report.headline.values()))
    low, high = entry["primary"]["ci"]
    assert dsqtl["truth set"] == DSQTL_DEGNER.title and dsqtl["readout x biosample"] == "DNase x GM12878 (LCL)"
    assert dsqtl["configuration"] == "local k-mer, held-out chromosomes" and dsqtl["n units"] == "233 variants"
    primary = f"sign agreement: {entry['primary']['value']:.3f} [{low:.3f}, {high:.3f}]"
    assert dsqtl["primary metric [95% CI]"] == primary
    assert dsqtl["mde"] == f"{entry['mde']:.3f}"
    assert empty["truth set"] == "gtex_wb_k562_dhs"
    assert empty["primary metric [95% CI]"] == ("0 scorable units: in_annotation 63, windows_ok 0, "
                                                "no_reference_sequence 63")


def test_no_metadata_key_per_number_and_the_figure_beside_the_table(report):
    metadata = headline_metadata(report.metrics, report.headline_figures)
    assert set(metadata) == {"headline", "headline_figure"}
    figure = metadata["headline_figure"]
    assert isinstance(figure, dg.MarkdownMetadataValue)
    assert figure.value.startswith(f"![headline: {DSQTL_DEGNER.title}](data:image/png;base64,")
