"""Blocking checks guard the prediction step: each is shown passing on the real sample and failing on bad input."""

import gzip

import dagster as dg
import pandas as pd

from endobench.defs import checks
from endobench.defs.assets import inputs
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage
from endobench_tests.conftest import SAMPLE_DIR
from endobench_tests.defs.conftest import check_results, sample_copy

GTEX = "gtex_v8_Whole_Blood.v8.egenes.txt.gz"
DEGNER = "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"


def resources(tmp_path, sample_dir=SAMPLE_DIR):
    return {
        "storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
        "sources": DataSources(sample_dir=str(sample_dir)),
    }


def rewrite_column(name, tmp_path, column, source_column):
    """A copy of a bundled table whose `column` holds another column's values (the seed's mistake)."""
    table = pd.read_csv(SAMPLE_DIR / name, sep="\t", dtype=str, keep_default_na=False)
    table[column] = table[source_column]
    path = tmp_path / f"altered_{name}"
    with gzip.open(path, "wt") as handle:
        table.to_csv(handle, sep="\t", index=False)
    return path


def test_gtex_slope_check_passes_on_the_real_slopes(tmp_path, instance):
    result = dg.materialize([inputs.raw_gtex_eqtls, checks.gtex_effect_is_signed], resources=resources(tmp_path),
                            instance=instance, partition_key="v8")
    assert check_results(result) == {"gtex_effect_is_signed": True}


def test_gtex_slope_check_fails_when_the_slope_holds_pval_nominal(tmp_path, instance):
    """The seed read pval_nominal as the slope: never negative, all in [0, 1], piled near 0."""
    altered = rewrite_column(GTEX, tmp_path, "slope", "pval_nominal")
    sample = sample_copy(tmp_path / "sample", {GTEX: altered})
    result = dg.materialize([inputs.raw_gtex_eqtls, checks.gtex_effect_is_signed],
                            resources=resources(tmp_path, sample), instance=instance, partition_key="v8",
                            raise_on_error=False)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert "never negative" in evaluation.description
    assert "looks like p-values" in evaluation.description


def test_qtl_effect_check_passes_on_degner_betas(tmp_path, instance):
    result = dg.materialize([inputs.raw_qtl_tables, checks.qtl_effect_is_signed], resources=resources(tmp_path),
                            instance=instance)
    assert check_results(result) == {"qtl_effect_is_signed": True}


def test_qtl_effect_check_fails_when_beta_holds_p_values(tmp_path, instance):
    altered = rewrite_column(DEGNER, tmp_path, "Beta", "Pr(>|t|)")
    sample = sample_copy(tmp_path / "sample", {DEGNER: altered})
    result = dg.materialize([inputs.raw_qtl_tables, checks.qtl_effect_is_signed],
                            resources=resources(tmp_path, sample), instance=instance, raise_on_error=False)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.description.startswith("dsqtl_degner2012: ")
