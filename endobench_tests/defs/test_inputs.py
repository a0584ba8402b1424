"""Input assets say what they did to the data: the q-value filter, rounded numbers in the UI."""

import gzip

import dagster as dg
import pandas as pd
import pytest

from endobench.defs.assets import inputs
from endobench.defs.metadata import rounded
from endobench.resources.sources import SampleDataSources
from endobench.resources.storage import Storage
from endobench_tests.paths import SAMPLE_DIR

PEAKS = "abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz"


def _peaks_metadata(sample_dir, tmp_path) -> dict:
    result = dg.materialize([inputs.dhs_peaks], resources={
        "sources": SampleDataSources(sample_dir=str(sample_dir)),
        "storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
    })
    return {k: v.value for k, v in result.asset_materializations_for_node("dhs_peaks")[0].metadata.items()}


def test_the_qvalue_filter_says_when_it_applied(tmp_path):
    assert _peaks_metadata(SAMPLE_DIR, tmp_path)["qvalue_filter"] == "applied: -log10 q >= 2"


def test_a_file_without_qvalues_says_the_filter_was_skipped(tmp_path):
    """Real K562 peaks with column 9 set to -1 ("not computed", as some ENCODE files have it)."""
    sample = tmp_path / "sample"
    sample.mkdir()
    for source in SAMPLE_DIR.iterdir():
        (sample / source.name).symlink_to(source)
    peaks = pd.read_csv(SAMPLE_DIR / PEAKS, sep="\t", header=None)
    peaks[8] = -1
    (sample / PEAKS).unlink()
    (sample / PEAKS).write_bytes(gzip.compress(peaks.to_csv(sep="\t", header=False, index=False).encode()))
    metadata = _peaks_metadata(sample, tmp_path)
    assert metadata["qvalue_filter"] == "skipped: the file gives no q-values (all -1 or absent)"
    assert "n_excluded_below_qvalue" not in metadata


def test_ui_numbers_keep_four_significant_digits():
    out = rounded({"a": 0.6202986613, "b": dg.MetadataValue.float(1.23456789e-17), "n": 3, "text": "x"})
    assert out["a"] == 0.6203 and out["b"].value == 1.235e-17 and out["n"] == 3 and out["text"] == "x"


def test_the_gtex_table_is_stored_as_codes_and_counted_over_both_tissues(tmp_path, instance):
    """Both sample tissues go to one parquet file with text dictionary-encoded; `n_variants` (counted on codes
    across the tissues' dictionaries) is what pandas counts on the text, and pandas readers still get text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    storage = Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache"))
    result = dg.materialize([inputs.raw_gtex_eqtls], partition_key="v8", instance=instance, resources={
        "sources": SampleDataSources(sample_dir=str(SAMPLE_DIR)), "storage": storage})
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("raw_gtex_eqtls")[0].metadata.items()}
    frame = storage.read_table("raw_gtex_eqtls", "v8")
    schema = pq.read_schema(storage.table_path("raw_gtex_eqtls", "v8"))
    assert pa.types.is_dictionary(schema.field("variant_id").type) and pa.types.is_dictionary(schema.field("chrom").type)
    assert frame["variant_id"].dtype == object and set(frame["truth_set"]) == {"gtex_wb", "gtex_lcl"}
    assert metadata["n_variants"] == frame["variant_id"].nunique() < len(frame)
    assert metadata["n_significant"] == int(frame["is_significant"].sum())


def test_the_gtex_effect_can_be_log2_afc_and_the_metadata_say_so(tmp_path, instance):
    """gtex_effect=log2_aFC: the stored effect is each eGene's log2_aFC, so everything downstream (the model
    metrics and the measured-accessibility reference alike) is computed on it; the metadata name the column."""
    storage = Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache"))
    sources = SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_tissues=["Whole_Blood"], gtex_effect="log2_aFC")
    result = dg.materialize([inputs.raw_gtex_eqtls], partition_key="v8", instance=instance,
                            resources={"sources": sources, "storage": storage})
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("raw_gtex_eqtls")[0].metadata.items()}
    assert metadata["effect_column"] == "log2_aFC"
    stored = storage.read_table("raw_gtex_eqtls", "v8").set_index("gene_id")["effect"]
    egenes = pd.read_csv(SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.txt.gz", sep="\t").set_index("gene_id")
    assert stored.to_dict() == pytest.approx(egenes.loc[stored.index, "log2_aFC"].to_dict())
    assert {spec.effect for spec in sources.truth_sets() if spec.source == "gtex_wb"} == {"log2_aFC"}


def test_an_unknown_gtex_effect_is_refused():
    with pytest.raises(dg.Failure, match="unknown GTEx effect 'beta'"):
        SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_effect="beta").truth_sets()
