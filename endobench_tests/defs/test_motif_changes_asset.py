"""The motif_changes asset on real windows: the CTCF core mutation, a variant with no site, and the unchecked."""

import dagster as dg
import pandas as pd

from endobench.defs.assets import motifs
from endobench.defs.assets.motifs import motif_tables
from endobench.resources.sources import SampleDataSources
from endobench.resources.storage import Storage
from endobench_tests.paths import SAMPLE_DIR


def test_motif_changes_of_a_release(tmp_path, instance):
    storage = Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache"))
    windows = pd.DataFrame({
        "variant_id": ["ctcf_core", "ctcf_core", "no_site", "not_checked", "not_served"],
        "truth_set": ["a", "b", "a", "a", "a"],  # one variant in two truth sets is scanned once
        "chrom": ["chr22", "chr22", "chr17", "chr22", "chr22"],
        "pos": [32_207_076, 32_207_076, 81_126_207, 32_207_076, 40_000_000],
        "ref": ["C", "C", "A", "G", "A"], "alt": ["A", "A", "G", "T", "G"],
        "harmonisation": ["as_is", "as_is", "as_is", "", "as_is"],
    })
    storage.write_table(windows, "sequence_windows", "v8")
    result = dg.materialize([motifs.motif_changes], partition_key="v8", instance=instance, resources={
        "sources": SampleDataSources(sample_dir=str(SAMPLE_DIR)), "storage": storage})
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("motif_changes")[0].metadata.items()}
    table, candidates = motif_tables(storage, "v8")
    table = table.set_index("variant_id")
    assert list(table.index) == ["ctcf_core", "no_site", "not_served"]
    assert table.loc["ctcf_core", "strongest"] == "loss" and table.loc["ctcf_core", "strong"]
    assert table.loc["no_site", "strongest"] == "" and table.loc["no_site", "n_sites"] == 0
    assert table.loc["not_served", "status"] == "no_reference_sequence"
    assert "MA0139.2" in set(candidates.loc[candidates["row"] == 0, "motif_id"])
    assert (metadata["n_variants"], metadata["n_scanned"], metadata["n_with_site_change"]) == (3, 2, 1)
    assert metadata["n_excluded_no_reference_sequence"] == 1
    assert metadata["motif_library"] == "JASPAR2024 CORE vertebrates, 879 profiles"
